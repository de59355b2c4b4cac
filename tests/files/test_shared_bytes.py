"""The last row of some content going away while the same content is uploaded
again: the new row must never end up pointing at deleted bytes.

Bytes are content-addressed (one copy per SHA-256), and the code that deletes
the last row using them deletes them. An upload of the same content saves its
bytes (finding them already there) before it writes its row, so without a lock
a delete can fall in between.
"""
import io
import threading

from community.database import begin_write
from community.extensions import db
from community.files import actions
from community.files.models import Attachment
from community.files.storage import storage_for
from tests.factories import add_member, make_circle, make_user
from tests.files.builders import docx_bytes, image_bytes


def discard_now(attachment_id: int) -> None:
    begin_write()
    actions.discard(Attachment.id == attachment_id)
    db.session.commit()  # the bytes go now, if no row uses them


def test_a_delete_between_saving_the_bytes_and_the_row_is_repaired(app, world, monkeypatch):
    circle, owner, member = world
    data = image_bytes("PNG", size=(40, 30))
    first = actions.upload(owner, circle.slug, io.BytesIO(data), "board.png")
    first_key, first_thumbnail = first.storage_key, first.thumbnail_key
    storage = storage_for(app)
    save, saves = storage.save, []

    def save_then_lose_the_first(stream, max_bytes):
        stored = save(stream, max_bytes)  # already there: the first upload's bytes
        saves.append(stored.key)
        if len(saves) == 2:  # the image and its thumbnail are saved: the owner's post goes
            discard_now(first.id)
        return stored

    monkeypatch.setattr(storage, "save", save_then_lose_the_first)
    second = actions.upload(member, circle.slug, io.BytesIO(data), "board.png")
    assert (second.storage_key, second.thumbnail_key) == (first_key, first_thumbnail)
    with storage.open(second.storage_key) as stream:
        assert stream.read()  # the bytes are there to download
    assert storage.exists(second.thumbnail_key)


def test_deleting_and_uploading_the_same_content_at_once_keeps_the_bytes(engine_app):
    """The delete checks "no row uses these bytes", then pauses before deleting
    them, while the same content is uploaded: the upload must wait for the
    delete and store the bytes again (without the lock it finishes first and
    its bytes are then deleted under it)."""
    app = engine_app
    owner = make_user()
    circle = make_circle(owner)
    member = add_member(circle)
    data = docx_bytes()
    first = actions.upload(owner, circle.slug, io.BytesIO(data), "notes.docx")
    key, first_id, member_id, slug = first.storage_key, first.id, member.id, circle.slug
    db.session.commit()
    storage = storage_for(app)
    delete, deleting, uploaded = storage.delete, threading.Event(), threading.Event()

    def slow_delete(k):
        deleting.set()
        uploaded.wait(timeout=1.5)  # with the lock, the upload can't finish meanwhile
        delete(k)

    storage.delete = slow_delete
    errors = []

    def in_context(work):
        def run():
            with app.app_context():
                try:
                    work()
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                finally:
                    db.session.remove()
        return threading.Thread(target=run)

    def upload_again():
        user = db.session.get(type(member), member_id)
        actions.upload(user, slug, io.BytesIO(data), "notes (2).docx")
        uploaded.set()

    deleter = in_context(lambda: discard_now(first_id))
    uploader = in_context(upload_again)
    deleter.start()
    assert deleting.wait(timeout=10)  # the delete has checked and is about to delete
    uploader.start()
    deleter.join(timeout=20)
    uploader.join(timeout=20)
    assert not errors
    storage.delete = delete
    assert db.session.query(Attachment).filter_by(storage_key=key).count() == 1
    assert storage.exists(key), "the new row's bytes were deleted under it"
