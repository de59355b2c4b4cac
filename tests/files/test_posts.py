"""Files on thread posts: attached when a thread is started, a reply posted or a
post edited; shown under each post; gone with the post; never in an email."""
import email
import io
import re

import pytest
from sqlalchemy import func, select

from community.extensions import db
from community.files import actions as files
from community.files.models import Attachment
from community.moderation.actions import decide_report
from community.notifications.actions import set_preferences
from community.threads import actions as threads
from community.threads.models import Post, Thread
from tests.factories import add_member, make_circle, make_user
from tests.files.builders import docx_bytes, image_bytes
from tests.files.test_attachments import post_file, stored_files


def upload(user, circle, data=None, name="Minutes.docx") -> Attachment:
    return files.upload(user, circle.slug, io.BytesIO(data or docx_bytes()), name)


def photo(user, circle, name="whiteboard.png") -> Attachment:
    return upload(user, circle, image_bytes("PNG"), name)


def files_on(post_id: int) -> list[str]:
    return list(db.session.scalars(select(Attachment.name).where(Attachment.post_id == post_id)
                                   .order_by(Attachment.id)))


def text(response) -> str:
    return response.get_data(as_text=True)


def posts() -> int:
    return db.session.scalar(select(func.count(Post.id)))


def free_uploads() -> int:
    return db.session.scalar(select(func.count(Attachment.id)).where(*files._unattached()))


@pytest.fixture
def thread(world):
    circle, owner, member = world
    return threads.start_thread(owner, circle.slug, "Visit to the prison", "How did it go?")


# --- Posting with files ------------------------------------------------------------------------

def test_a_new_thread_takes_the_uploads_of_its_form(client, auth, world):
    circle, owner, _ = world
    auth.login(owner)
    sent = [post_file(client, circle.slug, docx_bytes(), "Agenda.docx").get_json()["id"],
            post_file(client, circle.slug, image_bytes("PNG"), "board.png").get_json()["id"]]
    response = client.post(f"/c/{circle.slug}/threads/new",
                           data={"title": "From the visit", "body": "Notes and a photo",
                                 "attachments": sent})
    assert response.status_code == 302
    thread = db.session.scalar(select(Thread).where(Thread.title == "From the visit"))
    first = db.session.scalar(select(Post.id).where(Post.thread_id == thread.id))
    assert files_on(first) == ["Agenda.docx", "board.png"]


def test_a_reply_takes_its_files_and_the_thread_page_shows_them(client, auth, world, thread):
    circle, owner, member = world
    auth.login(member)
    document = post_file(client, circle.slug, docx_bytes(), "Slides notes.docx").get_json()
    image = post_file(client, circle.slug, image_bytes("PNG"), "board.png").get_json()
    response = client.post(f"/c/{circle.slug}/t/{thread.id}/reply",
                           data={"body": "The slides", "attachments": [document["id"], image["id"]]})
    assert response.status_code == 302
    reply = db.session.scalar(select(Post).where(Post.number == 2))
    assert files_on(reply.id) == ["Slides notes.docx", "board.png"]
    page = text(client.get(f"/c/{circle.slug}/t/{thread.id}?page=1"))
    post_html = page.split('id="post-2"', 1)[1]
    # A document: its name linking to the download, its kind and size.
    assert f'href="{document["url"]}"' in post_html
    assert "Slides notes.docx" in post_html and "Word document, " in post_html
    # An image: its thumbnail, linking to the image.
    assert f'<a class="file__thumb" href="{image["url"]}"' in post_html
    assert f'src="{image["thumbnail_url"]}"' in post_html
    # And another member opens both.
    auth.logout()
    auth.login(owner)
    for url in (document["url"], image["thumbnail_url"]):
        with client.get(url) as opened:
            assert opened.status_code == 200


def test_the_composers_carry_the_picker(client, auth, world, thread):
    circle, owner, _ = world
    auth.login(owner)
    upload_url = f'data-upload-url="/c/{circle.slug}/files"'
    pages = [f"/c/{circle.slug}/threads/new", f"/c/{circle.slug}/t/{thread.id}?page=1",
             f"/c/{circle.slug}/p/{db.session.scalar(select(Post.id))}/edit"]
    for path in pages:
        page = text(client.get(path))
        assert upload_url in page and 'type="file"' in page and "multiple" in page, path
        assert "/static/js/attachments.js" in page, path
        form = page.split(upload_url, 1)[0].rsplit("<form", 1)[1]
        assert 'method="post"' in form, path  # inside the form it sends with
    with client.get("/static/js/attachments.js") as script:
        assert script.status_code == 200 and b"xhr.abort()" in script.get_data()


def test_the_same_text_with_other_files_is_a_new_reply_but_the_same_form_twice_is_one(
        app, world, thread):
    circle, owner, member = world
    first, second = upload(member, circle), photo(member, circle)
    one = threads.post_reply(member, circle.slug, thread.id, "Here", attachments=[first.public_id])
    again = threads.post_reply(member, circle.slug, thread.id, "Here", attachments=[first.public_id])
    assert again.id == one.id
    other = threads.post_reply(member, circle.slug, thread.id, "Here", attachments=[second.public_id])
    assert other.id != one.id and files_on(other.id) == ["whiteboard.png"]


# --- Refused files: nothing written, the form keeps the uploads ----------------------------------

def _hostile(kind, circle, owner, member) -> tuple[list[str], str]:
    """(attachments sent, a word the message has)"""
    mine = upload(member, circle, name="mine.docx").public_id
    if kind == "someone_elses":
        return [mine, upload(owner, circle).public_id], "no longer there"
    if kind == "other_circle":
        elsewhere = make_circle(member)
        return [mine, upload(member, elsewhere).public_id], "no longer there"
    if kind == "made_up":
        return [mine, "A" * 22], "no longer there"
    if kind == "already_attached":
        other = upload(member, circle, image_bytes("PNG"), "used.png")
        used = threads.start_thread(member, circle.slug, "Used", "Used")
        threads.post_reply(member, circle.slug, used.id, "Used", attachments=[other.public_id])
        return [mine, other.public_id], "no longer there"
    if kind == "eleven":
        return [mine] + [upload(member, circle, image_bytes("PNG", size=(20 + n, 20)), f"{n}.png").public_id
                         for n in range(10)], "at most 10"
    raise AssertionError(kind)


def threads_in(circle) -> list[int]:
    return list(db.session.scalars(select(Thread.id).where(Thread.circle_id == circle.id)))


HOSTILE = ["someone_elses", "other_circle", "made_up", "already_attached", "eleven"]


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_reply_with_a_file_that_is_not_the_members_upload_is_refused_whole(
        client, auth, world, thread, kind):
    circle, owner, member = world
    sent, says = _hostile(kind, circle, owner, member)
    before, free = posts(), free_uploads()
    auth.login(member)
    response = client.post(f"/c/{circle.slug}/t/{thread.id}/reply",
                           data={"body": "With my notes", "attachments": sent})
    assert response.status_code == 400
    page = text(response)
    assert says in page
    assert posts() == before and free_uploads() == free  # no post, nothing attached
    # The reply comes back with its text and the member's own upload, to be sent again.
    assert "With my notes" in page and "mine.docx" in page
    assert re.search(rf'name="attachments" value="{sent[0]}"', page)
    assert sent[1] not in page or kind == "eleven"  # nobody else's file is shown


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_new_thread_with_such_a_file_is_refused_whole(client, auth, world, kind):
    circle, owner, member = world
    sent, says = _hostile(kind, circle, owner, member)
    threads_before, before = len(threads_in(circle)), posts()
    auth.login(member)
    response = client.post(f"/c/{circle.slug}/threads/new",
                           data={"title": "Notes", "body": "See attached", "attachments": sent})
    assert response.status_code == 400
    assert says in text(response) and "mine.docx" in text(response)
    assert len(threads_in(circle)) == threads_before and posts() == before


def test_uploads_of_a_member_who_left_can_not_be_attached(app, world, thread):
    circle, owner, member = world
    theirs = upload(member, circle)
    other = add_member(circle, make_user())
    with pytest.raises(Exception) as refused:
        threads.post_reply(other, circle.slug, thread.id, "Mine now", attachments=[theirs.public_id])
    assert getattr(refused.value, "code", "") == "attachment_gone"
    assert db.session.get(Attachment, theirs.id).post_id is None


# --- Editing -----------------------------------------------------------------------------------

def test_editing_adds_files_and_takes_the_posts_own_off_with_their_bytes(client, auth, world, thread):
    circle, owner, member = world
    kept, dropped = upload(member, circle, name="keep.docx"), photo(member, circle, "drop.png")
    reply = threads.post_reply(member, circle.slug, thread.id, "Two files",
                               attachments=[kept.public_id, dropped.public_id])
    added = upload(member, circle, b"plain notes\n", "later.txt")
    stored = len(stored_files(app_of(client)))
    auth.login(member)
    response = client.post(f"/c/{circle.slug}/p/{reply.id}/edit",
                           data={"body": "Two files, one changed", "attachments": [added.public_id],
                                 "remove_files": [dropped.public_id]})
    assert response.status_code == 302
    assert files_on(reply.id) == ["keep.docx", "later.txt"]
    assert len(stored_files(app_of(client))) == stored - 2  # the image and its thumbnail


def app_of(client):
    return client.application


def test_the_edit_page_lists_the_posts_files_to_remove(client, auth, world, thread):
    circle, owner, member = world
    reply = threads.post_reply(member, circle.slug, thread.id, "A file",
                               attachments=[upload(member, circle, name="agenda.docx").public_id])
    auth.login(member)
    page = text(client.get(f"/c/{circle.slug}/p/{reply.id}/edit"))
    assert 'name="remove_files"' in page and "agenda.docx" in page
    assert 'data-max="9"' in page


def test_an_edit_that_would_hold_more_than_ten_files_changes_nothing(client, auth, world, thread):
    circle, owner, member = world
    ten = [photo(member, circle, f"{n}.png") for n in range(10)]
    reply = threads.post_reply(member, circle.slug, thread.id, "Ten",
                               attachments=[a.public_id for a in ten])
    extra = upload(member, circle)
    auth.login(member)
    response = client.post(f"/c/{circle.slug}/p/{reply.id}/edit",
                           data={"body": "Eleven?", "attachments": [extra.public_id]})
    assert response.status_code == 400 and "at most 10" in text(response)
    db.session.expire_all()
    assert len(files_on(reply.id)) == 10 and db.session.get(Post, reply.id).source == "Ten"
    assert db.session.get(Attachment, extra.id).post_id is None
    # Taking one off makes room for it, in the same edit.
    response = client.post(f"/c/{circle.slug}/p/{reply.id}/edit",
                           data={"body": "Swapped", "attachments": [extra.public_id],
                                 "remove_files": [ten[0].public_id]})
    assert response.status_code == 302 and len(files_on(reply.id)) == 10


def test_an_edit_can_not_take_off_another_posts_files(client, auth, world, thread):
    circle, owner, member = world
    owners = photo(owner, circle, "owners.png")
    theirs = threads.post_reply(owner, circle.slug, thread.id, "Owner's", attachments=[owners.public_id])
    mine = threads.post_reply(member, circle.slug, thread.id, "Mine")
    auth.login(member)
    client.post(f"/c/{circle.slug}/p/{mine.id}/edit",
                data={"body": "Mine, edited", "remove_files": [owners.public_id]})
    assert files_on(theirs.id) == ["owners.png"]


# --- Removing posts ----------------------------------------------------------------------------

def test_a_removed_post_takes_its_files_and_their_bytes(client, auth, world, thread):
    circle, owner, member = world
    app = app_of(client)
    before = len(stored_files(app))
    sent = [photo(member, circle).public_id, upload(member, circle).public_id]
    reply = threads.post_reply(member, circle.slug, thread.id, "Oops", attachments=sent)
    assert len(stored_files(app)) == before + 3  # the image, its thumbnail, the document
    auth.login(member)
    assert client.post(f"/c/{circle.slug}/p/{reply.id}/delete").status_code == 302
    assert files_on(reply.id) == [] and db.session.scalar(select(func.count(Attachment.id))) == 0
    assert len(stored_files(app)) == before


def test_a_moderator_removing_a_reported_post_removes_its_files(app, world, thread):
    circle, owner, member = world
    reply = threads.post_reply(member, circle.slug, thread.id, "Reported",
                               attachments=[photo(member, circle).public_id])
    report = threads.report_post(owner, circle.slug, reply.id, "Not for here")
    decide_report(owner, circle.slug, report.id, "removed")
    assert db.session.scalar(select(func.count(Attachment.id))) == 0
    assert stored_files(app) == []


# --- The thread page's statements ---------------------------------------------------------------

def test_the_thread_page_runs_as_many_statements_with_20_files_as_with_none(
        client, auth, world, thread, count_queries):
    circle, owner, member = world
    for n in range(19):
        threads.post_reply(owner if n % 2 else member, circle.slug, thread.id, f"Reply {n}")
    url = f"/c/{circle.slug}/t/{thread.id}?page=1"
    auth.login(member)
    client.get(url)
    with count_queries() as none:
        assert client.get(url).status_code == 200
    page_posts = list(db.session.scalars(select(Post).where(Post.thread_id == thread.id)))
    for n in range(20):
        post = page_posts[n % 10]
        attachment = upload(owner, circle, docx_bytes() if n % 2 else image_bytes("PNG"),
                            f"file {n}.{'docx' if n % 2 else 'png'}")
        attachment.post_id = post.id
        db.session.commit()
    client.get(url)
    with count_queries() as twenty:
        response = client.get(url)
    assert response.status_code == 200 and text(response).count('class="file') >= 20
    # The viewer with the circle; the thread with their place in it and its
    # page's posts with their reactions and files (threads.reading.thread_in).
    assert none.count == twenty.count == 2, (none.statements, twenty.statements)


# --- Emails and notifications (point 8) -----------------------------------------------------------

def test_a_reply_with_a_file_is_emailed_without_a_link_to_it_or_its_bytes(make_app, tmp_path):
    from community.notifications.dispatch import dispatch_notifications
    from community.notifications.mailer import send_due
    from community.notifications.models import Notification
    from community.timeutil import utcnow
    from tests.notifications.test_smtp import Inbox, Server

    inbox = Inbox()
    server = Server(inbox)
    server.start()
    app = make_app(FILE_STORAGE_URL=f"file://{tmp_path}/files", MAIL_SERVER="127.0.0.1",
                   MAIL_PORT=server.port, MAIL_USE_TLS=False, MAIL_FROM="Circles <c@example.org>")
    try:
        with app.app_context():
            owner = make_user("Olive Owner", email="olive@example.org")
            circle = make_circle(owner, name="Thames Valley")
            helen = add_member(circle, make_user("Helen Marsh", email="helen@example.org"))
            set_preferences(helen, {"reply": "email", "mention": "email"})
            from community.circles.actions import update_circle
            update_circle(owner, circle.slug, name=circle.name, email_excerpts=True)
            thread = threads.start_thread(helen, circle.slug, "Budgets", "Our numbers")
            secret = b"SECRET-FIGURES-2026 " * 40
            document = upload(owner, circle, secret, "figures.txt")
            image = photo(owner, circle, "board.png")
            threads.post_reply(owner, circle.slug, thread.id, f"@{helen.handle} the figures are attached",
                               attachments=[document.public_id, image.public_id])
            dispatch_notifications(utcnow())
            assert send_due(utcnow()) >= 1
            mails = [email.message_from_bytes(envelope.content) for envelope in inbox.messages
                     if "helen@example.org" in envelope.rcpt_tos]
            parts = [part for mail in mails for part in mail.walk() if not part.is_multipart()]
            assert {part.get_content_type() for part in parts} == {"text/plain", "text/html"}
            shown = "".join(part.get_payload(decode=True).decode() for part in parts)
            assert "the figures are attached" in shown  # the excerpt went: the email is the reply's
            assert "/files/" not in shown and "SECRET-FIGURES" not in shown
            assert document.public_id not in shown and image.public_id not in shown
            assert not any(part.get_filename() for part in parts)  # nothing attached
            notes = db.session.scalars(select(Notification).where(Notification.user_id == helen.id)).all()
            assert notes and all("/files/" not in (n.url or "") + (n.text or "") + (n.excerpt or "")
                                 for n in notes)
            client = app.test_client()
            from tests.conftest import AuthActions
            AuthActions(client).login(helen)
            centre = client.get("/notifications").get_data(as_text=True)
            assert "Budgets" in centre and "/files/" not in centre
    finally:
        server.stop()
