"""The Messages page is kept whole, its lines too (fast.fragments.kept_page,
kept_row): after any change to what a line shows, the page served must be
exactly the page rendered afresh for this viewer; the time is theirs."""
import pytest

from community.accounts.models import User
from community.fast.fragments import MEMO
from community.messages import actions as dm
from tests.kept import update
from tests.messages.conftest import login

CHANGES = {
    "a message arrives": lambda p, talk: dm.send_message(p["other"], talk.id, "news", "n1"),
    "the viewer reads it": lambda p, talk: dm.send_message(p["member"], talk.id, "thanks", "m1"),
    "the other renames themselves": lambda p, talk: update(User, p["other"].id, display_name="Tom H. Jones"),
    "the other leaves": lambda p, talk: dm.leave_conversation(p["other"], talk.id),
    "the viewer mutes it": lambda p, talk: dm.mute_conversation(p["member"], talk.id),
    "the viewer leaves": lambda p, talk: dm.leave_conversation(p["member"], talk.id),
    "the viewer moves to Tokyo": lambda p, talk: update(User, p["member"].id, timezone="Asia/Tokyo"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_lines_served_are_the_lines_rendered_afresh(app, people, change):
    talk = dm.start_conversation(people["member"], [str(people["other"].id), str(people["third"].id)])
    dm.send_message(people["other"], talk.id, "hello", "h1")
    client = login(app, people["member"])
    before = client.get("/messages").get_data(as_text=True)
    assert any(key[0] == "messages/index.html" for key in MEMO.items)  # kept whole
    CHANGES[change](people, talk)
    served = client.get("/messages").get_data(as_text=True)
    MEMO.clear()
    fresh = client.get("/messages").get_data(as_text=True)
    assert served == fresh
    assert served != before
