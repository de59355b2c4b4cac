"""One way of writing times: community/timefmt.py and its browser copy,
static/js/timefmt.js, give the same answer for every case in one table."""
import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from community import timefmt
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-12-03T14:05:30+00:00"  # a Thursday; London is on UTC, Tokyo +9, New York -5

# (function, moment, zone, clock, now, expected)
CASES = [
    ("relative", "2026-12-03T14:05:10+00:00", "Europe/London", "24", NOW, "just now"),
    ("relative", "2026-12-03T14:06:20+00:00", "Europe/London", "24", NOW, "just now"),  # clocks differ
    ("relative", "2026-12-03T14:04:30+00:00", "Europe/London", "24", NOW, "1 minute ago"),
    ("relative", "2026-12-03T14:00:00+00:00", "Europe/London", "12", NOW, "5 minutes ago"),
    ("relative", "2026-12-03T13:05:31+00:00", "Europe/London", "24", NOW, "59 minutes ago"),
    ("relative", "2026-12-03T09:30:00+00:00", "Europe/London", "24", NOW, "today at 09:30"),
    ("relative", "2026-12-03T09:30:00+00:00", "Europe/London", "12", NOW, "today at 9:30 am"),
    ("relative", "2026-12-03T00:00:00+00:00", "Europe/London", "12", NOW, "today at 12:00 am"),
    ("relative", "2026-12-02T14:05:00+00:00", "Europe/London", "24", NOW, "yesterday at 14:05"),
    ("relative", "2026-12-02T14:05:00+00:00", "Europe/London", "12", NOW, "yesterday at 2:05 pm"),
    ("relative", "2026-12-02T12:00:00+00:00", "Europe/London", "12", NOW, "yesterday at 12:00 pm"),
    # In Tokyo it is already 23:05 on Thursday; 15:30 UTC on Wednesday was 00:30 Thursday there.
    ("relative", "2026-12-02T15:30:00+00:00", "Asia/Tokyo", "24", NOW, "today at 00:30"),
    ("relative", "2026-12-02T15:30:00+00:00", "Europe/London", "24", NOW, "yesterday at 15:30"),
    # In New York it is 09:05 on Thursday; 03:00 UTC Thursday was 22:00 Wednesday.
    ("relative", "2026-12-03T03:00:00+00:00", "America/New_York", "12", NOW, "yesterday at 10:00 pm"),
    ("relative", "2026-12-01T21:30:00+00:00", "Europe/London", "12", NOW, "Tuesday at 9:30 pm"),
    ("relative", "2026-11-27T08:00:00+00:00", "Europe/London", "24", NOW, "Friday at 08:00"),
    ("relative", "2026-11-26T23:59:00+00:00", "Europe/London", "24", NOW, "26 Nov 2026, 23:59"),
    ("relative", "2026-11-26T23:59:00+00:00", "Europe/London", "12", NOW, "26 Nov 2026, 11:59 pm"),
    ("relative", "2025-06-15T13:45:00+00:00", "Europe/London", "24", NOW, "15 Jun 2025, 14:45"),  # BST
    ("relative", "2026-12-10T18:00:00+00:00", "Europe/London", "12", NOW, "10 Dec 2026, 6:00 pm"),
    ("relative", "2026-12-03T14:05:00+00:00", "Not/A_Zone", "24", NOW, "just now"),
    ("relative", "2026-12-03T09:30:00+00:00", "Not/A_Zone", "24", NOW, "today at 09:30"),
    ("date_time", "2026-12-03T14:05:00+00:00", "Europe/London", "24", NOW, "3 Dec 2026, 14:05"),
    ("date_time", "2026-12-03T14:05:00+00:00", "Europe/London", "12", NOW, "3 Dec 2026, 2:05 pm"),
    ("date_time", "2026-12-03T14:05:00+00:00", "Asia/Tokyo", "12", NOW, "3 Dec 2026, 11:05 pm"),
    ("date_time", "2026-12-03T23:30:00+00:00", "Asia/Kolkata", "24", NOW, "4 Dec 2026, 05:00"),
    ("date_time", "2026-03-29T00:59:00+00:00", "Europe/London", "24", NOW, "29 Mar 2026, 00:59"),
    ("date_time", "2026-03-29T01:00:00+00:00", "Europe/London", "24", NOW, "29 Mar 2026, 02:00"),
    ("full", "2026-12-03T14:05:00+00:00", "Europe/London", "24", NOW, "Thursday 3 December 2026, 14:05"),
    ("full", "2026-12-03T14:05:00+00:00", "America/Los_Angeles", "12", NOW,
     "Thursday 3 December 2026, 6:05 am"),
    ("full", "2026-12-06T23:00:00+00:00", "Pacific/Auckland", "12", NOW, "Monday 7 December 2026, 12:00 pm"),
    ("day", "2026-12-03T23:30:00+00:00", "Asia/Tokyo", "24", NOW, "4 Dec 2026"),
]
JS_NAMES = {"relative": "relative", "date_time": "dateTime", "full": "full", "day": "day"}


def python_answer(function, moment, zone, clock, now):
    moment = datetime.fromisoformat(moment)
    if function == "relative":
        return timefmt.relative(moment, zone, clock, now=datetime.fromisoformat(now))
    if function == "day":
        return timefmt.day(moment, zone)
    return getattr(timefmt, function)(moment, zone, clock)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3]}" for c in CASES])
def test_python_formats_each_case(case):
    *inputs, expected = case
    assert python_answer(*inputs) == expected


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "relative"], ids=lambda c: f"{c[1]}-{c[2]}")
def test_titled_is_full_and_relative_together(case):
    """A post's title and words at once (timefmt.titled): the same as each alone,
    for moments a week or more old (kept by moment) as for recent ones."""
    _, moment, zone, clock, now, expected = case
    moment, now = datetime.fromisoformat(moment), datetime.fromisoformat(now)
    assert timefmt.titled(moment, zone, clock, now) == (timefmt.full(moment, zone, clock), expected)


def test_the_browser_copy_formats_each_case_the_same():
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("node must be installed in CI: static/js/timefmt.js is checked with it")
        pytest.skip("node is not installed")
    script = ("const f = require(process.argv[1]); let input = '';"
              "process.stdin.on('data', d => input += d).on('end', () => {"
              " const answers = JSON.parse(input).map(([fn, moment, zone, clock, now]) =>"
              "  fn === 'relative' ? f.relative(moment, zone, clock, now)"
              "  : fn === 'day' ? f.day(moment, zone) : f[fn](moment, zone, clock));"
              " process.stdout.write(JSON.stringify(answers)); });")
    cases = [[JS_NAMES[c[0]], *c[1:5]] for c in CASES]
    result = subprocess.run([node, "-e", script, str(ROOT / "static/js/timefmt.js")],
                            input=json.dumps(cases), capture_output=True, text=True, timeout=30,
                            check=True)
    answers = json.loads(result.stdout)
    assert [(c[:5], a) for c, a in zip(CASES, answers, strict=True)] == [(c[:5], c[5]) for c in CASES]


@pytest.mark.parametrize(("language", "clock"), [("en-US", "12"), ("en_us", "12"), ("en-GB", "24"),
                                                 ("fr-FR", "24"), ("", "24"), (None, "24")])
def test_a_browsers_language_suggests_a_clock(language, clock):
    assert timefmt.clock_for_language(language) == clock
