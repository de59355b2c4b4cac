"""Notification settings people can use: plain presets with the grid behind
"Customise", only the rows a person can receive, and the digest's frequency and hour."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from community.extensions import db
from community.notifications.actions import channels_for, digest_choice
from community.notifications.dispatch import dispatch_notifications, send_digests
from community.notifications.kinds import KINDS
from community.notifications.models import Notification, OutboxMail
from tests.factories import add_member, make_circle, make_thread, make_user

THURSDAY_NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def page_of(client) -> str:
    return client.get("/settings/notifications").get_data(as_text=True)


def digests(to: str) -> list[OutboxMail]:
    return [m for m in db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == to))
            if m.subject.startswith("Your ")]


def test_presets_set_every_kind_and_the_page_says_which_is_chosen(app, client, auth):
    helen = make_user()
    auth.login(helen)
    page = page_of(client)
    for preset in ("Everything by email", "Important by email, the rest in a digest",
                   "Only in the app", "Customise"):
        assert preset in page
    assert 'value="important_email" checked' in page  # the defaults are this preset
    assert '<details class="customise" data-customise-grid>' in page  # the grid closed

    assert client.post("/settings/notifications", data={"preset": "everything_email"}).status_code == 302
    assert set(channels_for(helen).values()) == {"email"}
    assert 'value="everything_email" checked' in page_of(client)
    client.post("/settings/notifications", data={"preset": "in_app"})
    assert set(channels_for(helen).values()) == {"in_app"}


def test_customise_saves_the_grid_and_the_page_opens_it(app, client, auth):
    helen = make_user()
    auth.login(helen)
    form = {kind: "in_app" for kind in KINDS} | {"preset": "custom", "mention": "email"}
    assert client.post("/settings/notifications", data=form).status_code == 302
    assert channels_for(helen)["mention"] == "email" and channels_for(helen)["reply"] == "in_app"
    page = page_of(client)
    assert 'value="custom" data-customise checked' in page
    assert '<details class="customise" data-customise-grid open>' in page


def test_bad_choices_are_refused_with_a_message(app, client, auth):
    helen = make_user()
    auth.login(helen)
    for bad in ({"preset": "carrier-pigeon"}, {"preset": "custom", "mention": "fax"},
                {"preset": "in_app", "digest_frequency": "hourly"},
                {"preset": "in_app", "digest_hour": "24"}, {"preset": "in_app", "digest_hour": "-1"},
                {"preset": "in_app", "digest_hour": "٣"}):
        response = client.post("/settings/notifications", data=bad)
        assert response.status_code == 400, bad
        assert "Choose" in response.get_data(as_text=True)
    assert set(channels_for(helen).values()) != {"in_app"}


def test_moderators_kinds_are_shown_only_to_staff(app, client, auth):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    mo = add_member(circle, make_user("Mo Moderator"), role="moderator")
    asks, reports = KINDS["join_request"][0], KINDS["report_filed"][0]
    auth.login(helen)
    page = page_of(client)
    assert asks not in page and reports not in page and 'name="join_request"' not in page
    # Her grid leaves the moderators' kinds as they were.
    client.post("/settings/notifications",
                data={"preset": "custom"} | {kind: "in_app" for kind in KINDS if kind != "report_filed"})
    assert channels_for(helen)["report_filed"] == KINDS["report_filed"][1]
    for staff in (owner, mo):
        auth.logout()
        auth.login(staff)
        page = page_of(client)
        assert asks in page and reports in page


def test_digest_frequency_and_hour_are_saved(app, client, auth):
    helen = make_user()
    auth.login(helen)
    assert digest_choice(helen) == ("daily", None)
    assert 'value="8" selected' in page_of(client)  # the site's DIGEST_HOUR
    client.post("/settings/notifications",
                data={"preset": "important_email", "digest_frequency": "weekly", "digest_hour": "18"})
    assert digest_choice(helen) == ("weekly", 18)
    page = page_of(client)
    assert 'value="weekly" selected' in page and 'value="18" selected' in page


def _helen_with_news(client, auth, frequency: str, hour: int):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh", email="helen@example.org"))
    auth.login(helen)
    client.post("/settings/notifications", data={"preset": "important_email",
                                                 "digest_frequency": frequency,
                                                 "digest_hour": str(hour)})
    make_thread(circle, owner, title="Funding cliff")  # a new thread: digest by default
    dispatch_notifications(THURSDAY_NOON)
    return helen


def test_the_digest_waits_for_the_persons_hour(app, client, auth):
    _helen_with_news(client, auth, "daily", 18)  # London: UTC in November
    send_digests(THURSDAY_NOON)
    assert digests("helen@example.org") == []
    send_digests(THURSDAY_NOON + timedelta(hours=6))
    [digest] = digests("helen@example.org")
    assert digest.subject.startswith("Your day")


def test_a_weekly_digest_goes_on_monday_with_the_week(app, client, auth):
    _helen_with_news(client, auth, "weekly", 7)
    for day in range(4):  # Thursday to Sunday
        send_digests(THURSDAY_NOON + timedelta(days=day))
    assert digests("helen@example.org") == []
    send_digests(MONDAY_NOON)
    [digest] = digests("helen@example.org")
    assert digest.subject.startswith("Your week in Alumni Circles: 1 update")
    assert "Funding cliff" in digest.text_body
    send_digests(MONDAY_NOON + timedelta(hours=3))
    assert len(digests("helen@example.org")) == 1


def test_no_digest_keeps_digest_kinds_in_the_app(app, client, auth):
    helen = _helen_with_news(client, auth, "off", 8)
    for day in range(7):
        send_digests(THURSDAY_NOON + timedelta(days=day))
    assert digests("helen@example.org") == []
    note = db.session.scalar(select(Notification).where(Notification.user_id == helen.id))
    assert note.channel == "in_app"


def test_the_pages_statements_are_few_and_do_not_grow(app, client, auth, count_queries):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    auth.login(helen)
    counts = {}
    for threads in (1, 12):
        for n in range(threads):
            make_thread(circle, owner, title=f"Topic {threads}-{n}")
        for path in ("/notifications", "/settings/notifications"):
            client.get(path)  # warm: the signed-in user's session
            with count_queries() as q:
                assert client.get(path).status_code == 200
            counts.setdefault(path, []).append(q.count)
    for path, (small, large) in counts.items():
        assert small == large <= 8, (path, small, large)


def test_quoting_direct_messages_in_email_is_off_until_ticked(app, client, auth):
    helen = make_user()
    auth.login(helen)
    page = page_of(client)
    assert KINDS["direct_message"][0] in page and 'name="direct_message"' in page
    assert '<label for="dm_excerpts">Quote direct messages in the emails about them</label>' in page
    assert 'id="dm_excerpts" aria-describedby="dm_excerpts-hint">' in page  # not checked
    client.post("/settings/notifications",
                data={"preset": "important_email", "dm_excerpts_shown": "1", "dm_excerpts": "1"})
    db.session.refresh(helen)
    assert helen.dm_email_excerpts
    assert 'id="dm_excerpts" aria-describedby="dm_excerpts-hint" checked>' in page_of(client)
    # A form without the box (an older page, a script) leaves it as it was ...
    client.post("/settings/notifications", data={"preset": "in_app"})
    db.session.refresh(helen)
    assert helen.dm_email_excerpts and channels_for(helen)["direct_message"] == "in_app"
    # ... the page's own form with the box unticked turns it off.
    client.post("/settings/notifications", data={"preset": "in_app", "dm_excerpts_shown": "1"})
    db.session.refresh(helen)
    assert not helen.dm_email_excerpts
