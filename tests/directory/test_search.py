"""The directory's search: hostile input is a message, never a 500 nor a
wildcard; and its statements stay few and the same however many alumni."""
import pytest

from community.accounts.models import PROFILE_FIELDS
from tests.conftest import AuthActions
from tests.directory.conftest import set_profile
from tests.directory.test_visibility import people_part
from tests.factories import add_member, make_circle, make_user


def listed(user, **changes):
    set_profile(user, listed_in_directory=True, visibility={f: "alumni" for f in PROFILE_FIELDS}, **changes)
    return user


@pytest.fixture
def viewer(app, client):
    me = make_user("Vera Viewer")
    make_circle(me, name="Mine")
    AuthActions(client).login(me)
    return me


@pytest.mark.parametrize("q", ["%", "_", "%%", "\\", "\\%", "[a]", "*", "'", '"', "' OR 1=1 --"])
def test_wildcards_are_literal(app, client, viewer, q):
    other = make_user("Amy Alumna")
    make_circle(other, name="Hers")
    listed(other, organisation="Plain Trust")
    answer = client.get("/people", query_string={"q": q})
    assert answer.status_code == 200
    assert "Amy Alumna" not in people_part(answer.get_data(as_text=True))


def test_a_literal_percent_and_underscore_are_found(app, client, viewer):
    other = make_user("Amy Alumna")
    make_circle(other, name="Hers")
    listed(other, organisation="100% Trust_Co")
    for q in ("100%", "trust_co", "% trust"):
        html = client.get("/people", query_string={"q": q}).get_data(as_text=True)
        assert "Amy Alumna" in people_part(html), q


@pytest.mark.parametrize("args", [
    {"q": "x" * 101}, {"q": "a" * 100_000}, {"place": "p" * 500}, {"tag": "t" * 41},
    {"sector": "public'--"}, {"sector": "x" * 1000},
])
def test_too_long_or_off_the_list_is_a_400_that_says_why(app, client, viewer, args):
    answer = client.get("/people", query_string=args)
    assert answer.status_code == 400
    assert 'role="alert"' in answer.get_data(as_text=True)


@pytest.mark.parametrize("args", [
    {"q": "\x00"}, {"q": "a\x00b"}, {"tag": "\x00"}, {"place": "\u202e\x00"},
    {"page": "-1"}, {"page": "99999999999999999999"}, {"page": "²"}, {"page": "NaN"},
    {"q": "   "}, {"q": "a b c d e f g h i j k"}, {"programme": "X", "cohort": "2024"},
])
def test_odd_input_is_never_a_500(app, client, viewer, args):
    assert client.get("/people", query_string=args).status_code in (200, 400)


@pytest.mark.parametrize("raw", ["q=%ED%A0%80", "q=%FF%FE", "q=%C0%AF", "sector=%00", "page=%00",
                                 "q[]=a&q=b"])
def test_bytes_that_are_not_utf8_are_never_a_500(app, client, viewer, raw):
    assert client.get("/people?" + raw).status_code in (200, 400)


def _alumni(circle, count: int):
    for _ in range(count):
        listed(add_member(circle), tags="Budgets, coaching", organisation="Search Trust")


@pytest.mark.parametrize("query", ["", "?q=trust", "?q=budg&sector=public&place=reading", "?tag=budgets"])
def test_statements_are_few_and_the_same_for_20_and_200_alumni(app, client, viewer, count_queries, query):
    circle = make_circle(make_user(), name="Theirs")
    add_member(circle, viewer)
    _alumni(circle, 20)
    client.get("/people" + query)  # warm: the first request loads things once per process
    with count_queries() as small:
        answer = client.get("/people" + query)
    assert answer.status_code == 200
    assert people_part(answer.get_data(as_text=True)).count('class="person"') == 20
    _alumni(circle, 180)
    with count_queries() as large:
        answer = client.get("/people" + query)
    assert answer.status_code == 200
    assert 'rel="next"' in answer.get_data(as_text=True)
    assert small.count == large.count
    assert large.count <= 8, large.statements


@pytest.mark.parametrize("query", ["", "?q=search+budgets&place=reading&tag=coaching"])
def test_the_viewers_circle_mates_are_read_once_per_search(app, client, viewer, count_queries, query):
    """Who shares a circle with the viewer decides what they see of each field,
    and a search asks it of a dozen fields: it is read once, joined to the
    people (policy.circle_mates_once), not listed again for each field."""
    circle = make_circle(make_user(), name="Theirs")
    add_member(circle, viewer)
    _alumni(circle, 5)
    with count_queries() as queries:
        answer = client.get("/people" + query)
    assert answer.status_code == 200
    assert people_part(answer.get_data(as_text=True)).count('class="person"') == 5
    [found] = [s for s in queries.statements if "show_organisation" in s]
    assert found.count("JOIN circles") == 1, found
    assert "IN (SELECT circle_mates" not in found and "LEFT OUTER JOIN circle_mates" in found
