"""Two facilitators at once, on both engines: a step given for one version of the
run sheet is applied once, and the first run sheet of a date is made once."""
import pytest

from community.agenda import actions as agenda
from tests.agenda.helpers import make_session, sheet_of
from tests.racing import names, race

pytestmark = pytest.mark.parametrize("engine_app", ["sqlite", "postgresql"], indirect=True)


def test_next_pressed_by_two_facilitators_at_once_steps_once(engine_app):
    s = make_session()
    agenda.put_on_agenda(s.organiser, *s.where, s.challenge.id)
    agenda.step_run_sheet(s.organiser, *s.where, "start", 1)
    version = sheet_of(s).version
    outcomes = race(engine_app, *[(agenda.step_run_sheet, who.id, *s.where, "next", version)
                                  for who in (s.organiser, s.moderator, s.owner)])
    assert names(outcomes) == ["Conflict", "Conflict", "ok"]
    sheet = sheet_of(s)
    assert (sheet.step_kind, sheet.version) == ("questions", version + 1)


def test_the_first_changes_to_a_date_make_one_run_sheet(engine_app):
    s = make_session()
    outcomes = race(engine_app, (agenda.put_on_agenda, s.presenter.id, *s.where, s.challenge.id),
                    (agenda.set_minutes, s.organiser.id, *s.where, "5", "5", {}),
                    (agenda.hand_over, s.owner.id, *s.where, s.member.id))
    assert names(outcomes) == ["ok", "ok", "ok"]
    sheet = sheet_of(s)
    assert sheet.version == 3 and sheet.check_in_minutes == 5 and sheet.facilitator_id == s.member.id
