"""@mentions through the real composers, in two browsers (issue 20, items 3 and 4):
the chat box suggests names and a mention there reaches the person's bell; the
thread composer finds people by any part of their name, picks with Tab, closes
with Escape; a mention of no one is flagged before posting and stays plain text."""
import re

from playwright.sync_api import expect

from tests.e2e.test_journeys import join_by_invite, open_chat, start_circle


def test_mentions_in_chat_and_threads(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    amara.register(display_name="Dr Amara Okafor")
    slug = start_circle(amara, "Mentioning Leaders")
    join_by_invite(amara, helen, slug)

    # Chat: "@Hel" suggests Helen Marsh; Enter picks her (and doesn't send); Enter sends.
    open_chat(amara, slug)
    page = amara.page
    box = page.locator("#chat-body")
    box.click()
    box.press_sequentially("Thanks @Hel", delay=30)
    listbox = page.get_by_role("listbox", name="People to mention")
    option = listbox.get_by_role("option", name=re.compile("Helen Marsh"))
    expect(option).to_be_visible()
    expect(option).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", option.get_attribute("id"))
    box.press("Enter")
    expect(listbox).to_be_hidden()
    expect(box).to_have_value(re.compile(r"^Thanks @helen_marsh\d* $"))
    handle = box.input_value().split("@")[1].strip()
    expect(page.locator("#chat-messages .chat-msg")).to_have_count(0)  # picking didn't send
    box.press_sequentially("for the rota", delay=10)
    box.press("Enter")
    sent = page.locator(".chat-msg:not(.chat-msg--pending) .chat-msg__body", has_text="for the rota")
    expect(sent.locator("a.mention")).to_have_text(f"@{handle}")

    # Helen's bell counts it, and her notifications say who mentioned her where.
    helen.go(f"/c/{slug}/")
    expect(helen.page.locator(".bell [data-bell-count]")).to_have_text("1")
    helen.go("/notifications")
    note = helen.page.locator(".notification", has_text="mentioned you in chat")
    expect(note).to_contain_text("Dr Amara Okafor mentioned you in chat in Mentioning Leaders")
    with helen.context.expect_page() as opened:  # a real link, opening in a new tab
        note.get_by_role("link").first.click()
    chat_tab = opened.value
    chat_tab.wait_for_url(re.compile(f"/c/{slug}/chat#message-\\d+$"))
    expect(chat_tab.locator(".chat-msg__body", has_text="for the rota")).to_be_visible()
    chat_tab.close()

    # Threads: "@Amara" finds "Dr Amara Okafor" (not the start of her name); Tab picks.
    helen.go(f"/c/{slug}/threads/new")
    hp = helen.page
    hp.fill("#title", "Rota")
    body = hp.locator("textarea[data-mentions]")
    body.click()
    body.press_sequentially("Over to @Amara", delay=30)
    amara_option = hp.get_by_role("option", name=re.compile("Dr Amara Okafor"))
    expect(amara_option).to_be_visible()
    body.press("Tab")
    expect(body).to_have_value(re.compile(r"^Over to @dr_amara_okafor\d* $"))
    expect(body).to_be_focused()
    # Escape closes the list and leaves the text as typed (no one is flagged while suggested).
    body.press_sequentially("and @Hel", delay=30)
    expect(hp.get_by_role("option", name=re.compile("Helen Marsh"))).to_be_visible()
    warning = hp.locator(".mention-warning")
    expect(warning).to_be_hidden()
    body.press("Escape")
    expect(hp.get_by_role("listbox", name="People to mention")).to_be_hidden()
    expect(body).to_have_value(re.compile(r"and @Hel$"))
    expect(body).to_be_focused()
    # A mention of no one is flagged before posting, and posts as plain text.
    expect(warning).to_contain_text("@hel doesn't match anyone in this circle")
    for _ in "@Hel":
        body.press("Backspace")
    body.press_sequentially("and @nobody too.", delay=10)
    expect(warning).to_have_text("@nobody doesn't match anyone in this circle: "
                                 "it will show as plain text, and no one will be told.")
    hp.click("button:has-text('Post thread')")
    hp.wait_for_url(re.compile(r"/t/\d+"))
    prose = hp.locator(".post").first
    expect(prose).to_contain_text("@nobody too.")
    expect(prose.locator("a.mention")).to_have_text([re.compile(r"^@dr_amara_okafor\d*$")])
    expect(prose.locator("a.mention", has_text="@nobody")).to_have_count(0)

    # The same warning in chat, cleared once the box is sent and emptied.
    open_chat(helen, slug)
    chat = hp.locator("#chat-body")
    chat.click()
    chat.press_sequentially("ask @nobody", delay=10)
    chat_warning = hp.locator(".chat__composer .mention-warning")
    expect(chat_warning).to_contain_text("@nobody doesn't match anyone in this circle")
    chat.press("Enter")
    posted = hp.locator(".chat-msg:not(.chat-msg--pending) .chat-msg__body", has_text="ask @nobody")
    expect(posted).to_be_visible()
    expect(hp.locator(".chat-msg__body a.mention", has_text="@nobody")).to_have_count(0)
    expect(chat_warning).to_be_hidden()
