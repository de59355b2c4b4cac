"""A challenge run end to end in a meeting, three people in three browsers (issue 25,
point 4): the presenter brings a challenge to the meeting's agenda, the facilitator
steps the run sheet, and the others see the step and its timer change live, with no
reload; questions in Questions, an idea in Ideas, the presenter's reflection with a
commitment in Reflection."""
import re

from playwright.sync_api import expect

from tests.e2e.test_journeys import circle_of, next_week_at


def test_a_challenge_run_live_from_a_meetings_run_sheet(people):
    amara, helen, gareth = people("Amara Okafor", "Helen Marsh", "Gareth Lloyd")
    slug = circle_of(amara, helen, gareth, name="Consulting Leaders")

    # Amara (the organiser, so the facilitator) schedules the session.
    amara.go(f"/c/{slug}/meetings/new")
    amara.page.fill("#title", "Action learning set")
    amara.page.fill("#start", next_week_at(10))
    amara.page.fill("#location", "Reading")
    amara.page.click("button:has-text('Schedule meeting')")
    amara.page.wait_for_url(re.compile(r"/m/\d+"))
    meeting = amara.page.url.split("#")[0]

    # Helen brings a new challenge from the meeting page: it goes on the agenda.
    fetched = []
    helen.page.on("request", lambda sent: fetched.append(sent.url) if sent.resource_type == "fetch" else None)
    helen.page.goto(meeting)
    card = helen.page.locator("#agenda")
    expect(card).to_contain_text("No challenges on this meeting's agenda yet.")
    # Joining the date's room answers with the state the card was drawn from:
    # the card is not fetched again (in CI, a card swapped under her click lost it).
    expect(helen.page.locator("[data-run-sheet-joined]")).to_have_count(1)
    helen.page.wait_for_load_state("networkidle")
    assert fetched == []
    card.get_by_role("link", name="Bring a new challenge").click()
    helen.page.wait_for_url(re.compile(r"/agenda/bring"))
    helen.page.fill("#title", "Two teams, one budget")
    helen.page.fill("#situation", "We are merging two teams with one budget.")
    helen.page.fill("#ask", "Where do I start?")
    helen.page.click("button:has-text('Bring it to the meeting')")
    helen.page.wait_for_url(re.compile(r"/m/\d+.*#agenda$"))
    expect(card.locator(".run-sheet__step")).to_have_count(5)
    expect(card.locator("[data-run-sheet-status]")).to_have_text("Not started yet.")

    gareth.page.goto(meeting)
    watchers = (helen, gareth)
    for person in watchers:
        expect(person.page.locator("[data-run-sheet-status]")).to_have_text("Not started yet.")
        expect(person.page.locator("[data-run-sheet-timer]")).to_be_hidden()
    amara.page.goto(meeting)
    controls = amara.page.get_by_role("group", name="Run the session")

    def step(name: str, now: str) -> None:
        """Amara presses a button; everyone's card follows without a reload."""
        controls.get_by_role("button", name=name).click()
        for person in (amara, *watchers):
            expect(person.page.locator("[data-run-sheet-status]")).to_have_text(now)

    # Check-in: the others see the step, and the timer counting down from 10:00.
    step("Start the session", "Now: Check-in")
    timer = gareth.page.locator("[data-run-sheet-timer]")
    expect(timer).to_have_text(re.compile(r"^(10:00|9:5\d) left$"))
    expect(timer).to_have_text(re.compile(r"^9:5\d left$"))  # it counts, from the server's start
    expect(gareth.page.locator("[data-run-sheet-announce]")).to_have_text("Now Check-in. 10 minutes.")
    expect(gareth.page.locator(".run-sheet__step--current")).to_contain_text("Check-in")

    # Questions: Gareth asks, from the challenge's page in another tab.
    step("Next step", "Now: Questions — “Two teams, one budget” (Helen Marsh)")
    expect(timer).to_have_text(re.compile(r"^(10:00|9:5\d) left$"))
    href = gareth.page.locator("#agenda a", has_text="Two teams, one budget").first.get_attribute("href")
    challenge = gareth.context.new_page()
    challenge.goto(gareth.base + href)
    expect(challenge.locator("#body-idea")).to_have_count(0)  # no ideas yet
    challenge.fill("#body-question", "Who holds the budget today?")
    challenge.click("button:has-text('Ask')")
    expect(challenge.locator(".post", has_text="Who holds the budget today?")).to_be_visible()

    # Ideas: stepping on moves the challenge into Ideas; Gareth offers one.
    step("Next step", "Now: Ideas — “Two teams, one budget” (Helen Marsh)")
    expect(timer).to_have_text(re.compile(r"^(15:00|14:5\d) left$"))
    challenge.reload()
    challenge.fill("#body-idea", "Start with a shared goal for both teams.")
    challenge.click("button:has-text('Post idea')")
    expect(challenge.locator(".post", has_text="Start with a shared goal")).to_be_visible()

    # Pause freezes everyone's clock; resume and a minute more carry on.
    step("Pause", "Now: Ideas — “Two teams, one budget” (Helen Marsh) · paused")
    frozen = timer.inner_text()
    gareth.page.wait_for_timeout(1200)
    expect(timer).to_have_text(frozen)
    expect(controls.get_by_role("button", name="Resume")).to_be_focused()  # focus follows
    step("Resume", "Now: Ideas — “Two teams, one budget” (Helen Marsh)")
    controls.get_by_role("button", name="+1 minute").click()
    expect(timer).to_have_text(re.compile(r"^(16:00|15:5\d) left$"))

    # Reflection: Helen reflects with a commitment.
    step("Next step", "Now: Reflection — “Two teams, one budget” (Helen Marsh)")
    reflecting = helen.context.new_page()
    reflecting.goto(challenge.url.split("#")[0])
    reflecting.fill("#takeaways", "Agree the goal before the structure.")
    reflecting.fill("#commitment-1", "Meet both team leads together")
    reflecting.click("button:has-text('Post reflection')")
    expect(reflecting.locator(".post", has_text="Meet both team leads together")).to_be_visible()

    step("Next step", "Now: Check-out")
    step("Finish", "The session is over.")
    for person in watchers:
        expect(person.page.locator("[data-run-sheet-timer]")).to_be_hidden()
        # The card is redrawn closed: nothing more to add to a finished session.
        expect(person.page.get_by_role("link", name="Bring a new challenge")).to_have_count(0)
    helen.screenshot("agenda-finished")

    # Follow-up: Helen tells the circle how it went, and Gareth reads it.
    reflecting.reload()
    expect(reflecting.locator("#body-update")).to_be_visible()
    reflecting.fill("#body-update", "Both leads agreed one goal; the budget follows from it.")
    reflecting.click("button:has-text('Post update')")
    expect(reflecting.locator(".post", has_text="Both leads agreed one goal")).to_be_visible()
    challenge.reload()
    expect(challenge.locator(".post", has_text="Both leads agreed one goal")).to_be_visible()
    expect(challenge.locator("#body-update")).to_have_count(0)  # the presenter's to write
