"""A site admin resets a member's second factor: for someone who lost their
phone and their recovery codes, and asked for help.

It is the one way round the second factor, so it is never quiet: it needs a
reason, which goes into the security log with who gave it, and the member is
told by email (if it wasn't their request, they know to raise the alarm).
Their authenticator app, passkeys and recovery codes are deleted; circles that
require a second factor are closed to them until they set one up again.
"""
from sqlalchemy import delete

from ..errors import ActionError
from ..extensions import db
from ..policy import access_account
from ..text import clean_text
from ..urls import path_for
from . import security_log
from .factor_models import Passkey, RecoveryCode, TotpFactor
from .factors import sync_second_factor
from .models import User

REASON_MIN = 10
REASON_MAX = 400  # with who gave it, it fits the log's detail


def clean_reason(reason) -> str:
    """The admin's reason, as it is logged and told to the member.

    :raise ActionError: none, or too short to say anything, or too long.
    """
    reason = clean_text(reason, field="reason", label="The reason", max_len=REASON_MAX)
    if len(reason) < REASON_MIN:
        raise ActionError(f"Say why you reset this person's second factor (at least {REASON_MIN} "
                          "characters): it is recorded, and they are told.", field="reason")
    return reason


def target_of_reset(admin: User, user_id: int) -> User:
    """The account whose second factor a site admin means to reset.

    :raise Forbidden: not a site admin with a second factor, or their own account.
    :raise NotFound: no such account.
    """
    # Another admin does it: one who lost their own factor can't vouch for themselves.
    return access_account(admin, user_id, "Another site admin must reset your own second factor.")


def reset_second_factor(admin: User, user_id: int, reason) -> User:
    """Delete every second factor of the account (authenticator app, passkeys,
    recovery codes), with the admin's reason in the security log and an email
    to the person. Their sessions go on; circles that require a second factor
    close to them (and their chat sockets there) until they set one up.

    :raise Forbidden / NotFound: as target_of_reset.
    :raise ActionError: no reason, or a bad one (clean_reason).
    """
    from ..notifications.mailer import queue_mail, site_url

    user = target_of_reset(admin, user_id)
    reason = clean_reason(reason)
    for model in (TotpFactor, Passkey, RecoveryCode):
        db.session.execute(delete(model).where(model.user_id == user.id))
    sync_second_factor(user)  # cleared: circles that require one close to them
    security_log.record("second_factor_reset", user=user,
                        detail=f"By {admin.display_name} <{admin.email}>: {reason}")
    queue_mail(user.email, "Your second factor was reset", "second_factor_reset", user=user,
               reason=reason, link=site_url(path_for("accounts.security")),
               settings_link=site_url(path_for("accounts.profile")))
    db.session.commit()
    return user
