"""Creating notifications. Callers add them inside their own transaction."""
from ..extensions import db
from .models import Notification


def notify(user_id: int, kind: str, text: str, url: str = "/", circle_id: int | None = None,
           actor_id: int | None = None) -> Notification:
    """Queue an in-app notification in the current transaction (the caller commits)."""
    note = Notification(user_id=user_id, kind=kind, text=text[:300], url=url,
                        circle_id=circle_id, actor_id=actor_id)
    db.session.add(note)
    return note
