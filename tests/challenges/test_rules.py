"""Who may post what in each phase, who may move it on, and how refusals look."""
import pytest
from sqlalchemy import func, select

from community.challenges import actions as challenges
from community.challenges.models import Challenge, IdeaDraft
from community.errors import ActionError, Forbidden, NotFound
from community.extensions import db
from community.threads import actions as threads
from community.threads.models import Post
from tests.challenges.helpers import make_room, to_phase

KINDS = ("question", "answer", "idea", "comment", "update")
# phase -> role -> the kinds that role may post; the rest are refused (Forbidden).
ALLOWED = {
    "questions": {"presenter": {"answer"}, "member": {"question"}, "moderator": {"question"},
                  "owner": {"question"}},
    "ideas": {"presenter": {"answer"}, "member": {"idea"}, "moderator": {"idea"}, "owner": {"idea"}},
    "reflection": {"presenter": set(), "member": set(), "moderator": set(), "owner": set()},
    "follow_up": {"presenter": {"update"}, "member": {"comment"}, "moderator": {"comment"},
                  "owner": {"comment"}},
}


def posts() -> int:
    return db.session.scalar(select(func.count(Post.id)))


@pytest.mark.parametrize("phase", list(ALLOWED))
@pytest.mark.parametrize("role", ["presenter", "member", "moderator", "owner", "former", "outsider"])
def test_who_may_post_what_in_each_phase(app, phase, role):
    room = make_room()
    to_phase(room, phase)
    actor = room.user(role)
    for kind in KINDS:
        before = posts()
        call = lambda kind=kind: challenges.post_to_challenge(  # noqa: E731
            actor, room.slug, room.challenge.id, kind, f"A {kind} from the {role}")
        if role in ("former", "outsider"):
            with pytest.raises(NotFound):
                call()
        elif kind in ALLOWED[phase][role]:
            post = call()
            assert post.kind == kind
            assert posts() == before + 1
        else:
            with pytest.raises(Forbidden):
                call()
            assert posts() == before, f"a refused {kind} by the {role} in {phase} was stored"


@pytest.mark.parametrize("phase", ["questions", "ideas", "follow_up"])
def test_only_the_presenter_reflects_and_only_in_reflection(app, phase):
    room = make_room()
    to_phase(room, phase)
    for role in ("presenter", "member", "moderator"):
        with pytest.raises(Forbidden):
            challenges.reflect(room.user(role), room.slug, room.challenge.id, "Takeaways", [])
    room2 = make_room()
    to_phase(room2, "reflection")
    for role in ("member", "moderator", "owner"):
        with pytest.raises(Forbidden):
            challenges.reflect(room2.user(role), room2.slug, room2.challenge.id, "Mine", [])
    challenges.reflect(room2.presenter, room2.slug, room2.challenge.id, "What I heard", [])
    assert db.session.get(Challenge, room2.challenge.id).phase == "follow_up"


def test_a_challenge_takes_no_plain_replies(app):
    room = make_room()
    before = posts()
    with pytest.raises(Forbidden):
        threads.post_reply(room.member, room.slug, room.challenge.thread_id, "Have you tried X?")
    assert posts() == before


def test_a_locked_challenge_takes_posts_from_moderators_only(app):
    room = make_room()
    threads.set_locked(room.owner, room.slug, room.challenge.thread_id, True)
    with pytest.raises(Forbidden):
        challenges.post_to_challenge(room.member, room.slug, room.challenge.id, "question", "Why?")
    with pytest.raises(Forbidden):
        challenges.post_to_challenge(room.presenter, room.slug, room.challenge.id, "answer", "Because")
    assert challenges.post_to_challenge(room.moderator, room.slug, room.challenge.id,
                                        "question", "Why now?").kind == "question"
    with pytest.raises(Forbidden):  # the phase's rule still holds for them
        challenges.post_to_challenge(room.moderator, room.slug, room.challenge.id, "idea", "Try X")


@pytest.mark.parametrize("mover", ["presenter", "moderator", "owner"])
def test_the_presenter_and_moderators_move_it_on_forward_only(app, mover):
    room = make_room()
    actor = room.user(mover)
    assert challenges.move_phase(actor, room.slug, room.challenge.id, "questions").name == "ideas"
    # A second click from the page that showed Questions changes nothing.
    assert challenges.move_phase(actor, room.slug, room.challenge.id, "questions").name == "ideas"
    assert challenges.move_phase(actor, room.slug, room.challenge.id, "ideas").name == "reflection"
    assert db.session.get(Challenge, room.challenge.id).phase == "reflection"
    with pytest.raises(Forbidden):  # Reflection ends only with the presenter's reflection
        challenges.move_phase(actor, room.slug, room.challenge.id, "reflection")


def test_members_cannot_move_it_and_strangers_cannot_see_it(app):
    room = make_room()
    with pytest.raises(Forbidden):
        challenges.move_phase(room.member, room.slug, room.challenge.id, "questions")
    for role in ("former", "outsider"):
        with pytest.raises(NotFound):
            challenges.move_phase(room.user(role), room.slug, room.challenge.id, "questions")
    assert db.session.get(Challenge, room.challenge.id).phase == "questions"


def test_an_idea_held_during_questions_is_posted_with_one_click_when_ideas_opens(app):
    room = make_room()
    draft = challenges.hold_idea(room.member, room.slug, room.challenge.id, "Start with one shared goal")
    with pytest.raises(Forbidden):  # not before Ideas
        challenges.post_held_idea(room.member, room.slug, room.challenge.id, draft.id)
    with pytest.raises(NotFound):  # it is the member's alone
        challenges.post_held_idea(room.moderator, room.slug, room.challenge.id, draft.id)
    with pytest.raises(Forbidden):  # the presenter answers; they hold no ideas
        challenges.hold_idea(room.presenter, room.slug, room.challenge.id, "My own idea")
    to_phase(room, "ideas")
    post = challenges.post_held_idea(room.member, room.slug, room.challenge.id, draft.id)
    assert (post.kind, post.source, post.author_id) == ("idea", "Start with one shared goal", room.member.id)
    assert db.session.get(IdeaDraft, draft.id) is None
    with pytest.raises(Forbidden):  # held ideas are for Questions only
        challenges.hold_idea(room.member, room.slug, room.challenge.id, "Another")


def test_bad_input_is_a_clear_message(app):
    room = make_room()
    with pytest.raises(ActionError, match="Choose what you are posting"):
        challenges.post_to_challenge(room.member, room.slug, room.challenge.id, "reflection", "x")
    with pytest.raises(ActionError, match="empty"):
        challenges.post_to_challenge(room.member, room.slug, room.challenge.id, "question", "  ")
    to_phase(room, "reflection")
    with pytest.raises(ActionError, match="isn't a date"):
        challenges.reflect(room.presenter, room.slug, room.challenge.id, "Mine", [("Do it", "31/12")])
    with pytest.raises(ActionError, match="between today"):
        challenges.reflect(room.presenter, room.slug, room.challenge.id, "Mine", [("Do it", "2020-01-01")])
    assert db.session.get(Challenge, room.challenge.id).phase == "reflection"
    with pytest.raises(ActionError):
        challenges.duration_minutes("soon", "days")
    assert challenges.duration_minutes("2", "hours") == 120
    assert challenges.duration_minutes("", "days") is None
