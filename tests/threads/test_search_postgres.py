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


def test_the_stored_words_follow_every_edit_and_removal(pg_app):
    """PostgreSQL makes each entry's searched words as the row is written
    (models.SEARCH_DOCUMENT): what an edit says is found at once, what it took
    out is not, and a removed post is found no more."""
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    thread = threads.start_thread(owner, circle.slug, "Rota trouble", "Night shifts are short staffed.")
    reply = threads.post_reply(helen, circle.slug, thread.id, "We tried agency nurses.")
    assert search(helen, "agency")[1] == 1
    threads.edit_post(helen, circle.slug, reply.id, "We tried a locum pool instead.")
    assert search(helen, "agency")[1] == 0
    hits, total, _ = search(helen, "locum")
    assert total == 1 and hits[0].post_id == reply.id
    opening = search(helen, "night")[0][0].post_id
    threads.edit_post(owner, circle.slug, opening, "Night shifts are short staffed.",
                      title="Staffing at night")
    hits, total, _ = search(helen, "staffing")
    assert total == 1 and "<mark>Staffing</mark>" in str(hits[0].title_html)
    assert search(helen, "rota")[1] == 0
    threads.delete_post(helen, circle.slug, reply.id)
    assert search(helen, "locum")[1] == 0


def test_a_search_looks_only_in_the_viewers_circles_through_the_index(pg_app):
    """The query reads the indexed column (search_entries.document), so the
    GIN index finds the viewer's matching posts; words never match a circle."""
    from sqlalchemy import event, text

    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    threads.start_thread(owner, circle.slug, "Burnout", "coaching for burnout")
    elsewhere = make_circle(make_user(), name="Elsewhere")
    threads.start_thread(db.session.get(type(owner), elsewhere.created_by_id), elsewhere.slug,
                         "Burnout again", "burnout burnout")
    sent = []
    record = lambda conn, cursor, statement, parameters, context, many: sent.append((statement, parameters))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        hits, total, _ = search(helen, "burnout")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert total == 1 and hits[0].title == "Burnout"
    assert search(helen, f"c{circle.id}")[1] == 0 and search(helen, f"_c{circle.id}")[1] == 0
    counting, parameters = next((s, p) for s, p in sent if "count(" in s.lower())
    # With a few rows the planner would rather scan the table or the circle's
    # btree; without those (in a transaction rolled back), the GIN index is
    # its only way, and it can take it only if the expressions are the same.
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    db.session.execute(text("DROP INDEX ix_search_entries_circle_id"))
    plan = "\n".join(row[0] for row in db.session.connection().exec_driver_sql(
        "EXPLAIN " + counting, parameters))
    db.session.rollback()
    assert "ix_search_entries_fts" in plan, plan


def test_postgresql_ranks_the_newest_matches_too(pg_app, ranked_up_to_five):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    started = [threads.start_thread(owner, circle.slug, f"Week {n}", f"the rota for week {n}")
               for n in range(7)]
    hits, total, _ = search(helen, "rota")
    assert total == 6  # one more than ranked: there are more
    assert {hit.thread_id for hit in hits} == {thread.id for thread in started[2:]}
    assert search(helen, "rota", page=2)[0] == []
