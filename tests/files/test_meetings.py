"""Files on meetings: an agenda and slides when it is scheduled or edited, notes
added after it happened; listed on its page in one statement; kept when it is cancelled."""
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from community.extensions import db
from community.files import actions as files
from community.files.models import Attachment
from community.meetings.actions import scheduling
from community.meetings.models import Meeting, MeetingOccurrence
from community.timeutil import utcnow
from tests.factories import add_member, make_circle
from tests.files.builders import docx_bytes, image_bytes
from tests.files.test_attachments import post_file
from tests.files.test_library import audit_actions
from tests.meetings.conftest import meeting_fields
from tests.meetings.test_views import form


def upload(user, circle, data=None, name="Agenda.docx") -> Attachment:
    return files.upload(user, circle.slug, io.BytesIO(data or docx_bytes()), name)


def files_on(meeting_id: int) -> list[str]:
    return list(db.session.scalars(select(Attachment.name).where(Attachment.meeting_id == meeting_id)
                                   .order_by(Attachment.id)))


def meetings() -> int:
    return db.session.scalar(select(func.count(Meeting.id)))


def text(response) -> str:
    return response.get_data(as_text=True)


def schedule(actor, circle, **kwargs) -> Meeting:
    return scheduling.schedule_meeting(actor, circle.slug, **meeting_fields(), **kwargs)


def test_a_meeting_is_scheduled_with_its_agenda_and_its_page_lists_it(client, auth, world):
    circle, owner, member = world
    auth.login(member)
    agenda = post_file(client, circle.slug, docx_bytes(), "Agenda.docx").get_json()
    room = post_file(client, circle.slug, image_bytes("PNG"), "room.png").get_json()
    new = client.get(f"/c/{circle.slug}/meetings/new")
    assert f'data-upload-url="/c/{circle.slug}/files"' in text(new)
    response = client.post(f"/c/{circle.slug}/meetings/new",
                           data=form(attachments=[agenda["id"], room["id"]]))
    assert response.status_code == 302
    meeting = db.session.scalar(select(Meeting))
    assert files_on(meeting.id) == ["Agenda.docx", "room.png"]
    auth.logout()
    auth.login(owner)
    page = text(client.get(f"/c/{circle.slug}/m/{meeting.id}"))
    files_card = page.split('id="files"', 1)[1]
    assert f'href="{agenda["url"]}"' in files_card and "Word document" in files_card
    assert f'src="{room["thumbnail_url"]}"' in files_card


@pytest.mark.parametrize("kind", ["someone_elses", "other_circle", "made_up", "eleven"])
def test_a_meeting_with_a_file_that_is_not_the_members_upload_is_not_written(client, auth, world, kind):
    circle, owner, member = world
    mine = upload(member, circle, name="mine.docx").public_id
    other = {"someone_elses": lambda: [upload(owner, circle).public_id],
             "other_circle": lambda: [upload(member, make_circle(member)).public_id],
             "made_up": lambda: ["x" * 22],
             "eleven": lambda: [upload(member, circle, image_bytes("PNG", size=(9 + n, 9)),
                                       f"{n}.png").public_id for n in range(10)]}[kind]()
    auth.login(member)
    response = client.post(f"/c/{circle.slug}/meetings/new", data=form(attachments=[mine, *other]))
    assert response.status_code == 400
    page = text(response)
    assert "at most 10" in page if kind == "eleven" else "no longer there" in page
    assert meetings() == 0 and db.session.scalar(select(func.count(MeetingOccurrence.id))) == 0
    assert "mine.docx" in page  # the form keeps the member's own upload


def test_editing_adds_and_removes_the_meetings_files(client, auth, world):
    circle, owner, member = world
    slides = upload(member, circle, name="slides.pptx.docx")
    meeting = schedule(member, circle, attachments=[slides.public_id])
    later = upload(member, circle, b"reading list\n", "reading.txt")
    auth.login(member)
    edit = text(client.get(f"/c/{circle.slug}/m/{meeting.id}/edit"))
    assert 'name="remove_files"' in edit and 'data-max="9"' in edit
    response = client.post(f"/c/{circle.slug}/m/{meeting.id}/edit",
                           data=form(attachments=[later.public_id], remove_files=[slides.public_id]))
    assert response.status_code == 302
    assert files_on(meeting.id) == ["reading.txt"]
    assert db.session.get(Meeting, meeting.id).sequence == meeting.sequence  # files alone: no new version


def test_notes_are_added_after_the_meeting_by_those_who_may_manage_it(client, auth, world):
    circle, owner, member = world
    meeting = schedule(member, circle)
    # It happened: a week ago.
    past = utcnow() - timedelta(days=7)
    db.session.execute(update(MeetingOccurrence).where(MeetingOccurrence.meeting_id == meeting.id)
                       .values(starts_at=past, ends_at=past + timedelta(hours=2)))
    db.session.execute(update(Meeting).where(Meeting.id == meeting.id)
                       .values(starts_at=past, ends_at=past + timedelta(hours=2)))
    db.session.commit()
    notes = upload(member, circle, b"What we said\n", "notes.txt")
    auth.login(member)
    page = text(client.get(f"/c/{circle.slug}/m/{meeting.id}"))
    assert f'action="/c/{circle.slug}/m/{meeting.id}/files"' in page and "data-attachments" in page
    response = client.post(f"/c/{circle.slug}/m/{meeting.id}/files", data={"attachments": [notes.public_id]})
    assert response.status_code == 302
    assert files_on(meeting.id) == ["notes.txt"]
    # Another member may read them, but neither add nor take off.
    other = add_member(circle)
    theirs = upload(other, circle, b"mine\n", "theirs.txt")
    auth.logout()
    auth.login(other)
    page = text(client.get(f"/c/{circle.slug}/m/{meeting.id}"))
    assert "notes.txt" in page and f"/m/{meeting.id}/files\"" not in page
    for data in ({"attachments": [theirs.public_id]}, {"remove_files": [notes.public_id]}):
        assert client.post(f"/c/{circle.slug}/m/{meeting.id}/files", data=data).status_code == 403
    assert files_on(meeting.id) == ["notes.txt"]
    # The organiser takes them off again; the bytes go.
    auth.logout()
    auth.login(member)
    response = client.post(f"/c/{circle.slug}/m/{meeting.id}/files", data={"remove_files": [notes.public_id]})
    assert response.status_code == 302 and files_on(meeting.id) == []


def test_a_refused_file_on_the_meeting_page_keeps_the_page_and_the_upload(client, auth, world):
    circle, owner, member = world
    meeting = schedule(member, circle)
    mine = upload(member, circle, name="mine.docx")
    auth.login(member)
    response = client.post(f"/c/{circle.slug}/m/{meeting.id}/files",
                           data={"attachments": [mine.public_id, upload(owner, circle).public_id]})
    assert response.status_code == 400
    assert "no longer there" in text(response) and "mine.docx" in text(response)
    assert files_on(meeting.id) == []


def test_a_cancelled_meeting_keeps_its_files(app, world):
    circle, owner, member = world
    meeting = schedule(member, circle, attachments=[upload(member, circle).public_id])
    scheduling.cancel_meeting(owner, circle.slug, meeting.id, "The venue closed")
    assert files_on(meeting.id) == ["Agenda.docx"]


def test_the_meeting_page_runs_as_many_statements_with_10_files_as_with_none(
        client, auth, world, count_queries):
    circle, owner, member = world
    meeting = schedule(member, circle)
    url = f"/c/{circle.slug}/m/{meeting.id}"
    other = add_member(circle)  # a member's page lists the files; the organiser's has the form too

    def statements() -> list[int]:
        counts = []
        for viewer in (member, other):
            auth.logout()
            auth.login(viewer)
            client.get(url)
            with count_queries() as counted:
                response = client.get(url)
            assert response.status_code == 200
            counts.append(counted.count)
        return counts

    none = statements()
    for n in range(10):
        data = docx_bytes() if n % 2 else image_bytes("PNG", size=(9 + n, 9))
        upload(member, circle, data, f"file {n}").meeting_id = meeting.id
    db.session.commit()
    assert text(client.get(url)).count('class="file') >= 10
    assert statements() == none and max(none) <= 12, none


def test_a_meeting_manager_taking_off_someone_elses_file_is_audited(client, auth, world):
    circle, owner, member = world
    meeting = schedule(member, circle)  # member organises it
    other = add_member(circle)
    slides = upload(other, circle, b"Slides\n", "slides.txt")
    mine = upload(member, circle, b"Agenda\n", "agenda.txt")
    # Another member's slides on it (as if they had organised it before) and the organiser's agenda.
    db.session.execute(update(Attachment).where(Attachment.id.in_([slides.id, mine.id]))
                       .values(meeting_id=meeting.id))
    db.session.commit()
    auth.login(member)
    response = client.post(f"/c/{circle.slug}/m/{meeting.id}/files",
                           data={"remove_files": [slides.public_id, mine.public_id]})
    assert response.status_code == 302 and files_on(meeting.id) == []
    # Only the file someone else shared is recorded, with whose it was.
    assert audit_actions(circle) == [("file.deleted", other.id, "“slides.txt”")]
    auth.logout()
    auth.login(owner)
    log = text(client.get(f"/c/{circle.slug}/manage/audit"))
    assert "slides.txt" in log and "agenda.txt" not in log
