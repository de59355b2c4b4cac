"""When a challenge moves on, those concerned hear of it: once, without its
words, as their choices and mutes say; whether a person or time moved it."""
from datetime import timedelta

from sqlalchemy import select

from community.challenges import actions as challenges
from community.challenges.models import Challenge, FollowUp
from community.extensions import db
from community.notifications.actions import set_preferences, visible
from community.notifications.dispatch import dispatch_notifications
from community.notifications.kinds import KINDS
from community.notifications.models import Notification, OutboxMail
from community.threads import actions as threads
from community.timeutil import utcnow
from tests.challenges.helpers import backdate, make_room, to_phase
from tests.factories import add_member, make_user
from tests.racing import engine_app, race  # noqa: F401 - the fixture


def told(kind: str = "challenge_phase") -> dict[int, str]:
    return {note.user_id: note.text for note in db.session.scalars(
        select(Notification).where(Notification.kind == kind))}


def engaged_room(**durations):
    """A room where the member asked (so follows), someone muted it, someone kept
    an idea, and someone else never took part."""
    room = make_room(**durations)
    challenges.post_to_challenge(room.member, room.slug, room.challenge.id, "question", "Who decides?")
    muted = add_member(room.circle, make_user("Muriel Muted"))
    challenges.post_to_challenge(muted, room.slug, room.challenge.id, "question", "How long?")
    threads.set_subscription(muted, room.slug, room.challenge.thread_id, "muted")
    holder = add_member(room.circle, make_user("Holly Holder"))
    challenges.hold_idea(holder, room.slug, room.challenge.id, "Pilot it with one team")
    quiet = add_member(room.circle, make_user("Quentin Quiet"))
    return room, muted, holder, quiet


def test_ideas_opening_tells_followers_and_those_who_kept_an_idea(app):
    from community.circles import actions as circles

    room, muted, holder, quiet = engaged_room()
    gone = add_member(room.circle, make_user("Lena Left"))
    challenges.post_to_challenge(gone, room.slug, room.challenge.id, "question", "Who else?")
    circles.leave_circle(gone, room.slug)
    challenges.move_phase(room.presenter, room.slug, room.challenge.id, "questions")
    notes = told()
    assert set(notes) == {room.member.id, holder.id}  # not the mover, muted, quiet or gone
    assert notes[room.member.id] == f"Ideas are open on a challenge you follow in {room.circle.name}"
    assert notes[holder.id] == f"Ideas are open: post the idea you kept, in {room.circle.name}"
    note = db.session.scalar(select(Notification).where(Notification.user_id == holder.id,
                                                        Notification.kind == "challenge_phase"))
    assert note.url == f"/c/{room.slug}/t/{room.challenge.thread_id}?page=1#reply"
    assert note.excerpt is None and "Two teams" not in note.text  # no words: it may be emailed


def test_a_moderators_move_tells_the_presenter_too_and_reflection_is_their_turn(app):
    room, *_ = engaged_room()
    challenges.move_phase(room.moderator, room.slug, room.challenge.id, "questions")
    assert told()[room.presenter.id] == f"Ideas are open on your challenge in {room.circle.name}"
    db.session.execute(Notification.__table__.delete())
    db.session.commit()
    challenges.move_phase(room.moderator, room.slug, room.challenge.id, "ideas")
    assert told() == {room.presenter.id:
                      f"It's time for your reflection on your challenge in {room.circle.name}"}
    db.session.execute(Notification.__table__.delete())
    db.session.commit()
    challenges.reflect(room.presenter, room.slug, room.challenge.id, "Learnt", [])
    assert told() == {}  # Follow-up is told as the reflection itself ("reflected")


def test_a_presenter_moving_to_reflection_is_not_told_of_their_own_move(app):
    room = make_room()
    challenges.move_phase(room.presenter, room.slug, room.challenge.id, "questions")
    challenges.move_phase(room.presenter, room.slug, room.challenge.id, "ideas")
    assert room.presenter.id not in told()


def test_a_timed_phase_is_announced_once_by_the_sweep_however_often_it_runs(app):
    room, muted, holder, quiet = engaged_room(questions_minutes=60)
    assert challenges.settle_ended_phases() == 0  # not ended yet
    backdate(room.challenge.id, minutes=61)
    assert challenges.settle_ended_phases() == 1
    assert challenges.settle_ended_phases() == 0
    assert challenges.run_due() == 0
    notes = told()
    assert set(notes) == {room.presenter.id, room.member.id, holder.id}
    assert db.session.get(Challenge, room.challenge.id).phase == "ideas"
    # A write after the sweep finds it moved already: no second notice.
    challenges.post_to_challenge(room.member, room.slug, room.challenge.id, "idea", "Share the budget")
    assert len(db.session.scalars(select(Notification).where(
        Notification.kind == "challenge_phase")).all()) == 3


def test_a_write_after_the_time_ran_out_announces_it_and_the_sweep_does_not_again(app):
    room, muted, holder, quiet = engaged_room(questions_minutes=60)
    backdate(room.challenge.id, minutes=61)
    challenges.post_to_challenge(room.member, room.slug, room.challenge.id, "idea", "Share the budget")
    assert set(told()) == {room.presenter.id, holder.id}  # not the writer, who sees it
    assert challenges.settle_ended_phases() == 0
    assert len(told()) == 2


def test_preferences_are_respected_and_the_email_has_no_words(app):
    room, muted, holder, quiet = engaged_room()
    set_preferences(room.member, {"challenge_phase": "email"})
    set_preferences(holder, {"challenge_phase": "off"})
    challenges.move_phase(room.presenter, room.slug, room.challenge.id, "questions")
    assert db.session.scalars(visible(holder.id)).all() == []  # turned off: not even in the app
    dispatch_notifications(utcnow() + timedelta(seconds=1))
    mails = db.session.scalars(select(OutboxMail)).all()
    assert [mail.to_address for mail in mails] == [room.member.email]
    assert "Two teams" not in mails[0].subject + mails[0].text_body + mails[0].html_body
    assert "Where do I start" not in mails[0].text_body and "Who decides" not in mails[0].text_body


def test_racing_sweeps_and_a_writer_announce_an_ended_phase_once(engine_app):  # noqa: F811
    room = make_room(questions_minutes=60)
    backdate(room.challenge.id, minutes=61)
    outcomes = race(engine_app, *[(challenges.settle_ended_phases, None)] * 3,
                    (challenges.post_to_challenge, room.member.id, room.slug, room.challenge.id,
                     "idea", "Share the budget"))
    assert sum(result or 0 for _, result in outcomes[:3]) in (0, 1)
    db.session.expire_all()
    assert db.session.scalars(select(Notification.user_id).where(
        Notification.kind == "challenge_phase")).all() == [room.presenter.id]


def test_no_email_a_challenge_sends_holds_its_words(app):
    """Every kind of notice a challenge makes, each person taking all at once by
    email: the title, the situation, the ask, questions, ideas, the reflection,
    commitments and the update stay in the circle (a circle's own choice to
    quote posts in email, off by default, is as for threads)."""
    room = make_room()
    everyone = (room.owner, room.moderator, room.presenter, room.member)
    for person in everyone:
        set_preferences(person, {kind: "email" for kind in KINDS})
    words = ["Two teams", "merging", "Where do I start", "Quiet title", "secret situation",
             "Who decides", "It is the board", "Share the budget", "I take away a lot",
             "Talk to both leads", "it went well"]
    challenges.open_challenge(room.member, room.slug, "Quiet title", "A secret situation.", "Ask?")
    at = (room.slug, room.challenge.id)
    challenges.post_to_challenge(room.member, *at, "question", "Who decides?")
    challenges.post_to_challenge(room.presenter, *at, "answer", "It is the board.")
    to_phase(room, "ideas")
    challenges.post_to_challenge(room.member, *at, "idea", "Share the budget.")
    to_phase(room, "follow_up")
    due = db.session.scalar(select(FollowUp.due_at).where(FollowUp.challenge_id == room.challenge.id))
    challenges.send_due_follow_ups(due)
    challenges.post_to_challenge(room.presenter, *at, "update", "I met both leads; it went well.")
    dispatch_notifications(utcnow() + timedelta(days=400))
    mails = db.session.scalars(select(OutboxMail)).all()
    kinds = set(db.session.scalars(select(Notification.kind).where(Notification.channel == "email")))
    assert {"new_challenge", "reply", "challenge_phase", "challenge_follow_up",
            "challenge_update"} <= kinds
    assert len(mails) >= 5
    for mail in mails:
        for word in words:
            assert word not in mail.subject + mail.text_body + mail.html_body, (word, mail.subject)
