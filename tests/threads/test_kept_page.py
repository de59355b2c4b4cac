"""A whole thread page comes from the memo (fast.fragments.kept_page): after any
change to what it shows, and whoever was served it before, the page served must
be exactly the page rendered afresh for this viewer."""
import re

import pytest
from jinja2 import ChoiceLoader, DictLoader, UndefinedError
from markupsafe import Markup
from sqlalchemy import select

from community.accounts.models import User
from community.circles import actions as circles
from community.circles.models import Circle, Membership
from community.extensions import db
from community.fast.fragments import MEMO, OFF_LIMITS, filled, kept_page
from community.notifications.actions import mark_all_read, notify
from community.threads import actions as threads
from community.threads.models import Post
from tests.factories import add_member, make_user
from tests.kept import assert_shown_afresh, update


def _membership(circle, user) -> int:
    return db.session.scalar(select(Membership.id).where(Membership.circle_id == circle.id,
                                                         Membership.user_id == user.id))


def _opening(thread) -> int:
    return db.session.scalar(select(Post.id).where(Post.thread_id == thread.id, Post.number == 1))


def _reply(circle, owner, thread, count: int = 1) -> None:
    for n in range(count):
        threads.post_reply(owner, circle.slug, thread.id, f"Another reply {n}")


# Each change alters something the page shows outside its posts' content.
CHANGES = {
    "circle renamed": lambda c, o, h, t: update(Circle, c.id, name="Thames Valley Leaders"),
    "cohort named": lambda c, o, h, t: update(Circle, c.id, cohort="Spring 2026"),
    "audit log opened to members": lambda c, o, h, t: update(Circle, c.id, audit_visible_to_members=True),
    "viewer made moderator": lambda c, o, h, t: update(Membership, _membership(c, h), role="moderator"),
    "viewer made site admin": lambda c, o, h, t: update(User, h.id, is_site_admin=True),
    "viewer moves to another zone": lambda c, o, h, t: update(User, h.id, timezone="Asia/Tokyo"),
    "viewer reads a 12-hour clock": lambda c, o, h, t: update(User, h.id, clock="12"),
    "thread pinned": lambda c, o, h, t: threads.set_pinned(o, c.slug, t.id, True),
    "thread locked": lambda c, o, h, t: threads.set_locked(o, c.slug, t.id, True),
    "thread retitled": lambda c, o, h, t: threads.edit_post(
        o, c.slug, db.session.scalar(select(Post.id).where(Post.thread_id == t.id, Post.number == 1)),
        "Opening thoughts", title="Spring pressures"),
    "viewer follows the thread": lambda c, o, h, t: threads.set_subscription(h, c.slug, t.id, "following"),
    "a reply arrives": lambda c, o, h, t: _reply(c, o, t),
    "a second page begins": lambda c, o, h, t: _reply(c, o, t, threads.PER_PAGE),
    "viewer reads the thread": lambda c, o, h, t: threads.mark_read(h, c.slug, t.id, 1),
    "another member reacts": lambda c, o, h, t: threads.toggle_reaction(o, c.slug, _opening(t), "bulb"),
    "the viewer reacts": lambda c, o, h, t: threads.toggle_reaction(h, c.slug, _opening(t), "heart"),
    "a notification for the viewer": lambda c, o, h, t: (notify(h.id, "mention", "You were mentioned"),
                                                         db.session.commit()),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_page_served_is_the_page_rendered_afresh(client, auth, world, change):
    circle, owner, helen, thread = world
    threads.post_reply(owner, circle.slug, thread.id, "An unread reply")
    auth.login(helen)
    url = f"/c/{circle.slug}/t/{thread.id}?page=1"
    assert_shown_afresh(client, url, lambda: CHANGES[change](circle, owner, helen, thread))


def test_two_viewers_with_the_same_rights_share_a_kept_page_but_not_its_token(make_app, world):
    from tests.conftest import AuthActions

    app = make_app(WTF_CSRF_ENABLED=True)
    circle, owner, helen, thread = world
    kenji = add_member(circle, make_user("Kenji Mori"))
    threads.toggle_reaction(owner, circle.slug, _opening(thread), "heart")  # neither's reaction
    for person in (helen, kenji):
        mark_all_read(person)  # the same bell for both
    MEMO.clear()
    pages = []
    for person in (helen, kenji):
        client = app.test_client()
        AuthActions(client).login(person, csrf=True)
        pages.append(client.get(f"/c/{circle.slug}/t/{thread.id}?page=1").get_data(as_text=True))
    token = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
    helen_tokens, kenji_tokens = (set(token.findall(page)) for page in pages)
    assert len(helen_tokens) == len(kenji_tokens) == 1 and helen_tokens != kenji_tokens
    assert token.sub("", pages[0]) == token.sub("", pages[1])  # the rest is the same page
    assert sum(1 for key in MEMO.items if key[1] is kept_page) == 1  # kept once, for both


def test_each_viewer_is_served_their_own_page_whoever_warmed_the_memo(make_app, world):
    """Owner, moderator, member, a member yet to accept the pledge, a member in
    another zone and one on a 12-hour clock each ask for the page after all the
    others have: what each is served must be what an empty memo renders for them."""
    from tests.conftest import AuthActions

    app = make_app(WTF_CSRF_ENABLED=True)
    circle, owner, helen, thread = world
    moderator = add_member(circle, make_user("Mo Moderator"), role="moderator")
    tokyo = add_member(circle, make_user("Kenji Mori", timezone="Asia/Tokyo"))
    pending = add_member(circle, make_user("Pat Pending"))
    twelve = add_member(circle, make_user("Hank Twelve", clock="12"))
    circles.update_circle(owner, circle.slug, name=circle.name, pledge_required=True,
                          pledge_text="What is said here stays here.")
    for person in (moderator, helen, tokyo, twelve):
        circles.accept_pledge(person, circle.slug)
    threads.post_reply(helen, circle.slug, thread.id, "Helen's own reply")  # hers to edit and delete
    viewers = {"owner": owner, "moderator": moderator, "member": helen, "pledge pending": pending,
               "another zone": tokyo, "another clock": twelve}
    clients = {}
    for name, person in viewers.items():
        clients[name] = app.test_client()
        AuthActions(clients[name]).login(person, csrf=True)
    url = f"/c/{circle.slug}/t/{thread.id}?page=1"

    def page(name):
        response = clients[name].get(url)
        return response.status_code, response.headers.get("Location"), response.get_data(as_text=True)

    for name in viewers:
        MEMO.clear()
        for other in viewers:
            if other != name:
                page(other)  # the memo holds every other viewer's pages
        served = page(name)
        MEMO.clear()
        assert served == page(name), name
    assert page("pledge pending")[0] == 302  # sent to the pledge, not to anyone's page
    token = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
    here, there, twelve_hour = (token.sub("", page(name)[2]) for name in
                                ("member", "another zone", "another clock"))
    assert here != there  # the times, in each one's zone
    assert here != twelve_hour  # and on each one's clock
    titles = re.compile(r'<time datetime="[^"]+" title="[^"]+, (\d+:\d\d(?: [ap]m)?)">')
    assert all(re.fullmatch(r"\d\d:\d\d", t) for t in titles.findall(here))
    assert all(re.fullmatch(r"\d{1,2}:\d\d [ap]m", t) for t in titles.findall(twelve_hour))
    assert titles.findall(twelve_hour)


def test_a_flashed_message_shows_once_on_a_kept_page(client, auth, world):
    circle, owner, helen, thread = world
    auth.login(helen)
    url = f"/c/{circle.slug}/t/{thread.id}?page=1"
    client.get(url)  # the page is kept
    # (A refused reply comes back on a page of its own: the subscription's flash is the one here.)
    told = client.post(f"/c/{circle.slug}/t/{thread.id}/subscription", data={"subscription": "muted"},
                       follow_redirects=True)
    flashes = told.get_data(as_text=True).split('class="flashes"', 1)[1].split("</div>")[0]
    assert "alert--success" in flashes and "Muted" in flashes
    again = client.get(url).get_data(as_text=True)
    assert 'class="flashes"' not in again


def test_in_a_kept_fragment_the_token_is_a_slot_and_the_viewers_time_an_error(app, world):
    """Kept HTML goes to other viewers: csrf_token() there writes the slot the
    token is filled into per request, and a time in the viewer's zone (which
    would reach them in the first viewer's zone) can't be rendered at all."""
    circle, owner, helen, thread = world
    app.jinja_env.loader = ChoiceLoader([DictLoader({
        "probe/token.html": "<input value=\"{{ csrf_token() }}\">",
        "probe/time.html": "{{ moment|localtime }}",
    }), app.jinja_env.loader])
    with app.test_request_context():
        assert kept_page("probe/token.html", ("probe",), dict, {"csrf": "one"}) == b'<input value="one">'
        # From the memo now, with another viewer's token, escaped as it is filled in.
        assert kept_page("probe/token.html", ("probe",), dict, {"csrf": 'two"<'}) == (
            b'<input value="two&#34;&lt;">')
        with pytest.raises(RuntimeError, match="slot"):
            kept_page("probe/time.html", ("probe",), lambda: {"moment": thread.created_at}, {})


@pytest.mark.parametrize("value, html", [
    ("plain 3 hours ago", "plain 3 hours ago"),
    ("a & b", "a &amp; b"), ("<b>", "&lt;b&gt;"), ('say "hi"', "say &#34;hi&#34;"), ("it's", "it&#39;s"),
    (Markup("<time>x</time>"), "<time>x</time>"), (42, "42"), (Markup("&amp;"), "&amp;"),
])
def test_a_slots_value_is_escaped_unless_it_is_markup(app, value, html):
    """Slot values are filled into kept HTML: anything that isn't Markup is
    escaped, character by character; what has nothing to escape goes in as it is."""
    shown = f'<p title="{html}">{html}</p>'
    assert filled(("<p title=\"", "v", "\">", "v", "</p>"), {"v": value}) == shown
    app.jinja_env.loader = ChoiceLoader([DictLoader({
        "probe/slot.html": '<p title="{{ slot.v }}">{{ slot.v }}</p>'}), app.jinja_env.loader])
    with app.test_request_context():
        assert kept_page("probe/slot.html", ("probe", "slot"), dict, {"v": value}) == shown.encode()


def test_a_slots_value_is_encoded_once_and_a_string_never_taken_for_markup(app):
    """The encoded value of a slot is kept (the same times and token fill every
    load), by type as well as text: "<b>" as a string is escaped even after the
    same text as Markup went in as it is, and the other way round."""
    from community.fast.fragments import _utf8_html

    app.jinja_env.loader = ChoiceLoader([DictLoader({"probe/kept.html": "<p>{{ slot.v }}</p>"}),
                                         app.jinja_env.loader])
    with app.test_request_context():
        page = lambda value: kept_page("probe/kept.html", ("probe", "kept"), dict, {"v": value})  # noqa: E731
        before = _utf8_html.cache_info().hits
        for _ in range(3):
            assert page(Markup("<b>x</b>")) == b"<p><b>x</b></p>"
            assert page("<b>x</b>") == b"<p>&lt;b&gt;x&lt;/b&gt;</p>"
        assert _utf8_html.cache_info().hits - before >= 4
        # A value that can't be kept is filled all the same.
        assert page(["<b>"]) == b"<p>[&#39;&lt;b&gt;&#39;]</p>"


@pytest.mark.parametrize("time_limit", [None, 3600])
def test_a_sessions_token_is_signed_once_unless_tokens_expire(make_app, world, monkeypatch, time_limit):
    """Without a time limit a session's signed token is the same on every page
    (signed once, security.csrf_token); with one, each page signs it anew with
    the time. Either way the form it is in is accepted."""
    from itsdangerous.timed import TimestampSigner

    from tests.conftest import AuthActions

    app = make_app(WTF_CSRF_ENABLED=True, WTF_CSRF_TIME_LIMIT=time_limit)
    circle, owner, helen, thread = world
    client = app.test_client()
    AuthActions(client).login(helen, csrf=True)
    url = f"/c/{circle.slug}/t/{thread.id}?page=1"
    token = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
    first = token.search(client.get(url).get_data(as_text=True)).group(1)
    later = TimestampSigner.get_timestamp(TimestampSigner("k")) + 100
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    second = token.search(client.get(url).get_data(as_text=True)).group(1)
    assert (first == second) is (time_limit is None)
    saved = client.post(f"/c/{circle.slug}/t/{thread.id}/subscription",
                        data={"csrf_token": second, "subscription": "following"})
    assert saved.status_code in (302, 303)
    refused = client.post(f"/c/{circle.slug}/t/{thread.id}/subscription",
                          data={"csrf_token": second[:-2] + "xx", "subscription": "muted"})
    assert refused.status_code == 400


@pytest.mark.parametrize("name", OFF_LIMITS)
def test_in_a_kept_fragment_what_tells_viewers_apart_raises_naming_itself(app, world, name):
    """current_user, request, session, g, the circle and membership (and the
    flashes) can't reach kept HTML: used in a kept render, each raises."""
    use = f"{{{{ {name}() }}}}" if name == "get_flashed_messages" else f"{{{{ {name}.id }}}}"
    app.jinja_env.loader = ChoiceLoader([DictLoader({
        "probe/direct.html": use,
        "probe/if.html": f"{{% if {name} %}}yes{{% endif %}}",
        "probe/macros.html": f"{{% macro show() %}}{use}{{% endmacro %}}",
        "probe/imported.html": '{% from "probe/macros.html" import show %}{{ show() }}',
    }), app.jinja_env.loader])
    with app.test_request_context():
        for probe in ("probe/direct.html", "probe/if.html", "probe/imported.html"):
            if probe == "probe/imported.html" and name not in app.jinja_env.globals:
                continue  # not a global: a macro imported without context can't see it at all
            with pytest.raises(RuntimeError, match=f"'{name}' can't be used in a kept fragment"):
                kept_page(probe, (name,), dict, {})


def test_a_kept_fragment_can_be_given_none_of_them_nor_use_what_it_wasnt_given(app, world):
    circle, owner, helen, thread = world
    app.jinja_env.loader = ChoiceLoader([DictLoader({
        "probe/circle.html": "{{ circle.name }}",
        "probe/missing.html": "{{ viewer_name }}",
        "probe/layout.html": '{% extends "base.html" %}',
    }), app.jinja_env.loader])
    with app.test_request_context():
        with pytest.raises(ValueError, match="membership"):
            kept_page("probe/circle.html", ("probe",), lambda: {"circle": circle, "membership": None}, {})
        with pytest.raises(UndefinedError):
            kept_page("probe/missing.html", ("probe",), dict, {})
        with pytest.raises(RuntimeError, match="layout"):  # base.html's state must be in the key
            kept_page("probe/layout.html", ("probe",), dict, {})


def test_a_kept_thread_page_makes_no_post_face_until_it_is_drawn(client, auth, world, monkeypatch):
    """The page's key holds each post's row, reactions, files and the viewer's
    rights; a post's face (post_html.face) is made only to draw the page, and a
    change to what a post shows draws it afresh."""
    from community.threads import views

    circle, owner, helen, thread = world
    threads.post_reply(owner, circle.slug, thread.id, "A reply to react to")
    made = []
    real = views.face
    monkeypatch.setattr(views, "face", lambda *args: made.append(args[0].number) or real(*args))
    auth.login(helen)
    url = f"/c/{circle.slug}/t/{thread.id}?page=1"
    first = client.get(url).get_data(as_text=True)
    assert made == [1, 2] and "A reply to react to" in first
    made.clear()
    assert client.get(url).get_data(as_text=True) == first and made == []  # from the memo
    reply = db.session.scalar(select(Post.id).where(Post.thread_id == thread.id, Post.number == 2))
    threads.toggle_reaction(helen, circle.slug, reply, "heart")
    again = client.get(url).get_data(as_text=True)
    assert made == [1, 2] and again != first and 'aria-pressed="true"' in again
