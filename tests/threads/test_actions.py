"""Thread rules, through the actions."""
import pytest
from sqlalchemy import func, select, update
from werkzeug.exceptions import Forbidden, NotFound

from community.errors import ActionError
from community.extensions import db
from community.moderation import actions as moderation
from community.moderation.models import AuditEvent, Report
from community.notifications.models import Notification
from community.threads import actions as threads
from community.threads.actions import unread_counts
from community.threads.models import Post, Reaction, SearchEntry, Thread, ThreadState
from tests.factories import add_member, make_circle, make_thread, make_user


@pytest.fixture
def circle_of_three(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    amara = add_member(circle, make_user("Amara Okafor"))
    helen = add_member(circle, make_user("Helen Marsh"))
    return circle, owner, amara, helen


def notes(user, kind=None):
    query = select(Notification).where(Notification.user_id == user.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return db.session.scalars(query).all()


def test_start_thread_and_reply(circle_of_three):
    circle, owner, amara, helen = circle_of_three
    thread = threads.start_thread(amara, circle.slug, "  Funding cliff  ", "Three grants end in March.")
    assert thread.title == "Funding cliff"
    reply = threads.post_reply(helen, circle.slug, thread.id, "Same here.")
    assert (reply.number, thread.post_count, thread.reply_count) == (2, 2, 1)
    assert thread.last_poster_id == helen.id
    assert [n.kind for n in notes(owner, "new_thread")] == ["new_thread"]  # every member hears


def test_the_same_form_sent_twice_stores_one_post(circle_of_three):
    """A double click, or a browser's retry after a cut connection."""
    circle, owner, amara, helen = circle_of_three
    thread = threads.start_thread(amara, circle.slug, "Funding cliff", "Three grants end.")
    assert threads.start_thread(amara, circle.slug, "Funding cliff", "Three grants end.").id == thread.id
    first = threads.post_reply(helen, circle.slug, thread.id, "Same here.")
    again = threads.post_reply(helen, circle.slug, thread.id, "Same here.")
    assert again.id == first.id and thread.post_count == 2
    assert len(notes(owner, "new_thread")) == 1 and len(notes(amara, "reply")) <= 1
    # Others may say the same; the same person may say something else, or repeat
    # it on purpose later; and a deleted post is no copy to answer with.
    assert threads.post_reply(owner, circle.slug, thread.id, "Same here.").id != first.id
    assert threads.post_reply(helen, circle.slug, thread.id, "And another thing.").number == 4
    db.session.execute(update(Post).where(Post.id == first.id)
                       .values(created_at=first.created_at - threads.RESUBMIT_WINDOW))
    assert threads.post_reply(helen, circle.slug, thread.id, "Same here.").number == 5
    threads.delete_post(helen, circle.slug, db.session.scalar(
        select(Post.id).where(Post.thread_id == thread.id, Post.number == 5)))
    assert threads.post_reply(helen, circle.slug, thread.id, "Same here.").number == 6
    assert threads.start_thread(amara, circle.slug, "Funding cliff", "Other words.").id != thread.id


def test_a_reply_posted_twice_through_the_form_lands_once(circle_of_three, client, auth):
    circle, owner, amara, helen = circle_of_three
    thread = threads.start_thread(amara, circle.slug, "Funding cliff", "Three grants end.")
    auth.login(helen)
    url = f"/c/{circle.slug}/t/{thread.id}/reply"
    first = client.post(url, data={"body": "Count me in."})
    second = client.post(url, data={"body": "Count me in."})
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count(Post.id)).where(Post.thread_id == thread.id)) == 2


@pytest.mark.parametrize("title,body,field", [
    ("", "body", "title"), ("   ", "body", "title"), ("t" * 201, "body", "title"),
    ("Title", "", "body"), ("Title", " \n\t ", "body"), ("Title", "b" * 20_001, "body"),
])
def test_limits_and_empty_input(circle_of_three, title, body, field):
    circle, _, amara, _ = circle_of_three
    with pytest.raises(ActionError) as err:
        threads.start_thread(amara, circle.slug, title, body)
    assert err.value.field == field
    assert db.session.query(Thread).count() == 0 and db.session.query(Post).count() == 0


def test_the_longest_allowed_post_is_accepted(circle_of_three):
    circle, _, amara, _ = circle_of_three
    thread = threads.start_thread(amara, circle.slug, "t" * 200, "b" * 20_000)
    assert len(thread.title) == 200


def test_edit_marks_the_post_edited_and_rerenders(circle_of_three):
    circle, _, amara, helen = circle_of_three
    thread = make_thread(circle, amara, body="first *draft*")
    post = db.session.scalar(select(Post).where(Post.thread_id == thread.id))
    assert post.edited_at is None
    threads.edit_post(amara, circle.slug, post.id, "final **version**", title="New title")
    assert post.edited_at is not None and "<strong>version</strong>" in post.html
    assert thread.title == "New title"
    assert db.session.get(SearchEntry, post.id).body == "final version"
    with pytest.raises(Forbidden):
        threads.edit_post(helen, circle.slug, post.id, "hijack")


def test_delete_is_soft_and_keeps_the_thread_shape(circle_of_three):
    circle, _, amara, helen = circle_of_three
    thread = make_thread(circle, amara)
    reply = threads.post_reply(helen, circle.slug, thread.id, "oops")
    threads.post_reply(amara, circle.slug, thread.id, "after")
    threads.delete_post(helen, circle.slug, reply.id)
    assert reply.removed and reply.number == 2
    assert thread.reply_count == 1 and thread.post_count == 3
    assert db.session.get(SearchEntry, reply.id) is None
    assert db.session.query(AuditEvent).filter_by(action="post.deleted").count() == 0  # own post
    with pytest.raises(Forbidden):
        threads.delete_post(helen, circle.slug, reply.id)  # already removed


def test_moderators_delete_any_post_audited(circle_of_three):
    circle, owner, amara, _ = circle_of_three
    thread = make_thread(circle, amara)
    post = db.session.scalar(select(Post).where(Post.thread_id == thread.id))
    threads.delete_post(owner, circle.slug, post.id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "post.deleted"))
    assert (event.actor_id, event.target_user_id) == (owner.id, amara.id)


def test_members_cannot_delete_others_posts(circle_of_three):
    circle, _, amara, helen = circle_of_three
    thread = make_thread(circle, amara)
    post = db.session.scalar(select(Post).where(Post.thread_id == thread.id))
    with pytest.raises(Forbidden):
        threads.delete_post(helen, circle.slug, post.id)


def test_pin_and_lock_are_for_moderators_and_audited(circle_of_three):
    circle, owner, amara, helen = circle_of_three
    thread = make_thread(circle, amara)
    with pytest.raises(Forbidden):
        threads.set_pinned(amara, circle.slug, thread.id, True)
    threads.set_pinned(owner, circle.slug, thread.id, True)
    threads.set_locked(owner, circle.slug, thread.id, True)
    with pytest.raises(Forbidden) as err:
        threads.post_reply(helen, circle.slug, thread.id, "can I?")
    assert "locked" in err.value.description
    threads.post_reply(owner, circle.slug, thread.id, "Closing note from a moderator.")
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["thread.pinned", "thread.locked"]


def test_mentions_notify_members_and_ignore_outsiders(circle_of_three):
    circle, _, amara, helen = circle_of_three
    outsider = make_user("Nina Outsider")
    thread = threads.start_thread(amara, circle.slug, "Hi", f"@{helen.handle} and @{outsider.handle}")
    post = db.session.scalar(select(Post).where(Post.thread_id == thread.id))
    assert f'href="/people/{helen.id}"' in post.html
    assert f"/people/{outsider.id}" not in post.html and f"@{outsider.handle}" in post.html
    assert [n.kind for n in notes(helen)] == ["mention"]
    assert notes(outsider) == []


def test_edit_notifies_only_newly_mentioned(circle_of_three):
    circle, owner, amara, helen = circle_of_three
    thread = threads.start_thread(amara, circle.slug, "Hi", f"@{helen.handle}")
    post = db.session.scalar(select(Post).where(Post.thread_id == thread.id))
    threads.edit_post(amara, circle.slug, post.id, f"@{helen.handle} and @{owner.handle}")
    assert len(notes(helen, "mention")) == 1 and len(notes(owner, "mention")) == 1


def test_a_mention_dropped_and_restored_by_edits_notifies_once(circle_of_three):
    circle, _, amara, helen = circle_of_three
    thread = threads.start_thread(amara, circle.slug, "Hi", f"@{helen.handle} hello")
    post = db.session.scalar(select(Post).where(Post.thread_id == thread.id))
    threads.edit_post(amara, circle.slug, post.id, "hello")
    threads.edit_post(amara, circle.slug, post.id, f"hello @{helen.handle}")
    assert len(notes(helen, "mention")) == 1


def test_posters_follow_and_hear_of_replies_unless_muted(circle_of_three):
    circle, owner, amara, helen = circle_of_three
    thread = make_thread(circle, amara)
    threads.post_reply(helen, circle.slug, thread.id, "first reply")
    assert [n.kind for n in notes(amara, "reply")] == ["reply"]
    threads.set_subscription(amara, circle.slug, thread.id, "muted")
    threads.post_reply(helen, circle.slug, thread.id, "second reply")
    assert len(notes(amara, "reply")) == 1
    threads.set_subscription(owner, circle.slug, thread.id, "following")
    threads.post_reply(amara, circle.slug, thread.id, "muted people may still post")
    assert len(notes(owner, "reply")) == 1 and len(notes(helen, "reply")) == 1
    assert db.session.scalar(select(ThreadState.subscription).where(
        ThreadState.user_id == amara.id)) == "muted"  # posting doesn't unmute


def test_removed_followers_hear_nothing(circle_of_three):
    circle, owner, amara, helen = circle_of_three
    thread = make_thread(circle, amara)
    threads.post_reply(helen, circle.slug, thread.id, "following now")
    moderation.remove_member(owner, circle.slug, helen.id)
    threads.post_reply(amara, circle.slug, thread.id, "secret")
    assert notes(helen, "reply") == []


def test_unread_counts_and_mark_read(circle_of_three):
    circle, _, amara, helen = circle_of_three
    thread = make_thread(circle, amara)
    threads.post_reply(amara, circle.slug, thread.id, "two")
    assert unread_counts(helen.id, [thread.id]) == {thread.id: 2}
    assert unread_counts(amara.id, [thread.id]) == {thread.id: 0}
    threads.mark_read(helen, circle.slug, thread.id, 1)
    threads.mark_read(helen, circle.slug, thread.id, 0)  # never goes back
    assert unread_counts(helen.id, [thread.id]) == {thread.id: 1}
    threads.mark_read(helen, circle.slug, thread.id, 999)  # clamped
    assert unread_counts(helen.id, [thread.id]) == {thread.id: 0}


def test_mark_all_read_in_a_circle(circle_of_three):
    circle, _, amara, helen = circle_of_three
    first, second = make_thread(circle, amara), make_thread(circle, amara, title="Other")
    assert threads.mark_circle_read(helen, circle.slug) == 2
    assert unread_counts(helen.id, [first.id, second.id]) == {first.id: 0, second.id: 0}


def test_reactions_toggle(circle_of_three):
    circle, _, amara, helen = circle_of_three
    thread = make_thread(circle, amara)
    post = db.session.scalar(select(Post).where(Post.thread_id == thread.id))
    assert threads.toggle_reaction(helen, circle.slug, post.id, "heart") is True
    assert threads.toggle_reaction(helen, circle.slug, post.id, "pray") is True
    assert threads.toggle_reaction(helen, circle.slug, post.id, "heart") is False
    assert db.session.scalars(select(Reaction.emoji)).all() == ["pray"]
    with pytest.raises(ActionError):
        threads.toggle_reaction(helen, circle.slug, post.id, "<script>")


def test_report_goes_to_the_queue_and_the_reporter_hears_the_outcome(circle_of_three):
    circle, owner, amara, helen = circle_of_three
    thread = make_thread(circle, amara, body="something hurtful")
    post = db.session.scalar(select(Post).where(Post.thread_id == thread.id))
    with pytest.raises(Forbidden):
        threads.report_post(amara, circle.slug, post.id, "my own")
    with pytest.raises(ActionError):
        threads.report_post(helen, circle.slug, post.id, "   ")
    report = threads.report_post(helen, circle.slug, post.id, "Names a patient")
    with pytest.raises(ActionError):
        threads.report_post(helen, circle.slug, post.id, "again")
    assert [n.kind for n in notes(owner, "report_filed")] == ["report_filed"]
    moderation.decide_report(owner, circle.slug, report.id, "removed")
    assert post.removed and db.session.get(Report, report.id).status == "removed"
    assert [n.kind for n in notes(helen, "report_outcome")] == ["report_outcome"]
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.target_user_id) == ("report.removed", amara.id)


def test_dismissed_report_leaves_the_post(circle_of_three):
    circle, owner, amara, helen = circle_of_three
    thread = make_thread(circle, amara)
    post = db.session.scalar(select(Post).where(Post.thread_id == thread.id))
    report = threads.report_post(helen, circle.slug, post.id, "not sure")
    with pytest.raises(Forbidden):
        moderation.decide_report(helen, circle.slug, report.id, "dismissed")
    moderation.decide_report(owner, circle.slug, report.id, "dismissed")
    assert not post.removed
    assert "left in place" in notes(helen, "report_outcome")[0].text


def test_threads_of_other_circles_are_not_found(circle_of_three):
    circle, _, amara, _ = circle_of_three
    other = make_circle(make_user(), name="Other circle")
    thread = make_thread(circle, amara)
    stranger_thread = make_thread(other, db.session.get(type(amara), other.created_by_id))
    with pytest.raises(NotFound):
        threads.post_reply(amara, circle.slug, stranger_thread.id, "hi")  # wrong circle
    with pytest.raises(NotFound):
        threads.post_reply(amara, other.slug, thread.id, "hi")  # not a member
