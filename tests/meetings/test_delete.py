"""Deleting a meeting: who may, what goes with it (dates, replies, files), who is
told, the audit log, polls and visits that led to it, and calendar feeds."""
import html
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from community.extensions import db
from community.meetings import reminders
from community.meetings.actions import feeds, polls, rsvps, scheduling, visits
from community.meetings.models import RSVP, DatePoll, HostOffer, Meeting, MeetingOccurrence
from community.moderation.models import AuditEvent
from community.timeutil import utcnow
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_user

from .conftest import LONDON, at, dates_of, day, meeting_fields, notes_for, race, schedule


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def world(app, auth):
    """(circle, owner, organiser, member): the organiser is a plain member who scheduled."""
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Berkshire Leaders")
    organiser = add_member(circle, make_user("Orla Organiser"))
    member = add_member(circle, make_user("Mia Member"))
    return circle, owner, organiser, member


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def delete_url(circle, meeting_id: int) -> str:
    return f"/c/{circle.slug}/m/{meeting_id}/delete"


def audited(circle) -> list[tuple]:
    return [(e.action, e.actor_id, e.target_user_id, e.detail) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.circle_id == circle.id,
                                 AuditEvent.action == "meeting.deleted"))]


def test_the_organiser_deletes_a_series_and_it_is_gone(client, auth, world):
    circle, owner, organiser, member = world
    meeting = schedule(organiser, circle, title="Weekly check-in", repeat="weekly", count="3")
    first = dates_of(meeting)[0].id
    rsvps.rsvp(member, circle.slug, first, "going")
    schedule(organiser, circle, title="Another evening")
    meeting_id, page = meeting.id, f"/c/{circle.slug}/m/{meeting.id}"
    auth.login(organiser)
    assert f'href="{delete_url(circle, meeting_id)}"' in text(client.get(page))
    assert f'href="{delete_url(circle, meeting_id)}"' in text(client.get(page + "/edit"))

    confirm = client.get(delete_url(circle, meeting_id))
    body = text(confirm)
    assert confirm.status_code == 200 and "data-confirm=" in body and 'name="csrf_token"' in body
    assert "Delete the whole series" in body and "can't be undone" in body
    assert "1 person is still coming" in body and "cancel it instead" in body
    assert count(Meeting, Meeting.id == meeting_id) == 1  # a GET changes nothing

    done = client.post(delete_url(circle, meeting_id))
    assert done.status_code == 302 and done.headers["Location"] == f"/c/{circle.slug}/meetings/"
    listing = text(client.get(done.headers["Location"]))
    assert "“Weekly check-in” is deleted" in listing
    assert "Weekly check-in" not in listing.replace("“Weekly check-in” is deleted", "")
    assert "Another evening" in listing
    assert client.get(page).status_code == 404
    assert client.get(f"{page}?date={first}").status_code == 404
    assert client.get(f"{page}.ics").status_code == 404
    assert count(MeetingOccurrence, MeetingOccurrence.meeting_id == meeting_id) == 0
    assert count(RSVP, RSVP.occurrence_id == first) == 0
    assert audited(circle) == []  # one's own meeting: nothing to audit
    # Those coming are told, as a cancellation would tell them, with a link that still works.
    [note] = notes_for(member, "meeting_cancelled")
    assert note.text == "Weekly check-in is cancelled (every date)"
    assert note.url == f"/c/{circle.slug}/meetings/"
    assert notes_for(organiser, "meeting_cancelled") == []


@pytest.mark.parametrize("role", ["moderator", "owner"])
def test_staff_deleting_someone_elses_meeting_is_audited(client, auth, world, role):
    circle, owner, organiser, member = world
    staff = owner if role == "owner" else add_member(circle, make_user("Mo Moderator"),
                                                      role="moderator")
    meeting = schedule(organiser, circle, title="Rumour mill")
    auth.login(staff)
    assert f'href="{delete_url(circle, meeting.id)}"' in text(
        client.get(f"/c/{circle.slug}/m/{meeting.id}"))
    assert client.post(delete_url(circle, meeting.id)).status_code == 302
    assert audited(circle) == [("meeting.deleted", staff.id, organiser.id, "“Rumour mill”")]
    log = text(client.get(f"/c/{circle.slug}/manage/audit"))
    assert "deleted a meeting organised by <strong>Orla Organiser</strong>" in log
    assert "“Rumour mill”" in log


def test_a_plain_member_may_not_delete(client, auth, world):
    circle, owner, organiser, member = world
    meeting = schedule(organiser, circle)
    auth.login(member)
    assert "/delete" not in text(client.get(f"/c/{circle.slug}/m/{meeting.id}"))
    for response in (client.get(delete_url(circle, meeting.id)),
                     client.post(delete_url(circle, meeting.id))):
        assert response.status_code == 403
        assert "Only the organiser and the circle's moderators can delete this meeting." \
            in text(response)
    assert count(Meeting, Meeting.id == meeting.id) == 1


def test_outsiders_and_missing_meetings_get_a_404(client, auth, world):
    circle, owner, organiser, member = world
    meeting = schedule(organiser, circle)
    outsider = make_user("Nina Outsider")
    make_circle(outsider, name="Elsewhere")
    auth.login(outsider)
    for method in (client.get, client.post):
        assert method(delete_url(circle, meeting.id)).status_code == 404
    auth.logout()
    auth.login(organiser)
    for method in (client.get, client.post):
        assert method(delete_url(circle, 999999)).status_code == 404
    assert count(Meeting, Meeting.id == meeting.id) == 1


def test_deleting_twice_is_a_404_not_an_error(client, auth, world):
    circle, owner, organiser, member = world
    meeting = schedule(organiser, circle)
    auth.login(organiser)
    assert client.post(delete_url(circle, meeting.id)).status_code == 302
    assert client.post(delete_url(circle, meeting.id)).status_code == 404
    assert client.get(delete_url(circle, meeting.id)).status_code == 404


def test_a_post_without_its_csrf_token_deletes_nothing(make_app, world):
    circle, owner, organiser, member = world
    meeting = schedule(organiser, circle)
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    AuthActions(client).login(organiser)
    assert client.post(delete_url(circle, meeting.id)).status_code == 400
    assert count(Meeting, Meeting.id == meeting.id) == 1


def test_a_meeting_already_cancelled_is_deleted_without_telling_anyone_again(app, world):
    circle, owner, organiser, member = world
    meeting = schedule(organiser, circle)
    rsvps.rsvp(member, circle.slug, dates_of(meeting)[0].id, "going")
    scheduling.cancel_meeting(organiser, circle.slug, meeting.id, "The venue closed")
    assert scheduling.delete_meeting(organiser, circle.slug, meeting.id) == "Monthly meetup"
    assert [n.url for n in notes_for(member, "meeting_cancelled")] == [
        f"/c/{circle.slug}/m/{meeting.id}"]  # the cancellation's note, and no second one


def test_only_those_still_coming_are_told(app, world, clock):
    circle, owner, organiser, member = world
    meeting = schedule(organiser, circle, title="Weekly", repeat="weekly", count="2")
    first, second = dates_of(meeting)
    early = add_member(circle, make_user("Early Bird"))
    rsvps.rsvp(early, circle.slug, first.id, "going")
    rsvps.rsvp(member, circle.slug, second.id, "declined")
    clock(first.ends_at + timedelta(hours=1))  # the first date has happened
    scheduling.delete_meeting(owner, circle.slug, meeting.id)
    assert notes_for(early, "meeting_cancelled") == []
    assert notes_for(member, "meeting_cancelled") == []


def test_the_poll_and_the_offer_that_led_to_it_still_show(client, auth, world):
    circle, owner, organiser, member = world
    poll = polls.create_poll(organiser, circle.slug, title="When shall we meet?",
                             timezone="Europe/London", duration="60", location="Reading",
                             options=[at(day(20), 12), at(day(21), 12)])
    picked = polls.schedule_from_poll(organiser, circle.slug, poll.id,
                                      polls.poll_options(poll)[0].id)
    offer = visits.offer_to_host(member, circle.slug, organisation="HMP Reading")
    visit = scheduling.schedule_meeting(organiser, circle.slug, title="Visit to HMP Reading",
                                        start=at(day(30)), duration=120,
                                        timezone="Europe/London", location="HMP Reading",
                                        host_offer_id=str(offer.id))
    for meeting in (picked, visit):
        scheduling.delete_meeting(organiser, circle.slug, meeting.id)
    assert db.session.get(DatePoll, poll.id).meeting_id is None
    assert db.session.get(HostOffer, offer.id).meeting_id is None
    auth.login(member)
    page = client.get(f"/c/{circle.slug}/polls/{poll.id}")
    assert page.status_code == 200 and "has since been deleted" in text(page)
    meetings = client.get(f"/c/{circle.slug}/meetings/")
    # The visit never happened, so the offer to host is open again, to plan anew.
    assert meetings.status_code == 200 and "HMP Reading" in text(meetings)
    assert "Visit to HMP Reading" not in text(meetings)


def test_no_reminder_is_sent_for_a_deleted_meeting(app, world):
    circle, owner, organiser, member = world
    soon = (utcnow() + timedelta(hours=3)).astimezone(LONDON)
    meeting = schedule(organiser, circle, start=soon.strftime("%Y-%m-%dT%H:%M"))
    rsvps.rsvp(member, circle.slug, dates_of(meeting)[0].id, "going")
    scheduling.delete_meeting(organiser, circle.slug, meeting.id)
    assert reminders.send_due_reminders() == 0
    assert notes_for(member, "meeting_reminder") == []


def test_a_deleted_meeting_leaves_calendar_feeds_at_once(app, world):
    """Feeds are cached by a digest of what they hold: after a delete the
    calendar app's old ETag no longer matches, and the body served (even one
    cached from before the meeting existed) lacks it."""
    circle, owner, organiser, member = world
    calendar_app = app.test_client()
    path = f"/calendar/{feeds.create_calendar_feed(member)}.ics"
    schedule(organiser, circle, title="Stays")
    before = calendar_app.get(path)
    gone = schedule(organiser, circle, title="Goes away", start=at(day(12)))
    with_it = calendar_app.get(path)
    assert gone.uid.encode() in with_it.get_data()
    assert calendar_app.get(path, headers={"If-None-Match": with_it.headers["ETag"]}) \
        .status_code == 304
    scheduling.delete_meeting(organiser, circle.slug, gone.id)
    after = calendar_app.get(path, headers={"If-None-Match": with_it.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != with_it.headers["ETag"]
    assert gone.uid.encode() not in after.get_data() and b"Stays" in after.get_data()
    assert after.get_data() == before.get_data()  # the same feed as before it existed


def test_a_delete_racing_answers_edits_and_a_cancel_leaves_nothing_behind(engine_app):
    """Deleting while members answer and staff edit or cancel: each of those
    finishes first or is refused (the meeting gone, or cancelled); none crashes
    or deadlocks (race fails on either), and no date or reply of it is left.
    Both engines: on PostgreSQL the delete locks the meeting, then its dates."""
    owner = make_user()
    circle = make_circle(owner)
    people = [add_member(circle, make_user(f"Racer {i}")) for i in range(6)]
    meeting = schedule(owner, circle, repeat="weekly", count="3", capacity="2")
    dates = [d.id for d in dates_of(meeting)]
    slug, meeting_id = circle.slug, meeting.id  # plain values: the threads have their own sessions
    edit = meeting_fields(title="Renamed", repeat="weekly", count="3", capacity="2")
    calls = [(scheduling.delete_meeting, owner.id, slug, meeting_id),
             (lambda actor: scheduling.update_meeting(actor, slug, meeting_id, **edit), owner.id),
             (scheduling.cancel_meeting, owner.id, slug, meeting_id, "Snow")]
    calls += [(rsvps.rsvp, p.id, slug, dates[i % 3], "going") for i, p in enumerate(people)]
    outcomes = race(engine_app, *calls)
    assert not isinstance(outcomes[0], Exception)  # the delete itself always goes through
    db.session.expire_all()
    assert count(Meeting, Meeting.id == meeting_id) == 0
    assert count(MeetingOccurrence, MeetingOccurrence.meeting_id == meeting_id) == 0
    assert count(RSVP, RSVP.occurrence_id.in_(dates)) == 0
