"""The Messages list a page at a time ("Older conversations"), and the people
picker's name filter for someone with more circle-mates than it shows."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from community.extensions import db
from community.messages import actions as dm
from community.messages import views
from community.messages.models import Conversation, ConversationMember
from community.timeutil import utcnow
from tests.factories import add_member, make_user
from tests.messages.conftest import login, text


def many_conversations(me, count: int) -> list[int]:
    """`count` conversations of me with made-up people keys, newest first, as
    rows (the list reads rows; starting 53 real ones needs 53 circle-mates).
    Each five share one time, so the order inside a time is by id."""
    partner = make_user("Pat Partner")
    base = utcnow() - timedelta(days=1)
    made = []
    for n in range(count):
        conversation = Conversation(people=f"{me.id},{partner.id},test-{n}", created_by_id=me.id,
                                    created_at=base, last_message_at=base + timedelta(minutes=n // 5))
        db.session.add(conversation)
        db.session.flush()
        db.session.add_all([ConversationMember(conversation_id=conversation.id, user_id=i, joined_at=base)
                            for i in (me.id, partner.id)])
        made.append(conversation.id)
    db.session.commit()
    newest = func.coalesce(Conversation.last_message_at, Conversation.created_at)
    return list(db.session.scalars(select(Conversation.id).where(Conversation.id.in_(made))
                                   .order_by(newest.desc(), Conversation.id.desc())))


def listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/messages/(\d+)">', html)]


def test_older_conversations_come_a_page_at_a_time_without_gaps_or_repeats(app, people, count_queries):
    me = people["member"]
    order = many_conversations(me, 53)
    client = login(app, me)
    first = text(client.get("/messages"))
    assert listed(first) == order[:50]
    [link] = re.findall(r'href="(/messages\?before=[^"]+)" rel="next">Older conversations', first)
    link = link.replace("&amp;", "&")
    second = text(client.get(link))
    assert listed(second) == order[50:]
    assert "Older conversations" not in second and 'href="/messages">← Newest' in second
    # The same statements for a later page as for the first.
    with count_queries() as q1:
        client.get("/messages")
    with count_queries() as q2:
        client.get(link)
    assert q1.count == q2.count


def test_the_last_page_exactly_full_has_no_older_link(app, people):
    me = people["member"]
    many_conversations(me, 50)
    html = text(login(app, me).get("/messages"))
    assert len(listed(html)) == 50 and "Older conversations" not in html


def test_paging_shows_only_ones_own_conversations(app, people):
    many_conversations(people["other"], 53)
    order = many_conversations(people["member"], 3)
    html = text(login(app, people["member"]).get("/messages"))
    assert listed(html) == order


@pytest.mark.parametrize("before", ["x", "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00_1",
                                    "2026-13-01T00:00:00+00:00_1", "2026-01-01T00:00:00+00:00_x",
                                    "2026-01-01T00:00:00+00:00_" + "9" * 30, "_1", ""])
def test_a_broken_older_link_is_a_clear_400(app, people, before):
    answer = login(app, people["member"]).get("/messages", query_string={"before": before})
    assert answer.status_code == 400
    assert "That link to older conversations is broken" in text(answer)


def test_an_older_page_past_the_end_says_so(app, people):
    answer = login(app, people["member"]).get("/messages?before=2000-01-01T00:00:00%2B00:00_1")
    assert answer.status_code == 200 and "No older conversations" in text(answer)


# --- The picker's name filter --------------------------------------------------------------------

def test_the_name_filter_finds_people_past_the_first_ones_shown(app, people, monkeypatch):
    monkeypatch.setattr(views, "PICKABLE", 2)
    add_member(people["circle"], make_user("Zoe Zephyr"))
    client = login(app, people["member"])
    assert "Zoe Zephyr" not in text(client.get("/messages/new"))  # past the first two
    html = text(client.get("/messages/new?q=zeph"))
    assert "Zoe Zephyr" in html and "Amara Okafor" not in html
    assert 'value="zeph"' in html and '<label for="q">' in html


def test_the_name_filter_takes_like_characters_literally(app, people):
    circle = people["circle"]
    for name in ("100% Volunteer", "Under_Score", "Back\\Slash"):
        add_member(circle, make_user(name))
    client = login(app, people["member"])
    assert picked(client, "%") == ["100% Volunteer"]
    assert picked(client, "_") == ["Under_Score"]
    assert picked(client, "\\") == ["Back\\Slash"]
    assert picked(client, "nobody at all") == []
    assert "No one who shares a circle with you has" in text(client.get("/messages/new?q=nobody"))
    # Strangers stay out, whatever the filter.
    assert picked(client, "Nina") == [] and picked(client, "Outsider") == []


def picked(client, q: str) -> list[str]:
    html = text(client.get("/messages/new", query_string={"q": q}))
    return [n.replace("&#92;", "\\") for n in re.findall(r'<label for="person-\d+">(.*?)</label>', html)]


def test_the_filter_keeps_who_was_already_chosen(app, people):
    client = login(app, people["member"])
    html = text(client.get(f"/messages/new?to={people['owner'].id}&q=amara"))
    assert "Amara Okafor" in html
    assert f'value="{people["owner"].id}" id="person-{people["owner"].id}" checked' in html


def test_a_conversation_started_still_finds_the_existing_one(app, people):
    pair = dm.start_conversation(people["member"], [str(people["other"].id)])
    assert dm.start_conversation(people["other"], [people["member"].id]).id == pair.id
