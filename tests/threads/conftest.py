"""Thread fixtures shared by the kept-page, kept-row and search tests."""
import pytest

from tests.factories import add_member, make_circle, make_thread, make_user


@pytest.fixture
def world(app):
    """(circle, owner, Helen a member, a thread the owner started)."""
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Berkshire Leaders")
    helen = add_member(circle, make_user("Helen Marsh"))
    thread = make_thread(circle, owner, title="Winter pressures", body="Opening thoughts")
    return circle, owner, helen, thread


@pytest.fixture
def ranked_up_to_five(monkeypatch):
    """search.RANKED at 5, its statements built again for it (and after, for the real one)."""
    from community.threads import search

    def rebuild():
        for built in (search._matched, search._page, search._count):
            built.cache_clear()

    monkeypatch.setattr(search, "RANKED", 5)
    rebuild()
    yield
    monkeypatch.undo()
    rebuild()
