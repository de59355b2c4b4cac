"""Timed phases agree across processes; challenges in search, export and anonymising."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from community.accounts.export import collect
from community.challenges import actions as challenges
from community.challenges.models import Challenge, IdeaDraft
from community.challenges.phases import effective_phase, settled
from community.circles import actions as circles
from community.extensions import db
from community.threads import search
from tests.challenges.helpers import backdate, make_room, to_phase


class Stored:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_the_phase_is_computed_from_what_is_stored():
    start = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    row = Stored(phase="questions", phase_started_at=start, questions_minutes=60, ideas_minutes=120)
    assert effective_phase(row, start + timedelta(minutes=59)).name == "questions"
    ideas = effective_phase(row, start + timedelta(minutes=60))
    assert (ideas.name, ideas.started_at, ideas.ends_at) == ("ideas", start + timedelta(minutes=60),
                                                             start + timedelta(minutes=180))
    assert effective_phase(row, start + timedelta(days=9)).name == "reflection"
    by_hand = Stored(phase="questions", phase_started_at=start, questions_minutes=None, ideas_minutes=5)
    assert effective_phase(by_hand, start + timedelta(days=9)).name == "questions"


def test_two_app_instances_show_the_same_phase_and_a_write_settles_it_once(make_app, db_path):
    first, second = make_app(), make_app()
    with first.app_context():
        room = make_room(questions_minutes=30, ideas_minutes=None)
        backdate(room.challenge.id, minutes=31)
        ids = (room.slug, room.challenge.thread_id, room.challenge.id, room.member.id)
    shown = []
    for app in (first, second):
        with app.app_context():
            client = app.test_client()
            from community.accounts.models import User
            from tests.conftest import AuthActions
            AuthActions(client).login(db.session.get(User, ids[3]))
            page = client.get(f"/c/{ids[0]}/t/{ids[1]}?page=1").get_data(as_text=True)
            shown.append("Now: Ideas" in page and 'value="idea"' in page)
    assert shown == [True, True]
    with second.app_context():
        row = db.session.get(Challenge, ids[2])
        assert row.phase == "questions"  # nothing written yet: reading moved it on
        settled(row, datetime.now(UTC))
        db.session.commit()
    with first.app_context():
        row = db.session.get(Challenge, ids[2])
        before = (row.phase, row.phase_started_at)
        settled(row, datetime.now(UTC))  # again: nothing changes
        db.session.commit()
        db.session.expire_all()
        row = db.session.get(Challenge, ids[2])
        assert before[0] == "ideas" and (row.phase, row.phase_started_at) == before


def test_circle_search_finds_challenges_and_their_posts(app):
    room = make_room()
    challenges.post_to_challenge(room.member, room.slug, room.challenge.id, "question",
                                 "Have the unions been consulted?")
    hits, total, _ = search.search(room.member, "merging", circle_id=room.circle.id)
    assert total == 1 and hits[0].title == "Two teams, one budget"
    _, total, _ = search.search(room.moderator, "unions", circle_id=room.circle.id)
    assert total == 1
    _, total, _ = search.search(room.outsider, "unions")
    assert total == 0


def test_export_holds_the_presenters_challenge_commitments_and_held_ideas(app):
    room = make_room()
    challenges.hold_idea(room.member, room.slug, room.challenge.id, "Shared goal first")
    to_phase(room, "follow_up")
    data = collect(room.presenter)
    assert [c["title"] for c in data["challenges"]] == ["Two teams, one budget"]
    assert [c["text"] for c in data["commitments"]] == ["Talk to both leads"]
    assert {p["kind"] for p in data["posts"]} >= {"situation", "reflection"}
    assert [h["source"] for h in collect(room.member)["held_ideas"]] == ["Shared goal first"]
    assert collect(room.moderator)["held_ideas"] == []


def test_leaving_anonymised_takes_the_presenter_off_and_their_held_ideas_go(app):
    room = make_room()
    challenges.hold_idea(room.member, room.slug, room.challenge.id, "Shared goal first")
    circles.leave_circle(room.member, room.slug, anonymise=True)
    assert db.session.scalars(select(IdeaDraft)).all() == []
    to_phase(room, "follow_up")
    circles.leave_circle(room.presenter, room.slug, anonymise=True)
    row = db.session.get(Challenge, room.challenge.id)
    assert row.presenter_id is None
    assert challenges.send_due_follow_ups(datetime.now(UTC) + timedelta(days=400)) == 0
