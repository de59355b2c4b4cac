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


def join_via_signup(person) -> None:
    """From an open invite page: follow its "Create an account" link and sign up."""
    link = person.page.get_by_role("link", name="Create an account")
    href = link.get_attribute("href")
    assert href.startswith("/auth/register?next=")
    person.register(path=href)
    person.page.wait_for_url("**/invite/**")


def join_by_invite(owner, person, slug: str) -> None:
    """The owner makes an invite link; the person opens it, signs up and joins."""
    person.page.goto(make_invite_link(owner, slug))
    join_via_signup(person)
    person.page.click("button:has-text('Join')")
    person.page.wait_for_url(f"**/c/{slug}/")


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
    join_via_signup(helen)
    helen.page.click("button:has-text('Join Berkshire Leaders')")
    helen.page.wait_for_url(f"**/c/{slug}/")
    expect(helen.page.locator(".circle-header__name")).to_have_text("Berkshire Leaders")
    expect(helen.page.locator("text=Helen Marsh").first).to_be_visible()


def test_2_a_thread_with_markdown_unread_quote_and_reaction(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    amara.register()
    slug = start_circle(amara, "Thames Valley Leaders")
    helen.page.goto(make_invite_link(amara, slug))
    join_via_signup(helen)
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


def circle_of(owner, *members, name: str = "Reading Leaders") -> str:
    """The owner signs up and starts a circle; each member joins by its invite link."""
    owner.register()
    slug = start_circle(owner, name)
    link = make_invite_link(owner, slug)
    for member in members:
        member.page.goto(link)
        join_via_signup(member)
        member.page.click("button:has-text('Join')")
        member.page.wait_for_url(f"**/c/{slug}/")
    return slug


def next_week_at(hour: int) -> str:
    from datetime import date, timedelta

    return f"{date.today() + timedelta(days=7):%Y-%m-%d}T{hour:02d}:00"


def test_3_capacity_waitlist_promotion_and_ics(people, tmp_path):
    amara, helen, gareth = people("Amara Okafor", "Helen Marsh", "Gareth Lloyd")
    slug = circle_of(amara, helen, gareth)
    amara.go(f"/c/{slug}/meetings/new")
    amara.page.fill("#title", "Visit to HMP Thameside")
    amara.page.fill("#start", next_week_at(14))
    amara.page.fill("#location", "HMP Thameside, Reading")
    amara.page.fill("#capacity", "1")
    amara.page.click("button:has-text('Schedule meeting')")
    amara.page.wait_for_url(re.compile(r"/m/\d+"))
    meeting = amara.page.url.split("#")[0]

    helen.page.goto(meeting)
    helen.page.click("#rsvp button:has-text('Going'), button:has-text('Going') >> nth=0")
    expect(helen.page.locator("button[aria-pressed='true']")).to_have_text("Going")
    gareth.page.goto(meeting)
    gareth.page.locator("button:has-text('Going')").first.click()
    expect(gareth.page.locator("text=Waitlist (1)")).to_be_visible()
    helen.page.goto(meeting)
    helen.page.locator("button:has-text(\"Can't go\")").first.click()
    gareth.page.goto(meeting)
    expect(gareth.page.locator("button[aria-pressed='true']")).to_have_text("Going")
    expect(gareth.page.locator("text=Waitlist (1)")).to_have_count(0)

    with gareth.page.expect_download() as download:
        gareth.page.click("text=Add to calendar (.ics)")
    path = tmp_path / "meeting.ics"
    download.value.save_as(path)
    import icalendar

    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    [event] = [c for c in calendar.walk("VEVENT")]
    assert str(event["SUMMARY"]) == "Visit to HMP Thameside"
    assert event.decoded("DTSTART").hour == 14


def start_poll(organiser, slug: str, title: str) -> str:
    """A date poll of two times next week, through its form; its address."""
    page = organiser.page
    organiser.go(f"/c/{slug}/polls/new")
    page.fill("#title", title)
    page.fill("#options-0", next_week_at(18))
    page.fill("#options-1", next_week_at(19))
    page.fill("#location", "Reading Town Hall")
    page.click("button:has-text('Ask the circle')")
    page.wait_for_url(re.compile(r"/polls/\d+"))
    return page.url


def test_6_a_date_poll_answered_by_two_and_turned_into_a_meeting(people):
    amara, helen, gareth = people("Amara Okafor", "Helen Marsh", "Gareth Lloyd")
    slug = circle_of(amara, helen, gareth)
    poll = start_poll(amara, slug, "Spring meetup")
    for person, choice in ((helen, "Yes"), (gareth, "Yes")):
        person.page.goto(poll)
        person.page.locator("fieldset").nth(1).get_by_label(choice, exact=True).check()
        person.page.locator("fieldset").nth(0).get_by_label("No", exact=True).check()
        person.page.click("button:has-text('Save my answers')")
    amara.page.goto(poll)
    amara.page.locator("button:has-text('Schedule this time')").nth(1).click()
    amara.page.wait_for_url(re.compile(r"/m/\d+"))
    expect(amara.page.locator("h2, h1").filter(has_text="Spring meetup").first).to_be_visible()
    helen.go("/notifications")
    expect(helen.page.locator(".notification").first).to_be_visible()


def test_6b_a_scheduled_poll_keeps_the_answers_and_tells_everyone(people):
    """Yes is going and maybe is maybe on the meeting the poll becomes; each is told."""
    amara, helen, gareth = people("Amara Okafor", "Helen Marsh", "Gareth Lloyd")
    slug = circle_of(amara, helen, gareth)
    poll = start_poll(amara, slug, "Autumn meetup")
    for person, choice in ((helen, "Yes"), (gareth, "Maybe")):
        person.page.goto(poll)
        person.page.locator("fieldset").nth(0).get_by_label(choice, exact=True).check()
        person.page.locator("fieldset").nth(1).get_by_label("No", exact=True).check()
        person.page.click("button:has-text('Save my answers')")
        expect(person.page.locator(".alert--success")).to_contain_text("answers are saved")
    amara.page.goto(poll)
    amara.page.locator("button:has-text('Schedule this time')").nth(0).click()
    amara.page.wait_for_url(re.compile(r"/m/\d+"))
    meeting = amara.page.url.split("#")[0]
    expect(amara.page.locator("#rsvp")).to_contain_text("Your answer: Going")
    expect(amara.page.locator("h4", has_text="Going (2)")).to_be_visible()
    expect(amara.page.locator("h4", has_text="Maybe (1)")).to_be_visible()

    for person, answer, told in ((helen, "Going", "You're down as going, as you said yes"),
                                 (gareth, "Maybe", "You're down as maybe, as you said maybe")):
        person.go("/notifications")
        note = person.page.locator(".notification", has_text="Autumn meetup is set for")
        expect(note).to_contain_text(told)
        expect(note).to_contain_text("You can change your answer")
        person.page.goto(meeting)
        expect(person.page.locator("#rsvp")).to_contain_text(f"Your answer: {answer}")
        expect(person.page.locator("#rsvp button[aria-pressed='true']")).to_have_text(answer)
    # Counted, and free to change it like any answer.
    gareth.page.locator("#rsvp button:has-text('Going')").click()
    expect(gareth.page.locator("#rsvp button[aria-pressed='true']")).to_have_text("Going")
    expect(gareth.page.locator("h4", has_text="Going (3)")).to_be_visible()


def test_6c_an_invite_link_has_a_copy_button(people):
    amara = people("Amara Okafor")
    amara.register()
    slug = start_circle(amara)
    amara.context.grant_permissions(["clipboard-read", "clipboard-write"])
    amara.go(f"/c/{slug}/manage/invitations")
    amara.page.click("button:has-text('Make link')")
    copy = amara.page.locator("button[data-copy='new-link']")
    expect(copy).to_be_visible()
    copy.click()
    expect(copy).to_have_text("Copied")
    assert amara.page.evaluate("navigator.clipboard.readText()") == \
        amara.page.input_value("#new-link")


def open_chat(person, slug: str) -> None:
    person.go(f"/c/{slug}/chat")
    person.page.wait_for_selector("#chat-status.chat__status--ok")


def say(person, text: str) -> None:
    person.page.fill("#chat-body", text)
    person.page.press("#chat-body", "Enter")


def chat_texts(person) -> list[str]:
    return person.page.locator("#chat-messages .chat-msg .chat-msg__body").all_inner_texts()


def test_4_chat_live_typing_presence_history_and_offline(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    slug = circle_of(amara, helen)
    open_chat(amara, slug)
    open_chat(helen, slug)
    expect(amara.page.locator("#chat-online")).to_contain_text("Helen Marsh")
    expect(helen.page.locator("#chat-online")).to_contain_text("Amara Okafor")
    helen.page.type("#chat-body", "Morning")
    expect(amara.page.locator("#chat-typing")).to_contain_text("Helen Marsh is typing")
    helen.page.press("#chat-body", "Enter")
    expect(amara.page.locator(".chat-msg__body", has_text="Morning")).to_be_visible(timeout=2000)

    amara.page.reload()
    amara.page.wait_for_selector("#chat-status.chat__status--ok")
    expect(amara.page.locator(".chat-msg__body", has_text="Morning")).to_have_count(1)

    # Cut Amara's network, talk while she is away, and bring her back.
    amara.context.set_offline(True)
    say(helen, "Sent while you were offline")
    expect(helen.page.locator(".chat-msg--mine:not(.chat-msg--pending)",
                              has_text="Sent while you were offline")).to_be_visible()
    say(amara, "Written while offline")
    amara.context.set_offline(False)
    expect(amara.page.locator(".chat-msg__body", has_text="Sent while you were offline")).to_be_visible(
        timeout=15000)
    expect(helen.page.locator(".chat-msg__body", has_text="Written while offline")).to_be_visible(
        timeout=15000)
    for person in (amara, helen):
        texts = chat_texts(person)
        assert texts.count("Written while offline") == 1 and texts.count("Sent while you were offline") == 1


def test_5_a_removed_member_is_cut_off_at_once(people):
    amara, helen = people("Amara Okafor", "Helen Marsh")
    slug = circle_of(amara, helen)
    open_chat(amara, slug)
    open_chat(helen, slug)
    say(amara, "Before the removal")
    expect(helen.page.locator(".chat-msg__body", has_text="Before the removal")).to_be_visible()

    amara.go(f"/c/{slug}/members")
    member = amara.page.locator(".member", has_text="Helen Marsh")
    member.locator("summary").click()
    member.locator("button:has-text('Remove')").click()
    expect(amara.page.locator(".alert--success")).to_contain_text("removed")
    open_chat(amara, slug)
    say(amara, "After the removal")
    expect(amara.page.locator(".chat-msg--mine:not(.chat-msg--pending)",
                              has_text="After the removal")).to_be_visible()
    helen.page.wait_for_timeout(1000)
    assert "After the removal" not in chat_texts(helen)
    for path in (f"/c/{slug}/", f"/c/{slug}/chat", f"/c/{slug}/threads", f"/c/{slug}/members"):
        assert helen.go(path).status == 404


def test_7_xss_payloads_never_fire(people):
    payload = '<img src=x onerror=alert(1)><script>alert(2)</script>[x](javascript:alert(3))'
    amara, helen = people("Amara Okafor", "Helen Marsh")
    slug = circle_of(amara, helen)
    helen.go("/settings/profile")
    helen.page.fill("#display_name", '<svg onload=alert(4)> Helen')
    helen.page.click("button:has-text('Save profile')")
    helen.go(f"/c/{slug}/threads/new")
    helen.page.fill("#title", '"><script>alert(5)</script>')
    helen.page.fill("#body", payload)
    helen.page.click("button:has-text('Post thread')")
    open_chat(helen, slug)
    say(helen, payload)
    open_chat(amara, slug)
    expect(amara.page.locator(".chat-msg__body", has_text="alert(3)")).to_be_visible()
    for path in ("/", f"/c/{slug}/", f"/c/{slug}/threads", f"/c/{slug}/members", "/notifications",
                 f"/c/{slug}/search?q=alert"):
        amara.go(path)
        amara.page.wait_for_load_state("load")
    amara.go(f"/c/{slug}/threads")
    amara.page.locator("a.thread-row__title").first.click()
    amara.page.wait_for_load_state("load")
    assert amara.dialogs == [] and helen.dialogs == []
