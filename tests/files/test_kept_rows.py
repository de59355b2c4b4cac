"""The Files page comes from the memo whole, its lines numbered in
(fast.fragments.kept_page, files.library.FilesFrame): after any change to what
the page or a line shows, and whoever was served it before, the page served
must be exactly the page rendered afresh for this viewer."""
import re

import pytest

from community.accounts.models import User
from community.circles.models import Circle
from community.extensions import db
from community.fast.fragments import MEMO
from community.moderation.actions import change_role
from community.threads.actions import edit_post
from community.threads.models import Post, Thread
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_user
from tests.files.test_library import share
from tests.kept import assert_shown_afresh, update


@pytest.fixture
def world(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Berkshire Leaders")
    helen = add_member(circle, make_user("Helen Marsh"))
    gareth = add_member(circle, make_user("Gareth Jones"))
    shared = {"post": share(helen, circle, "post", name="budget.txt", title="Winter pressures"),
              "meeting": share(gareth, circle, "meeting", name="agenda.txt", title="Spring visit"),
              "chat": share(owner, circle, "chat", name="photo-notes.txt")}
    return circle, owner, helen, gareth, shared


def _thread_of(attachment) -> Thread:
    return db.session.get(Thread, db.session.get(Post, attachment.post_id).thread_id)


CHANGES = {
    "the sharer renames themselves": lambda c, o, h, g, s: update(User, h.id, display_name="Helen Okafor"),
    "the thread is retitled": lambda c, o, h, g, s: edit_post(
        h, c.slug, s["post"].post_id, "From the visit", title="Spring pressures"),
    "the viewer moves to Tokyo": lambda c, o, h, g, s: update(User, g.id, timezone="Asia/Tokyo"),
    "the viewer reads a 12-hour clock": lambda c, o, h, g, s: update(User, g.id, clock="12"),
    "the viewer becomes a moderator": lambda c, o, h, g, s: change_role(o, c.slug, g.id, "moderator"),
    "another file is shared": lambda c, o, h, g, s: share(h, c, "post", data=b"x" * 5000, name="late.txt"),
    "the circle is renamed": lambda c, o, h, g, s: update(Circle, c.id, name="Thames Valley Leaders"),
}


@pytest.mark.parametrize("query", ["", "?q=txt&kind=documents"])
@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_page_served_is_the_page_rendered_afresh(client, auth, world, change, query):
    circle, owner, helen, gareth, shared = world
    auth.login(gareth)
    url = f"/c/{circle.slug}/files{query}"
    assert_shown_afresh(client, url, lambda: CHANGES[change](circle, owner, helen, gareth, shared))


def _lines(page: str) -> dict[str, str]:
    return {re.search(r'class="file-row__name"[^>]*>([^<]+)<', line).group(1): line
            for line in re.findall(r'<li class="file-row">.*?</li>', page, re.S)}


def test_each_viewer_sees_their_own_rights_token_and_way_back(make_app, world):
    """A member may remove only what they shared, without the audit warning; a
    moderator anything, with it. Lines shared by viewers with the same rights
    carry each one's own CSRF token, and the form returns to the page as asked."""
    app = make_app(WTF_CSRF_ENABLED=True)
    circle, owner, helen, gareth, shared = world
    MEMO.clear()
    pages = {}
    for person in (helen, gareth, owner):
        client = app.test_client()
        AuthActions(client).login(person, csrf=True)
        pages[person.display_name] = client.get(f"/c/{circle.slug}/files?q=txt").get_data(as_text=True)
    helen_lines, gareth_lines, owner_lines = (_lines(pages[name]) for name in
                                               ("Helen Marsh", "Gareth Jones", "Olive Owner"))
    assert "Remove the file" in helen_lines["budget.txt"] and "audit log" not in helen_lines["budget.txt"]
    assert "Remove the file" not in helen_lines["agenda.txt"]
    assert "Remove the file" in gareth_lines["agenda.txt"]
    assert all("Remove the file" in line for line in owner_lines.values())
    assert "audit log records it" in owner_lines["budget.txt"]
    assert "audit log records it" not in owner_lines["photo-notes.txt"]
    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    assert set(token.findall(helen_lines["budget.txt"])) != set(token.findall(gareth_lines["agenda.txt"]))
    assert f'name="next" value="/c/{circle.slug}/files?q=txt"' in owner_lines["agenda.txt"]
    assert "in the <a" in owner_lines["photo-notes.txt"] and "at the meeting" in owner_lines["agenda.txt"]
    # A line is kept once for everyone who sees it the same way: the chat's
    # file once for Helen and Gareth, once for the owner who shared it.
    photo = shared["chat"].public_id
    assert sum(1 for key in MEMO.items if key[0] == "files/_file_row.html" and key[2].public_id == photo) == 2
