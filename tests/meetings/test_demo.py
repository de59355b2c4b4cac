"""The meetings demo builds through the actions and shows a lived-in Meetings tab."""
from sqlalchemy import select

from community import demo
from community.extensions import db
from community.meetings.demo import LONDON, seed_demo
from community.meetings.models import DatePoll, HostOffer, Meeting
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle

from .conftest import dates_of


def test_demo_meetings(app):
    people = {row[0]: demo._register(*row) for row in demo.COHORT}
    owner = people[demo.OWNER]
    circle = make_circle(owner, name=demo.CIRCLE_NAME)
    for name, user in people.items():
        if name != demo.OWNER:
            add_member(circle, user, role="moderator" if name == demo.MODERATOR else "member")
    seed_demo(circle, people)

    meetup, visit = db.session.scalars(select(Meeting).order_by(Meeting.id)).all()
    assert meetup.rrule == "FREQ=MONTHLY;INTERVAL=1;BYDAY=1TU;COUNT=12"
    starts = [d.starts_at.astimezone(LONDON) for d in dates_of(meetup)]
    assert len(starts) == 12 and {(s.weekday(), s.hour) for s in starts} == {(1, 19)}
    assert all(s.day <= 7 for s in starts)
    assert visit.host_user_id == people["Gareth Lloyd"].id
    assert visit.host_organisation == "HMP Thameside Reading" and visit.rrule is None
    assert db.session.scalar(select(HostOffer.meeting_id)) == visit.id
    poll = db.session.scalar(select(DatePoll))
    assert poll.status == "open"

    client = app.test_client()
    AuthActions(client).login(people["Helen Marsh"].email, demo.DEMO_PASSWORD)
    index = client.get(f"/c/{circle.slug}/meetings/").get_data(as_text=True)
    assert "Monthly meetup" in index and "Visit to HMP Thameside Reading" in index
    assert "Summer social" in index
    visit_page = client.get(f"/c/{circle.slug}/m/{visit.id}").get_data(as_text=True)
    assert "Gareth Lloyd</a> at HMP Thameside Reading" in visit_page
    grid = client.get(f"/c/{circle.slug}/polls/{poll.id}").get_data(as_text=True)
    assert ">Best<" in grid and "Rachel Stone" in grid
