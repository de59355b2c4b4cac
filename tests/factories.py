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
