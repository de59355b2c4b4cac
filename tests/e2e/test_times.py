"""Times in two browsers: each person reads the chat and a thread in the zone and
on the clock of their own profile, written the same way in both places; the
browser's own zone and locale decide nothing."""
import sqlite3
from datetime import datetime

from playwright.sync_api import expect

from community import timefmt
from tests.e2e import conftest as e2e
from tests.e2e.test_journeys import circle_of, open_chat, say

# 14:05 in London, 9:05 in New York; stored as the app stores it (naive UTC).
PAST = "2026-06-01 13:05:00.000000"


def shown_times(person, selector: str) -> list[tuple[str, str, str]]:
    """(datetime, title, text) of each <time> the selector finds."""
    return person.page.eval_on_selector_all(
        selector, "els => els.map(e => [e.getAttribute('datetime'), e.title, e.textContent])")


def test_chat_and_a_thread_show_each_person_their_own_times(people):
    # Helen's browser is American: she signs up on a 12-hour clock in New York.
    helen = people("Helen Marsh", timezone_id="America/New_York", locale="en-US")
    # Tom's browser is in Tokyo, in British English; he reads London time.
    tom = people("Tom Whitaker", timezone_id="Asia/Tokyo", locale="en-GB")
    slug = circle_of(helen, tom)
    tom.go("/settings/profile")
    tom.page.select_option("#timezone", "Europe/London")
    tom.page.click("button:has-text('Save profile')")
    expect(tom.page.locator("#clock")).to_have_value("24")
    helen.go("/settings/profile")
    expect(helen.page.locator("#clock")).to_have_value("12")  # from her browser's language
    expect(helen.page.locator("#timezone")).to_have_value("America/New_York")
    views = {helen: ("America/New_York", "12"), tom: ("Europe/London", "24")}

    helen.go(f"/c/{slug}/threads/new")
    helen.page.fill("#title", "Winter pressures")
    helen.page.fill("#body", "Opening thoughts")
    helen.page.click("button:has-text('Post thread')")
    thread_url = helen.page.url.split("?")[0].split("#")[0].removeprefix(helen.base)
    for person in views:
        open_chat(person, slug)
    say(tom, "Morning, all")
    expect(helen.page.locator(".chat-msg__body", has_text="Morning, all")).to_be_visible()

    # Just written: "just now" for both, the full date in each one's zone and clock.
    for person, (zone, clock) in views.items():
        [(moment, title, text)] = shown_times(person, ".chat-msg time")
        assert text == "just now"
        assert title == timefmt.full(datetime.fromisoformat(moment), zone, clock)

    # Written long ago: a date with the time, each on their own clock.
    with sqlite3.connect(e2e.LIVE_DATABASE_URL.removeprefix("sqlite:///")) as conn:
        [(circle_id,)] = conn.execute("SELECT id FROM circles WHERE slug = ?", (slug,)).fetchall()
        conn.execute("UPDATE posts SET created_at = ? WHERE thread_id IN "
                     "(SELECT id FROM threads WHERE circle_id = ?)", (PAST, circle_id))
        conn.execute("UPDATE chat_messages SET created_at = ? WHERE circle_id = ?", (PAST, circle_id))
    expected = {helen: ("1 Jun 2026, 9:05 am", "Monday 1 June 2026, 9:05 am"),
                tom: ("1 Jun 2026, 14:05", "Monday 1 June 2026, 14:05")}
    for person, (text, title) in expected.items():
        open_chat(person, slug)
        expect(person.page.locator(".chat-msg time")).to_have_text(text)
        expect(person.page.locator(".chat-msg time")).to_have_attribute("title", title)
        expect(person.page.locator(".chat-msg time")).to_have_attribute("datetime",
                                                                          "2026-06-01T13:05:00.000+00:00")
        person.go(thread_url + "?page=1")
        expect(person.page.locator(".post time")).to_have_text(text)
        expect(person.page.locator(".post time")).to_have_attribute("title", title)
        expect(person.page.locator(".post time")).to_have_attribute("datetime",
                                                                     "2026-06-01T13:05:00+00:00")
