"""The Agenda card on the meeting page and its form routes, without JavaScript."""
import re

import pytest
from sqlalchemy import select

from community.agenda import actions as agenda
from community.agenda.models import AgendaItem
from community.challenges.models import Challenge
from community.extensions import db
from tests.agenda.helpers import make_session, phase_of, sheet_of, step
from tests.conftest import AuthActions


@pytest.fixture
def session(app):
    return make_session()


def signed_in(app, user):
    http = app.test_client()
    assert AuthActions(http).login(user).status_code == 302
    return http


def page(session) -> str:
    return f"/c/{session.slug}/m/{session.meeting.id}"


def routes(s, item_id: int) -> list[tuple[str, str, dict]]:
    return [("get", f"{s.base}/add", {}),
            ("post", f"{s.base}/add", {"challenge_id": str(s.challenge.id)}),
            ("get", f"{s.base}/facilitator", {}),
            ("get", f"{s.base}/bring", {}),
            ("post", f"{s.base}/bring", {"title": "T", "situation": "S", "ask": "A",
                                         "follow_up_days": "28"}),
            ("post", f"{s.base}/{item_id}/remove", {}),
            ("post", f"{s.base}/{item_id}/move", {"direction": "up"}),
            ("post", f"{s.base}/minutes", {"check_in": "5", "check_out": "5"}),
            ("post", f"{s.base}/facilitator", {"user_id": str(s.member.id)}),
            ("post", f"{s.base}/step", {"command": "start", "version": "1"})]


@pytest.mark.parametrize("who", ["outsider", "former"])
def test_someone_not_in_the_circle_gets_404_on_every_agenda_route(app, session, who):
    agenda.put_on_agenda(session.organiser, *session.where, session.challenge.id)
    item_id = db.session.scalar(select(AgendaItem.id))
    http = signed_in(app, session.user(who))
    for method, url, data in routes(session, item_id):
        answer = getattr(http, method)(url, data=data)
        assert answer.status_code == 404, (url, answer.status_code)
    assert http.get(page(session)).status_code == 404
    assert sheet_of(session).version == 1 and sheet_of(session).status == "ready"


def test_signed_out_visitors_are_sent_to_sign_in(app, session):
    http = app.test_client()
    for method, url, data in routes(session, 1):
        assert getattr(http, method)(url, data=data).status_code in (302, 303), url


def test_the_empty_card_says_what_to_do_next(app, session):
    """The card leads to bringing a challenge or putting an open one on; the
    choice of open challenges is a page of its own, each person's own."""
    member_http = signed_in(app, session.member)
    member = member_http.get(page(session)).get_data(as_text=True)
    assert "Agenda and run sheet" in member
    assert "No challenges on this meeting's agenda yet." in member
    assert "Bring a new challenge" in member
    assert "Start the session" not in member  # not theirs to run
    assert "Hand facilitation" not in member
    assert "Put your own open challenge on the agenda" in member
    choice = member_http.get(f"{session.base}/add").get_data(as_text=True)
    assert "You have no open challenge" in choice and "Two teams" not in choice  # not theirs
    presenter = signed_in(app, session.presenter).get(f"{session.base}/add").get_data(as_text=True)
    assert f'<option value="{session.challenge.id}">Two teams, one budget</option>' in presenter
    organiser_http = signed_in(app, session.organiser)
    organiser = organiser_http.get(page(session)).get_data(as_text=True)
    assert "Put one of the circle's open challenges on the agenda" in organiser
    assert "Hand facilitation to someone else" in organiser
    choice = organiser_http.get(f"{session.base}/add").get_data(as_text=True)
    assert "Two teams, one budget (Priya Presenter)" in choice
    handing = organiser_http.get(f"{session.base}/facilitator").get_data(as_text=True)
    assert "Gareth Member" in handing and "Nina Outsider" not in handing
    assert member_http.get(f"{session.base}/facilitator").status_code == 403


def test_a_facilitator_runs_the_session_with_plain_forms(app, session):
    http = signed_in(app, session.organiser)
    answer = http.post(f"{session.base}/add", data={"challenge_id": str(session.challenge.id)})
    assert answer.status_code == 303 and answer.location.endswith("#agenda")
    card = http.get(page(session)).get_data(as_text=True)
    assert "Start the session" in card
    # Planned from the meeting's start in the viewer's zone: check-in, then the three parts.
    assert [m for m in re.findall(r"<strong>([\w-]+)</strong>", card)
            if m in ("Check-in", "Questions", "Ideas", "Reflection", "Check-out")] == \
        ["Check-in", "Questions", "Ideas", "Reflection", "Check-out"]
    for command in ("start", "next", "next"):
        version = sheet_of(session).version
        assert http.post(f"{session.base}/step",
                         data={"command": command, "version": str(version)}).status_code == 303
    card = http.get(page(session)).get_data(as_text=True)
    assert "Now: Ideas — “Two teams, one budget” (Priya Presenter)" in card
    assert re.search(r'role="timer"[^>]*>1[45]:\d\d left<', card)
    assert phase_of(session.challenge.id) == "ideas"
    # What everyone else sees: the step and the time, no controls.
    other = signed_in(app, session.member).get(page(session)).get_data(as_text=True)
    assert "Now: Ideas" in other and 'role="timer"' in other and "Pause" not in other


def test_refusals_come_back_as_the_page_with_the_reason(app, session):
    organiser = signed_in(app, session.organiser)
    stale = organiser.post(f"{session.base}/step", data={"command": "start", "version": "7"})
    assert stale.status_code == 409
    assert "The run sheet has changed since your page showed it" in stale.get_data(as_text=True)
    for data, text in (({"command": "explode", "version": "0"}, "Start, next, back"),
                       ({"command": "next", "version": "0"}, "Start the session first"),
                       ({"command": "start"}, "version is missing")):
        answer = organiser.post(f"{session.base}/step", data=data)
        assert answer.status_code == 400 and text in answer.get_data(as_text=True), data
    for url, data in ((f"{session.base}/add", {"challenge_id": "x"}),
                      (f"{session.base}/minutes", {"check_in": "lots", "check_out": "5"}),
                      (f"{session.base}/facilitator", {"user_id": ""}),
                      (f"{session.base}/facilitator", {"user_id": str(session.outsider.id)})):
        answer = organiser.post(url, data=data)
        assert answer.status_code == 400 and 'role="alert"' in answer.get_data(as_text=True), url
    member = signed_in(app, session.member)
    answer = member.post(f"{session.base}/step", data={"command": "start", "version": "0"})
    assert answer.status_code == 403 and "facilitator" in answer.get_data(as_text=True)
    assert sheet_of(session) is None or sheet_of(session).status == "ready"


def test_bringing_a_new_challenge_from_the_meeting_page(app, session):
    http = signed_in(app, session.member)
    form = http.get(f"{session.base}/bring")
    assert form.status_code == 200 and "Bring a challenge to “Action learning set”" in \
        form.get_data(as_text=True)
    empty = http.post(f"{session.base}/bring", data={"title": "", "situation": "", "ask": "",
                                                     "follow_up_days": "28"})
    assert empty.status_code == 400
    answer = http.post(f"{session.base}/bring", data={
        "title": "Funding cliff", "situation": "Our grant ends.", "ask": "Who else do I ask?",
        "follow_up_days": "28"})
    assert answer.status_code == 303
    made = db.session.scalar(select(Challenge).where(Challenge.presenter_id == session.member.id))
    assert db.session.scalar(select(AgendaItem.challenge_id)) == made.id
    assert "Funding cliff" in http.get(page(session)).get_data(as_text=True)


def test_the_page_costs_the_same_statements_whatever_the_agenda_holds(app, session, count_queries):
    from community.challenges import actions as challenges

    http = signed_in(app, session.organiser)
    agenda.put_on_agenda(session.organiser, *session.where, session.challenge.id)
    http.get(page(session))
    with count_queries() as small:
        http.get(page(session))
    for n in range(4):
        more = challenges.open_challenge(session.member, session.slug, f"More {n}", "S", "A")
        agenda.put_on_agenda(session.organiser, *session.where, more.id)
    step(session, session.organiser, "start")
    http.get(page(session))
    with count_queries() as large:
        http.get(page(session))
    assert small.count == large.count, (small.statements, large.statements)
    # The run sheet comes with the meeting and its date (meetings.queries.opened_meeting).
    assert not [sql for sql in large.statements if "FROM run_sheets" in sql], large.statements


def test_a_series_date_with_an_agenda_stays_within_eight_statements(app, count_queries):
    """A series' page reads its next dates and how many, and a date with a run
    sheet its items: with the meeting, its date and the run sheet read apart,
    that was 9 statements, past the 8 every page keeps to. Now 7: the viewer
    with the circle, the meeting with its date and run sheet, who answered,
    the files, the series' next dates and their count, the agenda's items."""
    from community.meetings.actions import scheduling
    from community.meetings.models import MeetingOccurrence

    session = make_session()
    weekly = scheduling.schedule_meeting(session.organiser, session.slug, title="Weekly set",
                                         start="2031-01-09T19:00", duration=120,
                                         timezone="Europe/London", location="Reading",
                                         repeat="weekly", count="4")
    second = db.session.scalars(select(MeetingOccurrence.id).where(MeetingOccurrence.meeting_id == weekly.id)
                                .order_by(MeetingOccurrence.starts_at)).all()[1]
    agenda.put_on_agenda(session.organiser, session.slug, weekly.id, second, session.challenge.id)
    http = signed_in(app, session.organiser)
    url = f"/c/{session.slug}/m/{weekly.id}?date={second}"
    http.get(url)
    with count_queries() as sent:
        page = http.get(url)
    assert page.status_code == 200 and "Two teams, one budget" in page.get_data(as_text=True)
    assert sent.count == 7, sent.statements


def test_planned_times_are_in_the_viewers_zone(app, session):
    from community.accounts.models import User
    from community.meetings.models import MeetingOccurrence
    from community.timeutil import to_zone

    agenda.put_on_agenda(session.organiser, *session.where, session.challenge.id)
    db.session.get(User, session.member.id).timezone = "America/New_York"
    db.session.commit()
    starts = db.session.get(MeetingOccurrence, session.date_id).starts_at
    card = signed_in(app, session.member).get(page(session)).get_data(as_text=True)
    first = re.search(r'class="run-sheet__at"><time datetime="[^"]+" title="[^"]+">([^<]+)<', card)
    assert first.group(1) == f"{to_zone(starts, 'America/New_York'):%H:%M}"
