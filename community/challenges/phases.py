"""A challenge's phase, computed the same way by every process.

Questions and Ideas may each last a chosen time. Nothing needs to run when one
ends: the phase now is worked out from what is stored (the stored phase, when
it began, and the durations) whenever it is read, so every worker, with no
background job, shows the same phase at the same moment. The next write to
the challenge stores it (settled), with a conditional UPDATE that only the
first of several racing writers applies; the others find it already done.

Phases move only forward (questions -> ideas -> reflection -> follow-up): a
phase once closed stays closed, because what was said in the next one (ideas
before the problem was understood) can't be taken back. Moving by hand is the
presenter's or a moderator's (policy.can_move_phase); Reflection ends when
the presenter writes theirs.
"""
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import update

from ..extensions import db
from ..timeutil import DEFAULT_TIMEZONE, is_timezone
from .models import PHASES, Challenge

TIMED = ("questions", "ideas")
# A commitment's date means this time of day where the presenter lives.
REMINDER_HOUR = time(9, 0)


class Phase(NamedTuple):
    name: str
    started_at: datetime
    ends_at: datetime | None  # None: moved on by hand (or by the presenter's reflection)


def _minutes(challenge, phase: str) -> int | None:
    return {"questions": challenge.questions_minutes, "ideas": challenge.ideas_minutes}.get(phase)


def effective_phase(challenge, now: datetime) -> Phase:
    """The phase at `now`: the stored one, moved on past every timed phase that has ended."""
    name, started = challenge.phase, challenge.phase_started_at
    while name in TIMED and (minutes := _minutes(challenge, name)) is not None:
        ends = started + timedelta(minutes=minutes)
        if now < ends:
            return Phase(name, started, ends)
        name, started = PHASES[PHASES.index(name) + 1], ends
    return Phase(name, started, None)


def next_phase(name: str) -> str | None:
    index = PHASES.index(name)
    return PHASES[index + 1] if index + 1 < len(PHASES) else None


def settled(challenge: Challenge, now: datetime) -> tuple[Phase, bool]:
    """Store the phase at `now` if time has moved it on (in the caller's
    transaction), and say whether this call stored the move. Idempotent: the
    UPDATE applies only while the row still holds what this process read, and
    all compute the same values; of several processes settling the same ended
    phase, exactly one is told True, so that one announces it."""
    phase = effective_phase(challenge, now)
    moved = False
    if (phase.name, phase.started_at) != (challenge.phase, challenge.phase_started_at):
        moved = db.session.execute(
            update(Challenge)
            .where(Challenge.id == challenge.id, Challenge.phase == challenge.phase,
                   Challenge.phase_started_at == challenge.phase_started_at)
            .values(phase=phase.name, phase_started_at=phase.started_at)
            .execution_options(synchronize_session=False)).rowcount == 1
        challenge.phase, challenge.phase_started_at = phase.name, phase.started_at
    return phase, moved


def _zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name if is_timezone(name) else DEFAULT_TIMEZONE)


def local_morning(day: date, zone: str | None) -> datetime:
    """9:00 on `day` in `zone` (the presenter's), as an aware UTC-comparable
    datetime. Across a daylight-saving change the wall-clock time stays 9:00;
    a time skipped by the change would be taken as zoneinfo does (fold=0)."""
    return datetime.combine(day, REMINDER_HOUR, tzinfo=_zone(zone))


def follow_up_time(reflected_at: datetime, days: int, zone: str | None) -> datetime:
    """The general "how did it go?": 9:00 local time on the presenter's
    calendar day `days` after the day they reflected (in their zone)."""
    local_day = reflected_at.astimezone(_zone(zone)).date()
    return local_morning(local_day + timedelta(days=days), zone)

