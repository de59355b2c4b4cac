"""The directory on PostgreSQL: its clauses, LIKE escapes, LIMIT/OFFSET
parameters and introductions, as on SQLite."""
import pytest

from community import create_app
from community.extensions import db
from tests.conftest import AuthActions, app_config
from tests.directory.conftest import set_profile
from tests.directory.test_visibility import people_part
from tests.factories import add_member, make_circle, make_user


@pytest.mark.postgres
def test_the_directory_on_postgresql(postgres_url, tmp_path):
    from community.directory import actions as directory

    app = create_app(app_config(postgres_url, FILE_STORAGE_URL=f"file://{tmp_path}/files"))
    with app.app_context():
        db.create_all()
        subject, viewer, mate = make_user("Sam Subject"), make_user("Olly Other"), make_user("Sally Same")
        add_member(make_circle(mate, name="Same"), subject)
        make_circle(viewer, name="Other")
        set_profile(subject, organisation="100% Orgmarker_Trust", tags="Coaching, budgets",
                    listed_in_directory=True, open_to_contact=True, sector="non_profit",
                    visibility={"organisation": "alumni", "tags": "alumni", "contact": "alumni",
                                "location": "nobody"})
        client = app.test_client()
        AuthActions(client).login(viewer)
        for args, found in [({"q": "orgmarker_"}, True), ({"q": "100%"}, True), ({"q": "%%"}, False),
                            ({"q": "0_"}, False),
                            ({"tag": "COACHING"}, True), ({"q": "coach", "page": "1"}, True),
                            ({"place": "Reading"}, False), ({"sector": "non_profit"}, False),
                            ({"q": "a\x00b"}, False), ({"programme": "X"}, False)]:
            answer = client.get("/people", query_string=args)
            assert answer.status_code == 200, args
            assert ("Sam Subject" in people_part(answer.get_data(as_text=True))) is found, args
        assert client.get("/people?q=" + "x" * 200).status_code == 400
        assert client.get(f"/people/{subject.id}").status_code == 200
        intro = directory.ask_introduction(viewer, subject.id, "Hello")
        conversation = directory.accept_introduction(subject, intro.id)
        assert conversation.id
        db.session.remove()
        db.engine.dispose()
