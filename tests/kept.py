"""Helpers for the tests of what the memo keeps (community/fast/fragments.py):
what a page serves now against what it renders with an empty memo."""
from community.extensions import db
from community.fast.fragments import MEMO


def served_and_fresh(client, url: str) -> tuple[str, str]:
    """The page as served now (perhaps from the memo), and as rendered with an empty memo."""
    served = client.get(url)
    MEMO.clear()
    fresh = client.get(url)
    assert served.status_code == fresh.status_code == 200
    return served.get_data(as_text=True), fresh.get_data(as_text=True)


def assert_shown_afresh(client, url: str, change) -> None:
    """After change(), the page served is the page an empty memo renders, and
    the change shows on it."""
    before, _ = served_and_fresh(client, url)
    change()
    after, fresh = served_and_fresh(client, url)
    assert after == fresh
    assert after != before, "the change does not show"


def update(model, row_id: int, **values) -> None:
    """Change a row's columns behind the actions' back, and commit."""
    row = db.session.get(model, row_id)
    for name, value in values.items():
        setattr(row, name, value)
    db.session.commit()
