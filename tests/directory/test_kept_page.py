"""/people is kept whole (directory.views.DirectoryFrame, fast.fragments.kept_page):
after any change to what it shows, the page served must be exactly the page
rendered afresh; and what one viewer may see never reaches another."""
import pytest

from community.accounts.models import PROFILE_FIELDS
from community.fast.fragments import MEMO
from tests.conftest import AuthActions
from tests.directory.conftest import MARKERS, set_profile
from tests.directory.test_visibility import people_part
from tests.kept import assert_shown_afresh

CHANGES = {
    "the subject changes organisation": lambda p: set_profile(p.subject, organisation="Newplace Trust"),
    "the subject hides their job from alumni":
        lambda p: set_profile(p.subject, visibility={"job_title": "circles"}),
    "the subject adds a tag": lambda p: set_profile(p.subject, tags=MARKERS["tags"] + ", Rotas"),
    "the subject renames themselves": lambda p: set_profile(p.subject, display_name="Samira Subject"),
    "the subject leaves the directory": lambda p: set_profile(p.subject, listed_in_directory=False),
    "someone else lists themselves": lambda p: set_profile(p.same, listed_in_directory=True),
    "the viewer lists themselves": lambda p: set_profile(p.other, listed_in_directory=True),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_directory_served_is_the_directory_rendered_afresh(app, client, people, change):
    set_profile(people.subject, visibility={field: "alumni" for field in PROFILE_FIELDS})
    AuthActions(client).login(people.other)
    for url in ("/people", "/people?q=sam", "/people?tag=tagmarker"):
        client.get(url)
    assert any(key[0] == "directory/index.html" for key in MEMO.items)  # kept whole
    assert_shown_afresh(client, "/people", lambda: CHANGES[change](people))


def test_what_one_viewer_may_see_never_reaches_another(app, client, people):
    """The subject shows their organisation to circle-mates only: the viewer
    who shares a circle sees it; an alumnus of another circle, served after
    them from the same memo, does not."""
    set_profile(people.subject, visibility={"organisation": "circles"})
    seen = {}
    for name in ("same", "other", "same", "other"):
        AuthActions(client).login(getattr(people, name))
        seen[name] = people_part(client.get("/people").get_data(as_text=True))
        AuthActions(client).logout()
    assert "Sam Subject" in seen["same"] and "Sam Subject" in seen["other"]
    assert MARKERS["organisation"] in seen["same"]
    assert MARKERS["organisation"] not in seen["other"]


def test_a_search_is_shown_as_asked_and_cannot_fill_a_slot(app, client, people):
    """What the viewer typed comes back in the form, escaped; a slot's mark
    in it (NUL) is dropped with the other control characters, so it can't
    make a slot of the kept page (the frame is cleaned of marks besides)."""
    from community.fast.fragments import SLOT

    AuthActions(client).login(people.other)
    answer = client.get("/people", query_string={"q": f'<b>"x"</b>{SLOT}csrf{SLOT}'})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert 'value="&lt;b&gt;&#34;x&#34;&lt;/b&gt;csrf"' in page and SLOT not in page
