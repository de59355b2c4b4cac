"""A thread page's posts read with their reactions and files in one statement
(threads.reading.page_of_posts, fast/nested.py), on SQLite and PostgreSQL."""
import pytest
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from community import create_app
from community.accounts.models import User
from community.extensions import db
from community.files.models import Attachment
from community.files.places import face_of
from community.threads import actions as threads
from community.threads.models import REACTIONS, Post, Reaction
from community.threads.post_html import Reacted
from community.threads.reading import files_of, page_of_posts, reactions_of, thread_in
from tests.conftest import app_config
from tests.factories import add_member, make_circle, make_thread, make_user

# Names JSON has to carry: quotes, a backslash, a newline's escape, non-Latin letters.
AWKWARD = ['Zoë "Z" O\'Brien', "Back\\slash \\n Ng", "Ана-Мария 李 🌱"]


def _a_page_with_reactions_and_files():
    """(thread, viewer): three posts; the second with reactions by four people in
    two kinds and two files; the third with nothing."""
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    people = [add_member(circle, make_user(name)) for name in AWKWARD]
    thread = make_thread(circle, owner)
    second = threads.post_reply(people[0], circle.slug, thread.id, "Second")
    threads.post_reply(owner, circle.slug, thread.id, "Third")
    threads.toggle_reaction(people[2], circle.slug, _first_post(thread).id, "bulb")
    # Stored in the opposite order to their ids: PostgreSQL's aggregate follows
    # the index's order of rows, not their ids (fast/nested.in_order sorts them).
    for number, (person, kind) in enumerate([(owner, "heart"), (people[1], "heart"),
                                             (people[0], "thumbs_up"), (people[2], "heart")]):
        db.session.add(Reaction(id=1000 - number, post_id=second.id, user_id=person.id, emoji=kind))
        db.session.flush()
    for number, (name, kind, size) in enumerate([("Ошибки.pdf", "pdf", 2_000_000),
                                                 ('Minutes "final".docx', "docx", 12_345)]):
        db.session.add(Attachment(id=2000 - number, circle_id=circle.id, uploader_id=owner.id,
                                  post_id=second.id, storage_key=f"k-{size}", name=name, kind=kind,
                                  size=size))
        db.session.flush()
    db.session.commit()
    return thread, people[1]


def _first_post(thread) -> Post:
    return db.session.scalar(select(Post).where(Post.thread_id == thread.id, Post.number == 1))


def _expected(thread, viewer) -> list[tuple]:
    """What the three statements read before, from the ORM."""
    found = []
    for post in db.session.scalars(select(Post).where(Post.thread_id == thread.id).order_by(Post.number)):
        reactions = db.session.scalars(select(Reaction).where(Reaction.post_id == post.id)
                                       .order_by(Reaction.id)).all()
        name = {r.id: db.session.get(User, r.user_id).display_name for r in reactions}
        reacted = tuple(Reacted(key, tuple(name[r.id] for r in reactions if r.emoji == key),
                                any(r.emoji == key and r.user_id == viewer.id for r in reactions))
                        for key in REACTIONS if any(r.emoji == key for r in reactions))
        files = tuple(face_of(a) for a in db.session.scalars(
            select(Attachment).where(Attachment.post_id == post.id).order_by(Attachment.id)))
        found.append((post.number, reacted, files))
    return found


def _assert_read_as_before():
    thread, viewer = _a_page_with_reactions_and_files()
    read = [(post.number, reactions_of(post), files_of(post))
            for post in page_of_posts(thread.id, 1, viewer.id)]
    assert read == _expected(thread, viewer)
    _, second, third = read
    assert [r.names for r in second[1]] == [("Zoë \"Z\" O'Brien",),  # thumbs up, then hearts in order
                                           ("Ана-Мария 李 🌱", "Back\\slash \\n Ng", "Olive Owner")]
    assert [r.mine for r in second[1]] == [False, True]
    assert [face.name for face in second[2]] == ['Minutes "final".docx', "Ошибки.pdf"]
    assert third[1:] == ((), ())
    assert page_of_posts(thread.id, 21, viewer.id) == []  # beyond the last page


def test_posts_come_with_their_reactions_and_files_on_sqlite(app):
    _assert_read_as_before()


@pytest.mark.postgres
def test_posts_come_with_their_reactions_and_files_on_postgresql(postgres_url):
    app = create_app(app_config(postgres_url))
    with app.app_context():
        db.create_all()
        try:
            _assert_read_as_before()
        finally:
            db.session.remove()
            db.engine.dispose()


# --- The thread and its page, in one statement (threads.reading.thread_in) ----------------------

def _thread_of(posts: int):
    """(circle, owner, member, thread) with `posts` posts, the opening one included."""
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    member = add_member(circle, make_user("Helen Marsh"))
    thread = make_thread(circle, owner)
    db.session.add_all(Post(thread_id=thread.id, circle_id=circle.id, author_id=owner.id, number=n,
                            source=f"post {n}", html=f"<p>post {n}</p>") for n in range(2, posts + 1))
    thread.post_count = posts
    db.session.commit()
    return circle, owner, member, thread


def test_the_thread_comes_with_its_page_and_with_no_posts_past_its_last(app):
    circle, _, member, thread = _thread_of(25)
    threads.mark_read(member, circle.slug, thread.id, 7)
    row, posts = thread_in(circle, thread.id, member.id, 2)
    assert (row.id, row.title, row.post_count, row.last_read_number) == (thread.id, thread.title, 25, 7)
    assert [post.number for post in posts] == list(range(21, 26))
    row, posts = thread_in(circle, thread.id, member.id, 3)
    assert row.post_count == 25 and posts == []


def test_a_thread_of_another_circle_or_none_is_not_found(app):
    circle, owner, member, thread = _thread_of(3)
    elsewhere = make_circle(owner, name="Elsewhere")
    with pytest.raises(NotFound):
        thread_in(elsewhere, thread.id, owner.id, 1)
    with pytest.raises(NotFound):
        thread_in(circle, thread.id + 1000, member.id, 1)


def test_a_page_past_the_last_shows_the_last(client, auth, count_queries):
    circle, _, member, thread = _thread_of(25)
    auth.login(member)
    url = f"/c/{circle.slug}/t/{thread.id}"
    client.get(f"{url}?page=9")
    with count_queries() as past:
        page = client.get(f"{url}?page=9").get_data(as_text=True)
    assert "<p>post 21</p>" in page and "<p>post 25</p>" in page and "<p>post 20</p>" not in page
    assert past.count == 3  # the last page read again: past the last is a link gone stale
    assert page == client.get(f"{url}?page=2").get_data(as_text=True)
