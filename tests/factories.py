"""Build users (and, as areas land, circles) through the real actions."""
import itertools

from community.accounts import actions as accounts

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_user(name: str | None = None, email: str | None = None, **profile):
    n = next(_seq)
    name = name or f"Member {n}"
    email = email or f"user{n}@example.org"
    profile.setdefault("organisation", f"Organisation {n}")
    profile.setdefault("job_title", "Director")
    profile.setdefault("sector", "public")
    profile.setdefault("location", "Reading")
    profile.setdefault("timezone", "Europe/London")
    return accounts.register_user(email, PASSWORD, display_name=name, **profile)


def make_circle(owner=None, name: str = "Berkshire Leaders", join_policy: str = "invite_only",
                **fields):
    """A circle created through the action (its creator becomes owner)."""
    from community.circles import actions as circles

    owner = owner or make_user()
    fields.setdefault("cohort", "Berkshire 2025")
    fields.setdefault("description", "Our cohort.")
    return circles.create_circle(owner, name=name, join_policy=join_policy, **fields)


def add_member(circle, user=None, role: str = "member"):
    """Bring someone in through a real invite link, then give them a role."""
    from community.circles import actions as circles
    from community.circles.models import Membership
    from community.extensions import db
    from community.moderation import actions as moderation

    user = user or make_user()
    owner = db.session.get(Membership, _owner_membership_id(circle)).user
    _, token = moderation.create_invitation(owner, circle.slug)
    circles.accept_invitation(user, token)
    if role != "member":
        moderation.change_role(owner, circle.slug, user.id, role)
    return user


def _owner_membership_id(circle):
    from sqlalchemy import select

    from community.circles.models import Membership
    from community.extensions import db

    return db.session.scalar(select(Membership.id).where(
        Membership.circle_id == circle.id, Membership.role == "owner",
        Membership.status == "active").limit(1))


def make_thread(circle, author, title: str = "Getting out of the silo", body: str = "Opening post"):
    from community.threads import actions as threads

    return threads.start_thread(author, circle.slug, title, body)


def give_second_factor(user, secret: str = "JBSWY3DPEHPK3PXP"):
    """A confirmed authenticator app for the user, so users.second_factor_at is set
    as accounts/factors.py sets it (the app's codes come from `secret`)."""
    from community.accounts.factor_models import TotpFactor
    from community.accounts.factors import sync_second_factor
    from community.extensions import db
    from community.timeutil import utcnow

    db.session.add(TotpFactor(user_id=user.id, secret=secret, confirmed_at=utcnow()))
    sync_second_factor(user)
    db.session.commit()
    return user
