"""The run sheet's steps and clock, worked out the same way by the page, the
socket payload and the actions (pure: no database).

Steps: check-in, then for each challenge on the agenda its Questions, Ideas
and Reflection, then check-out; a check-in or check-out of 0 minutes is left
out. The current step is stored by kind and agenda item, not by number, so
reordering the agenda or adding to it while the session runs keeps the room
on the step it is on.
"""
from datetime import datetime, timedelta
from typing import NamedTuple

PARTS = ("questions", "ideas", "reflection")
LABELS = {"check_in": "Check-in", "questions": "Questions", "ideas": "Ideas",
          "reflection": "Reflection", "check_out": "Check-out"}
# What each step asks of the room (shown under the current step).
GUIDANCE = {
    "check_in": "A round: everyone says briefly how they arrive today.",
    "questions": "Members ask questions to understand the situation; the presenter answers. "
                 "No ideas or advice yet.",
    "ideas": "Members offer ideas and experience; the presenter listens.",
    "reflection": "The presenter says what they take away and what they will do.",
    "check_out": "A round: one thing each person takes away.",
}


class Item(NamedTuple):
    """An agenda item as the run sheet needs it (a row of present.items_of)."""
    id: int
    challenge_id: int
    thread_id: int
    title: str
    presenter_id: int | None
    presenter: str  # their name, or "A former member"
    phase: str  # the challenge's phase now (challenges.phases.effective_phase)
    questions_minutes: int
    ideas_minutes: int
    reflection_minutes: int


class Step(NamedTuple):
    kind: str
    item: Item | None
    minutes: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.item.id if self.item else ''}"

    @property
    def label(self) -> str:
        return LABELS[self.kind]


def steps_of(sheet, items: list[Item]) -> list[Step]:
    """The run sheet's steps in order (check-in and check-out at their defaults
    when there is no run sheet yet)."""
    check_in = sheet.check_in_minutes if sheet is not None else 10
    check_out = sheet.check_out_minutes if sheet is not None else 10
    steps = [Step("check_in", None, check_in)] if check_in else []
    for item in items:
        steps += [Step(part, item, getattr(item, f"{part}_minutes")) for part in PARTS]
    if check_out:
        steps.append(Step("check_out", None, check_out))
    return steps


def current_index(sheet, steps: list[Step]) -> int | None:
    """The index of the stored step among steps, or None (not started, finished,
    or the step is gone)."""
    if sheet is None or sheet.status not in ("running", "paused"):
        return None
    key = f"{sheet.step_kind}:{sheet.step_item_id or ''}"
    return next((i for i, step in enumerate(steps) if step.key == key), None)


def duration(sheet, step: Step) -> timedelta:
    return timedelta(minutes=step.minutes + (sheet.extra_minutes or 0))


def elapsed(sheet, now: datetime) -> timedelta:
    """Time spent on the current step (frozen while paused)."""
    if sheet is None or sheet.step_started_at is None:
        return timedelta(0)
    return (sheet.paused_at or now) - sheet.step_started_at


def planned_starts(starts_at: datetime, steps: list[Step]) -> list[datetime]:
    """When each step would begin if the session ran to time from the date's start."""
    found, at = [], starts_at
    for step in steps:
        found.append(at)
        at += timedelta(minutes=step.minutes)
    return found


def clock_text(seconds: float) -> str:
    """ "7:05 left", "0:00 left", "2:10 over": what the timer says."""
    over = seconds < 0
    whole = int(abs(seconds)) if over else int(-(-seconds // 1))  # left: round up
    text = f"{whole // 60}:{whole % 60:02d}"
    return f"{text} over" if over else f"{text} left"


def layout_key(steps: list[Step]) -> str:
    """Changes whenever the list of steps or their minutes change (pages then
    fetch the new card rather than only moving the marker)."""
    return "|".join(f"{step.key}={step.minutes}:{step.item.phase if step.item else ''}"
                    for step in steps)
