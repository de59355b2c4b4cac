"""Who may do what with meetings: roles × every meetings page and action, through HTTP.

Each row runs against a fresh copy of one world: a circle with an owner, a
moderator, a member, the organiser of a weekly series, a date poll and an offer
to host; a banned, a removed and a departed member; outsiders.
"""
import shutil

import pytest
from sqlalchemy import select

from community import create_app
from community.accounts.models import User
from community.circles import actions as circles
from community.circles.models import Circle
from community.extensions import db
from community.meetings.actions import feeds, polls, rsvps, scheduling, visits
from community.meetings.models import MeetingOccurrence
from community.moderation import actions as moderation
from tests.conftest import AuthActions, app_config
from tests.factories import add_member, make_circle, make_user

from .conftest import at, day, meeting_fields
from .conftest import page_body as body

ROLES = ["signed_out", "non_member", "banned", "removed", "left", "site_admin", "member",
         "organiser", "moderator", "owner"]
OUTSIDERS = {"non_member", "banned", "removed", "left", "site_admin"}


def build_world() -> dict:
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Thames Valley Leaders")
    people = {"owner": owner, "non_member": make_user("Nina Outsider")}
    people["moderator"] = add_member(circle, make_user("Mo Moderator"), role="moderator")
    people["member"] = add_member(circle, make_user("Mia Member"))
    people["organiser"] = add_member(circle, make_user("Orla Organiser"))
    for status in ("banned", "removed", "left"):
        people[status] = add_member(circle, make_user(f"{status.title()} Person"))
    meeting = scheduling.schedule_meeting(people["organiser"], circle.slug,
                                          **meeting_fields(repeat="weekly", count="3"))
    date = db.session.scalar(select(MeetingOccurrence).where(
        MeetingOccurrence.meeting_id == meeting.id).order_by(MeetingOccurrence.starts_at))
    for status in ("banned", "removed", "left"):  # they answered while still members
        rsvps.rsvp(people[status], circle.slug, date.id, "going")
    poll = polls.create_poll(people["organiser"], circle.slug, title="When?",
                             timezone="Europe/London", duration="60", location="Reading",
                             options=[at(day(20), 12), at(day(21), 12)])
    offer = visits.offer_to_host(people["organiser"], circle.slug, organisation="HMP Reading")
    moderation.ban_member(owner, circle.slug, people["banned"].id)
    moderation.remove_member(owner, circle.slug, people["removed"].id)
    circles.leave_circle(people["left"], circle.slug)
    admin = make_user("Sam Siteadmin")
    admin.is_site_admin = True
    db.session.commit()
    people["site_admin"] = admin
    return {"circle": circle.id, "people": {k: u.id for k, u in people.items()},
            "meeting": meeting.id, "date": date.id, "poll": poll.id,
            "option": polls.poll_options(poll)[0].id, "offer": offer.id}


@pytest.fixture(scope="session")
def meetings_world(schema_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("meetings_world") / "world.sqlite3"
    shutil.copy(schema_template, path)
    app = create_app(app_config(f"sqlite:///{path}"))
    with app.app_context():
        ids = build_world()
        db.session.remove()
        db.engine.dispose()
    return path, ids


@pytest.fixture
def db_path(tmp_path, meetings_world):
    path = tmp_path / "test.sqlite3"
    shutil.copy(meetings_world[0], path)
    return path


@pytest.fixture
def world(app, meetings_world):
    ids = dict(meetings_world[1])
    ids["slug"] = db.session.get(Circle, ids["circle"]).slug
    ids["people"] = {k: db.session.get(User, v) for k, v in ids["people"].items()}
    return ids


def client_for(app, world, role):
    client = app.test_client()
    if role != "signed_out":
        AuthActions(client).login(world["people"][role])
    return client


def expect(member="ok", organiser="ok", moderator="ok", owner="ok"):
    row = {role: "nf" for role in OUTSIDERS}
    row.update(signed_out="in", member=member, organiser=organiser, moderator=moderator,
               owner=owner)
    return row


EVERYONE = expect()
MANAGERS = expect(member="fb")
DONE = expect(member="done", organiser="done", moderator="done", owner="done")
MANAGERS_DO = expect(member="fb", organiser="done", moderator="done", owner="done")

PAGES = [
    ("/c/{slug}/meetings/", EVERYONE),
    ("/c/{slug}/meetings/?page=2", EVERYONE),
    ("/c/{slug}/meetings/past", EVERYONE),
    ("/c/{slug}/meetings/new", EVERYONE),
    ("/c/{slug}/meetings/new?offer={offer}", EVERYONE),
    ("/c/{slug}/meetings/host", EVERYONE),
    ("/c/{slug}/m/{meeting}", EVERYONE),
    ("/c/{slug}/m/{meeting}?date={date}", EVERYONE),
    ("/c/{slug}/m/{meeting}.ics", EVERYONE),
    ("/c/{slug}/m/{meeting}/edit", MANAGERS),
    ("/c/{slug}/m/{meeting}/cancel", MANAGERS),
    ("/c/{slug}/m/{meeting}/delete", MANAGERS),
    ("/c/{slug}/m/{meeting}/dates/{date}/move", MANAGERS),
    ("/c/{slug}/m/{meeting}/dates/{date}/cancel", MANAGERS),
    ("/c/{slug}/polls/new", EVERYONE),
    ("/c/{slug}/polls/{poll}", EVERYONE),
]


def edit_form():
    return {**meeting_fields(repeat="weekly", count="3", title="Renamed"), "duration": "120"}


ACTIONS = [
    ("propose", "/c/{slug}/meetings/new", lambda w: meeting_fields(), DONE),
    ("rsvp", "/c/{slug}/m/{meeting}/dates/{date}/rsvp", lambda w: {"answer": "going"}, DONE),
    ("edit", "/c/{slug}/m/{meeting}/edit", lambda w: edit_form(), MANAGERS_DO),
    ("cancel", "/c/{slug}/m/{meeting}/cancel", lambda w: {"reason": "Snow"}, MANAGERS_DO),
    ("delete", "/c/{slug}/m/{meeting}/delete", lambda w: {}, MANAGERS_DO),
    ("move_date", "/c/{slug}/m/{meeting}/dates/{date}/move",
     lambda w: {"start": at(day(40), 12), "duration": "60"}, MANAGERS_DO),
    ("cancel_date", "/c/{slug}/m/{meeting}/dates/{date}/cancel", lambda w: {"reason": "Clash"},
     MANAGERS_DO),
    ("new_poll", "/c/{slug}/polls/new",
     lambda w: {"title": "Q", "timezone": "Europe/London", "duration": "60",
                "location": "Reading", "options-0": at(day(30), 12),
                "options-1": at(day(31), 12)}, DONE),
    ("vote", "/c/{slug}/polls/{poll}/vote", lambda w: {f"option-{w['option']}": "yes"}, DONE),
    ("schedule_poll", "/c/{slug}/polls/{poll}/schedule",
     lambda w: {"option_id": str(w["option"])}, MANAGERS_DO),
    ("close_poll", "/c/{slug}/polls/{poll}/close", lambda w: {}, MANAGERS_DO),
    ("offer_to_host", "/c/{slug}/meetings/host",
     lambda w: {"organisation": "Kennet GP", "note": ""}, DONE),
    ("withdraw_offer", "/c/{slug}/meetings/host/{offer}/withdraw", lambda w: {}, MANAGERS_DO),
]


def url(path: str, world: dict, slug: str | None = None) -> str:
    return path.format(slug=slug or world["slug"], meeting=world["meeting"], date=world["date"],
                       poll=world["poll"], offer=world["offer"])


def check(response, expected: str) -> None:
    code = response.status_code
    body = response.get_data(as_text=True)[:400]
    if expected == "ok":
        assert code == 200, body
    elif expected == "fb":
        assert code == 403, body
    elif expected == "nf":
        assert code == 404, body
    elif expected == "in":
        assert code == 302 and response.headers["Location"].startswith("/auth/login?next="), code
    elif expected == "done":
        assert code in (201, 302, 303), (code, body)
        assert not response.headers.get("Location", "").startswith("/auth/login")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path,expectations", PAGES, ids=[p for p, _ in PAGES])
def test_meetings_pages(app, world, role, path, expectations):
    check(client_for(app, world, role).get(url(path, world)), expectations[role])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,path,data,expectations", ACTIONS, ids=[a[0] for a in ACTIONS])
def test_meetings_actions(app, world, role, name, path, data, expectations):
    check(client_for(app, world, role).post(url(path, world), data=data(world)),
          expectations[role])


@pytest.mark.parametrize("role", sorted(OUTSIDERS))
@pytest.mark.parametrize("path", [p for p, _ in PAGES] + [a[1] for a in ACTIONS])
def test_outsiders_cannot_tell_a_meeting_exists(app, world, role, path):
    """For an outsider, every meetings path of a real circle answers exactly as
    for a made-up circle: the same 404, byte for byte, GET or POST."""
    client = client_for(app, world, role)
    for method in (client.get, client.post):
        real = method(url(path, world))
        made_up = method(url(path, world, slug="no-such-circle"))
        if real.status_code == 405:  # a POST-only action asked with GET, or the reverse
            assert made_up.status_code == 405
            continue
        assert real.status_code == made_up.status_code == 404
        assert body(real) == body(made_up)
        assert b"Thames Valley" not in real.get_data()


@pytest.mark.parametrize("path", [p for p, _ in PAGES if "{" in p.replace("{slug}", "")])
def test_ids_from_elsewhere_look_missing(app, world, path):
    """A member of another circle can't reach these ids through their own circle,
    and an id that doesn't exist looks the same as one that isn't theirs."""
    member = world["people"]["member"]
    other = make_circle(member, name="Somewhere Else")
    client = client_for(app, world, "member")
    mine = client.get(url(path, world, slug=other.slug))
    missing = client.get(path.format(slug=other.slug, meeting=999999, date=999999,
                                     poll=999999, offer=999999))
    assert mine.status_code in (404, 200)  # ?offer= on "new" is ignored, not an error
    if "offer" not in path:
        assert mine.status_code == missing.status_code == 404
        assert body(mine) == body(missing)


def test_departed_members_answers_are_gone_and_their_feed_is_empty(app, world):
    date = world["date"]
    from community.meetings.models import RSVP

    answered = set(db.session.scalars(select(RSVP.user_id).where(RSVP.occurrence_id == date)))
    assert not answered & {world["people"][r].id for r in ("banned", "removed", "left")}


def test_the_feed_is_public_but_keyed(app, world):
    anonymous = app.test_client()
    assert anonymous.get("/calendar/guess.ics").status_code == 404
    assert anonymous.get("/settings/calendar").status_code == 302
    token = feeds.create_calendar_feed(world["people"]["member"])
    assert anonymous.get(f"/calendar/{token}.ics").status_code == 200
    banned = feeds.create_calendar_feed(world["people"]["banned"])
    assert b"BEGIN:VEVENT" not in anonymous.get(f"/calendar/{banned}.ics").get_data()


@pytest.mark.parametrize("path", [
    "/c/{slug}/m/99999999999999999999", "/c/{slug}/m/{meeting}?date=99999999999999999999",
    "/c/{slug}/m/{meeting}?date=-1", "/c/{slug}/polls/99999999999999999999",
    "/c/{slug}/m/99999999999999999999.ics",
])
def test_huge_or_odd_ids_are_a_plain_404(app, world, path):
    response = client_for(app, world, "member").get(url(path, world))
    assert response.status_code == 404


def test_huge_ids_in_forms_are_refused_not_crashed(app, world):
    client = client_for(app, world, "organiser")
    new = client.get(url("/c/{slug}/meetings/new?offer=99999999999999999999", world))
    assert new.status_code == 200
    picked = client.post(url("/c/{slug}/polls/{poll}/schedule", world),
                         data={"option_id": "99999999999999999999"})
    assert picked.status_code == 400 and "Choose the time" in picked.get_data(as_text=True)
    hosted = client.post(url("/c/{slug}/meetings/new", world),
                         data={**meeting_fields(), "host_user_id": "99999999999"})
    assert hosted.status_code == 400
