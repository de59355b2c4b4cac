"""The journeys people take, each in real browsers, two or three users at once."""
import re

from playwright.sync_api import expect


def start_circle(owner, name: str = "Berkshire Leaders") -> str:
    """The owner creates a circle and returns its slug."""
    page = owner.page
    owner.go("/circles/new")
    page.fill("#name", name)
    page.fill("#cohort", "Berkshire 2025")
    page.fill("#description", "Our cohort, talking frankly.")
    page.click("button:has-text('Create circle')")
    page.wait_for_url(re.compile(r"/c/[\w-]+/$"))
    return page.url.rstrip("/").rsplit("/", 1)[1]


def make_invite_link(owner, slug: str) -> str:
    owner.go(f"/c/{slug}/manage/invitations")
    owner.page.click("button:has-text('Make link')")
    return owner.page.input_value("#new-link")


def test_1_sign_up_create_a_circle_and_invite_someone(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    amara.register(display_name="Dr Amara Okafor", organisation="Berkshire Healthcare NHS FT")
    expect(amara.page.locator("h1")).to_contain_text("Welcome, Dr Amara Okafor")
    slug = start_circle(amara)
    link = make_invite_link(amara, slug)
    assert "/invite/" in link
    helen.page.goto(link)
    expect(helen.page.locator("h1")).to_have_text("Berkshire Leaders")
    helen.page.click("text=Create an account")
    helen.register(path=helen.page.url.replace(helen.base, ""))
    helen.page.click("button:has-text('Join Berkshire Leaders')")
    helen.page.wait_for_url(f"**/c/{slug}/")
    expect(helen.page.locator(".circle-header__name")).to_have_text("Berkshire Leaders")
    expect(helen.page.locator("text=Helen Marsh").first).to_be_visible()


def test_2_a_thread_with_markdown_unread_quote_and_reaction(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    amara.register()
    slug = start_circle(amara, "Thames Valley Leaders")
    helen.page.goto(make_invite_link(amara, slug))
    helen.page.click("text=Create an account")
    helen.register(path=helen.page.url.replace(helen.base, ""))
    helen.page.click("button:has-text('Join')")

    amara.go(f"/c/{slug}/threads/new")
    amara.page.fill("#title", "Getting out of the NHS silo")
    amara.page.fill("#body", "Who owns the relationship **before** referral?\n\n- schools\n- charities")
    amara.page.click("button:has-text('Post thread')")
    expect(amara.page.locator(".prose strong")).to_have_text("before")

    helen.go(f"/c/{slug}/threads")
    row = helen.page.locator(".thread-row", has_text="Getting out of the NHS silo")
    expect(row.locator(".badge")).to_contain_text("1")
    row.locator("a.thread-row__title").click()
    expect(helen.page.locator(".prose li")).to_have_count(2)
    helen.page.locator(".post").first.locator("[data-quote]").click()
    expect(helen.page.locator("#reply textarea")).to_have_value(re.compile(r"^> .* wrote:"))
    helen.page.locator("#reply textarea").press("End")
    helen.page.locator("#reply textarea").type("In primary care it's the practice manager.")
    helen.page.click("button:has-text('Post reply')")
    expect(helen.page.locator(".post")).to_have_count(2)
    expect(helen.page.locator(".post").nth(1).locator("blockquote")).to_be_visible()
    helen.page.locator(".post").first.locator("button[title^='Heart']").click()
    expect(helen.page.locator(".post").first.locator(".reaction--mine")).to_have_count(1)

    amara.go(f"/c/{slug}/threads")
    row = amara.page.locator(".thread-row", has_text="Getting out of the NHS silo")
    expect(row.locator(".badge")).to_contain_text("1")
    row.locator("a.thread-row__title").click()
    expect(amara.page.locator(".post--unread")).to_have_count(1)
    expect(amara.page.locator(".post").first.locator("button[title='Heart: Helen Marsh']")).to_be_visible()
