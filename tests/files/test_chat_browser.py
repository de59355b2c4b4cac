"""Files on chat messages in a real browser (static/js/chat.js): Debian's Chromium
driven by Playwright against `python app.py`. Helen sends a photo and a document
with a hostile name from the composer; Tom's page shows the thumbnail and the
name as text, and he can open both. Skipped when Chromium is not installed."""
import base64
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from community import create_app
from community.extensions import db
from tests.chat.live_servers import Member, require_chromium
from tests.conftest import app_config
from tests.factories import add_member, make_circle, make_user
from tests.files.builders import docx_bytes, image_bytes
from tests.test_server import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
# Uploads never keep such a name (safety.safe_filename); the test writes it into
# the row to show the page would show even that as text.
HOSTILE = '<img src=x onerror="document.title=1">.docx'


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_chromium()
    home = tmp_path_factory.mktemp("chat-files-live")
    url = f"sqlite:///{home}/chat.sqlite3"
    app = create_app(app_config(url))
    with app.app_context():
        db.create_all()
        owner = make_user("Rachel Stone", email="rachel@example.org")
        circle = make_circle(owner, name="Berkshire Leaders")
        add_member(circle, make_user("Helen Marsh", email="helen@example.org"))
        add_member(circle, make_user("Tom Whitaker", email="tom@example.org"))
        slug = circle.slug
        db.session.remove()
        db.engine.dispose()
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "ACCESS_LOG": "0",
           "DATABASE_URL": url, "SECRET_KEY": "chat-files-" + "k" * 30, "RATELIMIT_ENABLED": "false",
           "MAIL_WORKER_INTERVAL": "3600", "LOG_LEVEL": "WARNING",
           "FILE_STORAGE_URL": f"file://{home}/files"}
    for key in ("SOCKETIO_ASYNC_MODE", "SOCKETIO_MESSAGE_QUEUE"):
        env.pop(key, None)
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/healthz").close()
        yield base, slug, home / "chat.sqlite3"
    finally:
        server.terminate()
        server.wait(10)
        log.close()


UPLOAD = """async ([slug, name, data]) => {
  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
  const body = new FormData();
  body.append("file", new File([bytes], name));
  const token = document.querySelector('input[name="csrf_token"]').value;
  const answer = await fetch(`/c/${slug}/files`, {method: "POST", body, headers: {"X-CSRFToken": token}});
  const file = await answer.json();
  // What the picker leaves in the form for each finished upload.
  const input = document.createElement("input");
  input.type = "hidden"; input.name = "attachments"; input.value = file.id;
  document.getElementById("chat-composer").appendChild(input);
  return file;
}"""


def test_files_sent_from_the_composer_show_for_another_member(chromium_browser, live):
    from playwright.sync_api import expect

    base, slug, database = live
    helen = Member(chromium_browser, base, "helen@example.org")
    tom = Member(chromium_browser, base, "tom@example.org", viewport={"width": 375, "height": 812})
    helen.open_chat(base, slug)
    tom.open_chat(base, slug)
    resets = "window.resets = 0; document.getElementById('chat-composer')" \
             ".addEventListener('reset', () => { window.resets += 1; })"
    helen.page.evaluate(resets)
    photo = helen.page.evaluate(UPLOAD, [slug, "whiteboard.png",
                                         base64.b64encode(image_bytes("PNG", size=(300, 200))).decode()])
    doc = helen.page.evaluate(UPLOAD, [slug, "notes.docx", base64.b64encode(docx_bytes()).decode()])
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE attachments SET name = ? WHERE public_id = ?", (HOSTILE, doc["id"]))
    connection.close()

    # While an upload runs (the picker disables Send), Enter sends nothing.
    send_button = "document.querySelector('#chat-composer button[type=submit]').disabled = "
    helen.page.evaluate(send_button + "true")
    helen.page.fill("#chat-body", "Too soon")
    helen.page.press("#chat-body", "Enter")
    expect(helen.page.locator("#chat-status")).to_contain_text("finish uploading")
    assert helen.page.input_value("#chat-body") == "Too soon"
    assert helen.page.locator("#chat-messages .chat-msg").count() == 0
    helen.page.evaluate(send_button + "false")

    # No text: the files alone make the message.
    helen.page.fill("#chat-body", "")
    helen.page.press("#chat-body", "Enter")

    tom.page.wait_for_selector("#chat-messages .chat-msg .chat-msg__files")
    files = tom.page.locator("#chat-messages .chat-msg").last.locator(".chat-file")
    expect(files).to_have_count(2)
    thumbnail = files.nth(0).locator("a img")
    assert thumbnail.get_attribute("src") == photo["thumbnail_url"]
    assert thumbnail.get_attribute("alt") == "whiteboard.png"
    assert files.nth(0).locator("a").get_attribute("href") == photo["url"]
    tom.page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    link = files.nth(1).locator("a")
    assert link.inner_text() == HOSTILE  # shown as text, never run
    assert link.get_attribute("href").startswith(f"/c/{slug}/files/{doc['id']}/")
    assert files.nth(1).locator(".chat-file__size").inner_text().strip() == f"{doc['size']} bytes"
    assert files.nth(0).locator(".chat-file__size").count() == 0
    assert tom.page.locator(".chat-file img").count() == 1
    assert tom.page.title() != "1"
    assert tom.page.request.get(base + link.get_attribute("href")).status == 200

    # Helen's own page: the message is stored (not pending) and the composer was reset.
    helen.page.wait_for_selector("#chat-messages .chat-msg--mine:not(.chat-msg--pending) .chat-file img")
    assert helen.page.evaluate("window.resets") == 1
    assert tom.page.evaluate("document.documentElement.scrollWidth") <= 375
    assert helen.problems == [] and tom.problems == []
    helen.context.close()
    tom.context.close()
