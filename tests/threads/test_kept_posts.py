"""A thread page's posts come from a memo (community/fast/fragments.py): what each
viewer sees must still be exactly their own, current page."""
import re

import pytest
from sqlalchemy import select

from community.accounts.models import User
from community.extensions import db
from community.fast.fragments import Memo, parts_of
from community.fast.urls import kept_url_for
from community.threads import actions as threads
from community.threads.models import Post
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_thread, make_user


def text(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


def tokens(page: str) -> set[str]:
    return set(re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', page))


@pytest.fixture
def world(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh", timezone="Europe/London"))
    kenji = add_member(circle, make_user("Kenji Mori", timezone="Asia/Tokyo"))
    thread = make_thread(circle, owner, title="Winter pressures", body="Opening thoughts")
    return circle, owner, helen, kenji, thread


@pytest.fixture
def helen_and_kenji(app, world):
    """A signed-in client for each of two members."""
    circle, owner, helen, kenji, thread = world
    clients = []
    for person in (helen, kenji):
        client = app.test_client()
        AuthActions(client).login(person)
        clients.append(client)
    return clients


def thread_page(client, circle, thread) -> str:
    return text(client.get(f"/c/{circle.slug}/t/{thread.id}?page=1"))


def test_each_viewer_gets_their_own_token_in_every_form(make_app, world):
    app = make_app(WTF_CSRF_ENABLED=True)
    circle, owner, helen, kenji, thread = world
    threads.post_reply(kenji, circle.slug, thread.id, "A reply Helen can react to")
    pages = []
    for person in (helen, kenji):
        client = app.test_client()
        AuthActions(client).login(person, csrf=True)
        pages.append(thread_page(client, circle, thread))
    helen_tokens, kenji_tokens = tokens(pages[0]), tokens(pages[1])
    # Every form on a page carries that session's one token; the other's appears nowhere.
    assert len(helen_tokens) == 1 and len(kenji_tokens) == 1
    assert helen_tokens != kenji_tokens
    assert pages[0].count(next(iter(helen_tokens))) >= 4  # nav, subscription, reactions, reply


def test_an_edit_shows_at_once_to_someone_who_saw_the_old_post(client, auth, world):
    circle, owner, helen, kenji, thread = world
    auth.login(helen)
    assert "Opening thoughts" in thread_page(client, circle, thread)
    opening = db.session.scalar(select(Post).where(Post.thread_id == thread.id, Post.number == 1))
    threads.edit_post(owner, circle.slug, opening.id, "Second thoughts")
    page = thread_page(client, circle, thread)
    assert "Second thoughts" in page and "Opening thoughts" not in page
    assert "edited" in page


def test_a_removed_post_is_gone_for_someone_who_saw_it(client, auth, world):
    circle, owner, helen, kenji, thread = world
    reply = threads.post_reply(kenji, circle.slug, thread.id, "Something regrettable")
    auth.login(helen)
    assert "Something regrettable" in thread_page(client, circle, thread)
    threads.delete_post(owner, circle.slug, reply.id)
    page = thread_page(client, circle, thread)
    assert "Something regrettable" not in page and "Post removed" in page


def test_reactions_and_renames_show_to_others(client, auth, world):
    circle, owner, helen, kenji, thread = world
    opening = db.session.scalar(select(Post).where(Post.thread_id == thread.id, Post.number == 1))
    auth.login(helen)
    before = thread_page(client, circle, thread)
    assert 'aria-label="Heart, 1' not in before
    threads.toggle_reaction(kenji, circle.slug, opening.id, "heart")
    user = db.session.get(User, owner.id)
    user.display_name = "Olive Renamed"
    db.session.commit()
    after = thread_page(client, circle, thread)
    assert 'aria-label="Heart, 1: Kenji Mori"' in after
    assert 'aria-pressed="false"' in after  # not Helen's reaction
    assert "Olive Renamed" in after


def test_my_reaction_is_pressed_for_me_only(helen_and_kenji, world):
    circle, owner, helen, kenji, thread = world
    opening = db.session.scalar(select(Post).where(Post.thread_id == thread.id, Post.number == 1))
    threads.toggle_reaction(helen, circle.slug, opening.id, "pray")
    mine, theirs = (thread_page(client, circle, thread) for client in helen_and_kenji)
    pressed = re.compile(r'value="pray" class="reaction reaction--mine"[^>]*aria-pressed="true"')
    assert pressed.search(mine) and not pressed.search(theirs)


def test_times_are_in_each_viewers_zone(helen_and_kenji, world):
    circle, owner, helen, kenji, thread = world
    opening = db.session.scalar(select(Post).where(Post.thread_id == thread.id, Post.number == 1))
    title = re.compile(r'<time datetime="[^"]+" title="([^"]+)">([^<]+)</time>')
    pages = [thread_page(client, circle, thread) for client in helen_and_kenji]
    london, tokyo = (title.search(page).groups() for page in pages)
    hours = {zone: int(re.search(r", (\d\d):", shown[0]).group(1)) for zone, shown in
             (("london", london), ("tokyo", tokyo))}
    assert (hours["tokyo"] - hours["london"]) % 24 in (8, 9)  # Tokyo is 8 or 9 hours ahead
    assert london[1] == tokyo[1] == "just now"
    assert opening.created_at.isoformat(timespec="seconds") in pages[0]


def test_unread_marks_follow_each_viewers_place(helen_and_kenji, world):
    circle, owner, helen, kenji, thread = world
    for n in range(2, 6):
        threads.post_reply(owner, circle.slug, thread.id, f"Reply {n}")
    threads.mark_read(helen, circle.slug, thread.id, 3)
    threads.mark_read(kenji, circle.slug, thread.id, 1)
    helen_page, kenji_page = (thread_page(client, circle, thread) for client in helen_and_kenji)
    unread = re.compile(r'<article class="post post--unread" id="post-(\d+)"')
    assert [int(n) for n in unread.findall(helen_page)] == [4, 5]
    assert [int(n) for n in unread.findall(kenji_page)] == [2, 3, 4, 5]
    for page, first in ((helen_page, 4), (kenji_page, 2)):
        assert page.count('id="unread"') == 1
        assert page.index('id="unread"') > page.index(f'id="post-{first}"')


def test_a_slot_marker_in_content_stays_inert(client, auth, world):
    """A NUL can't come in through a form, but if one were stored it must not
    open a slot: the page shows a replacement character, never a token."""
    circle, owner, helen, kenji, thread = world
    opening = db.session.scalar(select(Post).where(Post.thread_id == thread.id, Post.number == 1))
    opening.html = "<p>before \x00csrf\x00 after</p>"
    db.session.commit()
    auth.login(helen)
    page = thread_page(client, circle, thread)
    assert "<p>before \ufffdcsrf\ufffd after</p>" in page
    assert "\x00" not in page


def test_a_kept_fragment_is_rendered_once_per_key(app):
    from community.threads.views import _reply_form_context

    calls = []

    def context_of(key):
        calls.append(key)
        return _reply_form_context(key)

    with app.test_request_context():
        first = parts_of("threads/_reply_form.html", context_of, ("a-circle", 7, ""))
        second = parts_of("threads/_reply_form.html", context_of, ("a-circle", 7, ""))
    assert len(calls) == 1 and first is second
    assert first[1::2] == ("csrf",)  # the form's token is a slot, filled per request


def test_templates_url_for_matches_flask(app):
    from flask import url_for

    with app.test_request_context():
        for endpoint, values in [("static", {"filename": "css/site.css"}),
                                 ("threads.show", {"slug": "x", "thread_id": 3, "page": 2}),
                                 ("main.dashboard", {})]:
            assert kept_url_for(endpoint, **values) == url_for(endpoint, **values)
            assert kept_url_for(endpoint, **values) == url_for(endpoint, **values)  # from the memo
        assert kept_url_for("main.dashboard", _external=True).startswith("http://")
        assert kept_url_for("threads.index", slug="x", tag=["a", "b"]) == url_for(
            "threads.index", slug="x", tag=["a", "b"])  # a list can't be a key: built directly


def test_the_memo_keeps_the_most_recently_used_within_its_size():
    memo = Memo(limit=100)
    memo.put(("a",), ("x" * 20,))  # counts 40: the key holds the content too
    memo.put(("b",), ("y" * 20,))
    assert memo.get(("a",)) == ("x" * 20,)  # now the most recently used
    memo.put(("c",), ("z" * 20,))  # 120 > 100: the least recently used goes
    assert memo.get(("b",)) is None
    assert memo.get(("a",)) and memo.get(("c",))
    memo.put(("huge",), ("h" * 51,))  # bigger than the whole memo: never kept
    assert memo.get(("huge",)) is None and memo.size == 80
