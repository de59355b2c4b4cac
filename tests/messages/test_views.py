"""The Messages pages: list, new, a conversation, sending without JavaScript, leaving, blocking."""
import re
import uuid

import pytest
from sqlalchemy import func, select

from community.extensions import db
from community.messages import actions as dm
from community.messages.models import DirectMessage
from tests.factories import add_member, make_user
from tests.messages.conftest import login, remove, text


def start(a, *others):
    return dm.start_conversation(a, [str(o.id) for o in others])


# --- The list -------------------------------------------------------------------------------

def test_an_empty_list_says_what_to_do(app, people):
    html = text(login(app, people["member"]).get("/messages"))
    assert "No conversations yet" in html and 'href="/messages/new"' in html


def test_the_list_is_newest_first_with_unread_counts(app, people):
    me = people["member"]
    older = start(me, people["other"])
    newer = start(me, people["third"])
    dm.send_message(people["other"], older.id, "one", "o1")
    dm.send_message(people["other"], older.id, "two", "o2")
    dm.send_message(people["third"], newer.id, "three", "n1")
    dm.send_message(me, newer.id, "mine", "n2")  # one's own messages are never unread
    html = text(login(app, me).get("/messages"))
    assert html.index("Tom Hale") < html.index("Priya Raman")  # Tom's is the latest
    counts = re.findall(r'title="Unread messages">(\d+)<', html)
    assert counts == ["2"]  # reading by sending: Tom's is read, Priya's two are not
    dm.send_message(people["other"], older.id, "three", "o3")
    html = text(login(app, me).get("/messages"))
    assert html.index("Priya Raman") < html.index("Tom Hale")
    assert re.findall(r'title="Unread messages">(\d+)<', html) == ["3"]


def test_reading_clears_the_count_without_javascript(app, people):
    me = people["member"]
    pair = start(me, people["other"])
    dm.send_message(people["other"], pair.id, "one", "o1")
    client = login(app, me)
    page = text(client.get(f"/messages/{pair.id}"))
    assert "Mark as read" in page
    assert client.post(f"/messages/{pair.id}/read", data={"seq": "1"}).status_code == 302
    assert "Unread messages" not in text(client.get("/messages"))
    assert client.post(f"/messages/{pair.id}/read", data={"seq": "x"}).status_code == 400


def test_the_list_shows_no_one_elses_conversations(app, people):
    start(people["other"], people["third"])
    assert "Tom Hale" not in text(login(app, people["member"]).get("/messages"))


# --- Starting -------------------------------------------------------------------------------

def test_the_new_page_lists_only_circle_mates(app, people):
    html = text(login(app, people["member"]).get("/messages/new"))
    for name in ("Rachel Stone", "Amara Okafor", "Priya Raman", "Tom Hale"):
        assert name in html
    for name in ("Gareth Lloyd", "Nina Park", "Olu Outsider", "Sam Admin"):
        assert name not in html


def test_a_profile_has_a_message_link_that_preselects_the_person(app, people):
    client = login(app, people["member"])
    other = people["other"]
    html = text(client.get(f"/people/{other.id}"))
    assert f'href="/messages/new?to={other.id}"' in html
    html = text(client.get(f"/messages/new?to={other.id}"))
    assert f'value="{other.id}" id="person-{other.id}" checked' in html


def test_the_member_list_has_a_message_link_for_everyone_else(app, people):
    html = text(login(app, people["member"]).get(f"/c/{people['circle'].slug}/members"))
    assert f'href="/messages/new?to={people["other"].id}"' in html
    assert f'href="/messages/new?to={people["member"].id}"' not in html


def test_starting_by_form_opens_the_conversation_and_reuses_it(app, people):
    client = login(app, people["member"])
    ids = [str(people["other"].id), str(people["third"].id)]
    first = client.post("/messages/new", data={"people": ids})
    assert first.status_code == 302 and re.fullmatch(r"/messages/\d+", first.location)
    again = client.post("/messages/new", data={"people": ids[::-1]})
    assert again.location == first.location


@pytest.mark.parametrize("people_sent, status, words", [
    ([], 400, "Pick at least one person"),
    (["self"], 400, "only other people"),
    (["other", "other"], 400, "once"),
    (["x"], 400, "from the list"),
    (["nina"], 403, "share a circle with you"),
    (["crowd"], 400, "at most 9"),
])
def test_bad_picks_come_back_with_the_reason(app, people, people_sent, status, words):
    me = people["member"]
    if people_sent == ["crowd"]:
        people_sent = [str(add_member(people["circle"], make_user(f"C{i}")).id) for i in range(10)]
    else:
        people_sent = [str(me.id) if p == "self" else str(people[p].id) if p in people else p
                       for p in people_sent]
    response = login(app, me).post("/messages/new", data={"people": people_sent})
    assert response.status_code == status
    html = text(response)
    assert words in html and 'role="alert"' in html


# --- A conversation -------------------------------------------------------------------------

def test_sending_with_a_plain_form(app, people):
    pair = start(people["member"], people["other"])
    client = login(app, people["member"])
    page = text(client.get(f"/messages/{pair.id}"))
    client_id = re.search(r'name="client_id" value="([^"]+)"', page).group(1)
    form = {"body": "Can I call you about the **funding cliff**?", "client_id": client_id}
    assert client.post(f"/messages/{pair.id}", data=form).status_code == 302
    assert client.post(f"/messages/{pair.id}", data=form).status_code == 302  # a double click
    html = text(login(app, people["other"]).get(f"/messages/{pair.id}"))
    assert html.count("<strong>funding cliff</strong>") == 1
    assert 'class="chat-msg__author">Gareth Lloyd<' in html


def test_a_refused_message_comes_back_with_the_text(app, people):
    pair = start(people["member"], people["other"])
    dm.block(people["other"], people["member"].id)
    response = login(app, people["member"]).post(
        f"/messages/{pair.id}", data={"body": "are you there?", "client_id": "c1"})
    assert response.status_code == 403
    html = text(response)
    assert "You can&#39;t message this person." in html and "are you there?" in html
    assert "block" not in html.replace("Block", "").lower().split("people</h2>")[0]
    response = login(app, people["member"]).post(f"/messages/{pair.id}", data={"body": "",
                                                                                "client_id": "c2"})
    assert response.status_code in (400, 403)


@pytest.mark.parametrize("who", ["owner", "moderator", "admin", "outsider"])
def test_outsiders_get_the_same_404_as_a_made_up_id(app, people, who):
    pair = start(people["member"], people["other"])
    client = login(app, people[who])
    made_up = client.get("/messages/999999")
    theirs = client.get(f"/messages/{pair.id}")
    assert theirs.status_code == made_up.status_code == 404
    assert text(theirs) == text(made_up)
    assert client.post(f"/messages/{pair.id}", data={"body": "hi", "client_id": "x"}).status_code == 404
    assert client.post(f"/messages/{pair.id}/leave").status_code == 404
    assert client.post(f"/messages/{pair.id}/read", data={"seq": "1"}).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(app, people):
    pair = start(people["member"], people["other"])
    client = app.test_client()
    for path in ("/messages", "/messages/new", f"/messages/{pair.id}", "/messages/999999"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/login" in response.location


def test_a_former_circle_mate_sees_the_history_and_why_they_cant_write(app, people):
    pair = start(people["member"], people["third"])
    dm.send_message(people["member"], pair.id, "before you left", "b1")
    remove(people, people["third"])
    html = text(login(app, people["third"]).get(f"/messages/{pair.id}"))
    assert "before you left" in html
    assert "no longer shares a circle with you" in html
    # Neither the plain form nor the live composer takes a message.
    assert f'action="/messages/{pair.id}"' not in html
    assert re.search(r'id="chat-body"[^>]*readonly', html)


def test_others_see_that_someone_left(app, people):
    group = start(people["member"], people["other"], people["third"])
    client = login(app, people["third"])
    assert client.post(f"/messages/{group.id}/leave").status_code == 302
    html = text(login(app, people["member"]).get(f"/messages/{group.id}"))
    assert "Tom Hale left" in html


def test_blocking_from_a_profile(app, people):
    client = login(app, people["other"])
    target = people["member"]
    response = client.post(f"/people/{target.id}/block", data={"next": f"/people/{target.id}"})
    assert response.status_code == 302 and response.location == f"/people/{target.id}"
    assert "Unblock" in text(client.get(f"/people/{target.id}"))
    # Gareth's view of Priya's profile is unchanged: nothing shows the block.
    assert "Unblock" not in text(login(app, target).get(f"/people/{people['other'].id}"))
    assert client.post(f"/people/{target.id}/unblock").status_code == 302
    assert client.post(f"/people/{people['outsider'].id}/block").status_code == 404


# --- Statements -----------------------------------------------------------------------------

def _bulk(conversation_id, author, n):
    first = (db.session.scalar(select(func.max(DirectMessage.seq))
                               .where(DirectMessage.conversation_id == conversation_id)) or 0) + 1
    db.session.add_all(DirectMessage(conversation_id=conversation_id, seq=first + i,
                                     author_id=author.id, client_id=uuid.uuid4().hex,
                                     source=f"bulk {i}", html=f"<p>bulk {i}</p>") for i in range(n))
    db.session.commit()


@pytest.mark.parametrize("path", ["/messages", "/messages/{id}"])
def test_statements_are_few_and_constant(app, people, count_queries, path):
    me = people["member"]
    pair = start(me, people["other"])
    dm.send_message(people["other"], pair.id, "hello", "h1")
    url = path.format(id=pair.id)
    client = login(app, me)
    client.get(url)  # warm
    with count_queries() as small:
        assert client.get(url).status_code == 200
    _bulk(pair.id, people["other"], 300)
    for i in range(6):
        extra = make_user(f"Extra {i}")
        add_member(people["circle"], extra)
        more = start(me, extra, people["third"])
        _bulk(more.id, extra, 20)
    with count_queries() as large:
        assert client.get(url).status_code == 200
    print(path, small.count, large.count)
    assert small.count == large.count, large.statements
    assert large.count <= 8, large.statements


def test_a_conversations_page_reads_its_messages_as_plain_rows(app, people):
    """The latest messages come from one prepared read with their authors'
    names (chat.store.latest_page): the ORM loading fifty messages, each with its
    author joined whole, was the page's dearest read. What is shown is the same."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    me, other = people["member"], people["other"]
    talk = dm.start_conversation(me, [str(other.id)])
    for n in range(3):
        dm.send_message(other if n % 2 else me, talk.id, f"line {n}", f"c-{n}")
    loaded = []
    listen = lambda state: loaded.append(str(state.statement))  # noqa: E731
    event.listen(Session, "do_orm_execute", listen)
    try:
        page = text(login(app, me).get(f"/messages/{talk.id}"))
    finally:
        event.remove(Session, "do_orm_execute", listen)
    assert not [sql for sql in loaded if "direct_messages.html" in sql], loaded
    assert [line for line in ("line 0", "line 1", "line 2") if line in page] == ["line 0", "line 1", "line 2"]
    assert page.count("Priya Raman") >= 1 and page.count("chat-msg--mine") == 2


@pytest.mark.parametrize("kind", ["conversation", "circle chat"])
def test_the_latest_messages_are_read_along_the_number_index_without_a_sort(app, people, kind):
    """The page of the latest messages walks the (scope, seq) index backwards
    and stops at the page's end: ordered by id, SQLite read and sorted every
    message of a 600-message conversation to show fifty (7 times the time)."""
    from sqlalchemy import event

    from community.chat import actions as chat
    from community.chat.models import ChatMessage
    from community.chat.store import latest_page

    me, other = people["member"], people["other"]
    if kind == "conversation":
        talk = dm.start_conversation(me, [str(other.id)])
        for n in range(4):
            dm.send_message(other if n % 2 else me, talk.id, f"line {n}", f"c-{n}")
        scope, scope_id = DirectMessage.conversation_id, talk.id
    else:
        circle = people["circle"]
        for n in range(4):
            chat.send_message(other if n % 2 else me, circle.slug, f"line {n}", f"c-{n}")
        scope, scope_id = ChatMessage.circle_id, circle.id
    sent = []
    listen = lambda conn, cursor, statement, parameters, *args: sent.append((statement, parameters))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        page, older = latest_page(scope, scope_id, through=4, page=3)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert [m.seq for m in page] == [2, 3, 4] and older
    assert [m.id for m in page] == sorted(m.id for m in page)
    driver = db.session.connection().connection.driver_connection
    (sql, parameters), = sent
    plan = " ".join(row[-1] for row in driver.execute("EXPLAIN QUERY PLAN " + sql, parameters))
    assert "TEMP B-TREE" not in plan and "seq" in plan, plan
