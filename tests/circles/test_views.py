"""Circle pages through HTTP: forms, invite links, the pledge, directory, admin."""
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from community.accounts.models import User
from community.circles import actions as circles_actions
from community.circles.models import Circle, Membership
from community.extensions import db
from community.moderation import actions as moderation
from community.timeutil import utcnow
from tests.conftest import AuthActions
from tests.factories import PASSWORD, add_member, make_circle, make_thread, make_user


def text(response) -> str:
    return response.get_data(as_text=True)


def test_create_a_circle(client, auth):
    auth.login(make_user())
    response = client.post("/circles/new", data={
        "name": "Berkshire Leaders 2025", "cohort": "Berkshire 2025",
        "description": "Our cohort.", "join_policy": "invite_only"})
    assert response.headers["Location"] == "/c/berkshire-leaders-2025/"
    home = client.get("/c/berkshire-leaders-2025/")
    assert "Our cohort." in text(home) and "Berkshire 2025" in text(home)
    assert "Make an invite link" in text(home)  # the empty state says what to do next


def test_create_circle_with_bad_input_is_a_400(client, auth):
    auth.login(make_user())
    response = client.post("/circles/new", data={"name": "", "join_policy": "everyone"})
    assert response.status_code == 400
    assert db.session.query(Circle).count() == 0


def test_dashboard_lists_my_circles(client, auth):
    owner = make_user()
    circle = make_circle(owner, name="Thames Valley")
    add_member(circle)
    auth.login(owner)
    page = text(client.get("/"))
    assert "Thames Valley" in page and "2 members" in page


def test_invite_link_journey_for_a_new_person(app, client):
    owner = make_user()
    circle = make_circle(owner, name="Thames Valley")
    with app.test_request_context():
        _, token = moderation.create_invitation(owner, circle.slug)
    landing = client.get(f"/invite/{token}")
    assert landing.status_code == 200 and "Thames Valley" in text(landing)
    assert f"/auth/register?next=/invite/{token}" in text(landing)
    registered = client.post(f"/auth/register?next=/invite/{token}", data={
        "email": "new@example.org", "password": "a long password", "display_name": "Newcomer",
        "sector": "public", "timezone": "Europe/London"})
    assert registered.headers["Location"] == f"/invite/{token}"
    joined = client.post(f"/invite/{token}")
    assert joined.headers["Location"] == f"/c/{circle.slug}/"
    assert client.get(f"/c/{circle.slug}/").status_code == 200
    # Opening the link again only says they are in.
    assert "already a member" in text(client.get(f"/invite/{token}"))


def test_invite_link_states_have_clear_pages(app, client, auth):
    owner = make_user()
    circle = make_circle(owner)
    with app.test_request_context():
        expired, t1 = moderation.create_invitation(owner, circle.slug)
        revoked, t2 = moderation.create_invitation(owner, circle.slug)
        used, t3 = moderation.create_invitation(owner, circle.slug, max_uses=1)
    expired.expires_at = utcnow() - timedelta(minutes=1)
    revoked.revoked_at = utcnow()
    used.uses = 1
    db.session.commit()
    auth.login(make_user())
    for token, words in [(t1, "expired"), (t2, "withdrawn"), (t3, "used as many times")]:
        page = client.get(f"/invite/{token}")
        assert page.status_code == 410 and words in text(page)
        refused = client.post(f"/invite/{token}")
        assert refused.status_code == 400 and words in text(refused)
    bogus = client.get("/invite/nope")
    assert bogus.status_code == 404 and "doesn't work" in text(bogus)


def test_staff_make_a_link_and_see_it_once(client, auth):
    owner = make_user()
    circle = make_circle(owner)
    auth.login(owner)
    response = client.post(f"/c/{circle.slug}/manage/invitations",
                           data={"days": "7", "max_uses": "3", "note": "March"})
    assert response.status_code == 201
    link = re.search(r'value="(http://localhost/invite/[^"]+)"', text(response)).group(1)
    token = link.rsplit("/", 1)[1]
    listing = text(client.get(f"/c/{circle.slug}/manage/invitations"))
    assert "March" in listing and "0 of 3" in listing
    assert token not in listing  # never shown again
    bad = client.post(f"/c/{circle.slug}/manage/invitations", data={"days": "365"})
    assert bad.status_code == 400 and "1 to 90 days" in text(bad)


def test_an_emailed_link_says_so_and_links_have_a_copy_button(client, auth):
    owner = make_user()
    circle = make_circle(owner)
    auth.login(owner)
    made = text(client.post(f"/c/{circle.slug}/manage/invitations",
                            data={"days": "7", "email": "Helen@Example.org"}))
    assert "emailed it to <strong>helen@example.org</strong>" in made
    # A Copy button, shown by a script file (the CSP allows no inline script).
    assert 'data-copy="new-link"' in made and "/static/js/copy.js" in made
    assert "<script>" not in made
    listing = text(client.get(f"/c/{circle.slug}/manage/invitations"))
    today = utcnow().astimezone(ZoneInfo(owner.timezone or "Europe/London"))
    assert 'Emailed to <span class="email">helen@example.org</span> on <time' in listing
    assert f">{today.day} {today:%b %Y}</time>" in listing
    plain = text(client.post(f"/c/{circle.slug}/manage/invitations", data={"days": "7"}))
    assert "emailed it" not in plain and 'data-copy="new-link"' in plain


def test_pledge_is_asked_before_any_content(client, auth):
    owner = make_user()
    circle = make_circle(owner, description="Frank talk inside")
    member = add_member(circle)
    from community.circles.actions import update_circle
    update_circle(owner, circle.slug, name=circle.name, description="Frank talk inside",
                  pledge_required=True, pledge_text="What is said here stays here.")
    thread = make_thread(circle, owner, body="Frank talk in a thread")
    auth.login(member)
    # The thread page loads the circle as rows (circle_page(rows=True)): the same rule.
    for path in (f"/c/{circle.slug}/", f"/c/{circle.slug}/members", f"/c/{circle.slug}/t/{thread.id}?page=1"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith(f"/c/{circle.slug}/pledge?next=")
    pledge_page = text(client.get(f"/c/{circle.slug}/pledge"))
    assert "What is said here stays here." in pledge_page and "Frank talk" not in pledge_page
    accepted = client.post(f"/c/{circle.slug}/pledge?next=/c/{circle.slug}/members")
    assert accepted.headers["Location"] == f"/c/{circle.slug}/members"
    assert "Frank talk inside" in text(client.get(f"/c/{circle.slug}/"))
    assert "Frank talk in a thread" in text(client.get(f"/c/{circle.slug}/t/{thread.id}?page=1"))
    m = db.session.scalar(select(Membership).where(Membership.user_id == member.id))
    assert m.pledge_accepted_at is not None


def test_pledge_next_cannot_leave_the_site(client, auth):
    circle = make_circle()
    member = add_member(circle)
    auth.login(member)
    response = client.post(f"/c/{circle.slug}/pledge?next=https://evil.example/")
    assert response.headers["Location"] == f"/c/{circle.slug}/"


def test_members_directory_filters(client, auth):
    owner = make_user("Olive Owner", organisation="Berkshire Healthcare", sector="public")
    circle = make_circle(owner)
    add_member(circle, make_user("Priya Raman", organisation="Thames Valley Radio", sector="private"))
    add_member(circle, make_user("Siobhan Kelly", organisation="Royal County Bank", sector="private"))
    add_member(circle, make_user("Tom Whitaker", organisation="Food Network", sector="non_profit"))
    auth.login(owner)
    private = text(client.get(f"/c/{circle.slug}/members?sector=private"))
    assert "Priya Raman" in private and "Siobhan Kelly" in private and "Tom Whitaker" not in private
    by_org = text(client.get(f"/c/{circle.slug}/members?q=county bank"))
    assert "Siobhan Kelly" in by_org and "Priya Raman" not in by_org
    by_name = text(client.get(f"/c/{circle.slug}/members?q=whit"))
    assert "Tom Whitaker" in by_name and "Siobhan" not in by_name
    wildcard = text(client.get(f"/c/{circle.slug}/members?q=%25"))
    assert "Nobody matches" in wildcard  # % is searched for, not a wildcard
    directory = text(client.get(f"/c/{circle.slug}/members"))
    for word in ("Thames Valley Radio", "Private sector", "Reading", "Owner"):
        assert word in directory


def test_request_to_join_through_the_form(client, auth):
    owner = make_user()
    circle = make_circle(owner, name="Open to asks", join_policy="request")
    asker = make_user()
    auth.login(asker)
    assert "Ask to join" in text(client.get("/circles/"))
    response = client.post(f"/circles/{circle.slug}/request", data={"message": "Hello!"})
    assert response.headers["Location"] == "/circles/"
    assert "Request pending — sent on" in text(client.get("/circles/"))
    AuthActions(client).logout()
    auth.login(owner)
    queue = text(client.get(f"/c/{circle.slug}/manage/requests"))
    assert "Hello!" in queue


def test_a_pending_request_shows_on_the_dashboard_and_can_be_withdrawn(client, auth):
    owner = make_user()
    circle = make_circle(owner, name="Open to asks", join_policy="request")
    asker = make_user()
    auth.login(asker)
    assert "Your requests to join" not in text(client.get("/"))
    client.post(f"/circles/{circle.slug}/request", data={"message": "Hello!"})
    dashboard = text(client.get("/"))
    assert "Your requests to join" in dashboard and "Open to asks" in dashboard
    assert "Request pending — sent on" in dashboard and "Withdraw request" in dashboard
    response = client.post(f"/circles/{circle.slug}/request/withdraw", data={"next": "/"})
    assert response.headers["Location"] == "/"
    dashboard = text(client.get("/"))
    assert "is withdrawn" in dashboard and "Your requests to join" not in dashboard
    assert "Ask to join" in text(client.get("/circles/"))
    assert client.post(f"/circles/{circle.slug}/request/withdraw").status_code == 404
    AuthActions(client).logout()
    auth.login(owner)
    assert "Hello!" not in text(client.get(f"/c/{circle.slug}/manage/requests"))


def test_a_decline_with_a_reason_reaches_the_requester(client, auth):
    owner = make_user()
    circle = make_circle(owner, name="Open to asks", join_policy="request")
    asker = make_user()
    join_request = circles_actions.request_to_join(asker, circle.slug, "")
    auth.login(owner)
    response = client.post(f"/c/{circle.slug}/manage/requests/{join_request.id}/decline",
                           data={"reason": "We are full until the spring."})
    assert response.status_code == 302
    AuthActions(client).logout()
    auth.login(asker)
    notes = text(client.get("/notifications"))
    assert "Your request to join Open to asks was declined." in notes
    assert "We are full until the spring." in notes


def test_last_owner_leaving_gets_a_clear_403(client, auth):
    owner = make_user()
    circle = make_circle(owner)
    auth.login(owner)
    response = client.post(f"/c/{circle.slug}/leave")
    assert response.status_code == 403
    assert "only owner" in text(response)


def test_removal_takes_effect_on_the_next_request(app, client, auth):
    owner = make_user()
    circle = make_circle(owner)
    member = add_member(circle)
    auth.login(member)
    assert client.get(f"/c/{circle.slug}/").status_code == 200
    moderation.remove_member(owner, circle.slug, member.id)
    assert client.get(f"/c/{circle.slug}/").status_code == 404


def test_site_admin_suspends_an_account(app, client, auth):
    admin = make_user("Site Admin")
    admin.is_site_admin = True
    admin.second_factor_at = utcnow()  # the admin pages ask it of every admin
    db.session.commit()
    victim = make_user("Suspended Person")
    victim_client = app.test_client()
    AuthActions(victim_client).login(victim)
    assert victim_client.get("/").status_code == 200
    auth.login_past_second_step(admin)
    response = client.post(f"/admin/users/{victim.id}/suspend")
    assert response.status_code == 302
    assert victim_client.get("/").status_code == 302  # signed out everywhere
    again = AuthActions(app.test_client()).login(victim, PASSWORD)
    assert again.status_code == 400
    client.post(f"/admin/users/{victim.id}/restore")
    assert AuthActions(app.test_client()).login(victim, PASSWORD).status_code == 302


def test_site_admin_sees_names_and_sizes_but_no_content(client, auth):
    admin = make_user("Site Admin")
    admin.is_site_admin = True
    admin.second_factor_at = utcnow()  # the admin pages ask it of every admin
    db.session.commit()
    circle = make_circle(name="Private Practice Leaders", description="Confidential purpose")
    add_member(circle)
    auth.login_past_second_step(admin)
    listing = text(client.get("/admin/"))
    assert "Private Practice Leaders" in listing and ">2<" in listing
    assert "Confidential purpose" not in listing
    assert client.get(f"/c/{circle.slug}/").status_code == 404
    assert client.get(f"/c/{circle.slug}/members").status_code == 404


def _add_many_members(circle, n: int) -> None:
    """Bulk-insert members for the query-count tests (building 200 through the
    invite flow would only slow the suite; the read path is what is measured)."""
    start = db.session.query(User).count()
    users = [User(email=f"bulk{start + i}@example.org", display_name=f"Bulk Member {i}",
                  handle=f"bulk_{start + i}", password_hash="x", organisation=f"Org {i}",
                  sector=("public", "private", "non_profit")[i % 3])
             for i in range(n)]
    db.session.add_all(users)
    db.session.flush()
    db.session.add_all(Membership(circle_id=circle.id, user_id=u.id) for u in users)
    db.session.commit()


@pytest.mark.parametrize("path", ["/c/{slug}/", "/c/{slug}/members", "/c/{slug}/members?sector=private&q=Org",
                                  "/", "/circles/"])
def test_query_count_does_not_grow_with_members(client, auth, count_queries, path):
    owner = make_user()
    circle = make_circle(owner, join_policy="request")
    _add_many_members(circle, 4)
    auth.login(owner)
    url = path.format(slug=circle.slug)
    client.get(url)  # warm: the first request loads things once per process
    with count_queries() as small:
        assert client.get(url).status_code == 200
    _add_many_members(circle, 195)
    with count_queries() as large:
        assert client.get(url).status_code == 200
    assert small.count == large.count
    assert large.count <= 8
