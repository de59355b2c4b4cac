"""Your data: the page and the download hold everything the member wrote or set, and only theirs."""
import json
import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from community.chat import actions as chat
from community.circles import actions as circles
from community.extensions import db
from community.meetings.actions import polls, rsvps, scheduling
from community.meetings.models import MeetingOccurrence
from community.messages import actions as dms
from community.notifications import actions as notifications
from community.threads import actions as threads
from community.threads.models import Post
from community.timeutil import utcnow
from tests.factories import add_member, make_circle, make_user


def soon(days: int) -> str:
    return (utcnow() + timedelta(days=days)).replace(hour=12, minute=0).strftime("%Y-%m-%dT%H:%M")


def text(response) -> str:
    return response.get_data(as_text=True)


def busy_member(posts: int = 2):
    """A member who has done a bit of everything, beside someone else who has too."""
    owner = make_user("Rachel Stone")
    circle = make_circle(owner, name="Berkshire Leaders")
    member = add_member(circle, make_user("Gareth Lloyd", bio="Governor at HMP Reading"))
    thread = threads.start_thread(member, circle.slug, "Budgets across sectors", "Gareth opens")
    for n in range(posts):
        threads.post_reply(member, circle.slug, thread.id, f"Gareth's reply number {n}")
    theirs = threads.start_thread(owner, circle.slug, "Rachel's private worry", "Rachel writes")
    threads.post_reply(owner, circle.slug, theirs.id, "Rachel again, not Gareth's")
    opening = db.session.scalar(select(Post.id).where(Post.thread_id == theirs.id, Post.number == 1))
    threads.toggle_reaction(member, circle.slug, opening, "heart")
    chat.send_message(member, circle.slug, "Gareth in chat", uuid.uuid4().hex)
    chat.send_message(owner, circle.slug, "Rachel in chat", uuid.uuid4().hex)
    meeting = scheduling.schedule_meeting(owner, circle.slug, title="Spring visit", start=soon(10),
                                          duration=60, timezone="Europe/London", location="Reading")
    occurrence_id = db.session.scalar(select(MeetingOccurrence.id).where(
        MeetingOccurrence.meeting_id == meeting.id))
    rsvps.rsvp(member, circle.slug, occurrence_id, "going")
    poll = polls.create_poll(owner, circle.slug, title="Summer social", duration="60",
                             timezone="Europe/London", location="Reading",
                             options=[soon(20), soon(27)])
    options = polls.poll_options(poll)
    polls.vote(member, circle.slug, poll.id, {options[0].id: "yes", options[1].id: "no"})
    notifications.set_preferences(member, {"mention": "off"})
    return {"owner": owner, "member": member, "circle": circle, "thread": thread}


def test_the_page_shows_everything_of_the_members_own(client, auth, app):
    world = busy_member()
    auth.login(world["member"])
    response = client.get("/settings/data")
    assert response.status_code == 200
    page = text(response)
    for expected in ("<h2 id=\"your-data\">Your data</h2>", "Governor at HMP Reading",
                     "Berkshire Leaders", "Budgets across sectors", "Gareth opens",
                     "Gareth&#39;s reply number 1", "Gareth in chat", "Spring visit",
                     "<strong>Going</strong>", "Summer social", "<strong>Yes</strong>",
                     "<strong>No</strong>", "Someone mentions you", "Rachel&#39;s private worry",
                     'href="/settings/data.json"'):
        assert expected in page, expected
    # Nothing anyone else wrote (the title above is where Gareth reacted, his own act).
    for theirs in ("Rachel writes", "Rachel again", "Rachel in chat"):
        assert theirs not in page
    assert 'aria-current="page">Your data</a>' in page


def test_the_download_is_an_attachment_with_the_same_data(client, auth, app):
    world = busy_member()
    auth.login(world["member"])
    response = client.get("/settings/data.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="alumni-circles-data-')
    assert "no-store" in response.headers["Cache-Control"]
    data = json.loads(response.get_data())
    assert data["profile"]["email"] == world["member"].email
    assert [p["source"] for p in data["posts"]] == [
        "Gareth opens", "Gareth's reply number 0", "Gareth's reply number 1"]
    assert {p["thread"] for p in data["posts"]} == {"Budgets across sectors"}
    assert {p["circle"] for p in data["posts"]} == {"Berkshire Leaders"}
    assert [t["title"] for t in data["threads"]] == ["Budgets across sectors"]
    assert [m["source"] for m in data["chat_messages"]] == ["Gareth in chat"]
    assert [(r["meeting"], r["answer"]) for r in data["rsvps"]] == [("Spring visit", "going")]
    assert sorted(v["answer"] for v in data["poll_votes"]) == ["no", "yes"]
    assert [(m["circle"], m["role"], m["status"]) for m in data["memberships"]] == [
        ("Berkshire Leaders", "member", "active")]
    settings = {n["kind"]: n["channel"] for n in data["notification_settings"]}
    assert settings["mention"] == "off" and settings["reply"] == "digest"
    assert [r["emoji"] for r in data["reactions"]] == ["❤️"]
    assert data["posts"][0]["created_at"].endswith("+00:00")
    assert "Rachel" not in json.dumps([data[k] for k in ("posts", "chat_messages", "threads")])


def test_empty_sections_say_so(client, auth, app):
    auth.login(make_user())
    page = text(client.get("/settings/data"))
    for empty in ("You haven't written any posts.", "You haven't started a thread.",
                  "You haven't sent any chat messages.", "You haven't answered for any meeting.",
                  "You haven't voted in a date poll.", "You are not in any circle"):
        assert empty in page
    data = json.loads(client.get("/settings/data.json").get_data())
    assert data["posts"] == [] and data["memberships"] == []


def test_a_circle_left_is_still_listed_but_not_linked(client, auth, app):
    world = busy_member()
    circles.leave_circle(world["member"], world["circle"].slug)
    auth.login(world["member"])
    page = text(client.get("/settings/data"))
    assert "Gareth opens" in page and "Left" in page
    assert f'href="/c/{world["circle"].slug}/' not in page


def test_the_number_of_queries_does_not_grow_with_the_data(client, auth, app, count_queries):
    app.config["CHAT_RATE_LIMIT"] = 100_000
    small = busy_member(posts=1)
    auth.login(small["member"])
    counts = []
    for extra in (0, 15):
        for n in range(extra):
            threads.post_reply(small["member"], small["circle"].slug, small["thread"].id, f"more {n}")
            chat.send_message(small["member"], small["circle"].slug, f"chat {n}", uuid.uuid4().hex)
            other = add_member(small["circle"])  # a conversation each, with a message
            talk = dms.start_conversation(small["member"], [other.id])
            dms.send_message(other, talk.id, f"direct {n}", uuid.uuid4().hex)
        for path in ("/settings/data", "/settings/data.json"):
            with count_queries() as q:
                assert client.get(path).status_code == 200
            counts.append(q.count)
    assert counts[:2] == counts[2:], counts
    assert counts[0] <= 30, counts  # a statement or two per kind of thing kept, none per row


def test_conversations_are_exported_as_their_pages_show_them(client, auth, app):
    """Everything said in one's conversations, the others' messages too, but
    nothing after one left, and nothing of conversations one was never in."""
    owner = make_user("Rachel Stone")
    circle = make_circle(owner)
    gareth, priya = (add_member(circle, make_user(name)) for name in ("Gareth Lloyd", "Priya Raman"))
    nina = add_member(circle, make_user("Nina Outside"))
    group = dms.start_conversation(gareth, [owner.id, priya.id])
    dms.send_message(gareth, group.id, "Can I call you about the funding cliff?", uuid.uuid4().hex)
    dms.send_message(priya, group.id, "Yes, Thursday", uuid.uuid4().hex)
    dms.leave_conversation(priya, group.id)
    dms.send_message(owner, group.id, "Said after Priya left", uuid.uuid4().hex)

    def export_of(user) -> dict:
        auth.login(user)
        data = json.loads(client.get("/settings/data.json").get_data(as_text=True))
        page = text(client.get("/settings/data"))
        auth.logout()
        return {"data": data, "page": page}

    gareths = export_of(gareth)
    [conversation] = gareths["data"]["conversations"]
    assert sorted(conversation["people"]) == ["Priya Raman", "Rachel Stone"]
    assert [(m["author"], m["mine"], m["source"]) for m in gareths["data"]["direct_messages"]] == [
        ("Gareth Lloyd", True, "Can I call you about the funding cliff?"),
        ("Priya Raman", False, "Yes, Thursday"),
        ("Rachel Stone", False, "Said after Priya left")]
    assert re.search(r"With (Rachel Stone, Priya Raman|Priya Raman, Rachel Stone)<", gareths["page"])
    priyas = export_of(priya)
    assert priyas["data"]["conversations"][0]["left_at"] is not None
    assert [m["source"] for m in priyas["data"]["direct_messages"]] == [
        "Can I call you about the funding cliff?", "Yes, Thursday"]
    assert "Said after Priya left" not in priyas["page"]
    ninas = export_of(nina)
    assert ninas["data"]["conversations"] == [] and ninas["data"]["direct_messages"] == []
    assert "You haven't been in any direct-message conversations." in ninas["page"]
    assert "funding cliff" not in ninas["page"]


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for path in ("/settings/data", "/settings/data.json"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
