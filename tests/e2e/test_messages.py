"""Direct messages in real Chromium: two people write to each other live in two
browser contexts, the header's badge moves as messages arrive and are read, a
spell offline loses and duplicates nothing, and someone else guessing the
conversation's URL gets a 404."""
import re

from playwright.sync_api import expect

from tests.e2e.test_journeys import circle_of


def dm_texts(person) -> list[str]:
    return person.page.locator("#chat-messages .chat-msg .chat-msg__body").all_inner_texts()


def write(person, text: str) -> None:
    person.page.fill("#chat-body", text)
    person.page.press("#chat-body", "Enter")


def open_conversation(person, path: str) -> None:
    person.go(path)
    person.page.wait_for_selector("#chat-status.chat__status--ok")


def badge(person):
    return person.page.locator("a.messages-link [data-bell-count]")


def test_two_people_message_live_and_no_one_else_can_look(people):
    amara, helen, olu = people("Amara Okafor", "Helen Marsh", "Olu Adebayo")
    helen.page.set_viewport_size({"width": 390, "height": 844})  # Helen is on her phone
    slug = circle_of(amara, helen)
    olu.register()

    # Amara starts a conversation with Helen from the Messages page.
    amara.go("/messages")
    amara.page.click("text=New message")
    amara.page.check("label:has-text('Helen Marsh')")
    amara.page.click("button:has-text('Start the conversation')")
    amara.page.wait_for_url(re.compile(r".*/messages/\d+$"))
    path = amara.page.url.removeprefix(amara.base)
    amara.page.wait_for_selector("#chat-status.chat__status--ok")
    expect(amara.page.locator("#chat-empty")).to_be_visible()

    # Helen is elsewhere in the app: her badge counts Amara's message as it arrives.
    helen.go(f"/c/{slug}/")
    expect(badge(helen)).to_have_count(0)
    helen.page.wait_for_load_state("networkidle")
    write(amara, "Can I call you about the funding cliff?")
    expect(badge(helen)).to_have_text("1", timeout=10000)

    # She opens it: the message is there, and reading it clears the badge live.
    open_conversation(helen, path)
    expect(helen.page.locator(".chat-msg__body", has_text="funding cliff")).to_be_visible()
    expect(badge(helen)).to_be_hidden(timeout=10000)

    # Typing and replies, live both ways.
    helen.page.type("#chat-body", "Of course")
    expect(amara.page.locator("#chat-typing")).to_contain_text("Helen Marsh is typing")
    helen.page.press("#chat-body", "Enter")
    expect(amara.page.locator(".chat-msg__body", has_text="Of course")).to_be_visible(timeout=5000)

    # Helen's phone loses its signal while both write; nothing is lost or doubled.
    helen.context.set_offline(True)
    write(amara, "Sent while you were offline")
    expect(amara.page.locator(".chat-msg--mine:not(.chat-msg--pending)",
                              has_text="Sent while you were offline")).to_be_visible()
    write(helen, "Written while offline")
    helen.context.set_offline(False)
    expect(helen.page.locator(".chat-msg__body", has_text="Sent while you were offline")).to_be_visible(
        timeout=15000)
    expect(amara.page.locator(".chat-msg__body", has_text="Written while offline")).to_be_visible(
        timeout=15000)
    for person in (amara, helen):
        texts = dm_texts(person)
        assert texts.count("Written while offline") == 1, texts
        assert texts.count("Sent while you were offline") == 1, texts
    # The conversation fits her phone's width.
    assert helen.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Amara's messages carry a Report link to their report page, Helen's own don't.
    report = helen.page.locator(".chat-msg", has_text="funding cliff").locator("a", has_text="Report")
    expect(report).to_have_attribute("href", re.compile(re.escape(path) + r"/\d+/report$"))
    expect(helen.page.locator(".chat-msg--mine a", has_text="Report")).to_have_count(0)

    # Amara blocks Helen: Helen's open page stops taking messages at once, and says why.
    amara.page.locator(".chat__aside li", has_text="Helen Marsh").locator("button", has_text="Block").click()
    amara.page.wait_for_load_state()
    expect(helen.page.locator("#chat-status")).to_have_text("You can't message this person.",
                                                            timeout=10000)
    expect(helen.page.locator("#chat-body")).to_have_attribute("readonly", "")
    expect(helen.page.locator("#chat-composer button[type=submit]")).to_be_disabled()

    # Olu shares no circle with them: guessing the URL gets the same 404 as a made-up one.
    assert olu.go(path).status == 404
    assert olu.go("/messages/987654").status == 404
    assert "funding cliff" not in olu.page.content()
