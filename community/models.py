"""Every model, imported in one place so Alembic and create_app see the whole schema."""
from .accounts.models import SignInThrottle, User  # noqa: F401
