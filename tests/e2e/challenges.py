"""Challenges in the demo circle, one in each phase, for the page checks: each
viewer (the owner and a member) presents one in Reflection and one waiting for
their update, so every composer is on some page; others have held ideas, a
timed phase and a closed one for the list. Built through the actions, on top
of `flask seed-demo`.

Run as `python -m tests.e2e.challenges` with DATABASE_URL pointing at the demo's
database; it prints the ids of the pages as JSON.
"""
import json

from sqlalchemy import select

from community import create_app
from community.accounts.models import User
from community.challenges import actions as challenges
from community.challenges.models import Challenge, FollowUp
from community.database import lock_at_begin_for_this_command
from community.demo import MODERATOR, OWNER, demo_circle, demo_email
from community.extensions import db
from community.threads.models import Thread
from community.timeutil import utcnow

MEMBER, PRESENTER = "Helen Marsh", "Gareth Lloyd"
TITLES = {
    "questions": "Two teams, one budget: where do I start with the merger?",
    "ideas": "A board member keeps overruling the executive in public",
    "reflection-owner": "Keeping the programme's alumni engaged after year one",
    "reflection-member": "Appointments the practice can't fill on Mondays",
    "follow-up-owner": "Funding the programme's second year",
    "follow-up-member": "A partner who stopped answering emails",
    "closed": "Moving the radio station to a new building",
}


def _person(name: str) -> User:
    return db.session.scalar(select(User).where(User.email == demo_email(name)))


def _bring(who: User, key: str, **durations) -> Challenge:
    return challenges.open_challenge(
        who, demo_circle().slug, TITLES[key],
        "What is going on, who is involved and what I have tried so far: a longer paragraph, "
        "as a presenter would write it, with enough words to wrap at a phone's width.",
        "What would you do in my place?", **durations)


def _move(challenge: Challenge, to: str, presenter: User) -> None:
    slug = demo_circle().slug
    for step in ("questions", "ideas", "reflection"):
        if step == to:
            return
        if step == "reflection":
            challenges.reflect(presenter, slug, challenge.id, "I take away that I should ask first.",
                               [("Meet both leads before the budget round", "")])
        else:
            challenges.move_phase(presenter, slug, challenge.id, step)


def seed() -> None:
    circle = demo_circle()
    if db.session.scalar(select(Thread.id).where(Thread.circle_id == circle.id,
                                                 Thread.title == TITLES["questions"])):
        return
    slug = circle.slug
    owner, member, presenter, moderator = (_person(n) for n in (OWNER, MEMBER, PRESENTER, MODERATOR))
    asked = _bring(presenter, "questions", questions_minutes=3 * 24 * 60)
    challenges.post_to_challenge(member, slug, asked.id, "question", "Who decides on the budget?")
    challenges.post_to_challenge(presenter, slug, asked.id, "answer", "The board, in March.")
    for who in (owner, member):
        challenges.hold_idea(who, slug, asked.id, "Start with the two team leads, together.")
    ideas = _bring(presenter, "ideas")
    _move(ideas, "ideas", presenter)
    challenges.post_to_challenge(moderator, slug, ideas.id, "idea", "Ask the chair for a private word.")
    for key, who, to in (("reflection-owner", owner, "reflection"),
                         ("reflection-member", member, "reflection"),
                         ("follow-up-owner", owner, "follow_up"),
                         ("follow-up-member", member, "follow_up"),
                         ("closed", presenter, "follow_up")):
        _move(_bring(who, key), to, who)
    now = utcnow()
    for key in ("follow-up-owner", "follow-up-member"):
        follow_up = db.session.scalar(select(FollowUp.id).join(Challenge).join(
            Thread, Thread.id == Challenge.thread_id).where(Thread.title == TITLES[key]))
        challenges.send_follow_up(follow_up, now)


def ids() -> dict[str, int]:
    """The thread id of each challenge, by its key in TITLES."""
    rows = db.session.execute(select(Thread.title, Thread.id).where(
        Thread.circle_id == demo_circle().id, Thread.title.in_(TITLES.values())))
    by_title = dict(rows.all())
    return {key: by_title[title] for key, title in TITLES.items()}


if __name__ == "__main__":
    app = create_app()
    with app.app_context():
        lock_at_begin_for_this_command()
        seed()
        print(json.dumps(ids()))
