"""The demo has direct messages: the owner sees two conversations and two unread."""
import re

from sqlalchemy import select

from community.accounts.models import User
from community.demo import DEMO_PASSWORD, demo_email
from community.extensions import db
from tests.conftest import AuthActions
from tests.messages.conftest import text


def test_the_demo_owner_has_conversations_to_catch_up_with(app, runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    owner = db.session.scalar(select(User).where(User.email == demo_email("Rachel Stone")))
    client = app.test_client()
    assert AuthActions(client).login(owner, password=DEMO_PASSWORD).status_code == 302
    listing = text(client.get("/messages"))
    assert "Helen Marsh" in listing and "Gareth Lloyd" in listing and "Marcus Bell" in listing
    assert re.findall(r'title="Unread messages">(\d+)<', listing) == ["1", "1"]
    assert client.get("/messages/unread").get_json() == {"unread": 2}
