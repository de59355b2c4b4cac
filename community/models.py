"""Every model, imported in one place so Alembic and create_app see the whole schema."""
from .accounts.models import SignInThrottle, User  # noqa: F401
from .circles.models import Circle, Invitation, JoinRequest, Membership  # noqa: F401
from .moderation.models import AuditEvent  # noqa: F401
from .notifications.models import Notification  # noqa: F401
