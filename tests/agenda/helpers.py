"""A circle with a meeting date and a challenge, someone in every part: built through the actions."""
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from community.agenda import actions as agenda
from community.agenda.models import RunSheet
from community.challenges import actions as challenges
from community.challenges.models import Challenge
from community.circles import actions as circles
from community.extensions import db
from community.meetings.actions import scheduling
from community.meetings.models import MeetingOccurrence
from community.timeutil import to_zone, utcnow
from tests.factories import add_member, make_circle, make_user


@dataclass
class Session:
    circle: object
    owner: object
    moderator: object
    organiser: object
    presenter: object
    member: object
    former: object
    outsider: object
    meeting: object
    date_id: int
    challenge: object

    @property
    def slug(self) -> str:
        return self.circle.slug

    @property
    def where(self) -> tuple:
        """(slug, meeting id, date id): what every agenda action takes after the actor."""
        return self.circle.slug, self.meeting.id, self.date_id

    @property
    def base(self) -> str:
        return f"/c/{self.slug}/m/{self.meeting.id}/dates/{self.date_id}/agenda"

    def user(self, role: str):
        return getattr(self, role)


def make_session(hours_ahead: int = 2) -> Session:
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    moderator = add_member(circle, make_user("Mo Derator"), role="moderator")
    organiser = add_member(circle, make_user("Orla Organiser"))
    presenter = add_member(circle, make_user("Priya Presenter"))
    member = add_member(circle, make_user("Gareth Member"))
    former = add_member(circle, make_user("Fran Former"))
    circles.leave_circle(former, circle.slug)
    outsider = make_user("Nina Outsider")
    start = to_zone(utcnow() + timedelta(hours=hours_ahead), "Europe/London")
    meeting = scheduling.schedule_meeting(organiser, circle.slug, title="Action learning set",
                                          start=start.strftime("%Y-%m-%dT%H:%M"), duration=120,
                                          timezone="Europe/London", location="Reading")
    date_id = db.session.scalar(select(MeetingOccurrence.id).where(
        MeetingOccurrence.meeting_id == meeting.id))
    challenge = challenges.open_challenge(presenter, circle.slug, "Two teams, one budget",
                                          "We are merging two teams.", "Where do I start?")
    return Session(circle, owner, moderator, organiser, presenter, member, former, outsider,
                   meeting, date_id, challenge)


def sheet_of(session: Session) -> RunSheet | None:
    db.session.expire_all()
    return db.session.scalar(select(RunSheet).where(RunSheet.occurrence_id == session.date_id))


def phase_of(challenge_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Challenge, challenge_id).phase


def step(session: Session, actor, command: str):
    """A step by actor, as the page sends it (with the version it shows)."""
    sheet = sheet_of(session)
    return agenda.step_run_sheet(actor, *session.where, command, sheet.version if sheet else 0)


def backdate_step(session: Session, **delta) -> None:
    """As if the current step had begun earlier."""
    sheet = sheet_of(session)
    db.session.execute(update(RunSheet).where(RunSheet.id == sheet.id).values(
        step_started_at=sheet.step_started_at - timedelta(**delta)))
    db.session.commit()


def require_pledge(session: Session) -> None:
    """The circle asks for a pledge now: its members (all but the owner who set
    it) have yet to take it."""
    circles.update_circle(session.owner, session.slug, name=session.circle.name, description="",
                          pledge_required=True, pledge_text="What is said here stays here.")
