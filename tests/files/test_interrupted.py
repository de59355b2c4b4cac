"""An upload cut off half-way, against the real server (gunicorn as deploy/ runs it):
the client sends half a multipart body and closes its socket. Nothing is left behind:
no row, no stored bytes, no temporary file on disk or still held open by the worker."""
import socket
import sqlite3
import time

import pytest

from tests.files.live import (
    make_files_world,
    member,
    multipart,
    open_deleted_files,
    start_server,
    stored,
    upload,
)

MB = 1024 * 1024


@pytest.fixture
def server(tmp_path):
    world = make_files_world(tmp_path)
    started = start_server(tmp_path, world)
    try:
        yield started, world
    finally:
        started.stop()


def rows(tmp_path) -> int:
    with sqlite3.connect(tmp_path / "files.sqlite3") as db:
        return db.execute("SELECT count(*) FROM attachments").fetchone()[0]


def send_half(port: int, path: str, cookie: str, token: str, size: int, cut_at: int, while_open) -> None:
    head, tail, content_type = multipart("half.pdf")
    length = len(head) + size + len(tail)
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
               f"X-CSRFToken: {token}\r\nContent-Type: {content_type}\r\n"
               f"Content-Length: {length}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request + head + b"%PDF-1.7\n")
        sent, block = 9, b"0" * (256 * 1024)
        while sent < cut_at:
            sock.sendall(block[:cut_at - sent])
            sent += min(len(block), cut_at - sent)
        time.sleep(0.5)  # the server is reading it
        while_open()
    # Closed here, half-way.


@pytest.mark.parametrize("size, cut_at", [(20 * MB, 10 * MB), (200 * 1024, 100 * 1024)])
def test_an_upload_cut_off_half_way_leaves_nothing(server, tmp_path, size, cut_at):
    gunicorn, world = server
    slug = world["slug"]
    alice = member(gunicorn.url, "alice@example.org", slug)
    cookie = "; ".join(f"{k}={v}" for k, v in alice.cookies.items())
    worker = gunicorn.worker()
    held_before = open_deleted_files(worker)

    spooled = []
    send_half(gunicorn.port, f"/c/{slug}/files", cookie, alice.headers["X-CSRFToken"], size, cut_at,
              lambda: spooled.extend(set(open_deleted_files(worker)) - set(held_before)))
    # Over 500 KB, werkzeug's form parser spools the file to an (unnamed) temporary file.
    assert len(spooled) == (1 if cut_at > 512 * 1024 else 0), spooled

    deadline = time.monotonic() + 10
    while open_deleted_files(worker) != held_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_deleted_files(worker) == held_before  # no spooled upload kept open
    assert rows(tmp_path) == 0
    assert stored(tmp_path) == []  # nothing stored, no .part in the storage's tmp/
    assert list((tmp_path / "tmp").iterdir()) == []  # TMPDIR: no spool file by name
    # The worker goes on: the next upload is whole.
    whole = upload(alice, gunicorn.url, slug, "whole.pdf", b"%PDF-1.7\n" + b"0" * MB)
    assert whole.status_code == 201 and rows(tmp_path) == 1
    assert gunicorn.worker() == worker  # the same worker, not a replacement
