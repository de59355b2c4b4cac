"""Search on PostgreSQL: full-text over the GIN index, limited to the viewer's circles."""
import pytest

from community import create_app
from community.extensions import db
from community.moderation import actions as moderation
from community.threads import actions as threads
from community.threads.search import search
from tests.conftest import app_config
from tests.factories import add_member, make_circle, make_user

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_app(postgres_url):
    app = create_app(app_config(postgres_url))
    with app.app_context():
        db.create_all()  # tests only: the fresh database has no schema
        yield app
        db.session.remove()
        db.engine.dispose()


def test_full_text_search_is_stemmed_scoped_and_safe(pg_app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    thread = threads.start_thread(owner, circle.slug, "What we learned at the prison visit",
                                  "Visiting prisoners changed how we rota staff.")
    threads.post_reply(helen, circle.slug, thread.id, "Rotas at the bank work the same way")
    elsewhere = make_circle(make_user(), name="Elsewhere")
    threads.start_thread(db.session.get(type(owner), elsewhere.created_by_id), elsewhere.slug,
                         "Prison reform", "prisons prisons prisons")
    hits, total, _ = search(helen, "prisons")
    assert total == 1 and hits[0].thread_id == thread.id
    assert "<mark>prison</mark>" in str(hits[0].title_html)
    hits, total, _ = search(helen, "rota", circle_id=circle.id)
    assert total == 2
    for hostile in ['"', "!!", "a & | b", "prison:*", "\\", "'); DROP TABLE posts; --"]:
        search(helen, hostile)  # never raises
    add_member(elsewhere, helen)
    assert search(helen, "prison")[1] == 2
    assert search(helen, "prison", circle_id=circle.id)[1] == 1  # one circle's search keeps to it
    moderation.remove_member(owner, circle.slug, helen.id)
    assert search(helen, "prison")[1] == 1
