"""Reporting a direct message to the site's administrators: a copy of that
message alone, with the reporter's consent, and the admins' page for it."""
import re

import pytest
from sqlalchemy import func, select

from community.errors import ActionError, Conflict, Forbidden, NotFound, TooManyAttempts
from community.extensions import db
from community.messages import actions as dm
from community.messages import reports
from community.messages.models import DirectMessage, DirectMessageReport
from community.timeutil import utcnow
from tests.conftest import AuthActions
from tests.messages.conftest import login, text

REASON = "This is a personal attack on a colleague."


def count() -> int:
    return db.session.scalar(select(func.count(DirectMessageReport.id)))


def start(a, *others):
    return dm.start_conversation(a, [str(o.id) for o in others])


@pytest.fixture
def chat(people):
    """Gareth, Priya and Tom in a group; Priya writes two messages, Gareth one."""
    group = start(people["member"], people["other"], people["third"])
    first, _ = dm.send_message(people["other"], group.id, "You are **useless**, Tom.", "p1")
    second, _ = dm.send_message(people["other"], group.id, "Sorry, bad day.", "p2")
    mine, _ = dm.send_message(people["member"], group.id, "Let's keep it kind.", "g1")
    return {"group": group, "first": first, "second": second, "mine": mine}


def admin_client(app, people):
    admin = people["admin"]
    admin.second_factor_at = utcnow()  # the admin pages ask it of every admin
    db.session.commit()
    client = app.test_client()
    AuthActions(client).login_past_second_step(admin)
    return client


def post_report(client, conversation_id, message_id, reason=REASON, consent="yes"):
    data = {"reason": reason}
    if consent is not None:
        data["consent"] = consent
    return client.post(f"/messages/{conversation_id}/{message_id}/report", data=data)


# --- Reporting ----------------------------------------------------------------------------

def test_each_message_by_someone_else_has_a_report_link(app, people, chat):
    group = chat["group"]
    html = text(login(app, people["member"]).get(f"/messages/{group.id}"))
    assert f'href="/messages/{group.id}/{chat["first"]["id"]}/report"' in html
    assert f'href="/messages/{group.id}/{chat["second"]["id"]}/report"' in html
    assert f'/messages/{group.id}/{chat["mine"]["id"]}/report' not in html  # not one's own


def test_the_form_shows_the_message_and_asks_for_consent(app, people, chat):
    group, first = chat["group"], chat["first"]
    html = text(login(app, people["member"]).get(f"/messages/{group.id}/{first['id']}/report"))
    assert "<strong>useless</strong>" in html and "Priya Raman" in html
    assert 'name="reason"' in html and '<label for="reason">' in html
    assert ('<label for="consent">Share this message (and only this message) with the '
            "site's administrators</label>") in html
    assert 'type="checkbox" id="consent" name="consent" value="yes"' in html


def test_a_report_stores_a_copy_of_that_message_alone(app, people, chat):
    group, first = chat["group"], chat["first"]
    client = login(app, people["member"])
    answer = post_report(client, group.id, first["id"])
    assert answer.status_code == 302
    assert answer.location.endswith(f"/messages/{group.id}#message-{first['id']}")
    assert "the site&#39;s administrators have a copy" in text(client.get(answer.location))
    [report] = db.session.scalars(select(DirectMessageReport)).all()
    assert report.reporter_id == people["member"].id and report.reason == REASON
    assert report.author_id == people["other"].id and report.author_name == "Priya Raman"
    assert report.source == "You are **useless**, Tom."
    assert "<strong>useless</strong>" in report.html
    assert report.written_at == db.session.get(DirectMessage, first["id"]).created_at
    assert report.status == "open"
    # Nothing else of the conversation: no column names it.
    assert not any("conversation" in c.name for c in DirectMessageReport.__table__.columns)


def test_the_copy_stays_as_it_was_when_the_message_changes(app, people, chat):
    group, first = chat["group"], chat["first"]
    reports.report_message(people["member"], group.id, first["id"], REASON, True)
    message = db.session.get(DirectMessage, first["id"])
    message.source, message.html, message.deleted_at = "", "", utcnow()  # the author deletes it
    db.session.commit()
    report = db.session.scalar(select(DirectMessageReport))
    assert report.source == "You are **useless**, Tom."


def test_without_the_tick_nothing_is_stored_and_the_page_says_why(app, people, chat):
    client = login(app, people["member"])
    for consent in (None, "", "no", "on"):
        answer = post_report(client, chat["group"].id, chat["first"]["id"], consent=consent)
        assert answer.status_code == 400
        assert "Nothing was sent" in text(answer) and "tick the box" in text(answer)
        assert REASON in text(answer)  # the reason comes back to send again
    assert count() == 0


def test_the_action_wants_consent_as_true_not_anything_truthy(app, people, chat):
    for consent in (False, None, "yes", 1):
        with pytest.raises(ActionError) as err:
            reports.report_message(people["member"], chat["group"].id, chat["first"]["id"],
                                   REASON, consent)
        assert err.value.code == "no_consent"
    assert count() == 0


@pytest.mark.parametrize("reason, status", [("", 400), ("   ", 400), ("x" * 1001, 400),
                                            ("x" * 100_000, 400)])
def test_a_missing_or_oversize_reason_is_refused(app, people, chat, reason, status):
    answer = post_report(login(app, people["member"]), chat["group"].id, chat["first"]["id"],
                         reason=reason)
    assert answer.status_code == status
    assert 'class="alert alert--error"' in text(answer)
    assert count() == 0


def test_the_same_person_reports_the_same_message_once(app, people, chat):
    client = login(app, people["member"])
    assert post_report(client, chat["group"].id, chat["first"]["id"]).status_code == 302
    again = post_report(client, chat["group"].id, chat["first"]["id"])
    assert again.status_code == 409
    assert "You have already reported this message" in text(again)
    assert count() == 1
    # Someone else may report it too, and the first person once theirs is resolved.
    assert post_report(login(app, people["third"]), chat["group"].id,
                       chat["first"]["id"]).status_code == 302
    reports.resolve_report(_admin(people), db.session.scalar(
        select(DirectMessageReport.id).where(DirectMessageReport.reporter_id == people["member"].id)),
        "Spoke to Priya.")
    assert post_report(client, chat["group"].id, chat["first"]["id"]).status_code == 302
    assert count() == 3


def _admin(people):
    admin = people["admin"]
    admin.second_factor_at = utcnow()
    db.session.commit()
    return admin


def test_reports_are_rate_limited(app, people, chat):
    app.config["DM_REPORT_LIMIT"] = 1
    reports.report_message(people["member"], chat["group"].id, chat["first"]["id"], REASON, True)
    answer = post_report(login(app, people["member"]), chat["group"].id, chat["second"]["id"])
    assert answer.status_code == 429 and "reports recently" in text(answer)
    with pytest.raises(TooManyAttempts):
        reports.report_message(people["member"], chat["group"].id, chat["second"]["id"], REASON, True)
    assert count() == 1


# --- Who may report what ----------------------------------------------------------------------

def test_ones_own_or_a_deleted_message_cant_be_reported(app, people, chat):
    client = login(app, people["member"])
    assert post_report(client, chat["group"].id, chat["mine"]["id"]).status_code == 403
    assert client.get(f"/messages/{chat['group'].id}/{chat['mine']['id']}/report").status_code == 403
    message = db.session.get(DirectMessage, chat["second"]["id"])
    message.deleted_at = utcnow()
    db.session.commit()
    assert post_report(client, chat["group"].id, chat["second"]["id"]).status_code == 403
    with pytest.raises(Forbidden):
        reports.report_message(people["member"], chat["group"].id, chat["mine"]["id"], REASON, True)
    assert count() == 0


def test_strangers_and_wrong_ids_get_404(app, people, chat):
    group, first = chat["group"], chat["first"]
    elsewhere = start(people["member"], people["owner"])
    other_message, _ = dm.send_message(people["owner"], elsewhere.id, "Elsewhere", "o1")
    # Someone else's conversation: Amara is in the circle, not in the group.
    amara = login(app, people["moderator"])
    assert amara.get(f"/messages/{group.id}/{first['id']}/report").status_code == 404
    assert post_report(amara, group.id, first["id"]).status_code == 404
    gareth = login(app, people["member"])
    # A message of another conversation, through a conversation one is in.
    assert post_report(gareth, group.id, other_message["id"]).status_code == 404
    assert gareth.get(f"/messages/{group.id}/{other_message['id']}/report").status_code == 404
    # No such message, no such conversation.
    assert post_report(gareth, group.id, 999999).status_code == 404
    assert post_report(gareth, 999999, first["id"]).status_code == 404
    with pytest.raises(NotFound):
        reports.report_message(people["moderator"], group.id, first["id"], REASON, True)
    for bad in ("1", None, True, -1, 2**40):
        with pytest.raises(NotFound):
            reports.report_message(people["member"], group.id, bad, REASON, True)
    assert count() == 0


def test_a_site_admin_can_neither_report_nor_read_a_conversation(app, people, chat):
    group, first = chat["group"], chat["first"]
    client = admin_client(app, people)
    assert client.get(f"/messages/{group.id}").status_code == 404
    assert client.get(f"/messages/{group.id}/{first['id']}/report").status_code == 404
    assert post_report(client, group.id, first["id"]).status_code == 404
    reports.report_message(people["member"], group.id, first["id"], REASON, True)
    assert client.get(f"/messages/{group.id}").status_code == 404  # a report opens nothing


def test_someone_added_later_cant_report_what_was_said_before(app, people, chat):
    group = chat["group"]
    dm.add_people(people["member"], group.id, [str(people["owner"].id)])
    client = login(app, people["owner"])
    assert post_report(client, group.id, chat["first"]["id"]).status_code == 404
    said, _ = dm.send_message(people["other"], group.id, "Welcome, Rachel.", "p3")
    assert post_report(client, group.id, said["id"]).status_code == 302


def test_someone_who_left_may_report_what_they_read(app, people, chat):
    group = chat["group"]
    dm.leave_conversation(people["third"], group.id)
    after, _ = dm.send_message(people["other"], group.id, "Now he's gone...", "p4")
    client = login(app, people["third"])
    assert post_report(client, group.id, chat["first"]["id"]).status_code == 302
    assert post_report(client, group.id, after["id"]).status_code == 404


# --- The administrators' page ---------------------------------------------------------------------

def test_admins_see_only_the_copy_and_the_reason_and_resolve_it(app, people, chat):
    group = chat["group"]
    reports.report_message(people["member"], group.id, chat["first"]["id"], REASON, True)
    client = admin_client(app, people)
    assert "Reported direct messages" in text(client.get("/admin/"))
    html = text(client.get("/admin/message-reports"))
    assert "<strong>useless</strong>" in html and REASON in html and "Priya Raman" in html
    assert "Sorry, bad day." not in html and "keep it kind" not in html  # nothing else of it
    assert f"/messages/{group.id}" not in html  # and no way into the conversation
    # Suspending goes through the Accounts page the admin area already has.
    assert f'href="/admin/users?q={people["other"].email}">Suspend' in html
    [report_id] = re.findall(r'action="/admin/message-reports/(\d+)/resolve"', html)
    answer = client.post(f"/admin/message-reports/{report_id}/resolve",
                         data={"note": "Warned the author."})
    assert answer.status_code == 302
    assert "No open reports." in text(client.get("/admin/message-reports"))
    resolved = text(client.get("/admin/message-reports?status=resolved"))
    assert "Warned the author." in resolved and "Resolved by Sam Admin" in resolved
    again = client.post(f"/admin/message-reports/{report_id}/resolve", data={"note": ""})
    assert again.status_code == 409 and "already resolved" in text(again)
    too_long = client.post("/admin/message-reports/999999/resolve", data={"note": "x"})
    assert too_long.status_code == 404


def test_the_note_has_a_limit(app, people, chat):
    report = reports.report_message(people["member"], chat["group"].id, chat["first"]["id"],
                                    REASON, True)
    answer = admin_client(app, people).post(f"/admin/message-reports/{report.id}/resolve",
                                            data={"note": "x" * 5000})
    assert answer.status_code == 400 and "at most 1,000 characters" in text(answer)
    assert db.session.get(DirectMessageReport, report.id).status == "open"


def test_only_site_admins_see_the_reports(app, people, chat):
    report = reports.report_message(people["member"], chat["group"].id, chat["first"]["id"],
                                    REASON, True)
    member = login(app, people["member"])
    assert member.get("/admin/message-reports").status_code == 404
    assert member.post(f"/admin/message-reports/{report.id}/resolve").status_code == 404
    with pytest.raises(Forbidden):
        reports.resolve_report(people["member"], report.id, "")
    # An admin without a second factor is asked to set one up first.
    admin = app.test_client()
    AuthActions(admin).login(people["admin"])
    assert admin.get("/admin/message-reports").status_code == 403
    assert db.session.get(DirectMessageReport, report.id).status == "open"


def test_an_authors_deleted_account_leaves_the_copy(app, people, chat):
    from community.accounts import actions as accounts
    from tests.factories import PASSWORD

    report = reports.report_message(people["member"], chat["group"].id, chat["first"]["id"],
                                    REASON, True)
    accounts.delete_account(people["other"], PASSWORD)
    report = db.session.get(DirectMessageReport, report.id)
    assert report.author_id is None and report.author_name == "Priya Raman"
    html = text(admin_client(app, people).get("/admin/message-reports"))
    assert "account deleted" in html and "<strong>useless</strong>" in html


def test_conflict_is_an_action_error(app):
    assert issubclass(Conflict, ActionError)
