"""Demo threads for the Berkshire circle, built through the actions."""
from datetime import timedelta

from sqlalchemy import update

from ..accounts.models import User
from ..circles.models import Circle
from ..extensions import db
from ..timeutil import utcnow
from . import actions
from .models import Post, Thread

WELCOME = """Welcome to our circle. This is **our** space: what is said here stays here.

A few things that help:
- Start a thread for anything on your mind at work, big or small.
- Mention people with @ and their handle, so they hear of it.
- Our next meetup is on the *Meetings* tab.
"""

THREADS = [
    ("Rachel Stone", "Welcome — start here", WELCOME, [
        ("Helen Marsh", "Thank you Rachel. Lovely to have a place that isn't another WhatsApp group."),
        ("Gareth Lloyd", "Good to be here. Ten days together felt like ten months."),
    ]),
    ("Dr Amara Okafor", "Getting out of the NHS silo",
     "Since the programme I've been trying to get our CAMHS team talking to schools and the "
     "voluntary sector *before* referral, not after. Two questions:\n\n"
     "1. Who owns the relationship when nobody is commissioned to?\n"
     "2. How do you keep it going when the champion moves on?\n\n"
     "@tom_whitaker, I think your food network has cracked some of this.", [
        ("Tom Whitaker", "We've had the same problem. What worked for us: a standing monthly slot, "
                         "same room, same time, whoever can come. No agenda beyond 'what are you seeing?'"),
        ("Marcus Bell", "From the council side: the silo is partly us. Our contracts reward referrals, "
                        "not conversations. Happy to share what we're changing."),
        ("Helen Marsh", "> who owns the relationship\n\nIn primary care the honest answer is the "
                        "practice manager, because nobody else has the time. Which means me."),
    ]),
    ("Gareth Lloyd", "What we learned at the prison visit",
     "Thank you all for coming to HMP Thameside. A few things staff said afterwards:\n\n"
     "| What they noticed | What changed |\n|---|---|\n"
     "| Outsiders asked *why*, not *how* | Two wing processes are being rewritten |\n"
     "| The bank's questions on rotas | We're trialling self-rostering |\n\n"
     "Would anyone host the next visit?", [
        ("Siobhan Kelly", "The rota conversation stuck with me too. Happy to host at the bank's "
                          "operations centre in Maidenhead."),
        ("Priya Raman", "Could we do the radio station after that? Live output is its own kind of pressure."),
    ]),
    ("Fatima Hussain", "Funding cliff in March — how are you planning?",
     "Three of our grants end in March with no word on renewals. How are others handling "
     "the uncertainty with staff?", [
        ("Chloe Adeyemi", "We told staff early and honestly. It was hard but rumours were worse."),
    ]),
]


def seed_demo(circle: Circle, people: dict[str, User]) -> None:
    """A few lively threads with replies, quotes, reactions, and a pinned welcome."""
    now = utcnow()
    for age, (author, title, body, replies) in enumerate(reversed(THREADS)):
        thread = actions.start_thread(people[author], circle.slug, title, body)
        for name, text in replies:
            actions.post_reply(people[name], circle.slug, thread.id, text)
        _backdate(thread, now - timedelta(days=2 * age + 1))
    welcome = db.session.query(Thread).filter_by(circle_id=circle.id, title=THREADS[0][1]).one()
    actions.set_pinned(people["Rachel Stone"], circle.slug, welcome.id, True)
    first_posts = db.session.query(Post).filter(Post.circle_id == circle.id, Post.number == 1).all()
    for post, name, emoji in zip(first_posts, ["Priya Raman", "Oliver Grant", "James Fairbairn",
                                               "Helen Marsh"], ["heart", "bulb", "pray", "thumbs_up"],
                                 strict=False):
        actions.toggle_reaction(people[name], circle.slug, post.id, emoji)


def _backdate(thread: Thread, when) -> None:
    """Spread the demo over the past days, so the list reads like a lived-in circle."""
    db.session.execute(update(Post).where(Post.thread_id == thread.id)
                       .values(created_at=when))
    db.session.execute(update(Thread).where(Thread.id == thread.id)
                       .values(created_at=when, last_post_at=when + timedelta(hours=3)))
    db.session.commit()
