"""Each profile field × its audience × each kind of viewer, over every surface
that shows or finds a person: the profile page, the directory's listing, its
search, the photo, and the data export. A field is seen (and matched) by its
audience only; a search on a hidden field finds no one."""
import json

import pytest

from community.accounts.models import PROFILE_FIELDS, VISIBILITIES
from tests.conftest import AuthActions
from tests.directory.conftest import MARKERS, set_profile

VIEWERS = ("same", "other", "none")

# What shows a field on a page: its marker text.
SHOWN_BY = {**MARKERS, "sector": "Non-profit", "contact": "Open to"}
# How a search asks for a field (None: the field isn't searched).
SEARCHES = {
    "organisation": [{"q": "orgmarker"}],
    "job_title": [{"q": "Jobmarker"}],
    "location": [{"q": "placemark"}, {"place": "Placemarker"}],
    "tags": [{"q": "TAGMARK"}, {"tag": "tagmarker"}],
    "sector": [{"sector": "non_profit"}],
    "bio": [{"q": "Biomarker"}],  # never searched: a bio is free text, shown on the profile only
}


def sees(viewer: str, audience: str) -> bool:
    """The rule, as a member would state it."""
    return {"same": audience in ("circles", "alumni"), "other": audience == "alumni",
            "none": False}[viewer]


def people_part(html: str) -> str:
    """The directory's list of people, without the search form (which names every sector)."""
    start = html.find('<ul class="list people">')
    return html[start:] if start >= 0 else ""


def only(field: str, audience: str) -> dict:
    """The field at `audience`, every other at the audience furthest from it,
    so that a leak through another field's rule shows."""
    rest = "nobody" if audience != "nobody" else "alumni"
    return {f: audience if f == field else rest for f in PROFILE_FIELDS}


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("audience", list(VISIBILITIES))
@pytest.mark.parametrize("field", list(PROFILE_FIELDS))
def test_field_audience_viewer(app, client, people, field, audience, viewer):
    subject = people.subject
    set_profile(subject, visibility=only(field, audience))
    AuthActions(client).login(people.viewer(viewer))
    expected = sees(viewer, audience)
    marker = SHOWN_BY.get(field)

    # The profile page: any alumnus reaches a listed person; someone in no circle doesn't.
    page = client.get(f"/people/{subject.id}")
    if viewer == "none":
        assert page.status_code == 404
    else:
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        if field == "photo":
            assert (f"/people/{subject.id}/photo" in html) is expected
        else:
            assert (marker in html) is expected, (field, audience, viewer)

    # The photo itself: the same 404 for "not shown to you" as for "no photo".
    if field == "photo":
        assert client.get(f"/people/{subject.id}/photo").status_code == (200 if expected else 404)

    # The directory's listing: the person (by name) to every alumnus, the field to its audience.
    listing = client.get("/people")
    assert listing.status_code == 200
    found = people_part(listing.get_data(as_text=True))
    assert ("Sam Subject" in found) is (viewer != "none")
    if field == "photo":
        assert (f"/people/{subject.id}/photo" in found) is expected
    elif field != "bio":
        assert (marker in found) is expected
    assert MARKERS["bio"] not in found  # the listing never shows a bio

    # Search: matching on a field reveals what it holds, so only its audience can.
    for args in SEARCHES.get(field, []):
        result = client.get("/people", query_string=args)
        assert result.status_code == 200
        hit = "Sam Subject" in people_part(result.get_data(as_text=True))
        assert hit is (expected and field != "bio"), (args, audience, viewer)

    # The viewer's own data export holds nothing of the subject's.
    export = client.get("/settings/data.json").get_data(as_text=True)
    assert all(text not in export for text in MARKERS.values())


@pytest.mark.parametrize("audience", list(VISIBILITIES))
@pytest.mark.parametrize("field", list(PROFILE_FIELDS))
def test_owner_sees_everything_and_exports_each_audience(app, client, people, field, audience):
    subject = people.subject
    set_profile(subject, visibility=only(field, audience))
    AuthActions(client).login(subject)
    html = client.get(f"/people/{subject.id}").get_data(as_text=True)
    assert all(marker in html for marker in MARKERS.values())
    assert "Non-profit" in html and "Open to being contacted" in html
    assert client.get(f"/people/{subject.id}/photo").status_code == 200
    data = json.loads(client.get("/settings/data.json").get_data(as_text=True))
    profile = data["profile"]
    assert {row["field"]: row["audience"] for row in profile["visibility"]} == only(field, audience)
    assert profile["tags"] == ["Tagmarker"]
    assert profile["organisation"] == MARKERS["organisation"]
    assert profile["open_to_contact"] is True and profile["listed_in_directory"] is True
    assert profile["photo"] == "profile/photo.jpg"
    page = client.get("/settings/data").get_data(as_text=True)
    assert VISIBILITIES[audience] in page


def test_signed_out_visitors_are_sent_to_sign_in(app, client, people):
    for path in ("/people", "/people?q=Orgmarker", f"/people/{people.subject.id}",
                 f"/people/{people.subject.id}/photo"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/login" in response.location, path


def test_nobody_is_listed_until_they_choose_to(app, client, people):
    set_profile(people.subject, listed_in_directory=False)
    AuthActions(client).login(people.other)
    assert "Sam Subject" not in people_part(client.get("/people").get_data(as_text=True))
    assert client.get(f"/people/{people.subject.id}").status_code == 404
    assert client.get("/people", query_string={"q": "Sam"}).status_code == 200
    # Their circle-mates still see their profile, as before the directory.
    AuthActions(client).logout()
    AuthActions(client).login(people.same)
    assert client.get(f"/people/{people.subject.id}").status_code == 200
    assert "Sam Subject" not in people_part(client.get("/people").get_data(as_text=True))


def test_a_new_account_is_unlisted_and_shows_its_circles_only(app):
    from community.accounts.models import User

    user = User(email="x@example.org", display_name="X", handle="x", password_hash="x")
    from community.extensions import db

    db.session.add(user)
    db.session.flush()
    db.session.refresh(user)
    assert user.listed_in_directory is False and user.open_to_contact is False
    assert all(getattr(user, f"{field}_visibility") == "circles" for field in PROFILE_FIELDS)
    db.session.rollback()
