"""Leaving a circle, keeping one's name on what one wrote there, or anonymising it."""
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from community.chat import actions as chat
from community.chat.models import ChatMessage
from community.circles import actions as circles
from community.circles.models import Membership
from community.errors import Forbidden
from community.extensions import db
from community.meetings.actions import polls, rsvps, scheduling, visits
from community.meetings.models import DatePoll, HostOffer, Meeting
from community.moderation.models import AuditEvent
from community.threads import actions as threads
from community.threads.models import Post, Reaction, SearchEntry, Thread
from community.threads.search import search
from community.timeutil import utcnow
from tests.factories import add_member, make_circle, make_user


def soon(days: int, hour: int = 12) -> str:
    moment = (utcnow() + timedelta(days=days)).replace(hour=hour, minute=0)
    return moment.strftime("%Y-%m-%dT%H:%M")


def write_everything(author, circle, helper) -> dict:
    """author writes a thread, a reply, a chat message, organises and hosts a meeting
    and a poll, offers to host and reacts, in circle; helper replies to the thread."""
    thread = threads.start_thread(author, circle.slug, "Budgets across sectors", "Opening words")
    threads.post_reply(helper, circle.slug, thread.id, "A reply from someone else")
    reply = threads.post_reply(author, circle.slug, thread.id, "My second thought")
    helper_post = db.session.scalar(select(Post).where(Post.thread_id == thread.id,
                                                       Post.author_id == helper.id))
    threads.toggle_reaction(author, circle.slug, helper_post.id, "heart")
    message, _ = chat.send_message(author, circle.slug, "Hello from chat", uuid.uuid4().hex)
    meeting = scheduling.schedule_meeting(author, circle.slug, title="Visit", description="",
                                          start=soon(10), duration=60, timezone="Europe/London",
                                          location="Reading", host_user_id=author.id)
    poll = polls.create_poll(author, circle.slug, title="Summer social", timezone="Europe/London",
                             duration="60", location="Reading", host_user_id=author.id,
                             options=[soon(20), soon(27)])
    offer = visits.offer_to_host(author, circle.slug, note="Come to the prison")
    return {"thread": thread.id, "reply": reply.id, "helper_post": helper_post.id,
            "message": message["id"], "meeting": meeting.id, "poll": poll.id, "offer": offer.id}


@pytest.fixture
def world(app):
    owner = make_user("Rachel Stone")
    circle = make_circle(owner, name="Berkshire Leaders")
    other = make_circle(owner, name="Reading Book Club")
    member = add_member(circle, make_user("Gareth Lloyd"))
    add_member(other, member)
    here = write_everything(member, circle, owner)
    there = write_everything(member, other, owner)
    return {"owner": owner, "member": member, "circle": circle, "other": other,
            "here": here, "there": there}


def authored(ids: dict, user_id: int) -> dict:
    """Whose name each thing in ids carries now (None = Former member)."""
    meeting = db.session.get(Meeting, ids["meeting"])
    poll = db.session.get(DatePoll, ids["poll"])
    return {
        "thread": db.session.get(Thread, ids["thread"]).author_id,
        "last_poster": db.session.get(Thread, ids["thread"]).last_poster_id,
        "reply": db.session.get(Post, ids["reply"]).author_id,
        "message": db.session.get(ChatMessage, ids["message"]).author_id,
        "organiser": meeting.organiser_id, "host": meeting.host_user_id,
        "poll": poll.organiser_id, "poll_host": poll.host_user_id,
        "offer": user_id if db.session.get(HostOffer, ids["offer"]) else None,
        "reaction": db.session.scalar(select(Reaction.user_id).where(
            Reaction.post_id == ids["helper_post"], Reaction.user_id == user_id)),
    }


def everything_by(user_id):
    return {key: user_id for key in ("thread", "last_poster", "reply", "message", "organiser",
                                     "host", "poll", "poll_host", "offer", "reaction")}


def test_leaving_keeps_what_one_wrote_attributed_by_default(world):
    member = world["member"]
    circles.leave_circle(member, world["circle"].slug)
    db.session.expire_all()
    assert authored(world["here"], member.id) == {**everything_by(member.id), "offer": member.id}
    assert db.session.get(HostOffer, world["here"]["offer"]).withdrawn_at is not None
    assert authored(world["there"], member.id) == everything_by(member.id)


def test_anonymising_detaches_the_name_in_that_circle_only(world):
    member, circle = world["member"], world["circle"]
    circles.leave_circle(member, circle.slug, anonymise=True)
    db.session.expire_all()
    assert authored(world["here"], member.id) == dict.fromkeys(everything_by(None))
    # The words stay where they were; only the name goes.
    assert db.session.get(Post, world["here"]["reply"]).source == "My second thought"
    assert db.session.get(ChatMessage, world["here"]["message"]).source == "Hello from chat"
    # The other circle is untouched.
    assert authored(world["there"], member.id) == everything_by(member.id)
    membership = db.session.scalar(select(Membership).where(
        Membership.circle_id == circle.id, Membership.user_id == member.id))
    assert membership.status == "left"
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.circle_id == circle.id)
                               .order_by(AuditEvent.id.desc())).first()
    assert (audit.action, audit.actor_id, audit.detail) == ("member.left", member.id, "anonymised")


def test_anonymised_posts_stay_searchable_without_a_name(world):
    """Search entries hold only the text (threads/models.py), so nothing to strip there."""
    assert "author_id" not in SearchEntry.__table__.c
    circles.leave_circle(world["member"], world["circle"].slug, anonymise=True)
    assert db.session.get(SearchEntry, world["here"]["reply"]) is not None
    hits, total, _ = search(world["owner"], "second thought", circle_id=world["circle"].id)
    assert total == 1 and hits[0].post_id == world["here"]["reply"]


def test_a_refused_leave_anonymises_nothing(app):
    owner = make_user()
    circle = make_circle(owner)
    thread = threads.start_thread(owner, circle.slug, "Mine", "Still mine")
    with pytest.raises(Forbidden):
        circles.leave_circle(owner, circle.slug, anonymise=True)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Thread, thread.id).author_id == owner.id


# --- Through the pages ---------------------------------------------------------------------

def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_confirmation_page_offers_both_choices_keep_first(client, auth, world):
    auth.login(world["member"])
    page = client.get(f"/c/{world['circle'].slug}/leave")
    assert page.status_code == 200
    body = text(page)
    assert "<legend>What you wrote in this circle</legend>" in body
    assert '<input checked id="content-0" name="content" type="radio" value="keep">' in body
    assert "Keep my posts and messages attributed to me" in body
    assert "Anonymise what I wrote here" in body and "Former member" in body
    home = text(client.get(f"/c/{world['circle'].slug}/"))
    assert f'href="/c/{world["circle"].slug}/leave"' in home


def test_the_last_owner_is_told_how_to_hand_over(client, auth, world):
    auth.login(world["owner"])
    body = text(client.get(f"/c/{world['circle'].slug}/leave"))
    assert "only owner" in body and "Hand over ownership" in body
    assert 'type="radio"' not in body


@pytest.mark.parametrize("choice", ["anonymise", "keep", None])
def test_leaving_through_the_form(client, auth, world, choice):
    member = world["member"]
    auth.login(member)
    data = {"content": choice} if choice else {}
    response = client.post(f"/c/{world['circle'].slug}/leave", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    expected = None if choice == "anonymise" else member.id
    assert db.session.get(Post, world["here"]["reply"]).author_id == expected
    assert db.session.get(Post, world["there"]["reply"]).author_id == member.id
    assert client.get(f"/c/{world['circle'].slug}/").status_code == 404
    # The thread now shows the reply as a former member's.
    auth.logout()
    auth.login(world["owner"])
    page = text(client.get(f"/c/{world['circle'].slug}/t/{world['here']['thread']}?page=1"))
    assert ("Former member" in page) is (choice == "anonymise")


def test_an_unknown_choice_changes_nothing(client, auth, world):
    auth.login(world["member"])
    response = client.post(f"/c/{world['circle'].slug}/leave", data={"content": "shred"})
    assert response.status_code == 400
    assert "Choose what happens to what you wrote." in text(response)
    assert db.session.scalar(select(func.count(Membership.id)).where(
        Membership.user_id == world["member"].id, Membership.status == "active")) == 2


# --- Anonymising reaches the audit log, notifications, RSVPs and poll answers -------------

def test_anonymising_renames_the_notifications_others_got_about_them(world):
    owner, member, circle = world["owner"], world["member"], world["circle"]
    from community.notifications.models import Notification

    def about_member(circle_id):
        return db.session.scalars(select(Notification).where(
            Notification.user_id == owner.id, Notification.circle_id == circle_id,
            Notification.kind.in_(("reply", "new_thread", "poll_created")))
            .order_by(Notification.id)).all()

    before = [n.text for n in about_member(circle.id)]
    assert before and all(t.startswith("Gareth Lloyd ") for t in before)
    circles.leave_circle(member, circle.slug, anonymise=True)
    db.session.expire_all()
    after = about_member(circle.id)
    assert [n.text for n in after] == [t.replace("Gareth Lloyd", "Former member", 1) for t in before]
    assert all(n.actor_id is None for n in after)
    # The other circle still names them.
    assert all(n.text.startswith("Gareth Lloyd ") for n in about_member(world["other"].id))


def test_anonymising_shows_a_former_member_in_the_audit_log(client, auth, world):
    owner, member, circle = world["owner"], world["member"], world["circle"]
    circles.leave_circle(member, circle.slug, anonymise=True)
    auth.login(owner)
    log = text(client.get(f"/c/{circle.slug}/manage/audit"))
    assert "Gareth Lloyd" not in log
    assert "<strong>A former member</strong> left the circle" in log
    # Someone who leaves keeping their name is still named.
    other = world["other"]
    circles.leave_circle(member, other.slug)
    assert "<strong>Gareth Lloyd</strong> left the circle" in text(
        client.get(f"/c/{other.slug}/manage/audit"))


def test_anonymising_removes_past_rsvps_and_poll_answers(world):
    from sqlalchemy import update

    from community.meetings.models import RSVP, MeetingOccurrence, PollOption, PollVote

    owner, member, circle = world["owner"], world["member"], world["circle"]
    occurrence = db.session.scalar(select(MeetingOccurrence).where(
        MeetingOccurrence.meeting_id == world["here"]["meeting"]))
    rsvps.rsvp(member, circle.slug, occurrence.id, "going")
    rsvps.rsvp(owner, circle.slug, occurrence.id, "going")
    option = db.session.scalar(select(PollOption).where(PollOption.poll_id == world["here"]["poll"]))
    polls.vote(member, circle.slug, world["here"]["poll"], {option.id: "yes"})
    polls.vote(owner, circle.slug, world["here"]["poll"], {option.id: "yes"})
    # The meeting has taken place.
    db.session.execute(update(MeetingOccurrence).where(MeetingOccurrence.id == occurrence.id)
                       .values(starts_at=utcnow() - timedelta(days=1),
                               ends_at=utcnow() - timedelta(hours=23)))
    db.session.commit()
    circles.leave_circle(member, circle.slug, anonymise=True)
    db.session.expire_all()
    assert db.session.scalars(select(RSVP.user_id).where(
        RSVP.occurrence_id == occurrence.id)).all() == [owner.id]
    assert db.session.scalars(select(PollVote.user_id).where(
        PollVote.poll_id == world["here"]["poll"])).all() == [owner.id]
