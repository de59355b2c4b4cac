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


# A conversation's messages are kept rows too (messages.views._message_lines):
# each drawn once per what it shows, its time a slot, whose it is in its key.
TALK_CHANGES = {
    "a message arrives": lambda p, talk, said: dm.send_message(p["other"], talk.id, "news", "n2"),
    "the other edits theirs": lambda p, talk, said: dm.edit_message(p["other"], talk.id, said["id"], "hullo"),
    "the other deletes theirs": lambda p, talk, said: dm.delete_message(p["other"], talk.id, said["id"]),
    "the other renames themselves": lambda p, talk, said: update(User, p["other"].id, display_name="P. R."),
    "the viewer moves to Tokyo": lambda p, talk, said: update(User, p["member"].id, timezone="Asia/Tokyo"),
    "the viewer reads a 12-hour clock": lambda p, talk, said: update(User, p["member"].id, clock="12"),
}


@pytest.mark.parametrize("change", TALK_CHANGES)
def test_after_a_change_the_messages_served_are_the_messages_rendered_afresh(app, people, change):
    talk = dm.start_conversation(people["member"], [str(people["other"].id), str(people["third"].id)])
    said, _ = dm.send_message(people["other"], talk.id, "hello", "h1")
    dm.send_message(people["member"], talk.id, "hello back", "h2")
    client = login(app, people["member"])
    before = client.get(f"/messages/{talk.id}").get_data(as_text=True)
    assert any(key[0] == "messages/_message_line.html" for key in MEMO.items)  # kept
    TALK_CHANGES[change](people, talk, said)
    served = client.get(f"/messages/{talk.id}").get_data(as_text=True)
    MEMO.clear()
    fresh = client.get(f"/messages/{talk.id}").get_data(as_text=True)
    assert _messages_of(served) == _messages_of(fresh)
    assert _messages_of(served) != _messages_of(before)


def test_a_kept_message_is_the_viewers_own_only_for_its_author(app, people):
    """The same message, drawn for one reader, never reaches another as theirs:
    its author sees it as theirs and can't report it; the others can."""
    talk = dm.start_conversation(people["member"], [str(people["other"].id), str(people["third"].id)])
    said, _ = dm.send_message(people["other"], talk.id, "hello", "h1")
    line = f'id="message-{said["id"]}"'
    shown = {}
    for name in ("other", "member", "third", "other"):
        page = _messages_of(login(app, people[name]).get(f"/messages/{talk.id}").get_data(as_text=True))
        item = page[page.index("<li"):page.index("</li>") + 5]
        assert line in item
        shown[name] = item
    assert "chat-msg--mine" in shown["other"] and "/report" not in shown["other"]
    for reader in ("member", "third"):
        assert "chat-msg--mine" not in shown[reader] and f'/{said["id"]}/report' in shown[reader]


def _messages_of(page: str) -> str:
    start = page.index('id="conversation-messages"')
    return page[start:page.index("</ol>", start)]
