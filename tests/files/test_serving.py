"""How a download leaves once the check has passed: streamed (default), handed to nginx
(FILE_ACCEL_REDIRECT), or a presigned redirect to the object store (FILE_S3_REDIRECT,
against moto's S3 server) — and never any of these for someone the check refuses."""
import io
import stat
import urllib.request
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from community.files import actions
from community.files.kinds import KINDS
from community.files.local import LocalStorage
from community.files.safety import file_headers
from community.files.storage import storage_for
from community.files.views import ACCEL_LOCATION, PRESIGNED_SECONDS
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_user
from tests.files.builders import docx_bytes, image_bytes
from tests.files.test_storage import aws_env, s3_endpoint  # noqa: F401  (fixtures)

MB = 1024 * 1024


@pytest.fixture
def accel_app(make_app, tmp_path):
    app = make_app(FILE_STORAGE_URL=f"file://{tmp_path}/files", FILE_ACCEL_REDIRECT=True)
    with app.app_context():
        yield app


def _people():
    owner = make_user()
    circle = make_circle(owner)
    return circle, owner, add_member(circle), make_user()


def test_with_accel_redirect_the_app_names_the_file_for_nginx_and_sends_no_bytes(accel_app):
    client = accel_app.test_client()
    auth = AuthActions(client)
    circle, owner, member, outsider = _people()
    shared = actions.upload(owner, circle.slug, io.BytesIO(docx_bytes()), "Minutes.docx")
    url = f"/c/{circle.slug}/files/{shared.public_id}/{shared.name}"
    key = shared.storage_key

    auth.login(member)
    got = client.get(url)
    assert got.status_code == 200 and got.data == b""
    assert got.headers["X-Accel-Redirect"] == f"{ACCEL_LOCATION}{key[:2]}/{key[2:4]}/{key}"
    for name, value in file_headers(KINDS["docx"], "Minutes.docx").items():
        assert got.headers[name] == value
    auth.logout()

    auth.login(outsider)
    refused = client.get(url)
    assert refused.status_code == 404 and "X-Accel-Redirect" not in refused.headers


def test_with_accel_redirect_files_are_readable_by_the_group_only(accel_app):
    circle, owner, _, _ = _people()
    shared = actions.upload(owner, circle.slug, io.BytesIO(b"agenda\n"), "agenda.txt")
    storage = storage_for(accel_app)
    path = storage.path(shared.storage_key)
    # nginx's workers, in the app user's group, read them; nobody else (deploy/README.md).
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    for directory in (storage.root, path.parent, path.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o750
    assert stat.S_IMODE(storage.temp_dir.stat().st_mode) == 0o700  # never served
    # Without the setting, the app's user alone (tests/files/test_storage.py).
    assert LocalStorage(storage.root).file_mode == 0o600


def test_without_the_setting_the_app_streams(app, client, auth, world):
    circle, owner, member = world
    data = docx_bytes()
    shared = actions.upload(owner, circle.slug, io.BytesIO(data), "Minutes.docx")
    auth.login(member)
    got = client.get(f"/c/{circle.slug}/files/{shared.public_id}/{shared.name}")
    assert got.data == data and "X-Accel-Redirect" not in got.headers
    assert got.headers["Referrer-Policy"] == "no-referrer"


# --- S3 ---------------------------------------------------------------------------

@pytest.fixture
def s3_app(make_app, s3_endpoint, aws_env, tmp_path):  # noqa: F811
    bucket = f"circles-{uuid.uuid4().hex[:12]}"
    url = f"s3://{bucket}/files?endpoint={s3_endpoint}&region=us-east-1"

    def make(**settings):
        app = make_app(FILE_STORAGE_URL=url, **settings)
        with app.app_context():
            storage_for(app).client.create_bucket(Bucket=bucket)
        return app

    yield make
    from community.files.storage import storage_from_url

    storage = storage_from_url(url)
    for item in storage.client.list_objects_v2(Bucket=bucket).get("Contents", []):
        storage.client.delete_object(Bucket=bucket, Key=item["Key"])
    storage.client.delete_bucket(Bucket=bucket)


def test_s3_redirect_is_short_lived_and_downloads_as_an_attachment(s3_app):
    app = s3_app(FILE_S3_REDIRECT=True)
    with app.app_context():
        client = app.test_client()
        auth = AuthActions(client)
        circle, owner, member, outsider = _people()
        data = docx_bytes()
        shared = actions.upload(owner, circle.slug, io.BytesIO(data), 'Q3 "plan".docx')
        url = f"/c/{circle.slug}/files/{shared.public_id}/{shared.name}"

        auth.login(member)
        got = client.get(url)
        assert got.status_code == 302
        assert got.headers["Cache-Control"] == "private, no-store"
        assert got.headers["Referrer-Policy"] == "no-referrer"
        location = got.headers["Location"]
        # Valid for a minute from now (the store enforces it; moto's server doesn't check).
        assert f"X-Amz-Expires={PRESIGNED_SECONDS}" in location and PRESIGNED_SECONDS <= 60
        signed_at = datetime.strptime(parse_qs(urlsplit(location).query)["X-Amz-Date"][0],
                                      "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        assert abs((datetime.now(UTC) - signed_at).total_seconds()) < 30
        expected = file_headers(KINDS["docx"], shared.name)
        with urllib.request.urlopen(location) as answer:  # the browser follows it
            assert answer.read() == data
            assert answer.headers["Content-Disposition"] == expected["Content-Disposition"]
            assert answer.headers["Content-Disposition"].startswith("attachment")
            assert answer.headers["Content-Type"] == expected["Content-Type"]
        auth.logout()

        auth.login(outsider)
        refused = client.get(url)
        assert refused.status_code == 404 and "Location" not in refused.headers


def test_s3_images_and_the_default_stream_through_the_app(s3_app):
    app = s3_app(FILE_S3_REDIRECT=True)
    with app.app_context():
        client = app.test_client()
        auth = AuthActions(client)
        circle, owner, member, _ = _people()
        photo = actions.upload(owner, circle.slug, io.BytesIO(image_bytes("PNG", size=(40, 30))), "a.png")
        auth.login(member)
        # Shown inline: the store can't add nosniff and the sandbox, so the app streams it.
        for url in (f"/c/{circle.slug}/files/{photo.public_id}/{photo.name}",
                    f"/c/{circle.slug}/files/{photo.public_id}/thumbnail"):
            got = client.get(url)
            assert got.status_code == 200 and got.data[:4] in (b"\x89PNG", b"RIFF")
            assert got.headers["X-Content-Type-Options"] == "nosniff"

    app = s3_app()  # FILE_S3_REDIRECT off: streamed
    with app.app_context():
        client = app.test_client()
        auth = AuthActions(client)
        circle, owner, member, _ = _people()
        data = docx_bytes()
        shared = actions.upload(owner, circle.slug, io.BytesIO(data), "Minutes.docx")
        auth.login(member)
        got = client.get(f"/c/{circle.slug}/files/{shared.public_id}/{shared.name}")
        assert got.status_code == 200 and got.data == data
        assert got.headers["Content-Disposition"].startswith("attachment")
