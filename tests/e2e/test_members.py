"""When someone's membership ends, in two or three browsers at once: leaving with
"anonymise" takes the name off what others see; a moderator removes someone with a
reason while they are writing, and their words come back to them to copy."""
import re

from playwright.sync_api import expect

from tests.e2e.test_journeys import circle_of, open_chat, say


def start_thread(person, slug: str, title: str, body: str) -> str:
    person.go(f"/c/{slug}/threads/new")
    person.page.fill("#title", title)
    person.page.fill("#body", body)
    person.page.click("button:has-text('Post thread')")
    person.page.wait_for_url(re.compile(r"/t/\d+"))
    return person.page.url.split("?")[0].split("#")[0]


def reply(person, thread_url: str, body: str) -> None:
    person.page.goto(thread_url + "?page=1")
    person.page.fill("#reply textarea", body)
    person.page.click("button:has-text('Post reply')")
    expect(person.page.locator(".post", has_text=body)).to_be_visible()


def remove(moderator, slug: str, name: str, reason: str, verb: str = "Remove") -> None:
    moderator.go(f"/c/{slug}/members")
    member = moderator.page.locator(".member", has_text=name)
    member.locator("summary").click()
    member.get_by_label(f"Reason for {name} (optional)").fill(reason)
    member.get_by_role("button", name=verb, exact=True).click()  # confirmed
    expect(moderator.page.locator(".alert--success")).to_contain_text("told")


def test_a_member_who_leaves_anonymising_is_a_former_member_to_everyone(people):
    amara, helen, gareth = people("Amara Okafor", "Helen Marsh", "Gareth Lloyd")
    slug = circle_of(amara, helen, gareth)
    thread = start_thread(helen, slug, "Waiting lists across sectors", "How do you triage?")
    reply(amara, thread, "By need, then by date.")
    reply(helen, thread, "Same in primary care.")
    amara.go("/notifications")
    expect(amara.page.locator("main")).to_contain_text("Helen Marsh replied in")

    helen.go(f"/c/{slug}/leave")
    helen.page.check("input[name=content][value=anonymise]")
    helen.page.click("button:has-text('Leave this circle')")
    helen.page.wait_for_url(re.compile(r"/circles/|/$"))

    amara.go("/notifications")
    notes = amara.page.locator("main")
    expect(notes).to_contain_text("Former member replied in “Waiting lists across sectors”")
    expect(notes).to_contain_text("Former member started “Waiting lists across sectors”")
    expect(notes).not_to_contain_text("Helen Marsh")

    amara.go(f"/c/{slug}/manage/audit")
    log = amara.page.locator(".audit")
    expect(log).to_contain_text("A former member left the circle")
    expect(log).to_contain_text("A former member joined with an invite link")
    expect(log).not_to_contain_text("Helen Marsh")
    # Gareth joined the same way and stayed: still named.
    expect(log).to_contain_text("Gareth Lloyd joined with an invite link")

    gareth.page.goto(thread + "?page=1")
    expect(gareth.page.locator(".post").first).to_contain_text("Former member")
    expect(gareth.page.locator("main")).not_to_contain_text("Helen Marsh")
    amara.screenshot("anonymised-audit")


def test_a_member_removed_while_replying_is_told_why_and_keeps_their_text(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    slug = circle_of(amara, helen, name="Kennet Leaders")
    thread = start_thread(amara, slug, "Budgets for next year", "Where will the cuts fall?")

    helen.page.goto(thread + "?page=1")
    draft = "Honestly, I think the cuts will fall on outreach first.\n\nThree reasons:"
    helen.page.fill("#reply textarea", draft)

    remove(amara, slug, "Helen Marsh", "Please take a break until the spring.")

    helen.page.click("button:has-text('Post reply')")
    page = helen.page
    expect(page.locator("h1")).to_have_text("You are no longer a member of Kennet Leaders")
    expect(page.locator("main")).to_contain_text("Please take a break until the spring.")
    expect(page.locator("#kept-text")).to_have_value(draft)
    expect(page.locator("main")).not_to_contain_text("Budgets for next year")
    helen.screenshot("removed-while-replying")

    helen.go("/notifications")
    expect(page.locator("main")).to_contain_text(
        "You are no longer a member of Kennet Leaders. The moderator said: "
        "Please take a break until the spring.")
    assert helen.page.goto(thread).status == 404


def test_a_member_removed_mid_chat_keeps_the_unsent_message(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    slug = circle_of(amara, helen, name="Loddon Leaders")
    open_chat(amara, slug)
    open_chat(helen, slug)
    say(helen, "Hello before")
    expect(amara.page.locator(".chat-msg__body", has_text="Hello before")).to_be_visible()
    helen.page.fill("#chat-body", "Something I was halfway through")

    remove(amara, slug, "Helen Marsh", "Off-topic posting.", verb="Ban")

    status = helen.page.locator("#chat-status")
    expect(status).to_contain_text("You are no longer a member of Loddon Leaders. "
                                   "The moderator said: Off-topic posting.")
    expect(status).to_contain_text("kept in the box below")
    expect(helen.page.locator("#chat-body")).to_have_value("Something I was halfway through")
    assert not helen.page.is_editable("#chat-body")
    expect(helen.page.locator("#chat-messages .chat-msg")).to_have_count(0)  # nothing of the circle
    helen.screenshot("removed-mid-chat")
