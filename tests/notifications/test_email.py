"""From notifications to email: preferences, no content by default, digests, unsubscribe."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from community.circles.actions import update_circle
from community.extensions import db
from community.moderation import actions as moderation
from community.notifications.actions import channels_for, notify, set_preferences
from community.notifications.dispatch import dispatch_notifications, send_digests, unsubscribe_token
from community.notifications.kinds import KINDS
from community.notifications.mailer import _message
from community.notifications.models import Notification, OutboxMail
from community.threads import actions as threads
from tests.factories import add_member, make_circle, make_thread, make_user

NOON_UTC = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def mails(to=None) -> list[OutboxMail]:
    query = select(OutboxMail).order_by(OutboxMail.id)
    if to:
        query = query.where(OutboxMail.to_address == to)
    return db.session.scalars(query).all()


@pytest.fixture
def group(app):
    owner = make_user("Olive Owner", email="olive@example.org")
    circle = make_circle(owner, name="Thames Valley")
    helen = add_member(circle, make_user("Helen Marsh", email="helen@example.org"))
    return circle, owner, helen


def test_defaults_send_mentions_and_meeting_changes_at_once(app):
    user = make_user()
    channels = channels_for(user)
    assert channels["mention"] == channels["meeting_changed"] == "email"
    assert channels["reply"] == channels["new_thread"] == "digest"
    assert set(channels) == set(KINDS)


def test_a_mention_is_emailed_at_once_without_the_post(group):
    circle, owner, helen = group
    thread = make_thread(circle, owner, title="Funding cliff")
    threads.post_reply(owner, circle.slug, thread.id, f"@{helen.handle} our secret numbers are 42")
    dispatch_notifications(NOON_UTC)
    [mail] = mails("helen@example.org")
    assert mail.subject == "Olive Owner mentioned you in “Funding cliff” (Thames Valley)"
    assert "secret numbers" not in mail.text_body and "secret numbers" not in mail.html_body
    assert f"/c/{circle.slug}/t/{thread.id}?page=1#post-2" in mail.text_body
    assert "http://127.0.0.1:5000/c/" in mail.text_body  # absolute links from SITE_URL


def test_excerpts_only_where_the_owner_allows(group):
    circle, owner, helen = group
    update_circle(owner, circle.slug, name=circle.name, email_excerpts=True)
    thread = make_thread(circle, owner)
    threads.post_reply(owner, circle.slug, thread.id, f"@{helen.handle} **numbers** are 42")
    dispatch_notifications(NOON_UTC)
    [mail] = mails("helen@example.org")
    assert "numbers are 42" in mail.text_body and "<strong>numbers" not in mail.html_body


@pytest.mark.parametrize(("clock", "shown"), [("24", "26 Nov 2026, 21:00"), ("12", "26 Nov 2026, 9:00 pm")])
def test_times_in_the_recipients_timezone_and_on_their_clock(group, clock, shown):
    circle, owner, _ = group
    tokyo = add_member(circle, make_user("Kenji", email="kenji@example.org", timezone="Asia/Tokyo",
                                         clock=clock))
    note = notify(tokyo.id, "mention", "You were mentioned", "/", circle_id=circle.id)
    note.created_at = NOON_UTC
    db.session.commit()
    dispatch_notifications(NOON_UTC)
    [mail] = mails("kenji@example.org")
    assert f"{shown} (Asia/Tokyo)" in mail.text_body and f"{shown} (Asia/Tokyo)" in mail.html_body


@pytest.mark.parametrize("channel,emailed,in_app", [
    ("email", True, True), ("digest", False, True), ("in_app", False, True), ("off", False, False),
])
def test_each_preference(group, client, auth, channel, emailed, in_app):
    circle, owner, helen = group
    set_preferences(helen, {"mention": channel})
    thread = make_thread(circle, owner, title="Anything")
    db.session.query(Notification).delete()
    db.session.commit()
    threads.post_reply(owner, circle.slug, thread.id, f"@{helen.handle} hello")
    dispatch_notifications(NOON_UTC)
    assert bool(mails("helen@example.org")) is emailed
    auth.login(helen)
    assert ("mentioned you" in client.get("/notifications").get_data(as_text=True)) is in_app


def test_each_notification_is_routed_once(group):
    circle, owner, helen = group
    make_thread(circle, owner)
    assert dispatch_notifications(NOON_UTC) >= 1
    assert dispatch_notifications(NOON_UTC) == 0
    note = db.session.scalar(select(Notification).where(Notification.user_id == helen.id))
    assert (note.channel, note.dispatched_at) == ("digest", NOON_UTC)


def test_nothing_is_emailed_about_a_circle_the_person_left(group):
    circle, owner, helen = group
    thread = make_thread(circle, owner)
    threads.post_reply(owner, circle.slug, thread.id, f"@{helen.handle} hi")
    moderation.remove_member(owner, circle.slug, helen.id)
    dispatch_notifications(NOON_UTC)
    # Only the news that she is no longer a member: nothing from inside the circle.
    [mail] = mails("helen@example.org")
    assert mail.subject == f"You are no longer a member of {circle.name}."
    assert "mention" not in mail.text_body and "hi" not in mail.text_body.split()


def test_settings_page_saves_choices(group, client, auth):
    _, _, helen = group
    auth.login(helen)
    page = client.get("/settings/notifications").get_data(as_text=True)
    assert "Someone mentions you" in page and 'value="digest"' in page
    form = {kind: "in_app" for kind in KINDS}
    assert client.post("/settings/notifications", data=form).status_code == 302
    # A grid sent alone is her own choice, of the kinds she can receive (not a moderator's).
    assert {k: c for k, c in channels_for(helen).items()
            if k not in ("join_request", "report_filed")} == {k: "in_app" for k in KINDS
                                                            if k not in ("join_request", "report_filed")}
    bad = client.post("/settings/notifications", data={**form, "mention": "carrier-pigeon"})
    assert bad.status_code == 400


# --- The digest -------------------------------------------------------------------

def _pending(helen, circle, owner, n=3):
    for i in range(n):
        make_thread(circle, owner, title=f"Topic {i}")
    dispatch_notifications(NOON_UTC)


def test_digest_groups_by_circle_and_goes_once_a_day(group):
    circle, owner, helen = group
    other = make_circle(owner, name="Oxford Alumni")
    add_member(other, helen)
    make_thread(circle, owner, title="Funding cliff")
    make_thread(other, owner, title="Housing first")
    db.session.commit()
    dispatch_notifications(NOON_UTC)
    assert send_digests(NOON_UTC) >= 1
    [digest] = [m for m in mails("helen@example.org") if m.subject.startswith("Your day")]
    body = digest.text_body
    assert "2 updates" in digest.subject
    assert body.index("Oxford Alumni") < body.index("Housing first")
    assert body.index("Thames Valley") < body.index("Funding cliff")
    assert send_digests(NOON_UTC + timedelta(hours=2)) == 0  # once a day
    make_thread(circle, owner, title="Tomorrow's news")
    dispatch_notifications(NOON_UTC + timedelta(days=1))
    assert send_digests(NOON_UTC + timedelta(days=1)) >= 1


def test_digest_waits_for_the_morning_in_the_recipients_zone(group):
    circle, owner, _ = group
    add_member(circle, make_user("Kenji", email="kenji@example.org", timezone="Asia/Tokyo"))
    add_member(circle, make_user("Maria", email="maria@example.org", timezone="America/Los_Angeles"))
    make_thread(circle, owner, title="News")
    dispatch_notifications(NOON_UTC)
    send_digests(datetime(2026, 11, 26, 14, 0, tzinfo=UTC))  # Tokyo 23:00, LA 06:00
    digested = {m.to_address for m in mails() if m.subject.startswith("Your day")}
    assert {"helen@example.org", "kenji@example.org"} <= digested
    assert "maria@example.org" not in digested
    send_digests(datetime(2026, 11, 26, 16, 30, tzinfo=UTC))  # LA 08:30
    assert "maria@example.org" in [m.to_address for m in mails()]


def test_no_digest_on_a_quiet_day(group):
    circle, owner, helen = group
    assert send_digests(NOON_UTC) == 0
    assert mails() == []


def test_digest_leaves_out_circles_left_since(group):
    circle, owner, helen = group
    make_thread(circle, owner, title="Before leaving")
    dispatch_notifications(NOON_UTC)
    moderation.remove_member(owner, circle.slug, helen.id)
    send_digests(NOON_UTC)
    assert mails("helen@example.org") == []


# --- Unsubscribing ------------------------------------------------------------------

def test_every_email_carries_list_unsubscribe_headers(group):
    circle, owner, helen = group
    thread = make_thread(circle, owner)
    threads.post_reply(owner, circle.slug, thread.id, f"@{helen.handle} hi")
    dispatch_notifications(NOON_UTC)
    [mail] = mails("helen@example.org")
    message = _message(mail, NOON_UTC)
    assert message["List-Unsubscribe"] == f"<{mail.unsubscribe_url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.unsubscribe_url in mail.text_body and mail.unsubscribe_url in mail.html_body
    assert message.get_body(("plain",)) and message.get_body(("html",))


def test_one_click_unsubscribe_without_signing_in(app, group):
    _, _, helen = group
    client = app.test_client()
    token = unsubscribe_token(helen.id, "mention")
    page = client.get(f"/notifications/unsubscribe/{token}")
    assert page.status_code == 200 and channels_for(helen)["mention"] == "email"  # GET only asks
    done = client.post(f"/notifications/unsubscribe/{token}")
    assert done.status_code == 200 and "unsubscribed" in done.get_data(as_text=True)
    assert channels_for(helen)["mention"] == "in_app"


def test_unsubscribe_from_the_digest_moves_every_digest_kind(app, group):
    _, _, helen = group
    app.test_client().post(f"/notifications/unsubscribe/{unsubscribe_token(helen.id, 'digest')}")
    assert "digest" not in channels_for(helen).values()


def test_forged_unsubscribe_tokens_are_refused(app, group):
    _, _, helen = group
    token = unsubscribe_token(helen.id, "mention")
    client = app.test_client()
    assert client.post(f"/notifications/unsubscribe/{token[:-2]}xx").status_code == 404
    assert client.get("/notifications/unsubscribe/nonsense").status_code == 404


def test_an_unsubscribe_link_dies_with_its_account_even_if_the_id_comes_back(app):
    """SQLite hands a deleted newest row's id to the next insert: an old email's
    link must not change the settings of whoever gets that id next."""
    from community.accounts.models import User

    gone = make_user("Gone Person", "gone@example.org")
    token = unsubscribe_token(gone.id, "mention")
    old_id = gone.id
    db.session.delete(gone)
    db.session.commit()
    newcomer = make_user("New Person", "new@example.org")
    db.session.execute(update(User).where(User.id == newcomer.id).values(id=old_id))
    db.session.commit()
    response = app.test_client().post(f"/notifications/unsubscribe/{token}")
    assert response.status_code == 404
