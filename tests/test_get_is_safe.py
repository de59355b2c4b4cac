"""No GET request changes anything stored: every GET route, against a lived-in demo."""
from sqlalchemy import select, text

from community.accounts.models import User
from community.demo import DEMO_PASSWORD, demo_circle, demo_email, seed
from community.extensions import db
from tests.conftest import AuthActions
from tests.fingerprint import changed_tables, snapshot


def first_id(sql: str) -> int:
    return db.session.execute(text(sql)).scalar() or 1


def route_values(slug: str) -> dict[str, object]:
    """A real value for every URL parameter name the app uses (garbage for secrets)."""
    return {
        "slug": slug,
        "user_id": first_id("SELECT id FROM users ORDER BY id"),
        "thread_id": first_id("SELECT id FROM threads ORDER BY id"),
        "post_id": first_id("SELECT id FROM posts ORDER BY id"),
        "meeting_id": first_id("SELECT id FROM meetings ORDER BY id"),
        "occurrence_id": first_id("SELECT id FROM meeting_occurrences ORDER BY id"),
        "poll_id": first_id("SELECT id FROM date_polls ORDER BY id"),
        "invitation_id": first_id("SELECT id FROM invitations ORDER BY id"),
        "request_id": first_id("SELECT id FROM join_requests ORDER BY id"),
        "report_id": 1, "notification_id": first_id("SELECT id FROM notifications ORDER BY id"),
        "offer_id": 1, "message_id": 1,
        "conversation_id": first_id("SELECT id FROM conversations ORDER BY id"),
        "token": "not-a-real-token", "page": 1,
    }


def test_no_get_request_changes_state(app, client):
    seed()
    circle = demo_circle()
    owner = db.session.scalar(select(User).where(User.email == demo_email("Rachel Stone")))
    AuthActions(client).login(owner.email, DEMO_PASSWORD)
    values = route_values(circle.slug)
    before = snapshot()
    visited = []
    urls = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        url = urls.build(rule.endpoint, {name: values.get(name, 1) for name in rule.arguments})
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        visited.append(url)
    after = snapshot()
    changed = changed_tables(before, after)
    assert changed == [], f"GET changed {changed}"
    assert len(visited) > 40
