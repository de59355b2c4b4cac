"""Recording audit events inside the acting transaction (the action commits)."""
from ..extensions import db
from .models import AUDIT_ACTIONS, AuditEvent


def record(circle_id: int, actor_id: int | None, action: str,
           target_user_id: int | None = None, detail: str = "") -> AuditEvent:
    assert action in AUDIT_ACTIONS, action
    event = AuditEvent(circle_id=circle_id, actor_id=actor_id, action=action,
                       target_user_id=target_user_id, detail=detail[:500])
    db.session.add(event)
    return event
