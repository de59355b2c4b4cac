"""One browser's sign-in: a fresh Flask session and a random id for it.

Every sign-in (password, registration, reset link) starts from an empty
session, so nothing set before it survives into the signed-in one, and puts a
random `sign_in_id` in it. The live modules (chat/live.py,
notifications/live.py) remember that id for each socket, so signing out of
one browser ends exactly that browser's sockets, and no other's.
"""
import secrets

from flask import session
from flask_login import login_user

from .models import User

KEY = "sign_in_id"


def new_sign_in_id() -> str:
    return secrets.token_urlsafe(16)


def start(user: User, remember: bool = False) -> None:
    """Sign the user in on this browser, in a renewed session."""
    session.clear()
    login_user(user, remember=remember)
    session[KEY] = new_sign_in_id()


def current_id() -> str | None:
    """This browser's sign-in id, or None when signed out."""
    return session.get(KEY)


def ensure_id() -> None:
    """Give a signed-in session that has no id one (a session restored from the
    "keep me signed in" cookie, or one that predates the id)."""
    if KEY not in session:
        session[KEY] = new_sign_in_id()
