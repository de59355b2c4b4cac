"""policy.post_rights: what a member may do to each post of a thread page,
with the membership read once for the page (bench/findings.md, 47)."""
import itertools

import pytest

from community.circles.models import Membership
from community.policy import can_delete_post, can_edit_post, can_report, post_rights
from community.threads.reading import PagePost

ME, OTHER = 7, 8


def _post(author_id, removed: bool) -> PagePost:
    from datetime import UTC, datetime

    moment = datetime(2026, 12, 1, tzinfo=UTC)
    return PagePost(1, 1, None, author_id, "<p>x</p>", moment, None, moment if removed else None,
                    "Name", "", "")


CASES = list(itertools.product(("member", "moderator", "owner"), ("active", "left", "banned"),
                               (ME, OTHER, None), (False, True)))


@pytest.mark.parametrize("role, status, author_id, removed", CASES)
def test_each_post_gets_the_rights_the_rules_give(role, status, author_id, removed):
    membership = Membership(user_id=ME, circle_id=1, role=role, status=status)
    active, mine = status == "active", author_id == ME
    expected = (active and mine and not removed,  # authors edit their own live posts
                active and not removed and (mine or role in ("owner", "moderator")),  # staff remove any
                active and not mine)  # members report others' posts
    assert post_rights(membership)(author_id, removed) == expected
    post = _post(author_id, removed)
    assert (can_edit_post(membership, post), can_delete_post(membership, post),
            can_report(membership, author_id)) == (expected[0], expected[1], expected[2])


def test_the_membership_is_read_once_for_a_page_of_posts():
    reads = []

    class Counted:
        def __getattr__(self, name):
            reads.append(name)
            return {"user_id": ME, "role": "moderator", "status": "active", "is_active": True}[name]

    rights = post_rights(Counted())
    before = len(reads)
    for author_id in (ME, OTHER, None) * 7:
        rights(author_id, False)
    assert before > 0 and len(reads) == before
