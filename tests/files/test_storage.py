"""File storage: both backends through the same tests, S3 against a real
S3-protocol server (moto's standalone server, a subprocess on loopback)."""
import hashlib
import io
import os
import stat
import subprocess
import sys
import time
import tracemalloc
import urllib.error
import urllib.request
import uuid

import pytest

from community.errors import ActionError
from community.files.base import CHUNK, FileTooLarge
from community.files.local import LocalStorage
from community.files.names import content_disposition
from community.files.storage import storage_for, storage_from_url
from tests.conftest import IN_CI
from tests.test_server import free_port

MB = 1024 * 1024


class Generated(io.RawIOBase):
    """`size` bytes made as they are read (never all in memory), like an upload
    arriving from a socket; it raises OSError after `break_after` bytes if set."""

    def __init__(self, size: int, break_after: int | None = None, seed: bytes = b"x"):
        self.size, self.break_after, self.pos = size, break_after, 0
        self.block = hashlib.sha256(seed).digest() * 2048  # 64 KiB pattern

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.break_after is not None and self.pos >= self.break_after:
            raise OSError("connection reset by peer")
        n = min(len(buffer), len(self.block), self.size - self.pos)
        buffer[:n] = self.block[:n]
        self.pos += n
        return n

    def expected_sha256(self) -> str:
        digest, left = hashlib.sha256(), self.size
        while left:
            digest.update(self.block[:min(left, len(self.block))])
            left -= min(left, len(self.block))
        return digest.hexdigest()


# --- moto's S3 server --------------------------------------------------------

DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """http://127.0.0.1:PORT of a moto server started for this test session."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail("moto[server] is missing: CI runs the S3 storage tests against it")
        pytest.skip("moto[server] is not installed (pip install -e '.[test]'); S3 tests skipped")
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    env = {**os.environ, **DUMMY_AWS}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"moto server did not start on port {port}")
            time.sleep(0.1)
    try:
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    # Dummy credentials, and no real ~/.aws config can leak into a test.
    for name, value in DUMMY_AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def s3_storage(s3_endpoint, aws_env, tmp_path):
    from community.files.s3 import S3Storage

    bucket = f"circles-{uuid.uuid4().hex[:12]}"
    (tmp_path / "spool").mkdir()
    storage = S3Storage(bucket, prefix="files", endpoint=s3_endpoint, region="us-east-1",
                        spool_dir=str(tmp_path / "spool"))
    storage.client.create_bucket(Bucket=bucket)
    yield storage
    for item in storage.client.list_objects_v2(Bucket=bucket).get("Contents", []):
        storage.client.delete_object(Bucket=bucket, Key=item["Key"])
    for upload in storage.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        storage.client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    storage.client.delete_bucket(Bucket=bucket)


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "files")
    return request.getfixturevalue("s3_storage")


def everything_stored(storage) -> list[str]:
    """Every byte-holding thing the backend left: files (temp ones too), or
    objects, unfinished multipart uploads and spool files."""
    if isinstance(storage, LocalStorage):
        if not storage.root.exists():
            return []
        return sorted(str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if p.is_file())
    client, bucket = storage.client, storage.bucket
    objects = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    unfinished = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    uploads = ["multipart:" + u["Key"] for u in unfinished]
    spooled = ["spool:" + name for name in os.listdir(storage.spool_dir)]
    return sorted(objects + uploads + spooled)


# --- both backends -----------------------------------------------------------

def test_store_and_read_back_in_chunks(storage):
    data = os.urandom(3 * CHUNK + 123)
    stored = storage.save(io.BytesIO(data), max_bytes=10 * MB)

    assert stored.key == stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert storage.exists(stored.key) and storage.size(stored.key) == len(data)
    with storage.open(stored.key) as stream:
        chunks = list(iter(lambda: stream.read(64 * 1024), b""))
    assert len(chunks) > 1 and b"".join(chunks) == data


def test_the_same_bytes_are_stored_once(storage):
    first = storage.save(io.BytesIO(b"minutes of the March meeting"), max_bytes=MB)
    second = storage.save(io.BytesIO(b"minutes of the March meeting"), max_bytes=MB)
    other = storage.save(io.BytesIO(b"minutes of the April meeting"), max_bytes=MB)

    assert first == second and other.key != first.key
    assert len(everything_stored(storage)) == 2


def test_a_file_of_exactly_the_limit_is_accepted(storage):
    stored = storage.save(Generated(2 * CHUNK), max_bytes=2 * CHUNK)
    assert storage.size(stored.key) == 2 * CHUNK


def test_too_large_is_refused_as_soon_as_it_passes_and_leaves_nothing(storage):
    upload = Generated(20 * MB)
    with pytest.raises(FileTooLarge) as refused:
        storage.save(upload, max_bytes=2 * MB)

    assert isinstance(refused.value, ActionError) and refused.value.code == "too_large"
    assert refused.value.message == "The file is larger than the limit of 2 MB."
    # Refused at the limit: the rest of a 20 MB upload was never read.
    assert upload.pos <= 2 * MB + CHUNK
    assert everything_stored(storage) == []


def test_a_stream_breaking_half_way_leaves_nothing(storage):
    with pytest.raises(OSError, match="connection reset"):
        storage.save(Generated(12 * MB, break_after=9 * MB), max_bytes=25 * MB)
    assert everything_stored(storage) == []


def test_delete(storage):
    kept = storage.save(io.BytesIO(b"kept"), max_bytes=MB)
    gone = storage.save(io.BytesIO(b"gone"), max_bytes=MB)

    storage.delete(gone.key)
    storage.delete(gone.key)  # already gone: no error (two removals racing)

    assert not storage.exists(gone.key) and storage.exists(kept.key)
    with pytest.raises(FileNotFoundError):
        storage.open(gone.key)
    with pytest.raises(FileNotFoundError):
        storage.size(gone.key)
    assert len(everything_stored(storage)) == 1


@pytest.mark.parametrize("key", ["../../../etc/passwd", "AB" * 32, "ab/cd", "", "a" * 63])
def test_only_sha256_keys_are_accepted(storage, key):
    for call in (storage.open, storage.exists, storage.size, storage.delete):
        with pytest.raises(ValueError):
            call(key)


def test_a_25_mb_upload_and_download_keep_memory_bounded(storage):
    size = 25 * MB
    upload = Generated(size)
    tracemalloc.start()
    try:
        stored = storage.save(upload, max_bytes=size)
        read = 0
        with storage.open(stored.key) as stream:
            while chunk := stream.read(CHUNK):
                read += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert stored.key == upload.expected_sha256() and read == size
    # The whole file in memory would be 25 MB; a stream holds a few chunks.
    assert peak < size / 4, f"peak {peak / MB:.1f} MB while storing and reading {size // MB} MB"


# --- local disk --------------------------------------------------------------

def test_local_files_are_fanned_out_and_private(tmp_path):
    storage = LocalStorage(tmp_path / "instance" / "files")
    stored = storage.save(io.BytesIO(b"a private note"), max_bytes=MB)

    path = storage.path(stored.key)
    assert path == storage.root / stored.key[:2] / stored.key[2:4] / stored.key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (storage.root, path.parent, path.parent.parent, storage.temp_dir):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert storage.accel_redirect(stored.key) == f"/_files/{stored.key[:2]}/{stored.key[2:4]}/{stored.key}"
    # No URL of its own to redirect to: the route streams it or hands it to nginx.
    assert storage.presigned_url(stored.key, 60, "note.txt") is None


def test_sweep_removes_only_old_temp_files(tmp_path):
    storage = LocalStorage(tmp_path / "files")
    kept = storage.save(io.BytesIO(b"stored"), max_bytes=MB)
    crashed = storage.temp_dir / "crashed-yesterday.part"
    in_progress = storage.temp_dir / "uploading-now.part"
    crashed.write_bytes(b"half an upload")
    in_progress.write_bytes(b"an upload in progress")
    yesterday = time.time() - 25 * 3600
    os.utime(crashed, (yesterday, yesterday))

    assert storage.sweep_temp(older_than=24 * 3600) == 1
    assert not crashed.exists() and in_progress.exists() and storage.exists(kept.key)
    assert LocalStorage(tmp_path / "never-used").sweep_temp() == 0


def test_local_keeps_the_first_copy_of_the_same_bytes(tmp_path):
    storage = LocalStorage(tmp_path / "files")
    first = storage.save(io.BytesIO(b"agenda"), max_bytes=MB)
    inode = storage.path(first.key).stat().st_ino
    storage.save(io.BytesIO(b"agenda"), max_bytes=MB)
    # Not replaced by the second upload's copy: a download reading it goes on.
    assert storage.path(first.key).stat().st_ino == inode
    assert os.listdir(storage.temp_dir) == []


# --- S3 ----------------------------------------------------------------------

def test_s3_sends_the_same_bytes_only_once(s3_storage):
    puts = []
    s3_storage.client.meta.events.register("before-call.s3.PutObject", lambda **kw: puts.append(kw))
    s3_storage.save(io.BytesIO(b"slides"), max_bytes=MB)
    s3_storage.save(io.BytesIO(b"slides"), max_bytes=MB)
    assert len(puts) == 1


def test_s3_upload_failing_half_way_leaves_nothing(s3_storage):
    parts = []

    def network_drops_on_the_second_part(**kwargs):
        parts.append(kwargs)
        if len(parts) == 2:
            raise ConnectionError("network unreachable")

    s3_storage.client.meta.events.register("before-call.s3.UploadPart", network_drops_on_the_second_part)
    with pytest.raises(ConnectionError):
        s3_storage.save(Generated(20 * MB), max_bytes=25 * MB)
    # The multipart upload was aborted (no parts kept), the spool removed.
    assert everything_stored(s3_storage) == []


def test_s3_objects_are_private(s3_storage):
    stored = s3_storage.save(io.BytesIO(b"for the circle only"), max_bytes=MB)
    name = s3_storage.object_name(stored.key)

    acl = s3_storage.client.get_object_acl(Bucket=s3_storage.bucket, Key=name)
    assert [grant["Permission"] for grant in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Grants"][0]["Grantee"]["Type"] == "CanonicalUser"  # the owner, nobody else
    head = s3_storage.client.head_object(Bucket=s3_storage.bucket, Key=name)
    assert head["ContentType"] == "application/octet-stream"
    # An unsigned request for the object, as anyone on the internet could make:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{s3_storage.client.meta.endpoint_url}/{s3_storage.bucket}/{name}")
    refused.value.close()
    assert refused.value.code == 403


def test_s3_presigned_url_downloads_as_an_attachment_with_the_name(s3_storage):
    stored = s3_storage.save(io.BytesIO(b"slide 1\nslide 2\n"), max_bytes=MB)

    url = s3_storage.presigned_url(stored.key, 60, 'Q3 "plan"\r\n.txt', content_type="text/plain")
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == b"slide 1\nslide 2\n"
        assert answer.headers["Content-Type"] == "text/plain"
        assert answer.headers["Content-Disposition"] == content_disposition('Q3 "plan"\r\n.txt')
        assert answer.headers["Cache-Control"] == "private, no-store"
    assert "X-Amz-Expires=60" in url


# --- settings ----------------------------------------------------------------

def test_storage_from_url(tmp_path, aws_env):
    local = storage_from_url(f"file://{tmp_path}/files")
    assert isinstance(local, LocalStorage) and local.root == tmp_path / "files"

    s3 = storage_from_url("s3://circle-files/prod/uploads?endpoint=http://127.0.0.1:9000&region=eu-west-2")
    assert (s3.bucket, s3.prefix) == ("circle-files", "prod/uploads")
    assert s3.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert s3.client.meta.region_name == "eu-west-2"
    assert s3.object_name("0" * 64) == "prod/uploads/" + "0" * 64

    for bad in ("files", "file://relative/dir", "ftp://host/x", "s3://key:secret@bucket/x",
                "s3://bucket/x?acl=public-read", "s3://bucket?addressing=sideways"):
        with pytest.raises(ValueError):
            storage_from_url(bad)


def test_the_app_stores_under_instance_by_default(make_app):
    app = make_app()  # the files tests' own app stores under tmp_path
    storage = storage_for(app)
    assert isinstance(storage, LocalStorage)
    assert storage.root == storage_from_url(f"file://{app.instance_path}/files").root
    assert storage_for(app) is storage  # made once per app


def test_the_setting_is_read_from_the_environment(tmp_path, monkeypatch, aws_env, make_app):
    from community.config import from_environment

    monkeypatch.delenv("FILE_STORAGE_URL", raising=False)
    assert from_environment(str(tmp_path))["FILE_STORAGE_URL"] is None  # storage_for's default
    monkeypatch.setenv("FILE_STORAGE_URL", "s3://circle-files/uploads?region=eu-west-2")
    assert from_environment(str(tmp_path))["FILE_STORAGE_URL"] == "s3://circle-files/uploads?region=eu-west-2"

    app = make_app(FILE_STORAGE_URL=f"file://{tmp_path}/elsewhere")
    assert storage_for(app).root == tmp_path / "elsewhere"
