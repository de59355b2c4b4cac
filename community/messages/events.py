"""Socket.IO handlers for direct messages: circle chat's protocol on /chat,
with `conversation` (the conversation's id) in a payload where chat has `circle`.

The wrapper, the errors, the throttles and the payload checks are chat's
(community/chat/events.py), so the same client (static/js/chat.js) speaks to
both. What differs:
- `join` answers `refusal` (why the person can't write here, or null) and
  `live` (whether this socket now hears the conversation); a former member,
  someone blocked by a person in it, or someone who no longer shares a circle
  with anyone in it reads the history but joins no room. When that changes
  while connected, the socket gets `removed` {conversation} and joins again to
  learn why (chat/live.py's control bus, on every process).
- `mark_read` takes `seq`, the newest message number read.
- `report_message` {conversation, id, reason, consent: true} shares that one
  message with the site's administrators (messages/reports.py); without
  consent it is refused (no_consent) and nothing is stored.
- No presence, and no moderators: only authors edit and delete.
"""
from flask import current_app, request
from flask_socketio import join_room

from ..chat.admission import few_at_a_time
from ..chat.events import (
    EDIT_LIMIT,
    MARK_LIMIT,
    MAX_REASON,
    READ_WINDOW,
    REPORT_LIMIT,
    SEND_BURST,
    TYPING_EVERY,
    TYPING_FLOOD,
    chat_event,
    id_of,
    moment_of,
    throttled,
)
from ..chat.live import NAMESPACE, conversation_room, state
from ..errors import ActionError
from ..extensions import socketio
from ..policy import access_conversation_rows
from . import actions, reports


def _conversation(data: dict) -> int:
    return id_of(data, "conversation")


def _read_throttle(user) -> None:
    throttled(("read", user.id), current_app.config["CHAT_READ_LIMIT"], READ_WINDOW)


@chat_event("join", place="conversation")
@few_at_a_time  # a reconnect storm queues in memory, not on the database pool
def on_join(user, data):
    conversation_id = _conversation(data)
    after_seq = id_of(data, "after_seq", required=False)
    changed_since = moment_of(data, "changed_since")
    _read_throttle(user)
    access_conversation_rows(user, conversation_id)  # NotFound before any room
    # Into the room first, then read: a message committed in between arrives
    # twice (clients keep one per id) rather than not at all; and a block
    # committed in between is seen by the read, or its re-check finds us in the room.
    chat = state()
    join_room(conversation_room(conversation_id))
    chat.registry.join_conversation(request.sid, conversation_id)
    try:
        result = actions.history(user, conversation_id, after_seq, changed_since)
    except Exception:
        _leave(conversation_id)
        raise
    if not result["live"]:
        _leave(conversation_id)
    return result


def _leave(conversation_id: int) -> None:
    state().registry.leave_conversation(request.sid, conversation_id)
    socketio.server.leave_room(request.sid, conversation_room(conversation_id), namespace=NAMESPACE)


@chat_event("send_message", place="conversation")
def on_send_message(user, data):
    limit = current_app.config["CHAT_RATE_LIMIT"] * SEND_BURST
    throttled(("send", user.id), limit, current_app.config["CHAT_RATE_WINDOW"])
    message, created = actions.send_message(user, _conversation(data), data.get("body"),
                                            data.get("client_id"), data.get("attachments"))
    return {"message": message, "duplicate": not created}


@chat_event("fetch", place="conversation")
def on_fetch(user, data):
    conversation_id = _conversation(data)
    after_seq = id_of(data, "after_seq")
    before_seq = id_of(data, "before_seq", required=False)
    _read_throttle(user)
    return actions.catch_up(user, conversation_id, after_seq, before_seq)


@chat_event("load_older", place="conversation")
def on_load_older(user, data):
    conversation_id, before_id = _conversation(data), id_of(data, "before_id")
    _read_throttle(user)
    return actions.older_messages(user, conversation_id, before_id)


@chat_event("typing", place="conversation")
def on_typing(user, data):
    conversation_id = _conversation(data)
    throttle = state().throttle
    throttled(("typing-in", user.id), *TYPING_FLOOD)
    actions.typing(user, conversation_id, skip_sid=request.sid,
                   allow=lambda c: throttle.allow(("typing-dm", user.id, c), 1, TYPING_EVERY))
    return None


@chat_event("edit_message", place="conversation")
def on_edit_message(user, data):
    conversation_id, message_id = _conversation(data), id_of(data, "id")
    throttled(("edit", user.id), *EDIT_LIMIT)
    return {"message": actions.edit_message(user, conversation_id, message_id, data.get("body"))}


@chat_event("delete_message", place="conversation")
def on_delete_message(user, data):
    conversation_id, message_id = _conversation(data), id_of(data, "id")
    throttled(("edit", user.id), *EDIT_LIMIT)
    return {"message": actions.delete_message(user, conversation_id, message_id)}


@chat_event("mark_read", place="conversation")
def on_mark_read(user, data):
    conversation_id, seq = _conversation(data), id_of(data, "seq")
    if not state().throttle.allow(("mark", user.id), *MARK_LIMIT):
        return None  # harmless to drop: a later one moves the position anyway
    return {"last_read_seq": actions.mark_read(user, conversation_id, seq)}


@chat_event("report_message", place="conversation")
def on_report_message(user, data):
    conversation_id, message_id = _conversation(data), id_of(data, "id")
    reason = data.get("reason")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise ActionError(f"Give a reason of at most {MAX_REASON:,} characters.",
                          code="invalid", field="reason")
    throttled(("report", user.id), *REPORT_LIMIT)
    report = reports.report_message(user, conversation_id, message_id, reason,
                                    data.get("consent") is True)
    return {"report_id": report.id}
