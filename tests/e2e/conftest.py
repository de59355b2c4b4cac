"""Browser tests: the real app in its own server process, driven by Playwright
in Debian's Chromium. Under CI=true they must run; elsewhere they skip when
Chromium is missing."""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
LIVE_DATABASE_URL = ""  # set by live_server, for tests that load data through the CLI
PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _require_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium); browser tests skipped")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """`python app.py` on a free loopback port, on a fresh migrated SQLite database."""
    _require_chromium()
    home = tmp_path_factory.mktemp("live")
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "ACCESS_LOG": "0",
           "DATABASE_URL": f"sqlite:///{home}/live.sqlite3", "SECRET_KEY": "e2e-" + "k" * 40,
           "RATELIMIT_ENABLED": "false", "SITE_URL": f"http://127.0.0.1:{port}",
           "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "MAIL_WORKER_INTERVAL": "1",
           "FILE_STORAGE_URL": f"file://{home}/files"}  # never the project's instance/
    for key in ("SOCKETIO_ASYNC_MODE", "SOCKETIO_MESSAGE_QUEUE", "MAIL_SERVER"):
        env.pop(key, None)
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    global LIVE_DATABASE_URL
    LIVE_DATABASE_URL = env["DATABASE_URL"]
    log = open(home / "server.log", "w")
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base + "/healthz")
        yield base
    finally:
        server.terminate()
        server.wait(10)
        log.close()
        output = (home / "server.log").read_text()
        assert "Traceback" not in output, output[-3000:]


@pytest.fixture(scope="session")
def browser(chromium_browser):
    _require_chromium()
    return chromium_browser


class Person:
    """One user in their own browser context (own cookies), with helpers."""

    def __init__(self, browser, base: str, name: str, width: int = 1280, height: int = 900,
                 timezone_id: str = "Europe/London", locale: str = "en-GB"):
        self.base, self.name = base, name
        self.email = name.lower().replace(" ", ".") + f".{time.monotonic_ns()}@example.org"
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           timezone_id=timezone_id, locale=locale)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        # Our own "are you sure?" confirms are accepted; anything else is recorded.
        dialog.accept() if dialog.type == "confirm" else dialog.dismiss()

    def go(self, path: str):
        return self.page.goto(self.base + path)

    def register(self, path: str = "/auth/register", **profile):
        page = self.page
        self.go(path)
        page.fill("#email", self.email)
        page.fill("#password", PASSWORD)
        page.fill("#display_name", profile.get("display_name", self.name))
        page.fill("#organisation", profile.get("organisation", "Kennet Valley GP Practice"))
        page.fill("#job_title", profile.get("job_title", "Practice Manager"))
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return self

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self):
        self.context.close()


@pytest.fixture
def people(browser, live_server):
    """people("Helen Marsh", ...) -> Persons, each in a separate browser context."""
    made: list[Person] = []

    def make(*names, **kwargs):
        new = [Person(browser, live_server, name, **kwargs) for name in names]
        made.extend(new)
        return new if len(new) > 1 else new[0]

    yield make
    for person in made:
        assert person.errors == [], f"{person.name}: JavaScript errors {person.errors}"
        person.close()


@pytest.fixture(scope="session")
def artifacts():
    shutil.rmtree(ARTIFACTS / "pages", ignore_errors=True)
    (ARTIFACTS / "pages").mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
