"""The directory by programme and cohort: who was on which programme is shown,
and found by, only to that programme's own alumni."""
import pytest
from sqlalchemy import select

from community.circles.models import Circle
from community.extensions import db
from community.programmes.models import Programme, ProgrammeCohort
from tests.conftest import AuthActions
from tests.directory.test_visibility import people_part
from tests.factories import add_member, make_circle, make_user


@pytest.fixture
def cohorts(people):
    """Same Circle is Berkshire Leadership Programme's 2025 cohort; Ruth, in its
    2024 cohort's circle, is an alumna of the programme but shares no circle
    with Sam; Olly's Other Circle belongs to no programme."""
    programme = Programme(name="Berkshire Leadership Programme", place="Reading", start_year=2020)
    db.session.add(programme)
    db.session.flush()
    same = db.session.scalar(select(Circle).where(Circle.name == "Same Circle"))
    earlier = make_circle(make_user("Pat Lead"), name="Berkshire 2024")
    ruth = add_member(earlier, make_user("Ruth Earlier"))
    db.session.add_all([ProgrammeCohort(circle_id=same.id, programme_id=programme.id, year=2025),
                        ProgrammeCohort(circle_id=earlier.id, programme_id=programme.id, year=2024)])
    db.session.commit()
    return {"programme": programme, "ruth": ruth, "earlier": earlier}


def listing(client, **query) -> str:
    return people_part(client.get("/people", query_string=query).get_data(as_text=True))


def test_a_fellow_alumnus_finds_people_by_programme_and_cohort(app, client, people, cohorts):
    AuthActions(client).login(cohorts["ruth"])
    page = client.get("/people").get_data(as_text=True)
    assert 'id="programme"' in page and "Berkshire Leadership Programme</option>" in page
    found = listing(client, programme="berkshire leadership programme", cohort="2025")
    assert "Sam Subject" in found and "Berkshire Leadership Programme 2025" in found
    assert "Sam Subject" not in listing(client, programme="Berkshire Leadership Programme",
                                        cohort="2024")
    assert "Sam Subject" not in listing(client, programme="No such programme")


def test_others_neither_see_nor_find_by_a_programme_they_werent_on(app, client, people, cohorts):
    AuthActions(client).login(people.other)
    page = client.get("/people").get_data(as_text=True)
    assert 'id="programme"' not in page
    assert "Sam Subject" in people_part(page) and "Berkshire Leadership Programme" not in page
    assert "Sam Subject" not in listing(client, programme="Berkshire Leadership Programme")


def test_a_profile_shows_the_programmes_the_viewer_was_on_too(app, client, people, cohorts):
    """As on the directory's cards: a fellow alumnus of the programme sees Sam's
    cohort on his profile; someone who wasn't on it sees no programme at all."""
    profile = f"/people/{people.subject.id}"
    AuthActions(client).login(cohorts["ruth"])
    assert "Berkshire Leadership Programme 2025" in client.get(profile).get_data(as_text=True)
    AuthActions(client).logout()
    AuthActions(client).login(people.other)
    page = client.get(profile).get_data(as_text=True)
    assert "Sam Subject" in page and "Berkshire Leadership Programme" not in page


def test_leaving_the_programmes_circles_ends_it(app, client, people, cohorts):
    from community.circles import actions as circles

    circles.leave_circle(cohorts["ruth"], cohorts["earlier"].slug)
    AuthActions(client).login(cohorts["ruth"])
    assert "Sam Subject" not in listing(client, programme="Berkshire Leadership Programme")


@pytest.mark.parametrize("cohort", ["20x5", "12345", "２０２５"])
def test_a_cohort_must_be_a_year(app, client, people, cohorts, cohort):
    AuthActions(client).login(cohorts["ruth"])
    response = client.get("/people", query_string={"programme": "Berkshire", "cohort": cohort})
    assert response.status_code == 400 and "A cohort is a year" in response.get_data(as_text=True)


def test_the_filter_costs_the_same_statements_with_more_alumni(app, client, people, cohorts,
                                                               count_queries):
    AuthActions(client).login(cohorts["ruth"])
    query = {"programme": "Berkshire Leadership Programme", "cohort": "2025"}
    client.get("/people", query_string=query)
    with count_queries() as few:
        client.get("/people", query_string=query)
    same = db.session.scalar(select(Circle).where(Circle.name == "Same Circle"))
    for n in range(15):
        person = add_member(same, make_user(f"Alumnus {n:02}"))
        person.listed_in_directory = True
    db.session.commit()
    with count_queries() as many:
        assert "Alumnus 14" in listing(client, **query)
    assert few.count == many.count <= 8
