"""Attachments: upload, download checked every time, refusals that leave nothing, the sweep."""
import io
import os
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select, update

from community.circles.models import Circle, Membership
from community.extensions import db
from community.files import actions
from community.files.models import Attachment
from community.files.storage import storage_for
from community.timeutil import utcnow
from tests.factories import make_circle, make_user
from tests.files.builders import docx_bytes, image_bytes
from tests.files.test_images import photo_with_gps


def stored_files(app) -> list[str]:
    """Every file under the local storage's root, its temporary directory included."""
    return [name for _, _, names in os.walk(storage_for(app).root) for name in names]


def rows() -> int:
    return db.session.scalar(select(func.count()).select_from(Attachment))


def post_file(client, slug, data: bytes, name: str):
    # The body built here, in memory: the test client spools a large one to a
    # temporary file it never closes when the app stops reading early.
    boundary = "----upload-boundary-7e3f"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n")
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"/c/{slug}/files", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_upload_then_another_member_downloads_the_document(app, client, auth, world):
    circle, owner, member = world
    auth.login(owner)
    document = docx_bytes()
    answer = post_file(client, circle.slug, document, "Minutes.docx")
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["kind"] == "docx" and body["size"] == len(document) and body["thumbnail_url"] is None
    assert len(body["id"]) == 22
    auth.logout()
    auth.login(member)
    got = client.get(body["url"])
    assert got.status_code == 200 and got.data == document
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in got.headers["Content-Security-Policy"]
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in got.headers["Cache-Control"]
    # The name in the URL is cosmetic: a wrong one leads to the right one.
    wrong = client.get(f"/c/{circle.slug}/files/{body['id']}/other.docx")
    assert wrong.status_code == 302 and wrong.headers["Location"].endswith(body["url"])


def test_gps_photo_comes_back_clean_inline_with_a_thumbnail(app, client, auth, world):
    circle, owner, member = world
    auth.login(owner)
    body = post_file(client, circle.slug, photo_with_gps(), "me.jpg").get_json()
    auth.logout()
    auth.login(member)
    got = client.get(body["url"])
    assert got.status_code == 200 and got.headers["Content-Disposition"].startswith("inline")
    assert got.headers["Content-Type"] == "image/jpeg"
    assert not Image.open(io.BytesIO(got.data)).getexif()
    attachment = db.session.scalar(select(Attachment))
    with storage_for(app).open(attachment.storage_key) as stored:
        assert stored.read() == got.data  # exactly the cleaned bytes, never the upload
    thumb = client.get(body["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.data)).format == "WEBP"


def test_signed_out_is_sent_to_sign_in(app, client, world):
    circle, owner, _ = world
    attachment = actions.upload(owner, circle.slug, io.BytesIO(b"notes\n"), "notes.txt")
    got = client.get(f"/c/{circle.slug}/files/{attachment.public_id}/{attachment.name}")
    assert got.status_code == 302 and "/auth/login" in got.headers["Location"]


def _set_status(user, circle, status):
    db.session.execute(update(Membership).where(Membership.user_id == user.id,
                                                Membership.circle_id == circle.id).values(status=status))
    db.session.commit()


@pytest.mark.parametrize("who", ["outsider", "removed", "banned", "left", "pledge", "second_factor",
                                 "other_circle"])
def test_everyone_not_allowed_gets_the_404_of_a_missing_file(app, client, auth, world, who):
    circle, owner, member = world
    attachment = actions.upload(owner, circle.slug, io.BytesIO(b"notes\n"), "notes.txt")
    url = f"/c/{circle.slug}/files/{attachment.public_id}/{attachment.name}"
    slug = circle.slug
    viewer = member
    if who == "outsider":
        viewer = make_user()
    elif who in ("removed", "banned", "left"):
        _set_status(member, circle, who)
    elif who == "pledge":
        db.session.execute(update(Circle).where(Circle.id == circle.id).values(
            pledge_required=True, pledge_updated_at=utcnow()))
        db.session.commit()
    elif who == "second_factor":  # the circle requires one; the member has none
        db.session.execute(update(Circle).where(Circle.id == circle.id).values(require_two_factor=True))
        db.session.commit()
    elif who == "other_circle":
        other = make_circle(member, name="Elsewhere")
        slug = other.slug
        url = f"/c/{slug}/files/{attachment.public_id}/{attachment.name}"
    auth.login(viewer)
    missing = client.get(f"/c/{slug}/files/{'x' * 22}/{attachment.name}")
    assert missing.status_code == 404
    got = client.get(url)
    assert got.status_code == 404 and got.data == missing.data
    assert client.get(f"/c/{slug}/files/{attachment.public_id}/thumbnail").status_code == 404


@pytest.mark.parametrize("data,name", [
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "x.svg"),
    (b"<!doctype html><html><script>alert(1)</script></html>", "page.html"),
    (image_bytes("PNG", (32, 32))[:60], "broken.png"),  # cut off mid-stream
])
def test_refused_kinds_and_damaged_images_leave_nothing(app, client, auth, world, data, name):
    circle, owner, _ = world
    auth.login(owner)
    answer = post_file(client, circle.slug, data, name)
    assert 400 <= answer.status_code < 500 and answer.get_json()["message"]
    assert rows() == 0 and stored_files(app) == []


def test_too_large_is_413_and_nothing_is_stored(app, client, auth, world):
    circle, owner, _ = world
    auth.login(owner)
    answer = post_file(client, circle.slug, b"a" * (26 * 1024 * 1024), "big.txt")
    assert answer.status_code == 413 and answer.get_json()["error"] == "too_large"
    assert rows() == 0 and stored_files(app) == []


def test_over_quota_is_refused_and_nothing_is_stored(app, client, auth, world):
    circle, owner, _ = world
    app.config["FILE_CIRCLE_QUOTA"] = 100
    auth.login(owner)
    assert post_file(client, circle.slug, b"a" * 60 + b"\n", "one.txt").status_code == 201
    answer = post_file(client, circle.slug, b"b" * 60 + b"\n", "two.txt")
    assert answer.status_code == 400 and answer.get_json()["error"] == "quota"
    assert rows() == 1 and len(stored_files(app)) == 1


def test_a_path_in_the_name_is_made_safe(app, client, auth, world):
    circle, owner, _ = world
    auth.login(owner)
    body = post_file(client, circle.slug, b"hello\n", "../../x").get_json()
    assert "/" not in body["name"] and ".." not in body["name"]
    assert db.session.scalar(select(Attachment.name)) == body["name"]


def test_sweep_removes_old_orphans_but_keeps_shared_bytes(app, world):
    circle, owner, _ = world
    old = actions.upload(owner, circle.slug, io.BytesIO(b"old\n"), "old.txt")
    shared_old = actions.upload(owner, circle.slug, io.BytesIO(b"shared\n"), "a.txt")
    shared_new = actions.upload(owner, circle.slug, io.BytesIO(b"shared\n"), "b.txt")
    fresh = actions.upload(owner, circle.slug, io.BytesIO(b"fresh\n"), "fresh.txt")
    db.session.execute(update(Attachment).where(Attachment.id.in_([old.id, shared_old.id]))
                       .values(created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    storage = storage_for(app)
    old_key, shared_key, fresh_key = old.storage_key, shared_new.storage_key, fresh.storage_key
    kept = {shared_new.id, fresh.id}
    assert actions.sweep_orphans() == 2
    remaining = set(db.session.scalars(select(Attachment.id)))
    assert remaining == kept
    assert not storage.exists(old_key)
    assert storage.exists(shared_key) and storage.exists(fresh_key)


def test_download_costs_few_queries_whatever_the_circle_holds(app, client, auth, world, count_queries):
    circle, owner, member = world
    first = actions.upload(owner, circle.slug, io.BytesIO(b"one\n"), "one.txt")
    auth.login(member)
    url = f"/c/{circle.slug}/files/{first.public_id}/{first.name}"
    client.get(url)
    with count_queries() as few:
        assert client.get(url).status_code == 200
    for n in range(20):
        actions.upload(owner, circle.slug, io.BytesIO(f"file {n}\n".encode()), f"{n}.txt")
    with count_queries() as many:
        assert client.get(url).status_code == 200
    # The signed-in user, the circle with the membership, the file: 3, however many files.
    assert few.count == many.count == 3, few.statements


@pytest.mark.parametrize("who", ["outsider", "pledge", "second_factor"])
def test_only_members_who_may_read_can_upload(app, client, auth, world, who):
    circle, _, member = world
    viewer = make_user() if who == "outsider" else member
    if who == "pledge":
        db.session.execute(update(Circle).where(Circle.id == circle.id).values(
            pledge_required=True, pledge_updated_at=utcnow()))
        db.session.commit()
    elif who == "second_factor":
        db.session.execute(update(Circle).where(Circle.id == circle.id).values(require_two_factor=True))
        db.session.commit()
    auth.login(viewer)
    assert post_file(client, circle.slug, b"hello\n", "a.txt").status_code == 404
    assert rows() == 0 and stored_files(app) == []


def test_the_sweep_runs_from_the_command_line(app, runner, world):
    circle, owner, _ = world
    actions.upload(owner, circle.slug, io.BytesIO(b"old\n"), "old.txt")
    db.session.execute(update(Attachment).values(created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    result = runner.invoke(args=["sweep-files"])
    assert "Deleted 1 unattached file(s)." in result.output
    assert rows() == 0 and stored_files(app) == []
