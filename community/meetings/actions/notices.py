"""How meetings are named in what members are told: short titles, times on each
person's own clock, links, and the note to a whole circle."""
from datetime import datetime

from ...accounts.models import User
from ...circles.models import Circle
from ...extensions import db
from ...notifications.actions import notify
from ...policy import active_member_ids
from ...timefmt import date_time
from ...urls import path_for
from ..models import Meeting, MeetingOccurrence


def short(title: str, length: int = 80) -> str:
    return title if len(title) <= length else title[: length - 1].rstrip() + "…"


def when(moment: datetime, person: User) -> str:
    """'4 Mar 2025, 19:00' (or '7:00 pm') in the person's own zone and on their clock:
    a notice is written for one person, so it is written their way (timefmt)."""
    return date_time(moment, person.timezone, person.clock)


def meeting_path(circle: Circle, meeting: Meeting, occurrence: MeetingOccurrence | None = None) -> str:
    if occurrence is None or not meeting.is_series:
        return path_for("meetings.meeting", slug=circle.slug, meeting_id=meeting.id)
    return path_for("meetings.meeting", slug=circle.slug, meeting_id=meeting.id,
                    date=occurrence.id)


def circle_meetings_path(circle: Circle) -> str:
    """Where a note about a meeting that no longer exists leads: the circle's meetings."""
    return path_for("meetings.index", slug=circle.slug)


def tell_circle(circle: Circle, actor: User, kind: str, text: str, url: str,
                exclude: set[int] = frozenset()) -> None:
    """Notify every active member but the actor and those excluded (told otherwise),
    in the actor's transaction."""
    for user_id in db.session.scalars(active_member_ids(circle.id)):
        if user_id != actor.id and user_id not in exclude:
            notify(user_id, kind, text, url, circle_id=circle.id, actor_id=actor.id)
