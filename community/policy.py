"""Who may do what: the one place the rules live.

Loaders (`access_*`) fetch and authorise in one call and raise the same
NotFound for "missing" and "not yours". Predicates (`can_*`) take explicit
objects and never read the request, so views, Socket.IO handlers and
templates all apply exactly the same rules.
"""
from .accounts.models import User


def can_administer_site(user: User) -> bool:
    return bool(user and user.is_authenticated and user.is_site_admin)
