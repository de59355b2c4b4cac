"""Notifications and email of direct messages, against a real SMTP server: who is
told, when (once for a burst, after DM_EMAIL_DELAY, and not if read meanwhile),
what an email says (never the text, unless the person asks), and muting."""
import email
import email.policy
import re
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from community.extensions import db
from community.messages import actions as dm
from community.messages.notify import KIND
from community.notifications.actions import set_preferences, unread_count
from community.notifications.dispatch import dispatch_notifications
from community.notifications.mailer import send_due
from community.notifications.models import Notification
from community.timeutil import utcnow
from tests.messages.conftest import login, text
from tests.notifications.test_smtp import Inbox, Server

DELAY = 60  # DM_EMAIL_DELAY here: passes of the worker are given their time


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    server = Server(inbox)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app(make_app, smtp_server):
    """The app, its mail going to the real SMTP server (the people fixture builds on it)."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_USE_TLS=False,
                   MAIL_FROM="Alumni Circles <circles@example.org>", DM_EMAIL_DELAY=DELAY,
                   CHAT_RATE_LIMIT=100)
    with app.app_context():
        yield app


def later(seconds: float = DELAY + 1):
    return utcnow() + timedelta(seconds=seconds)


def deliver(at=None) -> None:
    """One pass of the mail worker at a given time: route notifications, send the outbox."""
    at = at or later()
    dispatch_notifications(at)
    send_due(at)


def received(server: Server, person) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(e.content, policy=email.policy.default)
            for e in server.inbox.messages if person.email in e.rcpt_tos]


def bodies(mail) -> str:
    return "\n".join(part.get_content() for part in mail.walk() if not part.is_multipart())


def notes_of(person) -> list[Notification]:
    return db.session.scalars(select(Notification).where(Notification.user_id == person.id,
                                                         Notification.kind == KIND)
                              .order_by(Notification.id)).all()


def start(a, *others):
    return dm.start_conversation(a, [str(o.id) for o in others])


def say(author, conversation, *texts):
    for body in texts:
        dm.send_message(author, conversation.id, body, uuid.uuid4().hex)


# --- The email ----------------------------------------------------------------------------

def test_a_message_is_emailed_after_the_delay_and_without_its_text(app, people, smtp_server):
    amara, gareth = people["moderator"], people["member"]
    pair = start(amara, gareth)
    say(amara, pair, "The budget is SECRET-42, keep it quiet")
    deliver(later(DELAY - 10))
    assert received(smtp_server, gareth) == []  # not yet: it waits DM_EMAIL_DELAY
    deliver()
    [mail] = received(smtp_server, gareth)
    assert mail["Subject"] == "Amara Okafor sent you a message"
    content = bodies(mail)
    assert "SECRET-42" not in content and "budget" not in content
    assert f"http://127.0.0.1:5000/messages/{pair.id}" in content
    assert "In this conversation: you and Amara Okafor." in content
    assert "List-Unsubscribe" in str(mail)
    assert received(smtp_server, amara) == []  # the author is told nothing of her own message
    deliver(later(3600))
    assert len(received(smtp_server, gareth)) == 1


def test_the_bell_says_who_wrote_and_never_what(app, people):
    amara, gareth = people["moderator"], people["member"]
    pair = start(amara, gareth)
    say(amara, pair, "SECRET-42 is the number")
    assert unread_count(gareth.id) == 1
    page = text(login(app, gareth).get("/notifications"))
    assert "Amara Okafor sent you a message" in page and f'href="/messages/{pair.id}"' in page
    assert "Direct messages" in page and "SECRET-42" not in page
    [note] = notes_of(gareth)
    assert note.excerpt is None and "SECRET" not in note.text
    assert notes_of(amara) == []


def test_with_excerpts_turned_on_the_email_quotes_the_messages(app, people, smtp_server):
    amara, gareth = people["moderator"], people["member"]
    client = login(app, gareth)
    page = text(client.get("/settings/notifications"))
    assert 'id="dm_excerpts"' in page and 'id="dm_excerpts" aria-describedby="dm_excerpts-hint">' in page
    client.post("/settings/notifications", data={"preset": "important_email", "dm_excerpts_shown": "1",
                                                 "dm_excerpts": "1"})
    pair = start(amara, gareth)
    say(amara, pair, "Lunch on **Friday** at <b>noon</b>?")
    deliver()
    [mail] = received(smtp_server, gareth)
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Amara Okafor: “Lunch on Friday at <b>noon</b>?”" in plain  # the words, as written
    assert "Lunch on Friday at &lt;b&gt;noon&lt;/b&gt;?" in html and "<b>noon" not in html
    assert "<strong>Friday" not in html


def test_a_group_email_names_the_people(app, people, smtp_server):
    amara, gareth, priya = people["moderator"], people["member"], people["other"]
    group = start(amara, gareth, priya)
    say(amara, group, "one")
    say(priya, group, "two")
    deliver()
    [mail] = received(smtp_server, gareth)
    assert mail["Subject"] == ("Priya Raman and Amara Okafor sent 2 messages in your conversation "
                               "with Amara Okafor and Priya Raman")


# --- Batching ------------------------------------------------------------------------------

def test_a_burst_of_ten_makes_one_email_and_nothing_more_while_unread(app, people, smtp_server):
    amara, gareth = people["moderator"], people["member"]
    pair = start(amara, gareth)
    say(amara, pair, *[f"message {i}" for i in range(5)])
    deliver(later(10))  # the worker passes in the middle of the burst
    say(amara, pair, *[f"message {i}" for i in range(5, 10)])
    [note] = notes_of(gareth)
    assert note.text == "Amara Okafor sent you 10 messages" and unread_count(gareth.id) == 1
    deliver()
    [mail] = received(smtp_server, gareth)
    assert mail["Subject"] == "Amara Okafor sent you 10 messages"
    # More while that one is unread: the bell's line grows, no second email.
    say(amara, pair, "eleven", "twelve")
    deliver(later(3600))
    assert len(received(smtp_server, gareth)) == 1
    [note] = notes_of(gareth)
    assert note.text == "Amara Okafor sent you 12 messages"
    # Once read, the next message is a new notification, emailed in its turn.
    dm.mark_read(gareth, pair.id, 12)
    assert unread_count(gareth.id) == 0
    say(amara, pair, "thirteen")
    assert len(notes_of(gareth)) == 2
    deliver(later(7200))
    assert [m["Subject"] for m in received(smtp_server, gareth)] == [
        "Amara Okafor sent you 10 messages", "Amara Okafor sent you a message"]


def test_reading_before_the_delay_sends_no_email(app, people, smtp_server):
    amara, gareth, priya = people["moderator"], people["member"], people["other"]
    group = start(amara, gareth, priya)
    say(amara, group, "one", "two")
    assert unread_count(gareth.id) == 1
    deliver(later(10))  # too soon to email
    client = login(app, gareth)
    assert client.post(f"/messages/{group.id}/read", data={"seq": "2"}).status_code == 302
    assert unread_count(gareth.id) == 0  # the bell's entry is read with the conversation
    deliver()
    assert received(smtp_server, gareth) == []
    assert len(received(smtp_server, priya)) == 1  # she didn't read it


def test_answering_puts_away_ones_own_notification(app, people, smtp_server):
    amara, gareth = people["moderator"], people["member"]
    pair = start(amara, gareth)
    say(amara, pair, "are you coming?")
    say(gareth, pair, "yes")  # one has read what one answers
    assert unread_count(gareth.id) == 0 and unread_count(amara.id) == 1
    deliver()
    assert received(smtp_server, gareth) == [] and len(received(smtp_server, amara)) == 1


def test_two_workers_at_once_send_one_email(app, people, smtp_server):
    amara, gareth = people["moderator"], people["member"]
    pair = start(amara, gareth)
    say(amara, pair, "hello")
    at = later()
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        with app.app_context():
            try:
                barrier.wait(5)
                deliver(at)
            except Exception as exc:  # noqa: BLE001 - reported to the test
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(received(smtp_server, gareth)) == 1


# --- Who is told ---------------------------------------------------------------------------

@pytest.mark.parametrize("channel,in_bell", [("off", False), ("in_app", True), ("digest", True)])
def test_the_persons_choice_for_direct_messages_holds(app, people, smtp_server, channel, in_bell):
    amara, gareth, priya = people["moderator"], people["member"], people["other"]
    set_preferences(gareth, {"direct_message": channel})
    group = start(amara, gareth, priya)
    say(amara, group, "hello both")
    deliver()
    assert received(smtp_server, gareth) == []
    assert len(received(smtp_server, priya)) == 1  # the default: email
    assert unread_count(gareth.id) == (1 if in_bell else 0)
    assert ("Amara Okafor sent" in text(login(app, gareth).get("/notifications"))) is in_bell


def test_a_former_member_hears_nothing_more(app, people, smtp_server):
    amara, gareth, priya, tom = people["moderator"], people["member"], people["other"], people["third"]
    group = start(amara, gareth, priya, tom)
    say(amara, group, "before")
    dm.leave_conversation(tom, group.id)  # before the email went: none goes
    say(amara, group, "after")
    deliver()
    assert received(smtp_server, tom) == []
    assert [n.text for n in notes_of(tom)] == [
        "Amara Okafor sent a message in your conversation with Amara Okafor, Gareth Lloyd and Priya Raman"]
    [mail] = received(smtp_server, gareth)
    assert mail["Subject"] == ("Amara Okafor sent 2 messages in your conversation with "
                               "Amara Okafor and Priya Raman")


def test_a_blocked_sender_notifies_no_one(app, people, smtp_server):
    amara, gareth = people["moderator"], people["member"]
    pair = start(amara, gareth)
    say(amara, pair, "first")
    dm.block(gareth, amara.id)
    with pytest.raises(dm.CantSend):
        say(amara, pair, "second")
    [note] = notes_of(gareth)
    assert note.text == "Amara Okafor sent you a message"  # the refused one counts for nothing


def test_blocking_before_the_email_goes_means_it_never_goes(app, people, smtp_server):
    amara, gareth = people["moderator"], people["member"]
    pair = start(amara, gareth)
    say(amara, pair, "something unkind")
    dm.block(gareth, amara.id)
    deliver()
    assert received(smtp_server, gareth) == []


def test_a_site_admin_is_never_told_of_others_conversations(app, people, smtp_server):
    amara, gareth, admin = people["moderator"], people["member"], people["admin"]
    pair = start(amara, gareth)
    say(amara, pair, "private")
    deliver()
    assert len(received(smtp_server, gareth)) == 1
    assert received(smtp_server, admin) == [] and notes_of(admin) == []
    assert unread_count(admin.id) == 0 and dm.unread_total(admin) == 0


# --- Mute ------------------------------------------------------------------------------------

def test_a_muted_conversation_sends_nothing_and_unmuting_brings_it_back(app, people, smtp_server):
    amara, gareth, priya = people["moderator"], people["member"], people["other"]
    group = start(amara, gareth, priya)
    say(amara, group, "pending")
    client = login(app, gareth)
    page = text(client.get(f"/messages/{group.id}"))
    assert f'action="/messages/{group.id}/mute"' in page
    assert client.post(f"/messages/{group.id}/mute").status_code == 302
    assert unread_count(gareth.id) == 0  # the pending one is put away, its email too
    say(amara, group, "while muted", "and more")
    deliver()
    assert received(smtp_server, gareth) == [] and len(received(smtp_server, priya)) == 1
    assert unread_count(gareth.id) == 0
    page = text(client.get(f"/messages/{group.id}"))
    assert f'action="/messages/{group.id}/unmute"' in page and "Muted" in page
    listing = text(client.get("/messages"))
    assert re.findall(r'title="Unread messages">(\d+)<', listing) == ["3"]  # still counted here
    assert ">Muted</span>" in listing
    assert dm.unread_total(gareth) == 0  # but not in the header's total
    assert client.post(f"/messages/{group.id}/unmute").status_code == 302
    assert dm.unread_total(gareth) == 3
    say(amara, group, "heard again")
    deliver(later(3600))
    [mail] = received(smtp_server, gareth)
    assert mail["Subject"].startswith("Amara Okafor sent 4 messages")
    assert ">Muted</span>" not in text(client.get("/messages"))


def test_only_members_can_mute(app, people):
    amara, gareth = people["moderator"], people["member"]
    pair = start(amara, gareth)
    for outsider in (people["admin"], people["other"], people["outsider"]):
        client = login(app, outsider)
        assert client.post(f"/messages/{pair.id}/mute").status_code == 404
        assert client.post(f"/messages/{pair.id}/unmute").status_code == 404
    say(amara, pair, "still heard")
    assert unread_count(gareth.id) == 1


def test_unread_total_counts_others_unread_in_unmuted_current_conversations(app, people, count_queries):
    amara, gareth, priya, tom = people["moderator"], people["member"], people["other"], people["third"]
    pair = start(amara, gareth)
    group = start(priya, gareth, tom)
    quiet = start(tom, gareth)
    assert dm.unread_total(gareth) == 0
    say(amara, pair, "a", "b")
    say(gareth, pair, "mine")  # read by answering; one's own never counts
    say(amara, pair, "c")
    say(priya, group, "d", "e")
    say(tom, quiet, "f")
    dm.mute_conversation(gareth, quiet.id)
    db.session.refresh(gareth)  # loaded, as the signed-in user is
    with count_queries() as q:
        total = dm.unread_total(gareth)
    assert total == 3 and q.count == 1
    dm.leave_conversation(gareth, group.id)
    assert dm.unread_total(gareth) == 1



def test_the_header_count_reads_the_unread_index_alone_and_skips_removed_messages(app, people):
    """Every signed-in page runs this count: it reads ix_direct_messages_unread,
    not each message's row (bench/findings.md, 46)."""
    from sqlalchemy import event

    from community.messages.models import DirectMessage

    amara, gareth = people["moderator"], people["member"]
    pair = start(amara, gareth)
    say(amara, pair, "a", "b", "c")
    removed = db.session.scalar(select(DirectMessage.id).where(DirectMessage.conversation_id == pair.id)
                                .order_by(DirectMessage.seq.desc()).limit(1))
    dm.delete_message(amara, pair.id, removed)
    sent = []
    listen = lambda conn, cursor, statement, parameters, *args: sent.append((statement, parameters))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        assert dm.unread_total(gareth) == 2
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    [(sql, parameters)] = [(s, p) for s, p in sent if "count(" in s]
    driver = db.session.connection().connection.driver_connection
    plan = [row[-1] for row in driver.execute("EXPLAIN QUERY PLAN " + sql, parameters)]
    covered = "direct_messages USING COVERING INDEX ix_direct_messages_unread"
    assert any(covered in step for step in plan), plan

# --- On PostgreSQL: locks instead of SQLite's one writer ------------------------------------------

def test_on_postgresql_senders_at_once_make_one_notification_and_workers_one_email(
        postgres_url, smtp_server):
    from community import create_app
    from community.accounts.models import User
    from tests.conftest import app_config
    from tests.factories import add_member, make_circle, make_user

    app = create_app(app_config(postgres_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port,
                                MAIL_USE_TLS=False, DM_EMAIL_DELAY=DELAY, CHAT_RATE_LIMIT=100))
    with app.app_context():
        db.create_all()
        amara = make_user("Amara Okafor")
        circle = make_circle(amara)
        gareth = add_member(circle, make_user("Gareth Lloyd"))
        priya = add_member(circle, make_user("Priya Raman"))
        group = start(amara, gareth, priya)
        ids, conversation_id = (amara.id, priya.id), group.id
        db.session.commit()
        barrier = threading.Barrier(4)
        errors = []

        def run(job):
            with app.app_context():
                try:
                    barrier.wait(5)
                    job()
                except Exception as exc:  # noqa: BLE001 - reported to the test
                    errors.append(repr(exc))
                finally:
                    db.session.remove()

        def sender(user_id):
            return lambda: [dm.send_message(db.session.get(User, user_id), conversation_id, f"m{i}",
                                            uuid.uuid4().hex) for i in range(5)]

        threads = [threading.Thread(target=run, args=(sender(i),)) for i in ids for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        [note] = notes_of(gareth)  # not one per sender, nor per message
        assert note.text.startswith("Priya Raman and Amara Okafor sent 20 messages") or \
            note.text.startswith("Amara Okafor and Priya Raman sent 20 messages")
        at = later()
        barrier = threading.Barrier(4)
        workers = [threading.Thread(target=run, args=(lambda: deliver(at),)) for _ in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(60)
        assert errors == []
        [mail] = received(smtp_server, gareth)
        assert "sent 20 messages" in mail["Subject"]
        db.session.remove()
        db.engine.dispose()
