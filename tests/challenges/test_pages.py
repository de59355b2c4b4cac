"""Challenges through HTTP: the page, the composer per phase, forged forms, statement counts."""
import pytest
from sqlalchemy import func, select

from community.challenges import actions as challenges
from community.extensions import db
from community.threads.models import Post
from tests.challenges.helpers import backdate, make_room, to_phase


def text(response) -> str:
    return response.get_data(as_text=True)


def page(client, room, number: int = 1):
    return client.get(f"/c/{room.slug}/t/{room.challenge.thread_id}?page={number}")


def test_bring_a_challenge_with_timed_questions(client, auth, app):
    room = make_room()
    auth.login(room.member)
    response = client.post(f"/c/{room.slug}/challenges/new", data={
        "title": "A hard conversation", "situation": "A board member keeps overruling me.",
        "ask": "How do I raise it?", "questions_amount": "2", "questions_unit": "hours",
        "ideas_amount": "", "ideas_unit": "days", "follow_up_days": "28"})
    assert response.status_code == 302
    shown = text(client.get(response.location, follow_redirects=True))
    assert "Now: Questions" in shown and "moves on by itself" in shown
    assert "like help with:" in shown and "How do I raise it?" in shown


def test_the_new_challenge_form_says_what_is_wrong(client, auth, app):
    room = make_room()
    auth.login(room.member)
    response = client.post(f"/c/{room.slug}/challenges/new", data={
        "title": "T", "situation": "S", "ask": "A", "questions_amount": "2", "questions_unit": "weeks",
        "follow_up_days": "28"})
    assert response.status_code == 400 and 'class="error"' in text(response)


def test_the_phase_shows_on_the_page_and_in_lists(client, auth, app):
    room = make_room()
    auth.login(room.member)
    shown = text(page(client, room))
    assert 'aria-current="step">Questions' in shown and "Now: Questions" in shown
    assert "Ask a question — ideas wait for the next phase." in shown
    assert "Keep as an idea for later" in shown
    assert "Challenge · Questions" in text(client.get(f"/c/{room.slug}/threads"))
    home = text(client.get(f"/c/{room.slug}/"))
    assert "Challenge · Questions" in home and "Bring a challenge" in home


def test_the_composer_offers_each_person_their_part(client, auth, app):
    room = make_room()
    auth.login(room.presenter)
    shown = text(page(client, room))
    assert 'value="answer"' in shown and 'value="question"' not in shown
    assert "Move on to Ideas" in shown
    auth.logout()
    auth.login(room.member)
    assert "Move on to Ideas" not in text(page(client, room))
    to_phase(room, "reflection")
    shown = text(page(client, room))
    assert "only the presenter writes" in shown.lower() or "The presenter says what they take away" in shown
    assert 'name="kind"' not in shown
    auth.logout()
    auth.login(room.presenter)
    shown = text(page(client, room))
    assert "Your reflection" in shown and 'name="commitment_date"' in shown


def test_a_forged_idea_during_questions_is_refused_and_nothing_stored(client, auth, app):
    room = make_room()
    before = db.session.scalar(select(func.count(Post.id)))
    auth.login(room.member)
    url = f"/c/{room.slug}/ch/{room.challenge.id}/post"
    response = client.post(url, data={"kind": "idea", "body": "You should restructure"})
    assert response.status_code == 403 and "Questions phase" in text(response)
    response = client.post(url, data={"kind": "reflection", "body": "Mine now"})
    assert response.status_code == 400 and "Choose what you are posting" in text(response)
    assert db.session.scalar(select(func.count(Post.id))) == before
    auth.logout()
    auth.login(room.outsider)
    assert client.post(url, data={"kind": "question", "body": "Who?"}).status_code == 404
    assert page(client, room).status_code == 404
    assert client.get(f"/c/{room.slug}/ch/{room.challenge.id}").status_code == 404
    auth.logout()
    auth.login(room.former)
    response = client.post(url, data={"kind": "question", "body": "Me again"})
    assert response.status_code == 403 and "Me again" in text(response)  # their text, to copy
    assert "Two teams" not in text(response)
    assert db.session.scalar(select(func.count(Post.id))) == before


def test_a_held_idea_is_seen_by_its_author_alone(client, auth, app):
    room = make_room()
    auth.login(room.member)
    response = client.post(f"/c/{room.slug}/ch/{room.challenge.id}/post",
                           data={"kind": "question", "body": "Merge the budgets first", "hold": "1"})
    assert response.status_code == 302
    shown = text(page(client, room))
    assert "Merge the budgets first" in shown and "You can post it when Ideas opens" in shown
    for role in ("presenter", "moderator", "owner"):
        auth.logout()
        auth.login(room.user(role))
        assert "Merge the budgets first" not in text(page(client, room))
    to_phase(room, "ideas")
    auth.logout()
    auth.login(room.member)
    shown = text(page(client, room))
    assert "Post this idea" in shown


def test_a_timed_phase_moves_on_without_anyone_writing(client, auth, app):
    room = make_room(questions_minutes=60, ideas_minutes=60)
    auth.login(room.member)
    assert "Now: Questions" in text(page(client, room))
    backdate(room.challenge.id, minutes=61)
    shown = text(page(client, room))
    assert "Now: Ideas" in shown and 'value="idea"' in shown
    backdate(room.challenge.id, minutes=60)
    assert "Now: Reflection" in text(page(client, room))


@pytest.mark.parametrize("many", [False, True])
def test_the_challenge_page_keeps_within_eight_statements(client, auth, app, count_queries, many):
    room = make_room()
    for n in range(30 if many else 2):
        challenges.post_to_challenge(room.member if n % 2 else room.moderator, room.slug,
                                     room.challenge.id, "question", f"Question {n}?")
    for n in range(3 if many else 1):
        challenges.hold_idea(room.member, room.slug, room.challenge.id, f"Idea {n}")
    auth.login(room.member)
    slug, thread_id = room.slug, room.challenge.thread_id  # read before counting
    counts = []
    for url in (f"/c/{slug}/t/{thread_id}?page=1", f"/c/{slug}/t/{thread_id}?page={2 if many else 1}",
                f"/c/{slug}/"):
        client.get(url)
        with count_queries() as q:
            assert client.get(url).status_code == 200
        counts.append(q.count)
    assert max(counts) <= 8, counts
    COUNTS[many] = counts
    if len(COUNTS) == 2:  # few posts and many: the same statements
        assert COUNTS[False] == COUNTS[True], COUNTS


COUNTS: dict = {}
