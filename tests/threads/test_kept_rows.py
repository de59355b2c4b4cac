"""Rows of threads come from the memo (threads.rows.thread_rows): after any change
to what a row shows, and whoever was served it before, the lists served must be
exactly the lists rendered afresh for this viewer; only the time is theirs."""
import re

import pytest
from sqlalchemy import select

from community.accounts.models import User
from community.challenges import actions as challenges
from community.circles import actions as circles
from community.circles.models import Circle
from community.extensions import db
from community.fast.fragments import MEMO
from community.moderation.actions import change_role
from community.threads import actions as threads
from community.threads.models import Post
from tests.factories import add_member, make_user
from tests.kept import assert_shown_afresh, served_and_fresh, update


def _pages(slug: str) -> list[str]:
    return ["/", f"/c/{slug}/", f"/c/{slug}/threads"]


def _first_post(thread) -> int:
    return db.session.scalar(select(Post.id).where(Post.thread_id == thread.id, Post.number == 1))


# Each change alters something a row shows.
CHANGES = {
    "thread retitled": lambda c, o, h, t: threads.edit_post(o, c.slug, _first_post(t), "Opening thoughts",
                                                            title="Spring pressures"),
    "thread pinned": lambda c, o, h, t: threads.set_pinned(o, c.slug, t.id, True),
    "thread locked": lambda c, o, h, t: threads.set_locked(o, c.slug, t.id, True),
    "a reply arrives": lambda c, o, h, t: threads.post_reply(o, c.slug, t.id, "And another thing"),
    "the viewer reads it": lambda c, o, h, t: threads.mark_read(h, c.slug, t.id, 2),
    "the starter renames themselves": lambda c, o, h, t: update(User, o.id, display_name="Olive Okafor"),
    "the starter's account goes": lambda c, o, h, t: update(Post, _first_post(t), author_id=None)
    or update(type(t), t.id, author_id=None),
    "the circle is renamed": lambda c, o, h, t: update(Circle, c.id, name="Thames Valley Leaders"),
    "the viewer moves to Tokyo": lambda c, o, h, t: update(User, h.id, timezone="Asia/Tokyo"),
    "the viewer reads a 12-hour clock": lambda c, o, h, t: update(User, h.id, clock="12"),
    "a challenge opens": lambda c, o, h, t: challenges.open_challenge(
        o, c.slug, "Two teams, one budget", "We are merging.", "Where do I start?"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_rows_served_are_the_rows_rendered_afresh(client, auth, world, change):
    circle, owner, helen, thread = world
    threads.post_reply(owner, circle.slug, thread.id, "An unread reply")
    auth.login(helen)
    before = [served_and_fresh(client, url)[0] for url in _pages(circle.slug)]
    assert any(key[0] == "threads/index.html" for key in MEMO.items)  # the list, kept whole
    CHANGES[change](circle, owner, helen, thread)
    for url, earlier in zip(_pages(circle.slug), before, strict=True):
        after, fresh = served_and_fresh(client, url)
        assert after == fresh, url
        assert after != earlier, f"{change} does not show on {url}"


def _rows(page: str) -> list[str]:
    return re.findall(r'<li class="thread-row.*?</li>', page, re.S)


def test_one_kept_row_shows_each_viewer_their_own_time(make_app, world):
    """Helen (London, 24-hour) and Kenji (Tokyo, 12-hour) have read the same:
    their rows are one kept fragment, but each reads the time their own way."""
    from tests.conftest import AuthActions

    app = make_app()
    circle, owner, helen, thread = world
    kenji = add_member(circle, make_user("Kenji Mori", timezone="Asia/Tokyo", clock="12"))
    winter = thread.last_post_at.replace(year=2026, month=1, day=15, hour=9, minute=5)  # UTC = London
    update(type(thread), thread.id, last_post_at=winter)
    MEMO.clear()
    rows = {}
    for person in (helen, kenji):
        client = app.test_client()
        AuthActions(client).login(person)
        rows[person.display_name] = _rows(client.get(f"/c/{circle.slug}/threads").get_data(as_text=True))
    helen_row, kenji_row = rows["Helen Marsh"][0], rows["Kenji Mori"][0]
    assert "09:05" in helen_row and "6:05 pm" in kenji_row
    time = re.compile(r"<time.*?</time>", re.S)
    assert time.sub("", helen_row) == time.sub("", kenji_row)
    assert sum(1 for key in MEMO.items if key[0] == "threads/_thread_row.html") == 1


def test_a_title_cannot_open_a_slot_or_write_html(client, auth, world):
    circle, owner, helen, thread = world
    title = '<script>alert(1)</script> \x00last_post\x00 & "quotes"'
    threads.edit_post(owner, circle.slug, _first_post(thread), "Opening thoughts", title=title)
    auth.login(helen)
    for url in _pages(circle.slug):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "\x00" not in page


DASHBOARD_CHANGES = {
    "the circle is renamed": lambda c, o, h: update(Circle, c.id, name="Thames Valley Leaders"),
    "a cohort is named": lambda c, o, h: update(Circle, c.id, cohort="Spring 2026"),
    "someone joins": lambda c, o, h: add_member(c, make_user("Nina New")),
    "the viewer becomes a moderator": lambda c, o, h: change_role(o, c.slug, h.id, "moderator"),
    "a pledge is asked": lambda c, o, h: circles.update_circle(
        o, c.slug, name=c.name, pledge_required=True, pledge_text="What is said here stays here."),
}


@pytest.mark.parametrize("change", DASHBOARD_CHANGES)
def test_after_a_change_the_circle_cards_served_are_the_cards_rendered_afresh(client, auth, world, change):
    circle, owner, helen, thread = world
    auth.login(helen)
    assert_shown_afresh(client, "/", lambda: DASHBOARD_CHANGES[change](circle, owner, helen))


def test_each_page_of_the_thread_list_is_kept_as_it_shows(client, auth, world, monkeypatch):
    """The list's pages are kept apart: each shows its own rows and pager."""
    from community.threads import views

    circle, owner, helen, thread = world
    monkeypatch.setattr(views, "THREADS_PER_PAGE", 2)
    for n in range(3):
        threads.start_thread(owner, circle.slug, f"Topic {n}", "Body")
    auth.login(helen)
    first, fresh_first = served_and_fresh(client, f"/c/{circle.slug}/threads")
    second, fresh_second = served_and_fresh(client, f"/c/{circle.slug}/threads?page=2")
    assert first == fresh_first and second == fresh_second
    assert "Topic 2" in first and "Topic 2" not in second and "Topic 0" in second
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
