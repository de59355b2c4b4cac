"""Every page, panel, feed and email that lists or counts across circles keeps
a circle's content from those who may not read it: a member whose pledge is
waiting (accepted, then the owner changed it), a member without a second factor
once the circle requires one, and people removed, banned or gone. Accepting the
pledge, or setting up a second factor, brings everything back.

Each surface here once used its own spelling of "member" (see test_read_rules).
"""
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from community.chat import actions as chat
from community.circles import actions as circles
from community.extensions import db
from community.meetings.actions.feeds import create_calendar_feed
from community.meetings.actions.scheduling import schedule_meeting
from community.moderation import actions as moderation
from community.notifications.dispatch import dispatch_notifications, send_digests
from community.notifications.models import OutboxMail
from community.threads import actions as threads
from community.timeutil import utcnow
from tests.factories import add_member, give_second_factor, make_circle, make_user
from tests.meetings.conftest import meeting_fields

# Words that appear only in the circle's content: titles, posts, meetings, chat.
SECRETS = ("Zanzibar", "quagga", "Quokka", "narwhal")


@pytest.fixture
def world(app):
    """A pledge circle with a thread, a mention of Helen, a meeting and chat
    she hasn't read; Helen has accepted the pledge and holds a calendar feed."""
    owner = make_user("Olive Owner", email="olive@example.org")
    circle = make_circle(owner, name="Thames Valley")
    circles.update_circle(owner, circle.slug, name=circle.name, pledge_required=True,
                          pledge_text="What is said here stays here.")
    helen = add_member(circle, make_user("Helen Marsh", email="helen@example.org"))
    circles.accept_pledge(helen, circle.slug)
    thread = threads.start_thread(helen, circle.slug, "Her own thread", "Helen's own words")
    db.session.commit()
    return {"owner": owner, "circle": circle, "helen": helen, "thread": thread,
            "feed": create_calendar_feed(helen)}


def add_content(world):
    owner, circle, helen = world["owner"], world["circle"], world["helen"]
    thread = threads.start_thread(owner, circle.slug, "Funding cliff in Zanzibar",
                                  "The quagga numbers are bad.")
    threads.post_reply(owner, circle.slug, thread.id, f"@{helen.handle} what about the quagga?")
    schedule_meeting(owner, circle.slug, **meeting_fields(title="Quokka supper"))
    chat.send_message(owner, circle.slug, "narwhal plans for Tuesday", "c-1")


def pending(world):
    """The owner rewrites the pledge: Helen must accept it again."""
    owner, circle = world["owner"], world["circle"]
    db.session.refresh(circle)
    circles.update_circle(owner, circle.slug, name=circle.name, pledge_required=True,
                          pledge_text="A new pledge, after an incident.")


def factor_required(world):
    """The owner (who has a second factor) requires one of every member: Helen has none."""
    owner, circle = world["owner"], world["circle"]
    owner.second_factor_at = utcnow()
    db.session.refresh(circle)
    circles.update_circle(owner, circle.slug, name=circle.name, pledge_required=True,
                          pledge_text=circle.pledge_text, require_two_factor=True)


def removed(world):
    moderation.remove_member(world["owner"], world["circle"].slug, world["helen"].id)


def banned(world):
    moderation.ban_member(world["owner"], world["circle"].slug, world["helen"].id)


def left(world):
    circles.leave_circle(world["helen"], world["circle"].slug)


def what_helen_sees(world, client) -> dict[str, str]:
    """Every cross-circle surface, as Helen (signed in on client) meets it."""
    circle, helen = world["circle"], world["helen"]
    seen = {
        "dashboard": client.get("/").get_data(as_text=True),
        # The page repeats the query: a word of the post that isn't a secret.
        "search": client.get("/search?q=numbers").get_data(as_text=True),
        "circle search": client.get(f"/c/{circle.slug}/search?q=numbers").get_data(as_text=True),
        "notifications": client.get("/notifications").get_data(as_text=True),
        "bell": str(client.get("/notifications/unread").get_json()),
        "calendar feed": client.get(f"/calendar/{world['feed']}.ics").get_data(as_text=True),
        "mentions": client.get(f"/c/{circle.slug}/mentions?q=oli").get_data(as_text=True),
        "profile": client.get(f"/people/{world['owner'].id}").get_data(as_text=True),
        "chat unread": str(chat.unread_counts(helen.id, [circle.id])),
    }
    later = utcnow() + timedelta(minutes=1)
    dispatch_notifications(later)
    send_digests(later.replace(hour=23))
    seen["email"] = "\n".join(m.subject + m.text_body for m in db.session.scalars(
        select(OutboxMail).where(OutboxMail.to_address == helen.email)))
    return seen


def leaks(seen: dict[str, str]) -> dict[str, list[str]]:
    return {surface: [word for word in SECRETS if word in text]
            for surface, text in seen.items() if any(word in text for word in SECRETS)}


@pytest.mark.parametrize("change", [pending, factor_required, removed, banned, left])
def test_no_surface_shows_a_circle_to_someone_who_may_not_read_it(world, client, auth, change):
    add_content(world)
    change(world)
    auth.login(world["helen"])
    seen = what_helen_sees(world, client)
    assert leaks(seen) == {}
    # Someone removed or banned is told so (moderation.actions): that notice only.
    told = 1 if change in (removed, banned) else 0
    assert seen["bell"] == str({"unread": told})
    assert seen["chat unread"] == "{}"
    assert "Olive Owner" not in seen["profile"] and "Olive Owner" not in seen["mentions"]
    export = json.loads(client.get("/settings/data.json").get_data(as_text=True))
    assert [p["source"] for p in export["posts"]] == ["Helen's own words"]  # hers, wherever


def accept_the_pledge(world):
    circles.accept_pledge(world["helen"], world["circle"].slug)


def set_up_a_second_factor(world):
    give_second_factor(world["helen"])


@pytest.mark.parametrize("change, undo", [(pending, accept_the_pledge),
                                          (factor_required, set_up_a_second_factor)])
def test_doing_what_the_circle_asks_shows_it_all_again(world, client, auth, change, undo):
    add_content(world)
    change(world)
    auth.login(world["helen"])
    assert leaks(what_helen_sees(world, client)) == {}

    undo(world)
    threads.post_reply(world["owner"], world["circle"].slug, world["thread"].id,
                       f"@{world['helen'].handle} welcome back to the quagga talk")
    seen = what_helen_sees(world, client)
    found = {surface: words for surface, words in leaks(seen).items()}
    assert "Zanzibar" in found["dashboard"]
    assert "Zanzibar" in found["search"] and "Zanzibar" in found["circle search"]
    assert "Zanzibar" in found["notifications"]
    assert "Quokka" in found["calendar feed"]
    assert seen["bell"] != str({"unread": 0})
    assert seen["chat unread"] == str({world["circle"].id: 1})
    assert "Olive Owner" in seen["mentions"] and "Olive Owner" in seen["profile"]
    assert "Her own thread" in seen["email"]  # the new mention is emailed again
