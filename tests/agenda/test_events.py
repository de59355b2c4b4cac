"""The run sheet over /chat: join_run_sheet, step_run_sheet and run_sheet_changed,
through Flask-SocketIO's test client (as tests/chat)."""
import pytest

from community.agenda import actions as agenda
from community.moderation import actions as moderation
from tests.agenda.helpers import make_session, require_pledge, sheet_of
from tests.chat.conftest import call, connect, received  # noqa: F401  (connect: a fixture)

NOT_FOUND = {"ok": False, "error": "not_found",
             "message": "There is no such circle or message, or you are not a member of the circle."}


@pytest.fixture
def session(app):
    s = make_session()
    agenda.put_on_agenda(s.organiser, *s.where, s.challenge.id)
    return s


def where(s, **extra) -> dict:
    return {"circle": s.slug, "meeting": s.meeting.id, "date": s.date_id, **extra}


def joined(connect, s, user):  # noqa: F811
    sc = connect(user)
    answer = call(sc, "join_run_sheet", where(s))
    assert answer["ok"], answer
    return sc, answer["run_sheet"]


def test_join_answers_the_run_sheet_as_it_is_now(connect, session):  # noqa: F811
    _, sheet = joined(connect, session, session.member)
    assert sheet["status"] == "ready" and sheet["step"] is None and sheet["version"] == 1
    assert [s["label"] for s in sheet["steps"]] == ["Check-in", "Questions", "Ideas", "Reflection",
                                                    "Check-out"]
    assert sheet["steps"][1]["title"] == "Two teams, one budget"
    assert sheet["server_time"]


@pytest.mark.parametrize("who", ["outsider", "former", "banned", "unpledged"])
def test_join_by_anyone_not_in_the_circle_is_refused_as_for_a_missing_date(connect, session, who):  # noqa: F811
    """A member who has not yet taken the circle's pledge hears nothing either:
    the run sheet names the challenges on it."""
    if who == "banned":
        moderation.ban_member(session.owner, session.slug, session.member.id)
        user = session.member
    elif who == "unpledged":
        require_pledge(session)
        user = session.member
    else:
        user = session.user(who)
    sc = connect(user)
    assert call(sc, "join_run_sheet", where(session)) == NOT_FOUND
    assert call(sc, "join_run_sheet", where(session, date=10**6)) == NOT_FOUND
    agenda.step_run_sheet(session.owner, *session.where, "start", 1)
    assert received(sc, "run_sheet_changed") == []


def test_a_step_reaches_everyone_on_the_page_with_the_clock_to_count_from(connect, session):  # noqa: F811
    facilitator, _ = joined(connect, session, session.organiser)
    member, _ = joined(connect, session, session.member)
    presenter, _ = joined(connect, session, session.presenter)
    answer = call(facilitator, "step_run_sheet", where(session, command="start", version=1))
    assert answer["ok"] and answer["run_sheet"]["status"] == "running"
    for sc in (member, presenter):
        [(_, state)] = received(sc, "run_sheet_changed")
        assert state["step"] == 0 and state["steps"][0]["kind"] == "check_in"
        assert state["duration"] == 600 and state["started_at"] and state["paused_at"] is None
        assert state["announce"] == "Now Check-in. 10 minutes."
    # A late joiner gets the same started_at: their countdown agrees.
    late, sheet = joined(connect, session, session.moderator)
    assert sheet["started_at"] == answer["run_sheet"]["started_at"]


def test_only_a_facilitator_steps_and_a_stale_version_is_refused(connect, session):  # noqa: F811
    member, _ = joined(connect, session, session.member)
    refused = call(member, "step_run_sheet", where(session, command="start", version=1))
    assert refused["ok"] is False and refused["error"] == "forbidden"
    facilitator, _ = joined(connect, session, session.organiser)
    assert call(facilitator, "step_run_sheet", where(session, command="start", version=1))["ok"]
    again = call(facilitator, "step_run_sheet", where(session, command="start", version=1))
    assert again["ok"] is False and again["error"] == "stale"
    assert sheet_of(session).version == 2


@pytest.mark.parametrize("payload", [
    {"command": "start"}, {"command": "start", "version": "1"}, {"command": "start", "version": True},
    {"command": 5, "version": 1}, {"command": "dance", "version": 1},
    {"command": "start", "version": 1, "date": "1"}, {"command": "start", "version": 1, "meeting": -1},
    {"command": "start", "version": 1, "circle": ""}])
def test_bad_payloads_are_invalid_and_change_nothing(connect, session, payload):  # noqa: F811
    facilitator = connect(session.organiser)
    answer = call(facilitator, "step_run_sheet", {**where(session), **payload})
    assert answer["ok"] is False and answer["error"] == "invalid" and answer["message"]
    assert sheet_of(session).version == 1


def test_a_removed_member_stops_hearing_the_run_sheet(connect, session):  # noqa: F811
    member, _ = joined(connect, session, session.member)
    moderation.remove_member(session.owner, session.slug, session.member.id)
    assert received(member, "removed")
    agenda.step_run_sheet(session.organiser, *session.where, "start", 1)
    assert received(member, "run_sheet_changed") == []


def test_agenda_edits_through_forms_are_heard_too(connect, session):  # noqa: F811
    member, _ = joined(connect, session, session.member)
    agenda.set_minutes(session.organiser, *session.where, "5", "10", {})
    [(_, state)] = received(member, "run_sheet_changed")
    assert state["steps"][0]["minutes"] == 5 and state["version"] == 2
