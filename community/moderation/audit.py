"""Recording audit events inside the acting transaction (the action commits), and
the names they show when read."""
from typing import NamedTuple

from sqlalchemy import func, select

from ..extensions import db
from .models import AUDIT_ACTIONS, AuditEvent

ANONYMISED = "anonymised"  # the detail of a member.left that took the name off
FORMER_MEMBER = "a former member"


def record(circle_id: int, actor_id: int | None, action: str,
           target_user_id: int | None = None, detail: str = "") -> AuditEvent:
    if action not in AUDIT_ACTIONS:  # not an assert: it must hold under python -O too
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(circle_id=circle_id, actor_id=actor_id, action=action,
                       target_user_id=target_user_id, detail=detail[:500])
    db.session.add(event)
    return event


class AuditLine(NamedTuple):
    event: AuditEvent
    actor: str  # who did it, as the log shows them
    target: str | None  # whom it was done to, if anyone


def audit_lines(circle_id: int, events: list[AuditEvent]) -> list[AuditLine]:
    """The events with the names they show. The log is append-only, so a person
    who left anonymising is named "a former member" here, at read time, in every
    entry up to that leaving (a later return is theirs again). One statement."""
    people = {e.actor_id for e in events} | {e.target_user_id for e in events}
    people.discard(None)
    hidden = dict(db.session.execute(
        select(AuditEvent.actor_id, func.max(AuditEvent.id))
        .where(AuditEvent.circle_id == circle_id, AuditEvent.action == "member.left",
               AuditEvent.detail == ANONYMISED, AuditEvent.actor_id.in_(people))
        .group_by(AuditEvent.actor_id)).all()) if people else {}

    def name(user, event) -> str | None:
        if user is None:
            return None
        return FORMER_MEMBER if event.id <= hidden.get(user.id, 0) else user.display_name

    lines = []
    for event in events:
        actor = name(event.actor, event) or "someone"
        lines.append(AuditLine(event, actor[:1].upper() + actor[1:], name(event.target_user, event)))
    return lines
