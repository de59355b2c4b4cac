"""Demo chat: a few days of the Berkshire circle talking, built through the actions."""
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..accounts.models import User
from ..circles.models import Circle
from ..errors import ActionError, NotFound
from ..extensions import db
from ..timeutil import utcnow
from . import actions
from .models import ChatMessage

LONDON = ZoneInfo("Europe/London")

# (days ago, local time, who, what). Oldest first.
SCRIPT = [
    (3, "08:12", "Rachel Stone", "Morning all — lovely to see so many of you at the last session. "
                                 "This chat is for the quick stuff; longer conversations in threads."),
    (3, "08:20", "Priya Raman", "Morning! Still buzzing from the prison visit, honestly."),
    (3, "08:31", "Gareth Lloyd", "You're all welcome back any time. The lads talked about it for days."),
    (3, "09:02", "Dr Amara Okafor", "Has anyone else had their budget letter yet? Ours landed "
                                    "last night and it's… not great."),
    (3, "09:05", "Helen Marsh", "Same. We're being asked to find **4%** from a practice that's "
                                "already running on fumes."),
    (3, "09:07", "Tom Whitaker", "Charity side isn't better: two of our funders have paused new grants."),
    (3, "09:15", "Rachel Stone", "Worth a thread, I think — the *what do you stop doing* question "
                                 "came up on day 6 too."),
    (3, "12:48", "Marcus Bell", "Quick one: does anyone have a good template for a "
                                "one-page service-change briefing for councillors?"),
    (3, "12:55", "Siobhan Kelly", "We use a \"decision on a page\" format at the bank. "
                                  "Happy to share a redacted one."),
    (3, "13:01", "Marcus Bell", "That would be brilliant, thank you Siobhan."),
    (2, "07:45", "Fatima Hussain", "Big day — our new drop-in opens at 10. Nervous!"),
    (2, "07:52", "Chloe Adeyemi", "You'll be great. Send pictures (of the room, not the people 😉)."),
    (2, "08:03", "James Fairbairn", "Good luck Fatima. If you need a neighbourhood officer to pop "
                                    "in and say hello, shout."),
    (2, "11:30", "Fatima Hussain", "32 people through the door in the first hour. I may cry."),
    (2, "11:34", "Rachel Stone", "That's wonderful. 🎉"),
    (2, "16:20", "Oliver Grant", "Slightly different topic: how do people handle a board member "
                                 "who keeps going around the CEO?"),
    (2, "16:26", "Dr Amara Okafor", "Carefully, and in writing. Happy to talk it through "
                                    "properly — maybe at the next meetup?"),
    (2, "16:31", "Gareth Lloyd", "We had exactly that last year. The chair was the key: get them "
                                 "on side first."),
    (2, "16:40", "Oliver Grant", "Thanks both. Chair first. Makes sense."),
    (1, "09:10", "Helen Marsh", "Reminder for anyone thinking of the wellbeing session: sign-up "
                                "closes Friday."),
    (1, "09:14", "Tom Whitaker", "Signed up. Thanks for organising, Helen."),
    (1, "14:02", "Priya Raman", "We're running a piece on local food banks next month — Tom, "
                                "would Berkshire Food Network talk to us? (Outside the circle, "
                                "of course; nothing from here.)"),
    (1, "14:09", "Tom Whitaker", "Yes, gladly. I'll email you from work."),
    (1, "19:30", "James Fairbairn", "Long day. Grateful for this group, genuinely."),
    (0, "07:58", "Rachel Stone", "Morning. I've started a thread on budget cuts — add your bit "
                                 "when you can."),
    (0, "08:40", "Siobhan Kelly", "Template is in my reply on the thread, Marcus."),
    (0, "08:47", "Marcus Bell", "Got it — thank you!"),
    (0, "09:15", "Chloe Adeyemi", "Anyone going to the housing conference in Slough next week?"),
    (0, "09:21", "Fatima Hussain", "I am. Coffee?"),
]
# Typos happen: (index into SCRIPT, corrected text, minutes after sending).
EDITS = [(8, "We use a \"decision on a page\" format at the bank. Happy to share a redacted "
             "one — nothing confidential in it.", 3)]
OWNER = "Rachel Stone"
UNREAD_FOR_OWNER = 4  # the owner has not caught up with the last few


def _moment(days_ago: int, clock: str) -> datetime:
    """That local time, days ago; never in the future (for 'today' early in the morning)."""
    day = (utcnow().astimezone(LONDON) - timedelta(days=days_ago)).date()
    hour, minute = map(int, clock.split(":"))
    moment = datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(ZoneInfo("UTC"))
    return min(moment, utcnow() - timedelta(minutes=5 * (1 + days_ago)))


def seed_demo(circle: Circle, people: dict[str, User]) -> None:
    """Give the circle a few days of chat history, through the chat actions.

    Messages are sent as their authors, then dated back to when they were
    "said". People missing from `people` are skipped.
    """
    sent: list[tuple[ChatMessage, datetime]] = []
    previous = None
    for days_ago, clock, name, body in SCRIPT:
        author = people.get(name)
        if author is None:
            continue
        payload, _ = actions.send_message(author, circle.slug, body, f"demo-{uuid.uuid4().hex}")
        message = db.session.get(ChatMessage, payload["id"])
        when = _moment(days_ago, clock)
        if previous is not None and when <= previous:
            when = previous + timedelta(seconds=30)
        previous = when
        # Dated back at once, so the demo's authors stay inside the rate limit.
        message.created_at = when
        db.session.commit()
        sent.append((message, when))
    for index, text, minutes in EDITS:
        if index < len(SCRIPT) and people.get(SCRIPT[index][2]):
            message = _find(circle, SCRIPT[index][3])
            if message is not None:
                actions.edit_message(message.author, message.id, text)
                message.edited_at = message.changed_at = message.created_at + timedelta(minutes=minutes)
                db.session.commit()
    if not sent:
        return
    ids = [m.id for m, _ in sent]
    for name, person in people.items():
        upto = ids[-1 - UNREAD_FOR_OWNER] if name == OWNER and len(ids) > UNREAD_FOR_OWNER else ids[-1]
        try:
            actions.mark_read(person, circle.slug, upto)
        except (NotFound, ActionError):  # someone in `people` who isn't a member (yet)
            db.session.rollback()


def _find(circle: Circle, source: str) -> ChatMessage | None:
    return db.session.scalar(select(ChatMessage).where(
        ChatMessage.circle_id == circle.id, ChatMessage.source == source))
