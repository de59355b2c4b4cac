"""Unread counts as their badges show them: counted no further than COUNTED,
and "99+" from there. Counting stops there in the statements too (the header's,
a conversation's, a circle chat's), so someone who never reads costs a page no
more than someone who reads daily (bench/findings.md, 29 and 31).
static/js/bell.js writes a badge the same way."""

COUNTED = 100


def badge(count: int) -> str:
    """ "7", or "99+" for COUNTED and beyond."""
    return str(count) if count < COUNTED else f"{COUNTED - 1}+"
