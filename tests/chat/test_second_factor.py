"""Chat in a circle that requires two-factor sign-in: a member without a second
factor can't join it, and sockets already in its room are cut off the moment
the owner requires it, or a site admin resets the member's factor."""
from community.accounts.factor_reset import reset_second_factor
from community.circles import actions as circles
from community.extensions import db
from tests.chat.conftest import call, post, received
from tests.factories import give_second_factor, make_user

SETTINGS = {"name": "Berkshire Leaders", "join_policy": "invite_only"}


def give_factor(*users):
    for user in users:
        give_second_factor(user)


def join(sc, circle):
    answer = call(sc, "join", {"circle": circle.slug})
    assert answer["ok"], answer
    return answer


def test_a_member_without_a_second_factor_is_asked_to_set_one_up(connect, people):
    circle, owner, member = people["circle"], people["owner"], people["member"]
    sc = connect(member)
    give_factor(owner)
    circles.update_circle(owner, circle.slug, **SETTINGS, require_two_factor=True)
    answer = call(sc, "join", {"circle": circle.slug})
    assert answer["ok"] is False and answer["error"] == "second_factor_required"
    assert "two-factor sign-in" in answer["message"]
    for event, payload in [("load_older", {"circle": circle.slug, "before_id": 10**6}),
                           ("send_message", {"circle": circle.slug, "body": "hi", "client_id": "c-9"}),
                           ("typing", {"circle": circle.slug})]:
        assert call(sc, event, payload)["error"] == "second_factor_required", event
    give_factor(member)
    assert join(sc, circle)["ok"]


def test_requiring_it_cuts_off_the_open_sockets_of_members_without_one(connect, people):
    circle, owner, member, other = people["circle"], people["owner"], people["member"], people["other"]
    sc, owners, others = connect(member), connect(owner), connect(other)
    for client in (sc, owners, others):
        join(client, circle)
    give_factor(owner, other)
    received(sc), received(others)
    circles.update_circle(owner, circle.slug, **SETTINGS, require_two_factor=True)
    assert received(sc, "removed") == [("removed", {"circle": circle.slug})]
    assert received(owners, "removed") == [] and received(others, "removed") == []
    post(owner, circle, "Said once it was required")
    assert received(sc) == []  # out of the room: hears nothing
    assert [data["html"] for _, data in received(others, "message_created")] == \
        ["<p>Said once it was required</p>\n"]


def test_a_reset_second_factor_cuts_off_the_members_sockets(connect, people):
    circle, owner, member = people["circle"], people["owner"], people["member"]
    admin = make_user("Site Admin")
    admin.is_site_admin = True
    sc = connect(member)  # signed in first: the sign-in's second step is not what is tested
    give_factor(owner, member, admin)
    circles.update_circle(owner, circle.slug, **SETTINGS, require_two_factor=True)
    join(sc, circle)
    received(sc)
    reset_second_factor(admin, member.id, "Lost their phone; called from the number we hold.")
    assert received(sc, "removed") == [("removed", {"circle": circle.slug})]
    post(owner, circle, "After the reset")
    assert received(sc) == []
    assert call(sc, "join", {"circle": circle.slug})["error"] == "second_factor_required"


def test_the_sweep_catches_up_with_a_factor_gone_without_a_signal(app, connect, people):
    """The backstop: a factor cleared with no control message (another process
    died between its commit and its publish) still cuts the socket off."""
    circle, owner, member = people["circle"], people["owner"], people["member"]
    sc = connect(member)
    give_factor(owner, member)
    circles.update_circle(owner, circle.slug, **SETTINGS, require_two_factor=True)
    join(sc, circle)
    received(sc)
    member.second_factor_at = None
    db.session.commit()
    app.extensions["chat"].sweep()
    assert received(sc, "removed") == [("removed", {"circle": circle.slug})]
