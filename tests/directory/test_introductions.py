"""Asking for an introduction from a directory profile: only to someone one
shares no circle with and who is open to it; accepted, a conversation opens
(policy.introduced lets them message); declined, nothing tells the asker;
rate limited; the words are emailed only if the recipient chose it."""
import pytest
from sqlalchemy import select

from community.directory import actions as directory
from community.directory.models import Introduction
from community.errors import ActionError, NotFound
from community.extensions import db
from community.messages import actions as dm
from community.policy import INTRODUCTIONS_PER_DAY
from tests.conftest import AuthActions
from tests.directory.conftest import set_profile
from tests.factories import make_circle, make_user


@pytest.fixture
def open_subject(people):
    set_profile(people.subject, visibility={"contact": "alumni"})
    return people.subject


def test_a_stranger_asks_and_an_acceptance_opens_a_conversation(app, client, people, open_subject):
    other = people.other
    with pytest.raises(ActionError, match="share a circle"):
        dm.start_conversation(other, [str(open_subject.id)])  # not before
    AuthActions(client).login(other)
    page = client.get(f"/people/{open_subject.id}").get_data(as_text=True)
    assert "Ask for an introduction" in page
    answer = client.post(f"/people/{open_subject.id}/introduction", data={"message": "Budgets in Reading?"})
    assert answer.status_code == 302
    intro = db.session.scalar(select(Introduction))
    assert (intro.requester_id, intro.recipient_id, intro.status) == (other.id, open_subject.id, "pending")
    AuthActions(client).logout()
    AuthActions(client).login(open_subject)
    page = client.get("/introductions").get_data(as_text=True)
    assert "Olly Other" in page and "Budgets in Reading?" in page
    answer = client.post(f"/introductions/{intro.id}/accept")
    assert answer.status_code == 302 and "/messages/" in answer.location
    # Now both may write, though they still share no circle.
    conversation_id = int(answer.location.rstrip("/").split("/")[-1])
    dm.send_message(other, conversation_id, "Thank you!", "c-1")
    dm.send_message(open_subject, conversation_id, "Glad to.", "c-2")


def test_declining_is_silent(app, client, people, open_subject):
    intro = directory.ask_introduction(people.other, open_subject.id, "Hello")
    directory.decline_introduction(open_subject, intro.id)
    AuthActions(client).login(people.other)
    page = client.get("/introductions").get_data(as_text=True)
    assert "Sent" in page and "Declined" not in page and "declined" not in page
    data = client.get("/settings/data.json").get_json()
    assert data["introductions_asked"][0]["status"] == "sent"
    with pytest.raises(ActionError, match="share a circle"):
        dm.start_conversation(people.other, [str(open_subject.id)])
    # Asking again reads as "already asked", whatever became of it.
    with pytest.raises(ActionError, match="already"):
        directory.ask_introduction(people.other, open_subject.id, "Again")


@pytest.mark.parametrize("how", ["closed", "hidden_flag", "mate", "self", "blocked_me", "unlisted"])
def test_who_cant_be_asked(app, people, open_subject, how):
    asker = people.other
    if how == "closed":
        set_profile(open_subject, open_to_contact=False)
    elif how == "hidden_flag":
        set_profile(open_subject, visibility={"contact": "circles"})  # the asker can't see it
    elif how == "mate":
        asker = people.same
    elif how == "self":
        asker = open_subject
    elif how == "blocked_me":
        intro = directory.ask_introduction(people.other, open_subject.id, "Hi")
        directory.accept_introduction(open_subject, intro.id)
        dm.block(open_subject, people.other.id)
        db.session.execute(Introduction.__table__.delete())
        db.session.commit()
    elif how == "unlisted":
        set_profile(open_subject, listed_in_directory=False)
    error = NotFound if how == "unlisted" else ActionError
    with pytest.raises(error):
        directory.ask_introduction(asker, open_subject.id, "Hello")


def test_no_one_in_a_circle_can_ask(app, people, open_subject):
    with pytest.raises(NotFound):
        directory.ask_introduction(people.none, open_subject.id, "Hello")


def test_requests_are_rate_limited(app, client, people):
    asker = people.other
    for n in range(INTRODUCTIONS_PER_DAY + 1):
        person = make_user(f"Person {n}")
        make_circle(person, name=f"Circle {n}")
        set_profile(person, listed_in_directory=True, open_to_contact=True, visibility={"contact": "alumni"})
        if n < INTRODUCTIONS_PER_DAY:
            directory.ask_introduction(asker, person.id, "Hello")
    AuthActions(client).login(asker)
    answer = client.post(f"/people/{person.id}/introduction", data={"message": "One too many"})
    assert answer.status_code == 400
    assert "introductions a day" in answer.get_data(as_text=True)
    assert db.session.query(Introduction).count() == INTRODUCTIONS_PER_DAY


def test_a_long_message_is_refused(app, client, people, open_subject):
    AuthActions(client).login(people.other)
    answer = client.post(f"/people/{open_subject.id}/introduction", data={"message": "x" * 501})
    assert answer.status_code == 400 and "at most 500" in answer.get_data(as_text=True)
    assert db.session.query(Introduction).count() == 0


def test_only_the_recipient_decides(app, client, people, open_subject):
    intro = directory.ask_introduction(people.other, open_subject.id, "Hello")
    for someone in (people.other, people.same):
        AuthActions(client).login(someone)
        assert client.post(f"/introductions/{intro.id}/accept").status_code == 404
        assert client.post(f"/introductions/{intro.id}/decline").status_code == 404
        AuthActions(client).logout()
    db.session.expire_all()
    assert db.session.get(Introduction, intro.id).status == "pending"


@pytest.mark.parametrize("excerpts", [False, True])
def test_the_words_are_emailed_only_if_the_recipient_chose_it(app, people, open_subject, excerpts):
    from community.notifications.dispatch import dispatch_notifications
    from community.notifications.models import OutboxMail
    from community.timeutil import utcnow

    set_profile(open_subject, introduction_excerpts=excerpts)
    directory.ask_introduction(people.other, open_subject.id, "Secretword about budgets")
    dispatch_notifications(utcnow())
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.to_address == open_subject.email))
    assert mail is not None and "Olly Other" in mail.subject
    body = (mail.text_body or "") + (mail.html_body or "")
    assert ("Secretword" in body) is excerpts


def test_introduced_people_hear_their_conversation_live(app, people, open_subject):
    from community.policy import hearing_pairs

    intro = directory.ask_introduction(people.other, open_subject.id, "Hi")
    conversation = directory.accept_introduction(open_subject, intro.id)
    pairs = {(conversation.id, people.other.id), (conversation.id, open_subject.id)}
    assert hearing_pairs(pairs) == pairs
