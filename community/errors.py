"""Errors an action raises for the view or socket handler to show."""
from werkzeug.exceptions import Forbidden, NotFound  # noqa: F401  (re-exported)


class ActionError(Exception):
    """The user asked for something that can't be done; the message says why.

    Views show it as a form error or flash with a 4xx; socket handlers put
    `code` and `message` in the ack.
    """

    status = 400

    def __init__(self, message: str, code: str = "invalid", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class Conflict(ActionError):
    status = 409


class TooManyAttempts(ActionError):
    status = 429
