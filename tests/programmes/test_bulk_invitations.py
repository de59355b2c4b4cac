"""Bulk invitations: a pasted or uploaded list, previewed, confirmed once, resent and
withdrawn in bulk; hostile files refused with a clear message."""
import csv
import html
import io
import re
import smtplib
from unittest import mock

import pytest
from sqlalchemy import func, select

from community.circles.models import Invitation
from community.errors import ActionError
from community.extensions import db
from community.moderation import actions as moderation
from community.notifications.bounces import MailBounce
from community.notifications.mailer import send_due
from community.notifications.models import OutboxMail
from community.programmes import actions
from community.programmes.people_list import neutralise
from community.timeutil import utcnow
from tests.factories import add_member, make_circle, make_user


def cohort_csv(n=20, header=True, start=1) -> bytes:
    lines = ["name,email,organisation"] if header else []
    lines += [f"Person {i},person{i}@cohort.example.org,Org {i}" for i in range(start, start + n)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def circle(app):
    return make_circle(make_user("Rachel Stone"))


def owner_of(circle):
    from community.circles.models import Membership
    from tests.factories import _owner_membership_id
    return db.session.get(Membership, _owner_membership_id(circle)).user


def upload(client, slug, data: bytes, name="cohort.csv"):
    """As a browser sends a chosen file (built by hand: the test client spools a large
    body to a temporary file it never closes)."""
    body = (b'--x\r\nContent-Disposition: form-data; name="days"\r\n\r\n14\r\n'
            b'--x\r\nContent-Disposition: form-data; name="csv_file"; filename="'
            + name.encode() + b'"\r\nContent-Type: text/csv\r\n\r\n' + data + b"\r\n--x--\r\n")
    return client.post(f"/c/{slug}/manage/invitations/bulk", data=body,
                       content_type="multipart/form-data; boundary=x")


def outbox_count():
    return db.session.scalar(select(func.count(OutboxMail.id)))


def test_upload_preview_send_once(app, client, auth, circle):
    auth.login(owner_of(circle))
    answer = upload(client, circle.slug, cohort_csv(20))
    assert answer.status_code == 302
    preview = client.get(answer.location).get_data(as_text=True)
    assert "20</strong> will be invited" in preview
    assert outbox_count() == 0  # nothing sent before confirming
    send_url = re.search(r'action="([^"]+/send)"', preview).group(1)
    first = client.post(send_url)
    second = client.post(send_url)  # the double click
    assert first.status_code == second.status_code == 302
    assert outbox_count() == 20
    invitations = db.session.scalars(select(Invitation).where(Invitation.circle_id == circle.id)).all()
    assert sorted(i.email for i in invitations) == sorted(
        f"person{i}@cohort.example.org" for i in range(1, 21))
    assert all(i.max_uses == 1 for i in invitations)
    assert "nothing was sent twice" in client.get(second.location).get_data(as_text=True)
    page = client.get(f"/c/{circle.slug}/manage/invitations").get_data(as_text=True)
    assert re.search(r"<strong>0</strong> accepted · <strong>20</strong> pending", page)


def test_the_emailed_link_joins_only_its_address(app, client, circle):
    owner = owner_of(circle)
    batch = actions.preview_invitations(owner, circle.slug, text="Helen Marsh, helen@example.org")
    actions.send_batch(owner, circle.slug, batch.key)
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == "helen@example.org"))
    token = re.search(r"/invite/([\w-]+)", mail.text_body).group(1)
    from community.circles.actions import accept_invitation
    with pytest.raises(ActionError, match="different email address"):
        accept_invitation(make_user(email="someone.else@example.org"), token)
    helen = make_user("Helen Marsh", email="helen@example.org")
    accept_invitation(helen, token)
    assert actions.invitation_counts(circle.id) == {"accepted": 1, "pending": 0, "bounced": 0}


def test_preview_sorts_each_row(app, circle):
    owner = owner_of(circle)
    member = add_member(circle, make_user(email="member@example.org"))
    banned = add_member(circle, make_user(email="banned@example.org"))
    moderation.ban_member(owner, circle.slug, banned.id)
    moderation.create_invitation(owner, circle.slug, email="waiting@example.org")
    db.session.add(MailBounce(address="bounced@example.org", reason="550 no such user"))
    db.session.commit()
    text = "\n".join([
        "New Person, new@example.org, NHS",
        f"Member, {member.email.upper()}",
        "Waiting, waiting@example.org",
        "Bounced, bounced@example.org",
        "Broken, not-an-address",
        "Again, NEW@example.org",
        "Banned, banned@example.org",
        "Nobody,,",
        "a,b@c.org,d,e,f",
    ])
    batch = actions.preview_invitations(owner, circle.slug, text=text)
    verdicts = {v.line: (v.verdict, v.reason) for v in actions.judge_batch(circle, batch)}
    assert verdicts[1][0] == "invite"
    assert verdicts[2][0] == "member"
    assert verdicts[3][0] == "pending"
    assert verdicts[4] == ("unmailable", "Mail to this address has bounced before")
    assert verdicts[5] == ("unmailable", "Not a valid email address")
    assert verdicts[6][0] == "duplicate"
    assert verdicts[7] == ("refused", "Banned from this circle")
    assert verdicts[8] == ("bad", "No email address")
    assert verdicts[9][0] == "bad" and "5 columns" in verdicts[9][1]
    _, sent = actions.send_batch(owner, circle.slug, batch.key)
    assert sent and db.session.scalar(select(func.count(OutboxMail.id)).where(
        OutboxMail.subject.like("%invites you%"), OutboxMail.to_address == "new@example.org")) == 1
    assert db.session.scalar(select(func.count(Invitation.id)).where(
        Invitation.email == "waiting@example.org")) == 1


def test_confirm_judges_again_on_the_server(app, circle):
    """Someone who joined between the preview and the confirmation isn't invited."""
    owner = owner_of(circle)
    batch = actions.preview_invitations(owner, circle.slug, data=cohort_csv(3))
    add_member(circle, make_user(email="person2@cohort.example.org"))
    batch, _ = actions.send_batch(owner, circle.slug, batch.key)
    assert batch.sent_count == 2
    assert not db.session.scalar(select(OutboxMail).where(
        OutboxMail.to_address == "person2@cohort.example.org"))


def test_a_stale_preview_is_refused(app, circle):
    owner = owner_of(circle)
    batch = actions.preview_invitations(owner, circle.slug, data=cohort_csv(2))
    batch.created_at = utcnow() - actions.PREVIEW_LIFETIME * 2
    db.session.commit()
    with pytest.raises(Exception) as err:
        actions.send_batch(owner, circle.slug, batch.key)
    assert "more than a day old" in str(err.value)
    assert outbox_count() == 0


HOSTILE = [
    (b"", "The file is empty"),
    (b"   \n\n", "The file is empty"),
    (cohort_csv(10_000, start=1), "10,000 people; you can invite up to 500"),
    (b"x" * (600 * 1024), "a list can be at most 512 KB"),
    (b"first,last,phone\nJo,Bloggs,0118\nA,b@c.org,1\n", "none of them is \u201cemail\u201d"),
    (b"PK\x03\x04\x14\x00binary", "isn't a CSV file"),
    (b"name,email\n\x00\x01\x02", "isn't a CSV file"),
    (b"name,email\nJ\x81\x8d,j@x.org\n", "encoding can't be read"),
    (b"name,email\n", "column names but nobody"),
]


@pytest.mark.parametrize("data, message", HOSTILE)
def test_hostile_files_are_refused_with_a_message(app, client, auth, circle, data, message):
    auth.login(owner_of(circle))
    answer = upload(client, circle.slug, data)
    assert answer.status_code == 400
    assert message in html.unescape(answer.get_data(as_text=True))
    assert outbox_count() == 0


def test_a_body_over_the_site_limit_is_413(app, client, auth, circle):
    auth.login(owner_of(circle))
    body = (b'--x\r\nContent-Disposition: form-data; name="csv_file"; filename="big.csv"\r\n\r\n'
            + b"a" * (2 * 1024 * 1024) + b"\r\n--x--\r\n")  # raw bytes: no spooled temp file
    answer = client.post(f"/c/{circle.slug}/manage/invitations/bulk", data=body,
                         content_type="multipart/form-data; boundary=x")
    assert answer.status_code == 413 and "too large" in answer.get_data(as_text=True)


def test_windows_1252_and_bom_files_are_read(app, client, auth, circle):
    auth.login(owner_of(circle))
    cp1252 = "name,email,organisation\nZoë Brontë,zoe@example.org,Café Trust\n".encode("cp1252")
    page = client.get(upload(client, circle.slug, cp1252).location).get_data(as_text=True)
    assert "Zoë Brontë" in page and "1</strong> will be invited" in page
    bom = "\ufeffname,email\nÅsa,asa@example.org\n".encode("utf-8")
    page = client.get(upload(client, circle.slug, bom).location).get_data(as_text=True)
    assert "Åsa" in page and "asa@example.org" in page


def test_pasted_spreadsheet_lines_and_angle_addresses(app, client, auth, circle):
    auth.login(owner_of(circle))
    answer = client.post(f"/c/{circle.slug}/manage/invitations/bulk", data={
        "lines": "Jo Bloggs <jo@example.org>\nAmy\tamy@example.org\tRadio Berkshire\n",
        "days": "14"})
    page = client.get(answer.location).get_data(as_text=True)
    assert "2</strong> will be invited" in page and "Radio Berkshire" in page
    empty = client.post(f"/c/{circle.slug}/manage/invitations/bulk", data={"lines": " ", "days": "14"})
    assert empty.status_code == 400 and "Paste a list" in empty.get_data(as_text=True)


def test_formula_cells_are_neutralised_on_export(app, client, auth, circle):
    owner = owner_of(circle)
    text = '"=HYPERLINK(""http://evil.example"")",eq@example.org,+SUM(A1)\n@cmd,at@example.org,-2+3'
    batch = actions.preview_invitations(owner, circle.slug, text=text)
    actions.send_batch(owner, circle.slug, batch.key)
    auth.login(owner)
    answer = client.get(f"/c/{circle.slug}/manage/invitations/people.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    cells = [cell for row in rows[1:] for cell in row]
    assert not any(cell[:1] in "=+-@" for cell in cells if cell), cells
    assert any(cell.startswith("'=HYPERLINK") for cell in cells)
    assert neutralise("-2+3") == "'-2+3" and neutralise("Plain") == "Plain"


def test_bulk_resend_and_revoke(app, client, auth, circle):
    owner = owner_of(circle)
    batch = actions.preview_invitations(owner, circle.slug, data=cohort_csv(3))
    actions.send_batch(owner, circle.slug, batch.key)
    ids = [str(i.id) for i in db.session.scalars(select(Invitation).order_by(Invitation.id))]
    old_hashes = {i.id: i.token_hash for i in db.session.scalars(select(Invitation))}
    auth.login(owner)
    answer = client.post(f"/c/{circle.slug}/manage/invitations/people",
                         data={"verb": "resend", "invitation": ids[:2]})
    assert answer.status_code == 302 and outbox_count() == 5
    assert "Sent again to 2 people" in client.get(answer.location).get_data(as_text=True)
    db.session.expire_all()
    changed = [i.id for i in db.session.scalars(select(Invitation)) if i.token_hash != old_hashes[i.id]]
    assert sorted(map(str, changed)) == sorted(ids[:2])
    client.post(f"/c/{circle.slug}/manage/invitations/people", data={"verb": "revoke", "invitation": ids})
    assert actions.invitation_counts(circle.id)["pending"] == 0
    nothing = client.post(f"/c/{circle.slug}/manage/invitations/people", data={"verb": "resend"})
    assert nothing.status_code == 400 and "Tick the invitations first" in nothing.get_data(as_text=True)


def test_a_permanent_refusal_is_counted_as_bounced(app, circle):
    owner = owner_of(circle)
    batch = actions.preview_invitations(owner, circle.slug, text="Gone, gone@example.org")
    actions.send_batch(owner, circle.slug, batch.key)
    app.config["MAIL_SERVER"] = "smtp.example.org"
    smtp = mock.MagicMock()
    smtp.send_message.side_effect = smtplib.SMTPRecipientsRefused(
        {"gone@example.org": (550, b"5.1.1 No such user")})
    with mock.patch("smtplib.SMTP", return_value=smtp):
        send_due(utcnow())
    assert actions.invitation_counts(circle.id) == {"accepted": 0, "pending": 0, "bounced": 1}
    again = actions.preview_invitations(owner, circle.slug, text="Gone, gone@example.org")
    assert actions.judge_batch(circle, again)[0].verdict == "unmailable"


@pytest.mark.parametrize("who", ["plain member", "moderator elsewhere", "other programme staff",
                                 "site admin", "signed out"])
def test_who_may_not_bulk_invite(app, client, auth, circle, who):
    owner = owner_of(circle)
    batch = actions.preview_invitations(owner, circle.slug, data=cohort_csv(2))
    if who == "plain member":
        auth.login(add_member(circle, make_user()))
    elif who == "moderator elsewhere":
        other = make_circle(make_user(), name="Elsewhere")
        auth.login(add_member(other, make_user(), role="moderator"))
    elif who == "other programme staff":
        from tests.programmes.test_programmes import make_admin, make_staff
        admin = make_admin()
        staff = make_staff(admin, "Other Staff")
        actions.create_programme(staff, "Other", "", 2020)
        auth.login(staff)
    elif who == "site admin":
        from tests.programmes.test_programmes import make_admin
        auth.login_past_second_step(make_admin())
    base = f"/c/{circle.slug}/manage/invitations"
    gets = [f"{base}/bulk", f"{base}/bulk/{batch.key}", f"{base}/people", f"{base}/people.csv"]
    posts = [(f"{base}/bulk", {"lines": "x, x@example.org"}), (f"{base}/bulk/{batch.key}/send", {}),
             (f"{base}/people", {"verb": "revoke", "invitation": "1"})]
    expected = {"plain member": 403}.get(who, 404)
    for url in gets:
        answer = client.get(url)
        assert (answer.status_code if who != "signed out" else answer.status_code // 100 * 100) == \
            (expected if who != "signed out" else 300), url
    for url, data in posts:
        answer = client.post(url, data=data)
        assert answer.status_code in ((expected,) if who != "signed out" else (302, 303)), url
    assert outbox_count() == 0


def test_a_fellow_moderator_cannot_send_someone_elses_preview(app, client, auth, circle):
    owner = owner_of(circle)
    batch = actions.preview_invitations(owner, circle.slug, data=cohort_csv(2))
    moderator = add_member(circle, make_user(), role="moderator")
    auth.login(moderator)
    assert client.post(f"/c/{circle.slug}/manage/invitations/bulk/{batch.key}/send").status_code == 404
    assert client.get(f"/c/{circle.slug}/manage/invitations/bulk").status_code == 200
    assert outbox_count() == 0
