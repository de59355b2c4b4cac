"""Notifications in real browsers: the settings' presets with the grid behind
"Customise", and the bell dropping once the notifications page has been opened."""
import re

from playwright.sync_api import expect

from tests.e2e.test_journeys import circle_of

ASKS = "Someone asks to join a circle you moderate"


def test_settings_presets_customise_and_the_digest(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    circle_of(amara, helen)
    page = helen.page
    helen.go("/settings/notifications")
    expect(page.get_by_label("Important by email, the rest in a digest")).to_be_checked()
    grid = page.locator("details.customise table")
    expect(grid).to_be_hidden()
    expect(page.locator(f"text={ASKS}")).to_have_count(0)  # not a moderator anywhere

    page.get_by_label("Only in the app").check()
    page.click("button:has-text('Save')")
    expect(page.locator(".flash, [role=status], .alert").first).to_contain_text("saved")
    expect(page.get_by_label("Only in the app")).to_be_checked()

    page.locator("summary", has_text="Customise").click()
    expect(grid).to_be_visible()
    expect(page.get_by_label("Your own choice for each kind")).to_be_checked()
    expect(page.locator("#reply-in_app")).to_be_checked()
    page.locator("#mention-email").check()
    page.select_option("#digest_frequency", "weekly")
    page.select_option("#digest_hour", "18")
    page.click("button:has-text('Save')")
    expect(page.get_by_label("Your own choice for each kind")).to_be_checked()
    expect(grid).to_be_visible()  # a custom choice opens with its grid
    expect(page.locator("#mention-email")).to_be_checked()
    expect(page.locator("#reply-in_app")).to_be_checked()
    expect(page.locator("#digest_frequency")).to_have_value("weekly")
    expect(page.locator("#digest_hour")).to_have_value("18")

    # Picking a preset again after peeking at the grid takes the preset.
    page.get_by_label("Everything by email").check()
    page.click("button:has-text('Save')")
    expect(page.get_by_label("Everything by email")).to_be_checked()
    expect(grid).to_be_hidden()

    amara.go("/settings/notifications")  # the circle's owner: the moderators' rows too
    amara.page.locator("summary", has_text="Customise").click()
    expect(amara.page.locator(f"text={ASKS}")).to_be_visible()


def bell(person):
    return person.page.locator("a.bell")


def test_a_mention_in_a_reply_is_one_item_and_the_bell_drops_once_it_is_seen(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    slug = circle_of(amara, helen)
    helen.go("/settings/profile")
    handle = helen.page.locator("text=Others mention you as").locator("strong").inner_text()

    amara.go(f"/c/{slug}/threads/new")
    amara.page.fill("#title", "Funding cliff")
    amara.page.fill("#body", "The grant ends in March.")
    amara.page.click("button:has-text('Post thread')")
    amara.page.wait_for_url(re.compile(r"/t/\d+"))
    thread = amara.page.url.split("?")[0].split("#")[0]

    helen.go("/")
    expect(bell(helen)).to_have_attribute("data-unread", "1")  # the new thread
    helen.go("/notifications")
    expect(bell(helen)).to_have_attribute("data-unread", "0")
    helen.page.goto(thread)
    helen.page.locator("#reply textarea").fill("Ours too; following this.")
    helen.page.click("button:has-text('Post reply')")
    expect(helen.page.locator(".post")).to_have_count(2)

    helen.go("/")
    amara.page.goto(thread)
    amara.page.locator("#reply textarea").fill(f"{handle} how are you planning for it?")
    amara.page.click("button:has-text('Post reply')")
    expect(amara.page.locator(".post")).to_have_count(3)
    expect(bell(helen)).to_have_attribute("data-unread", "1")  # live, without a reload
    helen.page.reload()
    expect(bell(helen).locator("[data-bell-count]")).to_have_text("1")

    helen.go("/notifications")
    items = helen.page.locator(".notification")
    expect(items).to_have_count(2)  # the new thread (seen earlier, not opened), and ONE for the reply
    expect(items.nth(1)).to_contain_text("Amara Okafor started “Funding cliff”")
    unread = items.first
    expect(unread).to_contain_text("Amara Okafor replied in “Funding cliff” and mentioned you")
    expect(helen.page.locator(".notification", has_text="replied")).to_have_count(1)
    expect(bell(helen)).to_have_attribute("data-unread", "0")
    expect(bell(helen).locator("[data-bell-count]")).to_be_hidden()
    helen.go("/")
    expect(bell(helen)).to_have_attribute("data-unread", "0")  # stored, not only on the page
    expect(bell(helen).locator("[data-bell-count]")).to_have_count(0)

    helen.go("/notifications")
    link = unread.get_by_role("link", name=re.compile("mentioned you"))
    expect(link).to_have_attribute("target", "_blank")
    with helen.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    assert re.search(r"/t/\d+\?page=1#post-3$", tab.url)
    expect(tab.locator("#post-3")).to_contain_text("how are you planning for it?")
    mention = helen.page.locator(".notification", has_text="mentioned you")
    expect(mention).not_to_have_class(re.compile("notification--unread"))
    helen.page.wait_for_timeout(300)  # the read mark is posted as the tab opens
    helen.page.reload()
    expect(mention).not_to_have_class(re.compile("notification--unread"))
    expect(items.nth(1)).to_have_class(re.compile("notification--unread"))  # not opened
    tab.close()
