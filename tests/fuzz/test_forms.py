"""Every POST route, with hostile and malformed input (see strategies.py).

For each example: never a 500; a refusal is a 4xx whose page says what was
wrong (a bad CSRF token is a 400 that says so); a refused request writes
nothing (the table fingerprint is unchanged); and whatever an accepted
request wrote still hangs together (tests/fingerprint.py's consistency rules,
and every queued email can be built).
"""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from community.extensions import db
from tests.fingerprint import inconsistencies
from tests.fuzz.strategies import FORMS, form_request

# What every refusal page shows: a form's field error or alert, or the error page.
MESSAGE_MARKS = ('class="error"', "alert--error", "error-page", 'role="alert"')
CSRF_TEXT = "reload the page"


def post_routes(app) -> dict[str, str]:
    """endpoint -> URL rule of every route that takes a POST."""
    routes: dict[str, str] = {}
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods:
            assert rule.endpoint not in routes, f"{rule.endpoint} has two POST rules"
            routes[rule.endpoint] = rule.rule
    return routes


@pytest.fixture(scope="module")
def routes(world) -> dict[str, str]:
    return post_routes(world.app)


def test_every_post_route_has_a_fuzz_strategy(routes):
    missing = sorted(set(routes) - set(FORMS))
    assert missing == [], f"POST routes with no fuzz strategy (add them to FORMS): {missing}"
    assert sorted(set(FORMS) - set(routes)) == [], "FORMS names routes that no longer exist"


def routed(app, url: str) -> bool:
    """Whether a POST to url reaches a view (else it is a 404 before any CSRF check)."""
    from flask import request

    with app.test_request_context(url, method="POST"):
        return request.routing_exception is None


def says_what_is_wrong(response) -> bool:
    if response.is_json:
        return bool((response.get_json() or {}).get("message"))
    body = response.get_data(as_text=True)
    return any(mark in body for mark in MESSAGE_MARKS)


def outbox_problems() -> list[str]:
    """Queued emails that the mail worker could not build (e.g. a line break in To)."""
    from sqlalchemy import select

    from community.notifications.mailer import _message
    from community.notifications.models import OutboxMail
    from community.timeutil import utcnow

    problems = []
    for mail in db.session.scalars(select(OutboxMail).where(OutboxMail.sent_at.is_(None))):
        try:
            _message(mail, utcnow())
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            problems.append(f"mail #{mail.id} to {mail.to_address!r}: {exc!r}")
    db.session.commit()
    return problems


@pytest.mark.parametrize("endpoint", sorted(FORMS))
@given(data=st.data())
def test_hostile_post(world, routes, endpoint, data):
    if endpoint not in routes:
        pytest.fail(f"{endpoint} is in FORMS but has no POST route")
    form = FORMS[endpoint]
    who = "anonymous" if form.anonymous else "owner"
    request = data.draw(form_request(routes[endpoint], form, world, world.tokens[who]),
                        label="request")
    try:
        response = world.client(who).post(request.url, data=request.body, headers=request.headers,
                                          content_type=request.content_type)
        status = response.status_code
        assert status < 500, f"{status} for {request.url}"
        if not request.csrf_ok and routed(world.app, request.url):
            assert status == 400, f"{status} with a {request.csrf} CSRF token"
            assert CSRF_TEXT in response.get_data(as_text=True)
        if 400 <= status < 500 and status != 404:
            assert says_what_is_wrong(response), f"a {status} page that doesn't say why"
        changed = world.changed_tables()
        if status >= 400:
            wrote = sorted(set(changed) - form.refusal_writes)
            assert wrote == [], f"a refused request ({status}) wrote to {wrote}"
        if changed:
            with world.app.app_context():
                assert inconsistencies() == []
                assert outbox_problems() == []
    finally:
        world.reset()
