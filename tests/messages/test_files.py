"""Files in direct messages: uploaded to a conversation, sent with a message,
opened only by the people who may read that message, gone with it."""
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from community.extensions import db
from community.files import actions as files
from community.files import conversations
from community.files.models import Attachment
from community.files.storage import storage_for
from community.messages import actions as dm
from community.messages.models import Conversation, ConversationMember, DirectMessage
from community.timeutil import utcnow
from tests.factories import make_circle
from tests.files.builders import docx_bytes, image_bytes
from tests.files.test_attachments import post_file, stored_files
from tests.files.test_images import photo_with_gps
from tests.messages.conftest import login, remove, text
from tests.racing import race, succeeded


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(FILE_STORAGE_URL=f"file://{tmp_path}/files")
    # A request's context, as the views and socket handlers that call the
    # actions have: a payload's file URLs are built with url_for.
    with app.app_context(), app.test_request_context():
        yield app


def start(a, *others):
    return dm.start_conversation(a, [str(o.id) for o in others])


def upload(user, conversation, data=None, name="notes.docx") -> Attachment:
    return conversations.upload(user, conversation.id, io.BytesIO(data or docx_bytes()), name)


def upload_over_http(client, conversation, data: bytes, name: str):
    """post_file, to the conversation's upload URL."""
    boundary = "----upload-boundary-7e3f"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n")
    return client.post(f"/messages/{conversation.id}/files",
                       data=head.encode() + data + f"\r\n--{boundary}--\r\n".encode(),
                       content_type=f"multipart/form-data; boundary={boundary}")


def rows() -> int:
    return db.session.scalar(select(func.count()).select_from(Attachment))


def messages() -> int:
    return db.session.scalar(select(func.count()).select_from(DirectMessage))


def places(*uploads) -> list:
    return [db.session.scalar(select(Attachment.direct_message_id).where(Attachment.id == a.id))
            for a in uploads]


# --- Upload, send, open ----------------------------------------------------------------------

def test_a_member_uploads_sends_and_the_other_downloads(app, people):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    client = login(app, me)
    page = text(client.get(f"/messages/{pair.id}"))
    # The composer has the picker, uploading to the conversation.
    assert f'data-upload-url="/messages/{pair.id}/files"' in page and "js/attachments.js" in page
    document = docx_bytes()
    answer = upload_over_http(client, pair, document, "Minutes.docx")
    assert answer.status_code == 201
    doc = answer.get_json()
    assert set(doc) == {"id", "name", "kind", "size", "url", "thumbnail_url"}
    assert doc["kind"] == "docx" and doc["size"] == len(document) and doc["thumbnail_url"] is None
    assert doc["url"] == f"/messages/{pair.id}/files/{doc['id']}/Minutes.docx"
    photo = upload_over_http(client, pair, photo_with_gps(), "site visit.jpg").get_json()
    assert photo["thumbnail_url"] == f"/messages/{pair.id}/files/{photo['id']}/thumbnail"

    # Files alone: the text may be empty. The plain form sends them.
    sent = client.post(f"/messages/{pair.id}", data={"body": "", "client_id": "form-1",
                                                     "attachments": [doc["id"], photo["id"]]})
    assert sent.status_code == 302

    theirs = login(app, other)
    page = text(theirs.get(f"/messages/{pair.id}"))
    assert f'href="{doc["url"]}"' in page and ">Minutes.docx<" in page
    assert f'src="{photo["thumbnail_url"]}"' in page
    got = theirs.get(doc["url"])
    assert got.status_code == 200 and got.data == document
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    image = theirs.get(photo["url"])
    assert image.status_code == 200
    assert b"Exif" not in image.data and b"PhoneMaker" not in image.data  # the location is gone
    assert theirs.get(photo["thumbnail_url"]).status_code == 200
    # The name in the URL is cosmetic: a wrong one leads to the right one.
    wrong = theirs.get(f"/messages/{pair.id}/files/{doc['id']}/other.docx")
    assert wrong.status_code == 302 and wrong.headers["Location"].endswith(doc["url"])


def test_the_message_payload_carries_its_files_and_a_resend_attaches_nothing_more(app, people):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    doc, later = upload(me, pair), upload(me, pair, image_bytes("PNG"), "board.png")
    payload, created = dm.send_message(me, pair.id, "The **slides**", "c-1", [doc.public_id])
    assert created and "<strong>slides</strong>" in payload["html"]
    assert payload["attachments"] == [{
        "id": doc.public_id, "name": "notes.docx", "kind": "docx", "size": doc.size,
        "url": f"/messages/{pair.id}/files/{doc.public_id}/notes.docx", "thumbnail_url": None}]
    again, created = dm.send_message(me, pair.id, "The **slides**", "c-1", [later.public_id])
    assert not created and again == payload
    assert messages() == 1 and places(doc, later) == [payload["id"], None]
    # Without files, text is still needed.
    with pytest.raises(dm.ActionError) as refused:
        dm.send_message(me, pair.id, "  ", "c-2")
    assert refused.value.code == "empty"


def test_a_draft_is_its_uploaders_alone_until_sent(app, people):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    photo = upload(me, pair, image_bytes("PNG"), "board.png")
    thumb = f"/messages/{pair.id}/files/{photo.public_id}/thumbnail"
    assert login(app, me).get(thumb).status_code == 200  # the composer shows it
    assert login(app, other).get(thumb).status_code == 404
    dm.send_message(me, pair.id, "", "c-1", [photo.public_id])
    assert login(app, other).get(thumb).status_code == 200


# --- Who may not ---------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["outsider", "admin", "moderator", "owner", "nina"])
def test_everyone_outside_the_conversation_gets_the_404_of_a_missing_file(app, people, who):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    photo = upload(me, pair, image_bytes("PNG"), "board.png")
    dm.send_message(me, pair.id, "", "c-1", [photo.public_id])
    client = login(app, people[who])
    base = f"/messages/{pair.id}/files/{photo.public_id}"
    missing = client.get(f"/messages/{pair.id}/files/{'A' * 22}/board.png")
    assert missing.status_code == 404
    for url in (f"{base}/board.png", f"{base}/thumbnail", f"/messages/{pair.id}/files/x/thumbnail"):
        got = client.get(url)
        assert got.status_code == 404 and got.data == missing.data
    # Not through the circle's routes either: a conversation's file is no circle's.
    circle = people["circle"].slug
    assert client.get(f"/c/{circle}/files/{photo.public_id}/board.png").status_code == 404
    assert login(app, me).get(f"/c/{circle}/files/{photo.public_id}/board.png").status_code == 404
    # Nor may they upload to it: nothing is stored.
    assert upload_over_http(client, pair, b"hello\n", "a.txt").status_code == 404
    assert rows() == 1 and len(stored_files(app)) == 2  # the image and its thumbnail


def test_a_former_member_opens_files_from_before_leaving_only(app, people):
    me, other, third = people["member"], people["other"], people["third"]
    group = start(me, other, third)
    before = upload(other, group, b"before\n", "before.txt")
    dm.send_message(other, group.id, "", "c-1", [before.public_id])
    client = login(app, me)
    assert client.post(f"/messages/{group.id}/leave").status_code == 302
    # Said a minute ago, in a conversation everyone joined two minutes ago.
    db.session.execute(update(DirectMessage).values(created_at=utcnow() - timedelta(minutes=1)))
    db.session.execute(update(Conversation).values(created_at=utcnow() - timedelta(minutes=2)))
    db.session.execute(update(ConversationMember).values(joined_at=utcnow() - timedelta(minutes=2)))
    db.session.commit()
    after = upload(other, group, b"after\n", "after.txt")
    dm.send_message(other, group.id, "", "c-2", [after.public_id])

    assert client.get(f"/messages/{group.id}/files/{before.public_id}/before.txt").data == b"before\n"
    assert client.get(f"/messages/{group.id}/files/{after.public_id}/after.txt").status_code == 404
    page = text(client.get(f"/messages/{group.id}"))
    assert "before.txt" in page and "after.txt" not in page
    # Having left, they can't upload there any more: told why, nothing stored.
    refused = upload_over_http(client, group, b"late\n", "late.txt")
    assert refused.status_code == 403 and refused.get_json()["error"] == "cant_send"
    assert rows() == 2
    # Those still in it open both.
    theirs = login(app, third)
    assert theirs.get(f"/messages/{group.id}/files/{after.public_id}/after.txt").status_code == 200


def test_someone_who_may_no_longer_send_may_not_upload(app, people):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    remove(people, other)  # no shared circle any more
    answer = upload_over_http(login(app, me), pair, b"hello\n", "a.txt")
    assert answer.status_code == 403 and answer.get_json()["error"] == "cant_send"
    assert rows() == 0 and stored_files(app) == []


# --- Hostile ids ---------------------------------------------------------------------------------

def _hostile(which, people, pair):
    me, other = people["member"], people["other"]
    if which == "someone_elses":
        return [upload(other, pair).public_id]
    if which == "another_conversations":
        return [upload(me, start(me, people["third"])).public_id]
    if which == "a_circles":
        return [files.upload(me, people["circle"].slug, io.BytesIO(docx_bytes()), "c.docx").public_id]
    if which == "already_attached":
        mine = upload(me, pair)
        dm.send_message(me, pair.id, "first", "setup", [mine.public_id])
        return [mine.public_id]
    if which == "eleven":
        return [upload(me, pair, f"file {n}\n".encode(), f"{n}.txt").public_id for n in range(11)]
    return {"made_up": ["A" * 22], "a_string": upload(me, pair).public_id, "a_dict": {"id": "x"},
            "numbers": [1, 2], "nul": ["a\x00b"], "too_long_id": ["a" * 65]}[which]


@pytest.mark.parametrize("which, code", [
    ("someone_elses", "attachment_gone"), ("another_conversations", "attachment_gone"),
    ("a_circles", "attachment_gone"), ("already_attached", "attachment_gone"),
    ("made_up", "attachment_gone"), ("eleven", "too_many"), ("a_string", "invalid"),
    ("a_dict", "invalid"), ("numbers", "invalid"), ("nul", "invalid"), ("too_long_id", "invalid")])
def test_hostile_attachments_are_refused_and_nothing_is_stored(app, people, which, code):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    ids = _hostile(which, people, pair)
    before = messages()
    free = set(db.session.scalars(select(Attachment.id).where(Attachment.direct_message_id.is_(None))))
    with pytest.raises(dm.ActionError) as refused:
        dm.send_message(me, pair.id, "", "hostile", ids)
    assert refused.value.code == code and refused.value.field in ("attachments", "body")
    assert messages() == before
    assert set(db.session.scalars(select(Attachment.id).where(
        Attachment.direct_message_id.is_(None)))) == free


def test_the_form_says_what_went_wrong_and_keeps_the_text_and_ones_files(app, people):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    mine = upload(me, pair, name="mine.docx")
    theirs = upload(other, pair, name="theirs.docx")
    client = login(app, me)
    answer = client.post(f"/messages/{pair.id}", data={
        "body": "Here", "client_id": "f-1", "attachments": [mine.public_id, theirs.public_id]})
    assert answer.status_code == 400
    page = text(answer)
    assert "no longer there to attach" in page and ">Here</textarea>" in page
    assert f'value="{mine.public_id}"' in page and theirs.public_id not in page
    assert messages() == 0


# --- Quota ---------------------------------------------------------------------------------------

def test_each_person_has_a_quota_for_their_files_in_messages(app, people):
    app.config["DM_FILE_QUOTA"] = 100
    me, other = people["member"], people["other"]
    pair = start(me, other)
    client = login(app, me)
    assert upload_over_http(client, pair, b"a" * 60 + b"\n", "one.txt").status_code == 201
    # Another conversation draws on the same space.
    elsewhere = start(me, people["third"])
    answer = upload_over_http(client, elsewhere, b"b" * 60 + b"\n", "two.txt")
    assert answer.status_code == 400 and answer.get_json()["error"] == "quota"
    assert rows() == 1 and len(stored_files(app)) == 1
    # Someone else's space is their own, and a circle's files don't count.
    assert upload_over_http(login(app, other), pair, b"c" * 60 + b"\n", "three.txt").status_code == 201
    files.upload(me, people["circle"].slug, io.BytesIO(b"d" * 90 + b"\n"), "circle.txt")
    # Deleting the message with the file frees the space.
    first = db.session.scalar(select(Attachment).where(Attachment.name == "one.txt"))
    dm.send_message(me, pair.id, "", "q-1", [first.public_id])
    message = db.session.scalar(select(DirectMessage))
    files.discard_files_of(message)
    db.session.commit()
    assert upload_over_http(client, elsewhere, b"b" * 60 + b"\n", "two.txt").status_code == 201


# --- Going away ---------------------------------------------------------------------------------

def test_a_deleted_messages_files_go_with_their_bytes_unless_shared(app, people):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    doc = upload(me, pair, b"only here\n", "only.txt")
    shared = upload(me, pair, b"also in the circle\n", "shared.txt")
    files.upload(me, people["circle"].slug, io.BytesIO(b"also in the circle\n"), "same.txt")
    payload, _ = dm.send_message(me, pair.id, "", "c-1", [doc.public_id, shared.public_id])
    storage = storage_for(app)
    only_key, shared_key = doc.storage_key, shared.storage_key
    message = db.session.get(DirectMessage, payload["id"])
    assert files.discard_files_of(message) == 2
    assert storage.exists(only_key)  # until the commit
    db.session.commit()
    assert not storage.exists(only_key) and storage.exists(shared_key)
    assert rows() == 1
    assert login(app, other).get(payload["attachments"][0]["url"]).status_code == 404


def test_the_sweep_takes_old_drafts_in_conversations(app, people):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    old, sent = upload(me, pair, b"old\n", "old.txt"), upload(me, pair, b"sent\n", "sent.txt")
    upload(me, pair, b"new\n", "new.txt")  # a day old it isn't: kept
    dm.send_message(me, pair.id, "", "c-1", [sent.public_id])
    db.session.execute(update(Attachment).where(Attachment.id.in_([old.id, sent.id]))
                       .values(created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    old_key = old.storage_key
    assert files.sweep_orphans() == 1
    assert set(db.session.scalars(select(Attachment.name))) == {"new.txt", "sent.txt"}
    assert not storage_for(app).exists(old_key)


def test_deleting_an_account_takes_its_drafts_and_the_files_no_one_else_can_read(app, people):
    from community.accounts import actions as accounts

    me, other = people["member"], people["other"]
    pair = start(me, other)
    draft = upload(me, pair, b"draft\n", "draft.txt")
    mine = upload(me, pair, b"mine\n", "mine.txt")
    theirs = upload(other, pair, b"theirs\n", "theirs.txt")
    dm.send_message(me, pair.id, "", "c-1", [mine.public_id])
    dm.send_message(other, pair.id, "", "c-2", [theirs.public_id])
    storage = storage_for(app)
    keys = {a.name: a.storage_key for a in (draft, mine, theirs)}

    accounts.delete_account(me, "correct horse battery")
    # Their draft goes; what they sent stays for the other to read, as the text does.
    assert set(db.session.scalars(select(Attachment.name))) == {"mine.txt", "theirs.txt"}
    assert not storage.exists(keys["draft.txt"]) and storage.exists(keys["mine.txt"])
    assert login(app, other).get(f"/messages/{pair.id}/files/{mine.public_id}/mine.txt").data == b"mine\n"

    accounts.delete_account(other, "correct horse battery")
    # No one is left who could read the conversation: its files and bytes go.
    assert rows() == 0 and stored_files(app) == []


def test_the_data_export_lists_ones_files_in_messages(app, people):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    mine = upload(me, pair, b"mine\n", "notes.txt")
    upload(me, pair, b"draft\n", "draft.txt")
    theirs = upload(other, pair, b"theirs\n", "theirs.txt")
    dm.send_message(me, pair.id, "", "c-1", [mine.public_id])
    dm.send_message(other, pair.id, "", "c-2", [theirs.public_id])
    client = login(app, me)
    data = client.get("/settings/data.json").get_json()
    assert [(f["name"], f["shared_in"], f["conversation_id"], f["file"]) for f in data["files"]] == [
        ("notes.txt", "direct message", pair.id, f"files/messages/{pair.id}/notes.txt")]
    page = text(client.get("/settings/data"))
    assert "Files you shared (1)" in page and "in a direct message" in page
    import zipfile
    archive = zipfile.ZipFile(io.BytesIO(client.get("/settings/data.zip").get_data()))
    assert archive.read(f"files/messages/{pair.id}/notes.txt") == b"mine\n"


# --- Statements ----------------------------------------------------------------------------------

def test_the_conversation_page_costs_the_same_with_no_files_and_with_many(app, people, count_queries):
    me, other = people["member"], people["other"]
    pair = start(me, other)
    for n in range(3):
        dm.send_message(other, pair.id, f"plain {n}", f"p-{n}")
    client = login(app, me)
    client.get(f"/messages/{pair.id}")
    with count_queries() as plain:
        assert client.get(f"/messages/{pair.id}").status_code == 200
    app.config["CHAT_RATE_LIMIT"] = 1000
    for n in range(6):
        ids = [upload(other, pair, f"{n}-{k}\n".encode(), f"{n}-{k}.txt").public_id for k in range(3)]
        dm.send_message(other, pair.id, "", f"f-{n}", ids)
    with count_queries() as with_files:
        page = client.get(f"/messages/{pair.id}")
    assert page.status_code == 200 and len(re.findall(r'class="chat-file__name"', text(page))) == 18
    assert with_files.count == plain.count, with_files.statements
    # ...and the file list is read once, for all of them.
    assert sum("FROM attachments" in s for s in with_files.statements) == 1


def test_a_circle_upload_still_answers_as_before(app, people):
    """The circle's upload shares its checks with the conversation's: unchanged for it."""
    circle, me = people["circle"], people["member"]
    answer = post_file(login(app, me), circle.slug, b"hello\n", "a.txt")
    assert answer.status_code == 201
    assert answer.get_json()["url"] == f"/c/{circle.slug}/files/{answer.get_json()['id']}/a.txt"
    assert db.session.scalar(select(Attachment.conversation_id)) is None


# --- Racing (both engines) -----------------------------------------------------------------------

def _pair_on(app):
    from tests.factories import add_member, make_user

    owner = make_user("Rachel Stone")
    circle = make_circle(owner, name="Berkshire Leaders")
    other = add_member(circle, make_user("Priya Raman"))
    return owner, dm.start_conversation(owner, [str(other.id)])


def test_uploads_racing_for_the_last_of_the_quota_fit_it_exactly(engine_app):
    engine_app.config["DM_FILE_QUOTA"] = 250
    owner, pair = _pair_on(engine_app)
    pair_id = pair.id

    def upload_one(actor, n):
        return conversations.upload(actor, pair_id, io.BytesIO(f"{n}".encode() * 99 + b"\n"),
                                    f"{n}.txt").size

    outcomes = race(engine_app, *[(upload_one, owner.id, n) for n in range(4)])
    assert sum(succeeded(outcome) for outcome in outcomes) == 2, outcomes
    assert {outcome.code for outcome in outcomes if not succeeded(outcome)} == {"quota"}
    db.session.expire_all()
    assert db.session.scalar(select(func.sum(Attachment.size))) == 200


def test_two_messages_racing_for_the_same_upload_store_one(engine_app):
    owner, pair = _pair_on(engine_app)
    pair_id = pair.id
    public_id = conversations.upload(owner, pair_id, io.BytesIO(b"slides\n"), "slides.txt").public_id

    def send_with_the_file(actor, client_id):
        with engine_app.test_request_context():
            return dm.send_message(actor, pair_id, "Mine", client_id, [public_id])[0]["id"]

    outcomes = race(engine_app, *[(send_with_the_file, owner.id, f"c-{n}") for n in range(4)])
    won = [outcome[1] for outcome in outcomes if succeeded(outcome)]
    assert len(won) == 1, outcomes
    assert {outcome.code for outcome in outcomes if not succeeded(outcome)} == {"attachment_gone"}
    db.session.expire_all()
    assert db.session.scalars(select(DirectMessage.id)).all() == won
    assert db.session.scalars(select(Attachment.direct_message_id)).all() == won
