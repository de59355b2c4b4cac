"""Reports, adding people, paging and a deleted account's conversations on
PostgreSQL: the partial unique index, the keyset comparison, the key rewrite
(|| and CAST) and the readable range are SQL each engine runs its own way."""
import re

import pytest
from sqlalchemy import select

from community import create_app
from community.accounts import actions as accounts
from community.errors import Conflict
from community.extensions import db
from community.messages import actions as dm
from community.messages import reports
from community.messages.models import Conversation, DirectMessageReport
from tests.conftest import _forget_request_globals, app_config
from tests.factories import PASSWORD, add_member, make_user
from tests.messages.conftest import login, text
from tests.messages.test_paging import listed, many_conversations


@pytest.fixture
def app(postgres_url):
    """This module's tests on a fresh PostgreSQL database (the people fixture builds on it)."""
    app = create_app(app_config(postgres_url))
    app.teardown_request(_forget_request_globals)
    with app.app_context():
        db.create_all()
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def start(a, *others):
    return dm.start_conversation(a, [str(o.id) for o in others])


def test_report_add_and_read_from_joining_on_postgresql(app, people):
    gareth, priya, tom, rachel = people["member"], people["other"], people["third"], people["owner"]
    group = start(gareth, priya, tom)
    before, _ = dm.send_message(priya, group.id, "Before Rachel", "p1")
    reports.report_message(gareth, group.id, before["id"], "Unkind", True)
    with pytest.raises(Conflict):  # one open report per person and message
        reports.report_message(gareth, group.id, before["id"], "Again", True)
    assert db.session.scalar(select(DirectMessageReport.author_name)) == "Priya Raman"
    dm.add_people(gareth, group.id, [str(rachel.id)])
    dm.send_message(tom, group.id, "After Rachel", "t1")
    html = text(login(app, rachel).get(f"/messages/{group.id}"))
    assert re.findall(r'<div class="chat-msg__body"><p>(.*?)</p>', html) == ["After Rachel"]
    assert re.findall(r'title="Unread messages">(\d+)<', text(login(app, rachel).get("/messages"))) == ["1"]
    assert login(app, rachel).post(f"/messages/{group.id}/{before['id']}/report",
                                   data={"reason": "x", "consent": "yes"}).status_code == 404


def test_paging_and_a_deleted_account_on_postgresql(app, people):
    me = people["member"]
    order = many_conversations(me, 53)
    client = login(app, me)
    first = text(client.get("/messages"))
    [link] = re.findall(r'href="(/messages\?before=[^"]+)" rel="next"', first)
    assert listed(first) + listed(text(client.get(link.replace("&amp;", "&")))) == order
    leaving = add_member(people["circle"], make_user("Ben Leaving"))
    old = start(me, leaving)
    accounts.delete_account(leaving, PASSWORD)
    assert db.session.get(Conversation, old.id).people == f"gone:{old.id}"


def test_someone_who_left_reads_up_to_leaving_on_postgresql(app, people):
    """The range read with the time they left as a parameter (messages.actions._range_statement)."""
    gareth, priya, tom = people["member"], people["other"], people["third"]
    group = start(gareth, priya, tom)
    dm.send_message(tom, group.id, "Before Priya left", "t1")
    dm.leave_conversation(priya, group.id)
    dm.send_message(tom, group.id, "After Priya left", "t2")
    html = text(login(app, priya).get(f"/messages/{group.id}"))
    assert re.findall(r'<div class="chat-msg__body"><p>(.*?)</p>', html) == ["Before Priya left"]
