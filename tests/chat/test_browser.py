"""static/js/chat.js in a real browser: Debian's Chromium driven by Playwright,
against `python app.py` (gevent) on a SQLite database the test builds.

Two people chat; typing, presence, edit, delete and removal show live; the
page runs within the CSP without errors, fits a 390 px phone, and says what to
do without JavaScript. Skipped when Chromium is not installed.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from community import create_app
from community.extensions import db
from tests.chat.live_servers import Member, require_chromium, sign_in
from tests.conftest import app_config
from tests.factories import add_member, make_circle, make_user
from tests.test_server import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_chromium()  # before the server starts
    home = tmp_path_factory.mktemp("chat-live")
    url = f"sqlite:///{home}/chat.sqlite3"
    app = create_app(app_config(url))
    with app.app_context():
        db.create_all()
        owner = make_user("Rachel Stone", email="rachel@example.org")
        circle = make_circle(owner, name="Berkshire Leaders")
        add_member(circle, make_user("Helen Marsh", email="helen@example.org"))
        tom = add_member(circle, make_user("Tom Whitaker", email="tom@example.org"))
        slug, tom_id = circle.slug, tom.id
        db.session.remove()
        db.engine.dispose()
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "ACCESS_LOG": "0",
           "DATABASE_URL": url, "SECRET_KEY": "chat-browser-" + "k" * 30, "RATELIMIT_ENABLED": "false",
           "MAIL_WORKER_INTERVAL": "3600", "LOG_LEVEL": "WARNING"}
    for key in ("SOCKETIO_ASYNC_MODE", "SOCKETIO_MESSAGE_QUEUE"):
        env.pop(key, None)
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/healthz").close()
        yield base, slug, tom_id
    finally:
        server.terminate()
        server.wait(10)
        log.close()
        output = (home / "server.log").read_text(errors="replace")
        assert "Invalid HTTP method" not in output and "Expected GET" not in output, output[-3000:]


@pytest.fixture(scope="module")
def browser(live, chromium_browser):
    return chromium_browser


def test_two_people_chat_live_in_the_browser(browser, live):
    from playwright.sync_api import expect

    base, slug, tom_id = live
    helen = Member(browser, base, "helen@example.org")
    tom = Member(browser, base, "tom@example.org", viewport={"width": 390, "height": 844})
    helen.open_chat(base, slug)
    tom.open_chat(base, slug)
    # Nothing older to load, nothing below to jump to: those buttons stay hidden.
    assert not helen.page.is_visible("#chat-older") and not helen.page.is_visible("#chat-jump")
    assert helen.page.is_visible("#chat-empty")
    # Who is online, across both.
    expect(helen.page.locator("#chat-online")).to_contain_text("Tom Whitaker")
    assert "Helen Marsh" in tom.page.inner_text("#chat-online")

    # Helen types: Tom sees it; Helen sends with Enter: Tom gets the message, rendered.
    helen.page.fill("#chat-body", "")
    helen.page.type("#chat-body", "Morning **all**")
    expect(tom.page.locator("#chat-typing")).to_contain_text("Helen Marsh is typing")
    helen.page.press("#chat-body", "Enter")
    tom.page.wait_for_selector("#chat-messages .chat-msg strong:text('all')")
    last = tom.page.locator("#chat-messages .chat-msg").last
    assert last.locator(".chat-msg__author").inner_text() == "Helen Marsh"
    # Written as every time on the site is (static/js/timefmt.js), on Tom's 24-hour clock.
    assert last.locator("time").inner_text() == "just now"
    assert re.fullmatch(r"\w+day \d{1,2} \w+ \d{4}, \d\d:\d\d", last.locator("time").get_attribute("title"))
    assert helen.page.input_value("#chat-body") == ""
    helen.page.wait_for_selector("#chat-messages .chat-msg--mine:not(.chat-msg--pending)")

    # Markup someone types is shown as text, never run.
    tom.page.fill("#chat-body", "<img src=x onerror=alert(1)> & <b>hi</b>")
    tom.page.press("#chat-body", "Enter")
    expect(helen.page.locator(".chat-msg__body").last).to_contain_text("<b>hi</b>")
    assert helen.page.locator(".chat-msg__body img").count() == 0

    # Helen edits her message: Tom sees the new text, marked edited.
    mine = helen.page.locator("#chat-messages .chat-msg--mine").first
    mine.hover()
    mine.get_by_role("button", name="Edit").click()
    helen.page.fill(".chat-msg__edit textarea", "Morning *everyone*")
    helen.page.click(".chat-msg__edit button[type=submit]")
    tom.page.wait_for_selector("#chat-messages em:text('everyone')")
    assert "(edited)" in tom.page.locator("#chat-messages .chat-msg").first.inner_text()

    # ...and deletes it: gone for Tom.
    mine.hover()
    mine.get_by_role("button", name="Delete").click()
    expect(tom.page.locator(".chat-msg__body", has_text="everyone")).to_have_count(0)

    # At 390 px the page doesn't scroll sideways.
    assert tom.page.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    tom.page.screenshot(path=str(ARTIFACTS / "chat-390.png"), full_page=True)
    helen.page.screenshot(path=str(ARTIFACTS / "chat-desktop.png"), full_page=True)

    # The owner removes Tom: his open page closes the chat at once.
    owner = sign_in(base, "rachel@example.org")
    page = owner.get(f"{base}/c/{slug}/members", timeout=5).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = owner.post(f"{base}/c/{slug}/manage/members/{tom_id}/remove",
                          data={"csrf_token": token}, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    expect(tom.page.locator("#chat-status")).to_contain_text("no longer a member")
    assert tom.messages() == []
    assert not tom.page.is_editable("#chat-body")

    assert helen.problems == [] and tom.problems == []
    helen.context.close()
    tom.context.close()


def test_without_javascript_the_page_points_to_the_threads(browser, live):
    base, slug, _ = live
    member = Member(browser, base, "helen@example.org", java_script_enabled=False)
    member.page.goto(f"{base}/c/{slug}/chat")
    text = member.page.inner_text("main")
    assert "Live chat needs JavaScript" in text
    assert member.page.locator(f"noscript a[href='/c/{slug}/threads'], a[href='/c/{slug}/threads']").count()
    assert not member.page.is_visible("#chat")
    member.context.close()
