"""A circle's challenges page: open, waiting for an update, closed (paged); who sees it; its statements."""
import pytest
from sqlalchemy import update

from community.challenges import actions as challenges
from community.challenges.listing import CLOSED_PER_PAGE, lasted
from community.challenges.models import Challenge
from community.extensions import db
from tests.challenges.helpers import backdate, make_room, to_phase
from tests.factories import make_circle, make_user


def text(response) -> str:
    return response.get_data(as_text=True)


def bring(room, title: str, who=None):
    return challenges.open_challenge(who or room.member, room.slug, title, "The situation.", "The ask?")


def close(room, challenge) -> None:
    """Reflect on `challenge` (presented by room.member), so it is in Follow-up, not waiting."""
    for step in ("questions", "ideas"):
        challenges.move_phase(room.owner, room.slug, challenge.id, step)
    challenges.reflect(room.member, room.slug, challenge.id, "I learnt a lot.", [])


def test_open_waiting_and_closed_challenges_each_in_their_list(client, auth, app):
    room = make_room(questions_minutes=60)
    backdate(room.challenge.id, minutes=90)  # Questions ended 30 minutes ago: in Ideas by itself
    asked = bring(room, "Asked how it went")
    close(room, asked)
    db.session.execute(update(Challenge).where(Challenge.id == asked.id)
                       .values(awaiting_update_since=Challenge.reflected_at))
    done = bring(room, "All done now")
    close(room, done)
    db.session.commit()
    auth.login(room.moderator)
    shown = text(client.get(f"/c/{room.slug}/challenges"))
    open_part, _, rest = shown.partition("Waiting for the presenter's update")
    waiting_part, _, closed_part = rest.partition("Closed")
    assert "Two teams, one budget" in open_part and "Challenge · Ideas" in open_part
    assert "presented by Priya Presenter" in open_part and "in Ideas <time" in open_part
    assert ">for 30 minutes</time>" in open_part
    assert "Asked how it went" in waiting_part and "asked how it went" in waiting_part
    assert "All done now" in closed_part and "Asked how it went" not in closed_part
    assert "Two teams" not in closed_part and "All done now" not in open_part + waiting_part


def test_an_empty_circle_says_what_to_do_next(client, auth, app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    auth.login(owner)
    response = client.get(f"/c/{circle.slug}/challenges")
    assert response.status_code == 200
    shown = text(response)
    assert "No challenges yet" in shown
    assert f'href="/c/{circle.slug}/challenges/new"' in shown


def test_linked_from_the_circle_home_and_its_tabs(client, auth, app):
    room = make_room()
    auth.login(room.member)
    home = text(client.get(f"/c/{room.slug}/"))
    assert f'href="/c/{room.slug}/challenges">All challenges' in home
    page = text(client.get(f"/c/{room.slug}/challenges"))
    assert f'href="/c/{room.slug}/challenges" aria-current="page">Challenges' in page


@pytest.mark.parametrize("who", ["outsider", "former"])
def test_non_members_get_the_same_404_as_a_missing_circle(client, auth, app, who):
    room = make_room()
    auth.login(room.user(who))
    response = client.get(f"/c/{room.slug}/challenges")
    assert response.status_code == 404 and "Two teams" not in text(response)
    assert client.get("/c/no-such-circle/challenges").status_code == 404


def test_closed_challenges_come_a_page_at_a_time(client, auth, app):
    room = make_room()
    for n in range(CLOSED_PER_PAGE + 2):
        close(room, bring(room, f"Closed challenge number {n:02d}"))
    auth.login(room.member)
    first = text(client.get(f"/c/{room.slug}/challenges"))
    assert first.count("Closed challenge number") == CLOSED_PER_PAGE
    assert f"Closed <span class=\"muted\">({CLOSED_PER_PAGE + 2})" in first and "Page 1 of 2" in first
    second = text(client.get(f"/c/{room.slug}/challenges?page=2"))
    assert second.count("Closed challenge number") == 2 and "Closed challenge number 00" in second
    assert "Two teams, one budget" in second  # the open list is on every page
    beyond = client.get(f"/c/{room.slug}/challenges?page=9")
    assert beyond.status_code == 200 and "No more closed challenges" in text(beyond)


def test_how_long_a_phase_has_lasted():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert lasted(now - timedelta(seconds=20), now) == "for under a minute"
    assert lasted(now - timedelta(minutes=1), now) == "for 1 minute"
    assert lasted(now - timedelta(hours=5, minutes=59), now) == "for 5 hours"
    assert lasted(now - timedelta(days=3, hours=2), now) == "for 3 days"


@pytest.mark.parametrize("many", [False, True])
def test_the_list_takes_the_same_statements_for_few_challenges_and_many(client, auth, app,
                                                                      count_queries, many):
    room = make_room(ideas_minutes=30)
    to_phase(room, "ideas")
    for n in range(12 if many else 1):
        bring(room, f"Open {n}")
        close(room, bring(room, f"Closed {n}"))
    if many:
        waiting = bring(room, "Waiting")
        close(room, waiting)
        db.session.execute(update(Challenge).where(Challenge.id == waiting.id)
                           .values(awaiting_update_since=Challenge.reflected_at))
        db.session.commit()
    auth.login(room.member)
    url = f"/c/{room.slug}/challenges"
    client.get(url)
    with count_queries() as q:
        assert client.get(url).status_code == 200
    COUNTS[many] = q.count
    assert q.count <= 5, q.statements  # user, circle, open, closed, the header's counts
    if len(COUNTS) == 2:
        assert COUNTS[False] == COUNTS[True], COUNTS


COUNTS: dict = {}
