"""A circle with a challenge and someone in every part: built through the actions."""
from dataclasses import dataclass

from sqlalchemy import update

from community.challenges import actions as challenges
from community.challenges.models import Challenge
from community.circles import actions as circles
from community.extensions import db
from tests.factories import add_member, make_circle, make_user


@dataclass
class Room:
    circle: object
    owner: object
    moderator: object
    presenter: object
    member: object
    former: object
    outsider: object
    challenge: object

    @property
    def slug(self) -> str:
        return self.circle.slug

    def user(self, role: str):
        return getattr(self, role)


def make_room(presenter_zone: str = "Europe/London", **durations) -> Room:
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    moderator = add_member(circle, make_user("Mo Derator"), role="moderator")
    presenter = add_member(circle, make_user("Priya Presenter", timezone=presenter_zone))
    member = add_member(circle, make_user("Gareth Member"))
    former = add_member(circle, make_user("Fran Former"))
    circles.leave_circle(former, circle.slug)
    outsider = make_user("Nina Outsider")
    challenge = challenges.open_challenge(presenter, circle.slug, "Two teams, one budget",
                                          "We are merging two teams.", "Where do I start?",
                                          **durations)
    return Room(circle, owner, moderator, presenter, member, former, outsider, challenge)


def to_phase(room: Room, phase: str) -> None:
    """Move the room's challenge on (by its presenter, reflecting for follow-up)."""
    order = ["questions", "ideas", "reflection", "follow_up"]
    current = db.session.get(Challenge, room.challenge.id).phase
    for step in order[order.index(current):order.index(phase)]:
        if step == "reflection":
            challenges.reflect(room.presenter, room.slug, room.challenge.id, "I take away a lot.",
                               [("Talk to both leads", "")])
        else:
            challenges.move_phase(room.presenter, room.slug, room.challenge.id, step)


def backdate(challenge_id: int, **delta) -> None:
    """Make the stored phase have begun earlier (as if time had passed)."""
    from datetime import timedelta

    row = db.session.get(Challenge, challenge_id)
    db.session.execute(update(Challenge).where(Challenge.id == challenge_id)
                       .values(phase_started_at=row.phase_started_at - timedelta(**delta)))
    db.session.commit()
    db.session.expire_all()
