"""The meetings part of the demo: a monthly meetup, a visit to a prison, and a
date poll still open. Built through the actions, relative to today, so the
demo always shows meetings to come."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..accounts.models import User
from ..agenda import actions as agenda
from ..circles.models import Circle
from ..extensions import db
from ..timeutil import utcnow
from .actions import polls, rsvps, scheduling, visits
from .models import Meeting, MeetingOccurrence

LONDON = ZoneInfo("Europe/London")
LOCAL = "%Y-%m-%dT%H:%M"


def _first_tuesday_after(day: date) -> date:
    """The first Tuesday of the month after `day`'s."""
    first = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first + timedelta(days=(1 - first.weekday()) % 7)


def _weekday_after(day: date, weekday: int, weeks: int) -> date:
    start = day + timedelta(weeks=weeks)
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute)).strftime(LOCAL)


def seed_demo(circle: Circle, people: dict[str, User]) -> None:
    """Add the Berkshire circle's meetings, answers and a poll."""
    rachel, amara = people["Rachel Stone"], people["Dr Amara Okafor"]
    gareth = people["Gareth Lloyd"]
    today = utcnow().astimezone(LONDON).date()

    first = _first_tuesday_after(today)
    meetup = scheduling.schedule_meeting(
        rachel, circle.slug, title="Monthly meetup",
        description="Our regular evening together: a round of how-are-you-really, then one "
                    "member brings a live leadership problem for the group to work on.\n\n"
                    "- 19:00 arrive, food\n- 19:30 check-in round\n- 20:00 the problem\n\n"
                    "What is said here stays here.",
        start=_at(first, 19), duration=150, timezone="Europe/London",
        location="Reading Biscuit Factory, Queens Walk, Reading RG1 7QF",
        online_link="https://meet.example.org/berkshire-leaders", capacity=16,
        repeat="monthly", month_week=1, count=12)
    first_dates = _dates(meetup)
    for name, answer in [("Dr Amara Okafor", "going"), ("Helen Marsh", "going"),
                         ("Gareth Lloyd", "maybe"), ("Priya Raman", "going"),
                         ("Tom Whitaker", "declined"), ("Fatima Hussain", "going")]:
        rsvps.rsvp(people[name], circle.slug, first_dates[0].id, answer)
    rsvps.rsvp(rachel, circle.slug, first_dates[0].id, "going")
    rsvps.rsvp(people["Marcus Bell"], circle.slug, first_dates[1].id, "going")
    # The problem Helen brings to the first meetup: a challenge on its agenda.
    agenda.bring_challenge(
        people["Helen Marsh"], circle.slug, meetup.id, first_dates[0].id,
        "Two practices, one rota",
        "We merge with the practice next door in April. Their receptionists and ours have "
        "worked very different rotas for years, and both teams think theirs is the fair one.",
        "How do I get both teams to design the new rota together, rather than fight over it?")

    offer = visits.offer_to_host(
        gareth, circle.slug, organisation="HMP Thameside Reading",
        note="Come and see how we're running the new resettlement unit, and meet two of the "
             "officers who designed it. Weekday mornings suit best. Bring photo ID; no phones "
             "past the gate.")
    visit_day = _weekday_after(today, 3, 3)  # a Thursday about three weeks away
    visit = scheduling.schedule_meeting(
        amara, circle.slug, title="Visit to HMP Thameside Reading",
        description="Gareth hosts us at the prison. We'll tour the resettlement unit and talk "
                    "with the team about leading through a staffing crisis.\n\n"
                    "**Bring photo ID.** Phones stay in lockers at the gate. Twelve places: "
                    "the prison's limit for a group visit.",
        start=_at(visit_day, 10), end=_at(visit_day, 13), timezone="Europe/London",
        location="HMP Thameside Reading, Forbury Road, Reading", capacity=12,
        host_offer_id=offer.id)
    for name in ("Dr Amara Okafor", "Rachel Stone", "James Fairbairn", "Fatima Hussain",
                 "Marcus Bell", "Chloe Adeyemi"):
        rsvps.rsvp(people[name], circle.slug, _dates(visit)[0].id, "going")
    rsvps.rsvp(people["Oliver Grant"], circle.slug, _dates(visit)[0].id, "maybe")

    start = _weekday_after(today, 5, 5)  # Saturdays from about five weeks away
    poll = polls.create_poll(
        amara, circle.slug, title="Summer social — families welcome",
        description="A picnic by the Thames with partners and children. Which Saturday works?",
        timezone="Europe/London", duration=240, location="Christchurch Meadows, Reading",
        options=[_at(start + timedelta(weeks=i), 12) for i in range(4)])
    options = polls.poll_options(poll)
    votes = {"Rachel Stone": "yes yes maybe no", "Helen Marsh": "no yes yes maybe",
             "Priya Raman": "yes yes no no", "Siobhan Kelly": "maybe yes yes no",
             "Tom Whitaker": "no maybe yes yes"}
    for name, answers in votes.items():
        polls.vote(people[name], circle.slug, poll.id,
                   {o.id: a for o, a in zip(options, answers.split(), strict=True)})


def _dates(meeting: Meeting) -> list[MeetingOccurrence]:
    return list(db.session.scalars(select(MeetingOccurrence).where(
        MeetingOccurrence.meeting_id == meeting.id).order_by(MeetingOccurrence.starts_at)))
