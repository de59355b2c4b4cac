"""Who may do what: roles × every circle and thread page and action, through HTTP.

Each row of the matrix runs against a fresh world: one circle (which takes
join requests) with an owner, a moderator, members, a banned and a removed
member, a pending request, and outsiders.
"""
import re
import shutil

import pytest
from sqlalchemy import select

from community import create_app
from community.accounts.models import User
from community.circles import actions as circles
from community.circles.models import Circle, Invitation
from community.extensions import db
from community.moderation import actions as moderation
from community.threads import actions as threads
from community.threads.models import Post
from community.timeutil import utcnow
from tests.conftest import AuthActions, app_config
from tests.factories import add_member, make_circle, make_user

ROLES = ["signed_out", "non_member", "member", "moderator", "owner", "banned", "removed",
         "left", "site_admin"]
OUTSIDERS = {"non_member", "banned", "removed", "left", "site_admin"}


def build_world() -> dict:
    """The circle and its people, built through the actions; returns their ids."""
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Thames Valley Leaders", join_policy="request")
    people = {"owner": owner, "non_member": make_user("Nina Outsider")}
    people["moderator"] = add_member(circle, make_user("Mo Moderator"), role="moderator")
    people["member"] = add_member(circle, make_user("Mia Member"))
    people["target"] = add_member(circle, make_user("Tim Target"))
    people["banned"] = add_member(circle, make_user("Ben Banned"))
    moderation.ban_member(owner, circle.slug, people["banned"].id)
    people["removed"] = add_member(circle, make_user("Rita Removed"))
    moderation.remove_member(owner, circle.slug, people["removed"].id)
    people["left"] = add_member(circle, make_user("Lee Left"))
    circles.leave_circle(people["left"], circle.slug)
    admin = make_user("Sam Siteadmin")
    admin.is_site_admin = True
    admin.second_factor_at = utcnow()  # the admin pages ask it of every admin
    db.session.commit()
    people["site_admin"] = admin
    request = circles.request_to_join(make_user("Pat Pending"), circle.slug, "Hello")
    invitation = db.session.scalar(select(Invitation).where(Invitation.circle_id == circle.id))
    thread = threads.start_thread(people["member"], circle.slug, "A thread", "The member's post")
    target_post = threads.post_reply(people["target"], circle.slug, thread.id, "Target's reply")
    opening = db.session.scalar(select(Post).where(Post.thread_id == thread.id, Post.number == 1))
    return {"circle": circle.id, "people": {k: u.id for k, u in people.items()},
            "request_id": request.id, "invitation_id": invitation.id, "thread_id": thread.id,
            "member_post_id": opening.id, "target_post_id": target_post.id}


@pytest.fixture(scope="session")
def world_template(schema_template, tmp_path_factory):
    """The world built once, in a database file each test copies (building it is slow)."""
    path = tmp_path_factory.mktemp("world") / "world.sqlite3"
    shutil.copy(schema_template, path)
    app = create_app(app_config(f"sqlite:///{path}"))
    with app.app_context():
        ids = build_world()
        db.session.remove()
        db.engine.dispose()
    return path, ids


@pytest.fixture
def db_path(tmp_path, world_template):
    path = tmp_path / "test.sqlite3"
    shutil.copy(world_template[0], path)
    return path


@pytest.fixture
def world(app, world_template):
    ids = world_template[1]
    return {**ids, "circle": db.session.get(Circle, ids["circle"]),
            "people": {k: db.session.get(User, v) for k, v in ids["people"].items()}}


def same_page(a, b) -> bool:
    """Byte-for-byte the same response, but for the CSRF token in the sign-out form
    (its signature carries a timestamp, so two requests a second apart differ)."""
    strip = lambda r: re.sub(rb'name="csrf_token" value="[^"]*"', b"", r.get_data())  # noqa: E731
    return a.status_code == b.status_code and strip(a) == strip(b)


def signed_in_client(app, world, role):
    client = app.test_client()
    if role != "signed_out":
        AuthActions(client).login_past_second_step(world["people"][role])
    return client


# Pages: what each role gets. ok=200, fb=403, nf=404, in=redirect to sign in,
# "re" = a redirect within the circle (e.g. /manage/ to its first tab).
def page_expectations(staff_page="fb", owner_only=False):
    row = {role: "nf" for role in OUTSIDERS}
    row["signed_out"] = "in"
    row.update(member=staff_page, moderator="fb" if owner_only else "ok", owner="ok")
    return row


EVERYONE = page_expectations(staff_page="ok")
STAFF = page_expectations()
OWNER = page_expectations(owner_only=True)
MANAGE_INDEX = {**STAFF, "moderator": "re", "owner": "re"}

PAGES = [
    ("/c/{slug}/", EVERYONE),
    ("/c/{slug}/members", EVERYONE),
    ("/c/{slug}/members?sector=public&q=Tim", EVERYONE),
    ("/c/{slug}/pledge", EVERYONE),
    ("/c/{slug}/leave", EVERYONE),
    ("/c/{slug}/manage/", MANAGE_INDEX),
    ("/c/{slug}/manage/settings", OWNER),
    ("/c/{slug}/manage/invitations", STAFF),
    ("/c/{slug}/manage/requests", STAFF),
    ("/c/{slug}/manage/banned", STAFF),
    ("/c/{slug}/manage/audit", STAFF),
]


def check(response, expected, slug):
    code = response.status_code
    if expected == "ok":
        assert code == 200, response.get_data(as_text=True)[:300]
    elif expected == "fb":
        assert code == 403
    elif expected == "nf":
        assert code == 404
    elif expected == "in":
        assert code == 302 and response.headers["Location"].startswith("/auth/login?next=")
    elif expected == "re":
        assert code == 302 and response.headers["Location"].startswith(f"/c/{slug}/")
    elif expected == "done":
        assert code in (201, 302, 303), (code, response.get_data(as_text=True)[:300])
        assert not response.headers.get("Location", "").startswith("/auth/login")
    elif expected == "ended":
        # A former member who wrote something is told, and given it back; nothing more.
        body = response.get_data(as_text=True)
        assert code == 403 and "You are no longer a member of Thames Valley Leaders" in body
        assert "A thread" not in body and "member&#39;s post" not in body and "/t/" not in body
    else:
        raise ValueError(expected)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path,expectations", PAGES, ids=[p for p, _ in PAGES])
def test_circle_pages(app, world, role, path, expectations):
    slug = world["circle"].slug
    client = signed_in_client(app, world, role)
    check(client.get(path.format(slug=slug)), expectations[role], slug)


@pytest.mark.parametrize("role", sorted(OUTSIDERS))
@pytest.mark.parametrize("path", [p for p, _ in PAGES])
def test_outsiders_cannot_tell_a_circle_exists(app, world, role, path):
    """The 404 for a real circle is byte for byte the 404 for a made-up one."""
    client = signed_in_client(app, world, role)
    real = client.get(path.format(slug=world["circle"].slug))
    made_up = client.get(path.format(slug="no-such-circle"))
    assert real.status_code == made_up.status_code == 404
    assert same_page(real, made_up)
    assert world["circle"].name not in real.get_data(as_text=True)


# Actions (POST). "done" = it worked (a redirect back, or 201).
def action_expectations(member="fb", moderator="done", owner="done"):
    row = {role: "nf" for role in OUTSIDERS}
    row.update(signed_out="in", member=member, moderator=moderator, owner=owner)
    return row


SETTINGS_FORM = {"name": "Thames Valley Leaders", "cohort": "2025", "description": "x",
                 "join_policy": "request", "pledge_text": "Keep it here."}
ACTIONS = [
    ("leave", "/c/{slug}/leave", {}, action_expectations(member="done", owner="fb")),
    ("settings", "/c/{slug}/manage/settings", SETTINGS_FORM, action_expectations(moderator="fb")),
    ("invite", "/c/{slug}/manage/invitations", {"days": "7"}, action_expectations()),
    ("revoke", "/c/{slug}/manage/invitations/{invitation}/revoke", {}, action_expectations()),
    ("approve", "/c/{slug}/manage/requests/{request}/approve", {}, action_expectations()),
    ("decline", "/c/{slug}/manage/requests/{request}/decline", {}, action_expectations()),
    ("promote", "/c/{slug}/manage/members/{target}/role", {"role": "moderator"},
     action_expectations(moderator="fb")),
    ("transfer", "/c/{slug}/manage/members/{target}/transfer", {},
     action_expectations(moderator="fb")),
    ("remove", "/c/{slug}/manage/members/{target}/remove", {}, action_expectations()),
    ("ban", "/c/{slug}/manage/members/{target}/ban", {}, action_expectations()),
    ("unban", "/c/{slug}/manage/members/{banned}/unban", {}, action_expectations()),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,path,data,expectations", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_circle_actions(app, world, role, name, path, data, expectations):
    slug = world["circle"].slug
    url = path.format(slug=slug, invitation=world["invitation_id"], request=world["request_id"],
                      target=world["people"]["target"].id, banned=world["people"]["banned"].id)
    client = signed_in_client(app, world, role)
    check(client.post(url, data=data), expectations[role], slug)


@pytest.mark.parametrize("role", sorted(OUTSIDERS))
@pytest.mark.parametrize("name,path,data,expectations", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_outsider_actions_look_like_a_missing_circle(app, world, role, name, path, data,
                                                     expectations):
    url = path.format(slug="{slug}", invitation=world["invitation_id"],
                      request=world["request_id"], target=world["people"]["target"].id,
                      banned=world["people"]["banned"].id)
    client = signed_in_client(app, world, role)
    real = client.post(url.format(slug=world["circle"].slug), data=data)
    made_up = client.post(url.format(slug="no-such-circle"), data=data)
    assert real.status_code == made_up.status_code == 404
    assert same_page(real, made_up)


@pytest.mark.parametrize("role,expected", [
    ("signed_out", "in"), ("non_member", "nf"), ("member", "ok"), ("moderator", "ok"),
    ("owner", "ok"), ("banned", "nf"), ("removed", "nf"), ("left", "nf"), ("site_admin", "nf"),
])
def test_profiles_only_for_people_who_share_a_circle(app, world, role, expected):
    target = world["people"]["target"]
    client = signed_in_client(app, world, role)
    check(client.get(f"/people/{target.id}"), expected, world["circle"].slug)
    if expected == "nf":
        assert same_page(client.get(f"/people/{target.id}"), client.get("/people/999999"))


@pytest.mark.parametrize("role,expected", [
    ("signed_out", "in"), ("non_member", "nf"), ("member", "nf"), ("owner", "nf"),
    ("site_admin", "ok"),
])
@pytest.mark.parametrize("path", ["/admin/", "/admin/users"])
def test_site_admin_pages(app, world, role, expected, path):
    check(signed_in_client(app, world, role).get(path), expected, world["circle"].slug)


def test_audit_log_readable_by_members_when_the_owner_allows(app, world):
    slug = world["circle"].slug
    member = signed_in_client(app, world, "member")
    assert member.get(f"/c/{slug}/manage/audit").status_code == 403
    owner = signed_in_client(app, world, "owner")
    owner.post(f"/c/{slug}/manage/settings", data={**SETTINGS_FORM, "audit_visible_to_members": "y"})
    page = member.get(f"/c/{slug}/manage/audit")
    assert page.status_code == 200 and "banned" in page.get_data(as_text=True)
    # Reading the log is all they gain: the other manage pages stay closed.
    assert member.get(f"/c/{slug}/manage/invitations").status_code == 403


def test_listed_circles_show_only_name_description_and_cohort(app, world):
    hidden = make_circle(world["people"]["owner"], name="Secret Invite Only Circle")
    client = signed_in_client(app, world, "non_member")
    page = client.get("/circles/").get_data(as_text=True)
    assert "Thames Valley Leaders" in page
    assert hidden.name not in page
    # No member names leak through the listing.
    for role in ("owner", "moderator", "member"):
        assert world["people"][role].display_name not in page
    assert client.get(f"/circles/{hidden.slug}/request").status_code == 404
    assert same_page(client.get("/circles/no-such/request"),
                     client.get(f"/circles/{hidden.slug}/request"))


# --- Threads ---------------------------------------------------------------------

def url_of(world, path: str, slug: str | None = None) -> str:
    return path.format(slug=slug or world["circle"].slug, thread=world["thread_id"],
                       own=world["member_post_id"], other=world["target_post_id"])


THREAD_PAGES = [
    ("/c/{slug}/threads", EVERYONE),
    ("/c/{slug}/threads/new", EVERYONE),
    ("/c/{slug}/t/{thread}?page=1", EVERYONE),
    ("/c/{slug}/search?q=reply", EVERYONE),
    ("/c/{slug}/mentions?q=m", EVERYONE),
    ("/c/{slug}/mentions/known?handles=m_m", EVERYONE),
    ("/c/{slug}/p/{other}/report", EVERYONE),
    ("/c/{slug}/p/{own}/edit", {**OWNER, "member": "ok", "moderator": "fb", "owner": "fb"}),
    ("/c/{slug}/manage/reports", STAFF),
]
ANYONE_IN = action_expectations(member="done")
# Pages where people write: someone whose membership ended is told so (circles.pages).
FORMER = {"banned", "removed", "left"}
WRITING = {**ANYONE_IN, **dict.fromkeys(FORMER, "ended")}
THREAD_ACTIONS = [
    ("start", "/c/{slug}/threads/new", {"title": "New", "body": "Body"}, WRITING),
    ("reply", "/c/{slug}/t/{thread}/reply", {"body": "A reply"}, WRITING),
    ("edit own", "/c/{slug}/p/{own}/edit", {"body": "Edited"},
     action_expectations(member="done", moderator="fb", owner="fb")),
    ("delete other's", "/c/{slug}/p/{other}/delete", {}, action_expectations()),
    ("react", "/c/{slug}/p/{other}/react", {"emoji": "heart"}, ANYONE_IN),
    ("report", "/c/{slug}/p/{other}/report", {"reason": "Please look"}, ANYONE_IN),
    ("pin", "/c/{slug}/t/{thread}/pin", {}, action_expectations()),
    ("lock", "/c/{slug}/t/{thread}/lock", {}, action_expectations()),
    ("follow", "/c/{slug}/t/{thread}/subscription", {"subscription": "following"}, ANYONE_IN),
    ("read", "/c/{slug}/t/{thread}/read", {"number": "2"}, ANYONE_IN),
    ("read all", "/c/{slug}/threads/read", {}, ANYONE_IN),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path,expectations", THREAD_PAGES, ids=[p for p, _ in THREAD_PAGES])
def test_thread_pages(app, world, role, path, expectations):
    client = signed_in_client(app, world, role)
    check(client.get(url_of(world, path)), expectations[role], world["circle"].slug)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,path,data,expectations", THREAD_ACTIONS,
                         ids=[a[0] for a in THREAD_ACTIONS])
def test_thread_actions(app, world, role, name, path, data, expectations):
    client = signed_in_client(app, world, role)
    check(client.post(url_of(world, path), data=data), expectations[role], world["circle"].slug)


WRITING_PATHS = {path for _, path, _, expected in THREAD_ACTIONS if expected is WRITING}


@pytest.mark.parametrize("role", sorted(OUTSIDERS))
@pytest.mark.parametrize("path", [p for p, _ in THREAD_PAGES] + [a[1] for a in THREAD_ACTIONS])
def test_outsiders_learn_nothing_from_thread_urls(app, world, role, path):
    client = signed_in_client(app, world, role)
    for method in ("get", "post"):
        if method == "post" and role in FORMER and path in WRITING_PATHS:
            continue  # they knew the circle: told it is over (test_thread_actions)
        real = getattr(client, method)(url_of(world, path))
        made_up = getattr(client, method)(url_of(world, path, slug="no-such-circle"))
        assert real.status_code == made_up.status_code
        assert real.status_code in (404, 405)  # 405: a GET of a form's POST-only address
        assert same_page(real, made_up)
