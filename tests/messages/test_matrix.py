"""Who may do what in a group conversation (Gareth, Priya and Tom), by who is asking:
one table for start, add, read, send, edit, delete, leave, block and report.

"ok" is allowed; NotFound is the 404 everyone outside gets (the same as for a
conversation that doesn't exist); Forbidden and CantSend are refusals that say why."""
import pytest

from community.errors import Forbidden, NotFound
from community.messages import actions as dm
from community.messages import reports
from tests.factories import add_member, make_user
from tests.messages.conftest import remove

OK = "ok"
CantSend = dm.CantSend
ACTIONS = ("start", "add", "read", "send", "edit own", "delete own", "edit theirs",
           "delete theirs", "leave", "block", "report")
# Who asks -> the outcome of each action, in ACTIONS' order.
TABLE = {
    # Priya: in the conversation, sharing the circle, nothing in the way.
    "member": (OK, OK, OK, OK, OK, OK, Forbidden, Forbidden, OK, OK, OK),
    # Priya after Gareth blocked her: reads, takes back her own, can't write or
    # bring anyone in, and learns only that she can't message him.
    "blocked": (CantSend, CantSend, OK, CantSend, Forbidden, OK, Forbidden, Forbidden, OK, OK, OK),
    # Priya after being removed from the only circle she shared with them.
    "former circle-mate": (CantSend, CantSend, OK, CantSend, Forbidden, OK, Forbidden, Forbidden,
                           OK, OK, OK),
    # Priya after leaving the group: reads up to then; nothing else but block.
    "left": (OK, CantSend, OK, CantSend, Forbidden, OK, Forbidden, Forbidden, Forbidden, OK, OK),
    # Sam, site admin, in the circle but not the conversation: nothing of it.
    "site admin": (OK, NotFound, NotFound, NotFound, None, None, NotFound, NotFound, NotFound, OK,
                   NotFound),
    # Amara, the circle's moderator, not in the conversation: nothing of it either.
    "moderator": (OK, NotFound, NotFound, NotFound, None, None, NotFound, NotFound, NotFound, OK,
                  NotFound),
    # Olu, in no circle with anyone: no conversation, no block.
    "stranger": (CantSend, NotFound, NotFound, NotFound, None, None, NotFound, NotFound, NotFound,
                 NotFound, NotFound),
}


def outcome(call):
    try:
        call()
    except (Forbidden, NotFound, CantSend) as exc:
        return type(exc)
    return OK


@pytest.mark.parametrize("who", TABLE)
def test_who_may_do_what_in_a_conversation(people, who):
    gareth, priya, tom = people["member"], people["other"], people["third"]
    sam = people["admin"]
    add_member(people["circle"], sam)
    newcomer = add_member(people["circle"], make_user("Nia Newcomer"))
    group = dm.start_conversation(gareth, [str(priya.id), str(tom.id)])
    theirs = dm.send_message(gareth, group.id, "From Gareth", "g1")[0]["id"]
    own = dm.send_message(priya, group.id, "From Priya", "p1")[0]["id"]
    actor = {"site admin": sam, "moderator": people["moderator"],
             "stranger": people["outsider"]}.get(who, priya)
    if who == "blocked":
        dm.block(gareth, priya.id)
    elif who == "former circle-mate":
        remove(people, priya)
    elif who == "left":
        dm.leave_conversation(priya, group.id)
    calls = {
        "start": lambda: dm.start_conversation(actor, [str(gareth.id), str(newcomer.id)]),
        "add": lambda: dm.add_people(actor, group.id, [str(newcomer.id)]),
        "read": lambda: dm.conversation_page(actor, group.id),
        "send": lambda: dm.send_message(actor, group.id, "Hello", who.replace(" ", "-") + "-send"),
        "edit own": lambda: dm.edit_message(actor, group.id, own, "Edited"),
        "delete own": lambda: dm.delete_message(actor, group.id, own),
        "edit theirs": lambda: dm.edit_message(actor, group.id, theirs, "Hijacked"),
        "delete theirs": lambda: dm.delete_message(actor, group.id, theirs),
        "leave": lambda: dm.leave_conversation(actor, group.id),
        "block": lambda: dm.block(actor, gareth.id),
        "report": lambda: reports.report_message(actor, group.id, theirs, "Not kind", True),
    }
    got = {}
    for action, expected in zip(ACTIONS, TABLE[who], strict=True):
        if expected is None:
            continue  # no message of their own to try it on
        got[action] = outcome(calls[action])
    expected = {a: e for a, e in zip(ACTIONS, TABLE[who], strict=True) if e is not None}
    assert got == expected
