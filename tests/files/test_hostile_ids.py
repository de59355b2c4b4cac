"""A file id in a URL that could not be one (a NUL character, too long, other
characters) is not found, and never reaches the database: PostgreSQL refuses a
NUL even as a parameter, which was a 500 (found by tests/fuzz)."""
import pytest
from sqlalchemy import event

from community.extensions import db
from tests.factories import add_member, make_circle, make_user


@pytest.mark.parametrize("public_id", ["%00", "abc%00def", "x" * 23, "caf%C3%A9", "a.b"])
def test_a_file_id_that_could_not_be_one_is_not_found_without_a_lookup(app, client, auth, public_id):
    owner = make_user()
    circle = make_circle(owner)
    add_member(circle)
    db.session.commit()
    auth.login(owner)
    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(repr(parameters))

    base = f"/c/{circle.slug}/files/{public_id}"
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(f"{base}/report.pdf").status_code == 404
        assert client.get(f"{base}/thumbnail").status_code == 404
        assert client.post(f"{base}/delete").status_code == 404
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert not [p for p in sent if "\\x00" in p or "x" * 23 in p], sent
