"""Who may do what: roles × every circle page and action, through HTTP.

Each row of the matrix runs against a fresh world: one circle (which takes
join requests) with an owner, a moderator, members, a banned and a removed
member, a pending request, and outsiders.
"""
import shutil

import pytest
from sqlalchemy import select

from community import create_app
from community.accounts.models import User
from community.circles import actions as circles
from community.circles.models import Circle, Invitation
from community.extensions import db
from community.moderation import actions as moderation
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
    db.session.commit()
    people["site_admin"] = admin
    request = circles.request_to_join(make_user("Pat Pending"), circle.slug, "Hello")
    invitation = db.session.scalar(select(Invitation).where(Invitation.circle_id == circle.id))
    return {"circle": circle.id, "people": {k: u.id for k, u in people.items()},
            "request_id": request.id, "invitation_id": invitation.id}


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
    return {"circle": db.session.get(Circle, ids["circle"]),
            "people": {k: db.session.get(User, v) for k, v in ids["people"].items()},
            "request_id": ids["request_id"], "invitation_id": ids["invitation_id"]}


def signed_in_client(app, world, role):
    client = app.test_client()
    if role != "signed_out":
        AuthActions(client).login(world["people"][role])
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
    assert real.get_data() == made_up.get_data()
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
    assert real.get_data() == made_up.get_data()


@pytest.mark.parametrize("role,expected", [
    ("signed_out", "in"), ("non_member", "nf"), ("member", "ok"), ("moderator", "ok"),
    ("owner", "ok"), ("banned", "nf"), ("removed", "nf"), ("left", "nf"), ("site_admin", "nf"),
])
def test_profiles_only_for_people_who_share_a_circle(app, world, role, expected):
    target = world["people"]["target"]
    client = signed_in_client(app, world, role)
    check(client.get(f"/people/{target.id}"), expected, world["circle"].slug)
    if expected == "nf":
        assert client.get(f"/people/{target.id}").get_data() == client.get("/people/999999").get_data()


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
    assert client.get("/circles/no-such/request").get_data() == \
        client.get(f"/circles/{hidden.slug}/request").get_data()
