"""A deleted meeting takes its files with it: their rows at once, their bytes
once no other file row uses them; the Files page and download links forget them."""
from sqlalchemy import select

from community.extensions import db
from community.files.models import Attachment
from community.meetings.actions import scheduling
from tests.files.builders import docx_bytes, image_bytes
from tests.files.test_attachments import stored_files
from tests.files.test_library import listing, names_in, share, uploaded
from tests.meetings.conftest import meeting_fields


def download(circle, attachment) -> str:
    return f"/c/{circle.slug}/files/{attachment.public_id}/{attachment.name}"


def test_deleting_a_meeting_deletes_its_files_and_the_bytes_nobody_else_uses(
        app, client, auth, world):
    circle, owner, member = world
    document = docx_bytes()  # once: a zip holds the time it was made
    agenda = uploaded(member, circle, document, "Agenda.docx")
    room = uploaded(member, circle, image_bytes("PNG"), "room.png")
    meeting = scheduling.schedule_meeting(member, circle.slug, attachments=[
        agenda.public_id, room.public_id], **meeting_fields(title="Away day"))
    # The owner shared the same document on a thread: one copy of the bytes, two rows.
    copy = share(owner, circle, "post", document, "Agenda (copy).docx")
    assert copy.storage_key == agenda.storage_key
    gone = [(a.id, download(circle, a)) for a in (agenda, room)]
    before = len(stored_files(app))
    auth.login(member)
    assert sorted(names_in(listing(client, circle))) == ["Agenda (copy).docx", "Agenda.docx",
                                                         "room.png"]
    assert client.get(gone[1][1]).status_code == 200

    assert client.post(f"/c/{circle.slug}/m/{meeting.id}/delete").status_code == 302
    assert db.session.scalars(select(Attachment.id).where(
        Attachment.id.in_([row_id for row_id, _ in gone]))).all() == []
    assert len(stored_files(app)) == before - 2  # the image and its thumbnail
    assert names_in(listing(client, circle)) == ["Agenda (copy).docx"]
    for _, url in gone:
        assert client.get(url).status_code == 404
    kept = client.get(download(circle, copy))  # the shared bytes are still there for it
    assert kept.status_code == 200 and kept.get_data() == document


def test_the_last_row_using_the_bytes_takes_them(app, client, auth, world):
    circle, owner, member = world
    notes = uploaded(member, circle, b"What we agreed\n", "notes.txt")
    meeting = scheduling.schedule_meeting(member, circle.slug, attachments=[notes.public_id],
                                          **meeting_fields())
    notes_id, before = notes.id, len(stored_files(app))
    scheduling.delete_meeting(owner, circle.slug, meeting.id)  # staff: audited, same files rule
    assert db.session.get(Attachment, notes_id) is None
    assert len(stored_files(app)) == before - 1
