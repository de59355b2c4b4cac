"""Who may see, edit and run a meeting date's agenda, and what the run sheet does,
through the actions (issue 25, point 4)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from community.agenda import actions as agenda
from community.agenda import present
from community.agenda.models import AgendaItem
from community.challenges import actions as challenges
from community.challenges.models import Challenge
from community.circles import actions as circles
from community.errors import ActionError, Conflict, Forbidden, NotFound
from community.extensions import db
from community.meetings.actions import scheduling
from community.moderation.models import AuditEvent
from community.policy import access_run_sheet, can_facilitate, membership_of
from community.timeutil import utcnow
from tests.agenda.helpers import backdate_step, make_session, phase_of, require_pledge, sheet_of, step


def items(session) -> list[int]:
    db.session.expire_all()
    return list(db.session.scalars(select(AgendaItem.challenge_id).order_by(AgendaItem.position)))


def kinds(session) -> tuple:
    sheet = sheet_of(session)
    return sheet.status, sheet.step_kind


@pytest.mark.parametrize("role, allowed", [
    ("organiser", True), ("owner", True), ("moderator", True), ("presenter", True),
    ("member", False), ("former", None), ("outsider", None)])
def test_who_may_put_someone_elses_challenge_on_the_agenda(app, role, allowed):
    """Facilitators put any open challenge on; a presenter their own; a member
    not someone else's; someone not in the circle learns nothing (404)."""
    s = make_session()
    actor = s.user(role)
    if allowed is None:
        with pytest.raises(NotFound):
            agenda.put_on_agenda(actor, *s.where, s.challenge.id)
    elif allowed:
        agenda.put_on_agenda(actor, *s.where, s.challenge.id)
        assert items(s) == [s.challenge.id]
    else:
        with pytest.raises(Forbidden):
            agenda.put_on_agenda(actor, *s.where, s.challenge.id)
        assert items(s) == []


def test_a_member_puts_their_own_challenge_on_and_takes_it_off(app):
    s = make_session()
    own = challenges.open_challenge(s.member, s.slug, "A hard conversation", "A board member",
                                    "What would you say?")
    agenda.put_on_agenda(s.member, *s.where, own.id)
    agenda.put_on_agenda(s.organiser, *s.where, s.challenge.id)
    [theirs, presenters] = db.session.scalars(select(AgendaItem).order_by(AgendaItem.position))
    with pytest.raises(Forbidden):
        agenda.take_off_agenda(s.member, *s.where, presenters.id)
    agenda.take_off_agenda(s.member, *s.where, theirs.id)
    assert items(s) == [s.challenge.id]
    assert db.session.get(Challenge, own.id) is not None  # the challenge itself stays


@pytest.mark.parametrize("role, allowed", [
    ("organiser", True), ("owner", True), ("moderator", True),
    ("presenter", False), ("member", False), ("former", None), ("outsider", None)])
def test_who_may_step_the_run_sheet(app, role, allowed):
    s = make_session()
    agenda.put_on_agenda(s.organiser, *s.where, s.challenge.id)
    if allowed is None:
        with pytest.raises(NotFound):
            step(s, s.user(role), "start")
    elif allowed:
        step(s, s.user(role), "start")
        assert kinds(s) == ("running", "check_in")
    else:
        with pytest.raises(Forbidden):
            step(s, s.user(role), "start")
        assert kinds(s) == ("ready", None)


def test_the_organiser_hands_facilitation_to_a_member_who_may_hand_it_on(app):
    s = make_session()
    with pytest.raises(Forbidden):
        agenda.hand_over(s.member, *s.where, s.member.id)
    agenda.hand_over(s.organiser, *s.where, s.member.id)
    step(s, s.member, "start")
    agenda.hand_over(s.member, *s.where, s.presenter.id)
    with pytest.raises(Forbidden):  # handed on: no longer theirs
        step(s, s.member, "next")
    step(s, s.presenter, "next")
    step(s, s.organiser, "pause")  # the organiser keeps it throughout
    for nobody in (s.outsider, s.former):
        with pytest.raises(ActionError):
            agenda.hand_over(s.organiser, *s.where, nobody.id)
    assert sheet_of(s).facilitator_id == s.presenter.id


def test_a_member_yet_to_take_the_pledge_can_do_nothing_with_an_agenda(app):
    """The pledge gate is in the agenda's policy, not only its pages' decorator:
    a socket event or a form reaches the same refusal (a missing date)."""
    s = make_session()
    require_pledge(s)
    tries = [lambda: access_run_sheet(s.presenter, *s.where),
             lambda: agenda.put_on_agenda(s.presenter, *s.where, s.challenge.id),
             lambda: agenda.bring_challenge(s.member, *s.where, "T", "S", "A", 28),
             lambda: step(s, s.organiser, "start"),
             lambda: agenda.hand_over(s.organiser, *s.where, s.member.id)]
    for attempt in tries:
        with pytest.raises(NotFound):
            attempt()
        db.session.rollback()
    assert sheet_of(s) is None and db.session.scalar(select(func.count(Challenge.id))) == 1


def test_a_facilitator_who_leaves_anonymised_hands_the_date_back_to_its_organiser(app):
    s = make_session()
    agenda.hand_over(s.organiser, *s.where, s.member.id)
    agenda.put_on_agenda(s.member, *s.where, s.challenge.id)
    circles.leave_circle(s.member, s.slug, anonymise=True)
    assert sheet_of(s).facilitator_id is None
    assert db.session.scalar(select(AgendaItem.added_by_id)) is None
    circle, membership, occurrence, sheet = access_run_sheet(s.organiser, *s.where)
    card = present.agenda_card(circle, membership, s.meeting, occurrence, sheet, utcnow())
    assert card["facilitates"] and card["facilitator"] == "Orla Organiser"


def test_the_facilitator_rule_itself(app):
    s = make_session()
    sheet = None
    for role, expected in (("organiser", True), ("owner", True), ("moderator", True),
                           ("member", False), ("presenter", False)):
        membership = membership_of(s.circle.id, s.user(role).id)
        assert can_facilitate(membership, s.meeting, sheet) is expected, role
    assert can_facilitate(None, s.meeting, sheet) is False


def test_stepping_runs_check_in_each_part_and_check_out_moving_the_challenge_forward_only(app):
    s = make_session()
    agenda.put_on_agenda(s.presenter, *s.where, s.challenge.id)
    seen = []
    for command in ("start", "next", "next", "back", "next", "next", "next", "next"):
        step(s, s.organiser, command)
        seen.append((*kinds(s), phase_of(s.challenge.id)))
    assert seen == [
        ("running", "check_in", "questions"),
        ("running", "questions", "questions"),
        ("running", "ideas", "ideas"),          # entering Ideas opens Ideas
        ("running", "questions", "ideas"),      # stepping back never reopens Questions
        ("running", "ideas", "ideas"),
        ("running", "reflection", "reflection"),
        ("running", "check_out", "reflection"),  # reflection ends with the presenter's post
        ("finished", None, "reflection"),
    ]
    moves = db.session.scalars(select(AuditEvent.detail).where(
        AuditEvent.action == "challenge.moved")).all()
    assert moves == ["“Two teams, one budget” to Ideas, on a meeting's run sheet",
                     "“Two teams, one budget” to Reflection, on a meeting's run sheet"]
    with pytest.raises(ActionError):
        step(s, s.organiser, "next")  # over
    step(s, s.organiser, "back")  # a step too far is undone
    assert kinds(s) == ("running", "check_out")


def test_the_run_sheet_moving_a_challenge_on_tells_as_any_move_does(app):
    """Ideas opening on the run sheet tells those who follow the challenge, and
    Reflection tells the presenter, as a move by hand does (no words)."""
    from community.notifications.models import Notification

    s = make_session()
    challenges.post_to_challenge(s.member, s.slug, s.challenge.id, "question", "Who decides?")
    agenda.put_on_agenda(s.presenter, *s.where, s.challenge.id)

    def told() -> dict[int, str]:
        return {note.user_id: note.text for note in db.session.scalars(
            select(Notification).where(Notification.kind == "challenge_phase"))}

    for command in ("start", "next", "next"):  # check-in, Questions, Ideas
        step(s, s.organiser, command)
    assert told() == {s.member.id: f"Ideas are open on a challenge you follow in {s.circle.name}",
                      s.presenter.id: f"Ideas are open on your challenge in {s.circle.name}"}
    step(s, s.organiser, "next")  # Reflection
    assert told()[s.presenter.id] == f"It's time for your reflection on your challenge in {s.circle.name}"
    assert "Two teams" not in " ".join(told().values())


def test_a_command_given_for_an_old_version_is_done_once(app):
    s = make_session()
    agenda.put_on_agenda(s.organiser, *s.where, s.challenge.id)
    step(s, s.organiser, "start")
    version = sheet_of(s).version
    agenda.step_run_sheet(s.organiser, *s.where, "next", version)
    with pytest.raises(Conflict) as refused:  # a double click, or a second facilitator
        agenda.step_run_sheet(s.moderator, *s.where, "next", version)
    assert refused.value.code == "stale" and refused.value.status == 409
    assert kinds(s) == ("running", "questions")


def test_pause_freezes_the_clock_resume_carries_on_and_a_minute_can_be_added(app):
    s = make_session()
    step(s, s.organiser, "start")
    backdate_step(s, minutes=3)
    step(s, s.organiser, "pause")
    sheet = sheet_of(s)
    assert sheet.status == "paused"
    assert sheet.paused_at - sheet.step_started_at >= timedelta(minutes=3)
    with pytest.raises(ActionError):
        step(s, s.organiser, "pause")
    step(s, s.organiser, "add_minute")
    step(s, s.organiser, "resume")
    sheet = sheet_of(s)
    spent = sheet.paused_at
    assert sheet.status == "running" and spent is None and sheet.extra_minutes == 1
    # The three minutes spent before the pause still count; the pause doesn't.
    from community.timeutil import utcnow
    assert timedelta(minutes=3) <= utcnow() - sheet.step_started_at < timedelta(minutes=3, seconds=30)
    step(s, s.organiser, "next")
    assert sheet_of(s).extra_minutes == 0  # a new step starts with its own minutes


def test_the_challenge_on_now_cannot_be_taken_off_but_others_can(app):
    s = make_session()
    other = challenges.open_challenge(s.member, s.slug, "A hard conversation", "A board member",
                                      "What would you say?")
    agenda.put_on_agenda(s.organiser, *s.where, s.challenge.id)
    agenda.put_on_agenda(s.organiser, *s.where, other.id)
    step(s, s.organiser, "start")
    step(s, s.organiser, "next")  # Questions of the first
    first, second = db.session.scalars(select(AgendaItem).order_by(AgendaItem.position))
    with pytest.raises(ActionError):
        agenda.take_off_agenda(s.organiser, *s.where, first.id)
    agenda.move_on_agenda(s.organiser, *s.where, second.id, "up")  # the room stays where it is
    assert items(s) == [other.id, s.challenge.id]
    assert sheet_of(s).step_item_id == first.id
    agenda.take_off_agenda(s.organiser, *s.where, second.id)
    assert items(s) == [s.challenge.id]


def test_times_are_checked_whole_and_stored_only_when_all_are_good(app):
    s = make_session()
    agenda.put_on_agenda(s.organiser, *s.where, s.challenge.id)
    [item] = db.session.scalars(select(AgendaItem))
    good = {"questions": "12", "ideas": "20", "reflection": "8"}
    for check_in, parts in (("ten", {}), ("61", {}), ("-1", {}), ("5", {item.id: {**good, "ideas": "0"}}),
                            ("5", {item.id: {**good, "questions": "121"}}),
                            ("5", {item.id: {**good, "reflection": "1.5"}})):
        with pytest.raises(ActionError):
            agenda.set_minutes(s.organiser, *s.where, check_in, "10", parts)
    assert (sheet_of(s).check_in_minutes, db.session.get(AgendaItem, item.id).ideas_minutes) == (10, 15)
    with pytest.raises(Forbidden):
        agenda.set_minutes(s.presenter, *s.where, "5", "10", {})
    with pytest.raises(NotFound):  # an item of no agenda here
        agenda.set_minutes(s.organiser, *s.where, "5", "10", {item.id + 99: good})
    agenda.set_minutes(s.organiser, *s.where, "0", "10", {item.id: good})
    db.session.expire_all()
    assert (sheet_of(s).check_in_minutes, db.session.get(AgendaItem, item.id).ideas_minutes) == (0, 20)
    step(s, s.organiser, "start")
    assert kinds(s) == ("running", "questions")  # no check-in: straight to the first challenge


def test_a_cancelled_date_closes_its_agenda_and_run_sheet(app):
    s = make_session()
    agenda.put_on_agenda(s.organiser, *s.where, s.challenge.id)
    scheduling.cancel_meeting(s.organiser, s.slug, s.meeting.id, "Snow")
    with pytest.raises(ActionError, match="cancelled"):
        agenda.put_on_agenda(s.presenter, *s.where, s.challenge.id)
    with pytest.raises(ActionError, match="cancelled"):
        step(s, s.organiser, "start")


def test_what_may_go_on_an_agenda(app):
    s = make_session()
    agenda.put_on_agenda(s.organiser, *s.where, s.challenge.id)
    agenda.put_on_agenda(s.presenter, *s.where, s.challenge.id)  # twice: once
    assert items(s) == [s.challenge.id]
    done = challenges.open_challenge(s.member, s.slug, "Done", "Situation", "Ask")
    for phase in ("questions", "ideas"):
        challenges.move_phase(s.member, s.slug, done.id, phase)
    challenges.reflect(s.member, s.slug, done.id, "I take away a lot.", [])
    with pytest.raises(ActionError, match="follow-up"):
        agenda.put_on_agenda(s.organiser, *s.where, done.id)
    with pytest.raises(NotFound):
        agenda.put_on_agenda(s.organiser, *s.where, 10**6)
    for n in range(agenda.MAX_ITEMS - 1):
        more = challenges.open_challenge(s.member, s.slug, f"More {n}", "Situation", "Ask")
        agenda.put_on_agenda(s.organiser, *s.where, more.id)
    extra = challenges.open_challenge(s.member, s.slug, "One too many", "Situation", "Ask")
    with pytest.raises(ActionError, match="at most"):
        agenda.put_on_agenda(s.organiser, *s.where, extra.id)
    with pytest.raises(ActionError):
        agenda.move_on_agenda(s.organiser, *s.where, 1, "sideways")


def test_bringing_a_challenge_opens_it_and_puts_it_on_together_or_not_at_all(app):
    s = make_session()
    made = agenda.bring_challenge(s.member, *s.where, "New one", "The situation", "The ask")
    assert items(s) == [made.id] and made.presenter_id == s.member.id
    scheduling.cancel_meeting(s.organiser, s.slug, s.meeting.id, "Snow")
    before = db.session.scalar(select(func.count(Challenge.id)))
    with pytest.raises(ActionError):
        agenda.bring_challenge(s.member, *s.where, "Another", "The situation", "The ask")
    db.session.rollback()
    assert db.session.scalar(select(func.count(Challenge.id))) == before


def test_a_date_of_another_meeting_or_circle_is_not_found(app):
    s = make_session()
    other = make_session()
    for where in ((s.slug, other.meeting.id, s.date_id), (s.slug, s.meeting.id, other.date_id),
                  (other.slug, s.meeting.id, s.date_id)):
        with pytest.raises(NotFound):
            access_run_sheet(s.organiser, *where)
