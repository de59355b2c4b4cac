"""Challenges keep the circle's pledge and can be reported, as threads can."""
import pytest
from sqlalchemy import func, select

from community.challenges import actions as challenges
from community.circles.actions import update_circle
from community.errors import NotFound
from community.extensions import db
from community.moderation.models import Report
from community.policy import access_challenge
from community.threads.models import Post
from tests.challenges.helpers import make_room


def text(response) -> str:
    return response.get_data(as_text=True)


def test_a_member_who_has_not_taken_the_pledge_sees_and_posts_nothing(client, auth, app):
    room = make_room()
    update_circle(room.owner, room.slug, name=room.circle.name, description="",
                  pledge_required=True, pledge_text="What is said here stays here.")
    before = db.session.scalar(select(func.count(Post.id)))
    auth.login(room.member)
    base = f"/c/{room.slug}"
    for path in (f"{base}/challenges", f"{base}/challenges/new", f"{base}/ch/{room.challenge.id}",
                 f"{base}/t/{room.challenge.thread_id}?page=1"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith(f"{base}/pledge?next="), path
    response = client.post(f"{base}/ch/{room.challenge.id}/post", data={"kind": "question", "body": "Who?"})
    assert response.status_code == 302 and "/pledge" in response.headers["Location"]
    assert "Two teams" not in text(client.get(f"{base}/pledge"))
    assert db.session.scalar(select(func.count(Post.id))) == before
    client.post(f"{base}/pledge")
    assert "Two teams, one budget" in text(client.get(f"{base}/ch/{room.challenge.id}",
                                                      follow_redirects=True))


def test_the_pledge_gate_is_in_the_challenges_policy_not_only_its_pages(app):
    """A socket event or another route reaching the actions meets the same gate
    as the pages: until they take the pledge, members are told nothing is there."""
    room = make_room()
    update_circle(room.owner, room.slug, name=room.circle.name, description="",
                  pledge_required=True, pledge_text="What is said here stays here.")
    tries = [lambda: access_challenge(room.member, room.slug, room.challenge.id),
             lambda: challenges.post_to_challenge(room.member, room.slug, room.challenge.id,
                                                  "question", "Who?"),
             lambda: challenges.hold_idea(room.member, room.slug, room.challenge.id, "Idea"),
             lambda: challenges.move_phase(room.presenter, room.slug, room.challenge.id,
                                           "questions")]
    for attempt in tries:
        with pytest.raises(NotFound):
            attempt()
        db.session.rollback()


def test_a_question_on_a_challenge_is_reported_to_the_moderators(client, auth, app):
    room = make_room()
    question = challenges.post_to_challenge(room.member, room.slug, room.challenge.id, "question",
                                            "Why not just sack them?")
    auth.login(room.presenter)
    response = client.post(f"/c/{room.slug}/p/{question.id}/report", data={"reason": "Unkind"})
    assert response.status_code in (302, 303)
    report = db.session.scalar(select(Report))
    assert (report.kind, report.target_id) == ("post", question.id)
    auth.logout()
    auth.login(room.moderator)
    queue = text(client.get(f"/c/{room.slug}/manage/reports"))
    assert "Why not just sack them?" in queue and "Unkind" in queue
