"""Recording audit events inside the acting transaction (the action commits)."""
from ..extensions import db
from .models import AUDIT_ACTIONS, AuditEvent


def record(circle_id: int, actor_id: int | None, action: str,
           target_user_id: int | None = None, detail: str = "") -> AuditEvent:
    if action not in AUDIT_ACTIONS:  # not an assert: it must hold under python -O too
        raise ValueError(f"unknown audit action {action!r}")
    event = AuditEvent(circle_id=circle_id, actor_id=actor_id, action=action,
                       target_user_id=target_user_id, detail=detail[:500])
    db.session.add(event)
    return event
