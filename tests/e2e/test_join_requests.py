"""Asking to join, in two browsers: the requester sees the request waiting (and
can take it back), the moderator declines with a reason, the requester is told."""
import re

from playwright.sync_api import expect


def test_a_requester_sees_the_request_withdraws_asks_again_and_hears_the_answer(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    amara.register()
    amara.go("/circles/new")
    amara.page.fill("#name", "Reading Leaders")
    amara.page.fill("#cohort", "Reading 2024")
    amara.page.check("input[name=join_policy][value=request]")
    amara.page.click("button:has-text('Create circle')")
    amara.page.wait_for_url(re.compile(r"/c/[\w-]+/$"))
    slug = amara.page.url.rstrip("/").rsplit("/", 1)[1]

    helen.register()
    page = helen.page
    helen.go("/circles/")
    page.locator(".listed-circle", has_text="Reading Leaders").get_by_role("link", name="Ask to join").click()
    page.fill("#message", "I was on the 2024 programme.")
    page.click("button:has-text('Send request')")
    expect(page.locator(".listed-circle", has_text="Reading Leaders")).to_contain_text(
        "Request pending — sent on")

    helen.go("/")
    card = page.locator(".card", has_text="Your requests to join")
    expect(card).to_contain_text("Reading Leaders")
    card.get_by_role("button", name="Withdraw request").click()  # confirmed
    expect(page.locator(".flash, [role=status], .alert").first).to_contain_text("withdrawn")
    expect(page.locator("text=Your requests to join")).to_have_count(0)
    assert any("Withdraw your request" in d for d in helen.dialogs)

    helen.go(f"/circles/{slug}/request")
    page.fill("#message", "Asking again, sorry.")
    page.click("button:has-text('Send request')")

    amara.go(f"/c/{slug}/manage/requests")
    request = amara.page.locator(".request", has_text="Helen Marsh")
    expect(request).to_contain_text("Asking again, sorry.")
    request.locator("summary", has_text="Decline").click()
    request.get_by_label("Reason for Helen Marsh (optional)").fill("We are full until the spring.")
    request.get_by_role("button", name="Decline request").click()
    expect(amara.page.locator("text=No requests are waiting")).to_be_visible()

    helen.go("/notifications")
    expect(page.locator("main")).to_contain_text("Your request to join Reading Leaders was declined. "
                                                 "The moderator said: We are full until the spring.")
    helen.go("/")
    expect(page.locator("text=Your requests to join")).to_have_count(0)
