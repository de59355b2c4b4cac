"""The meetings lists' nested reads (queries.answers_of, folded_dates' own
answers, open_polls_and_offers) give what counting row by row gives, on
SQLite and on PostgreSQL: the counts by kind of the active members' answers,
the viewer's own, polls and offers in their lists' order, and names JSON has
to escape."""
from datetime import timedelta

from sqlalchemy import select, update

from community.circles.models import Membership
from community.extensions import db
from community.meetings import queries
from community.meetings.actions import polls, rsvps, visits
from community.meetings.models import RSVP, DatePoll, HostOffer
from community.timeutil import utcnow
from tests.factories import add_member, make_circle, make_user

from .conftest import at, dates_of, day, schedule

AWKWARD = 'Ana "Q" O\'Neill \\ Ёлка 東京 🎉'  # JSON escapes quotes and backslashes


def _counted(date_id: int, viewer, circle) -> tuple[tuple[int, int, int], str | None]:
    """The answers counted row by row, as the list's entry shows them."""
    active = select(Membership.user_id).where(Membership.circle_id == circle.id,
                                              Membership.status == "active")
    answers = db.session.execute(select(RSVP.user_id, RSVP.answer).where(
        RSVP.occurrence_id == date_id, RSVP.user_id.in_(active))).all()
    kinds = [answer for _, answer in answers]
    mine = next((answer for user_id, answer in answers if user_id == viewer.id), None)
    return (kinds.count("going"), kinds.count("waitlisted"), kinds.count("maybe")), mine


def test_answers_read_beside_each_date_match_counting_them(engine_app):
    owner = make_user(AWKWARD)
    circle = make_circle(owner)
    people = [add_member(circle, make_user()) for _ in range(6)]
    full = schedule(owner, circle, title="Full", capacity="2", start=at(day(3)))
    series = schedule(owner, circle, title="Series", repeat="weekly", count="6", start=at(day(4)))
    quiet = schedule(owner, circle, title="Quiet", start=at(day(5)))
    [date] = dates_of(full)
    for person, answer in zip([owner, *people[:5]], ["going", "going", "going", "maybe", "declined", "going"],
                              strict=True):
        rsvps.rsvp(person, circle.slug, date.id, answer)
    series_dates = dates_of(series)
    rsvps.rsvp(people[0], circle.slug, series_dates[1].id, "maybe")
    # A member who has gone: their answer stays stored but no longer counts,
    # though they are still a member of another circle with meetings.
    db.session.execute(update(Membership).where(Membership.user_id == people[4].id,
                                                Membership.circle_id == circle.id)
                       .values(status="removed"))
    db.session.commit()
    schedule(people[4], make_circle(people[4], name="Elsewhere"), title="Elsewhere")
    with engine_app.test_request_context("/"):
        for viewer in (owner, people[0], people[3]):
            listed = {row.id: row for row in queries.upcoming(circle, utcnow(), viewer).items}
            for row in listed.values():
                assert queries.answers_of(row) == _counted(row.id, viewer, circle)
            folded, _ = queries.folded_dates([series.id], utcnow(), viewer)
            assert [d.mine for d in folded[series.id]] == [_counted(d.id, viewer, circle)[1]
                                                           for d in folded[series.id]]
    with engine_app.test_request_context("/"):
        first = {row.id: queries.answers_of(row) for row in queries.upcoming(circle, utcnow(), owner).items}
        assert first[date.id] == ((2, 1, 1), "going")  # the removed member's "going" not counted
        assert first[dates_of(quiet)[0].id] == ((0, 0, 0), None)
        folded, _ = queries.folded_dates([series.id], utcnow(), people[0])
        assert [d.mine for d in folded[series.id]][:2] == [None, "maybe"]
        past = queries.past(circle, utcnow() + timedelta(days=6), people[0]).items
        assert {row.id: queries.answers_of(row) for row in past}[date.id] == ((2, 1, 1), "going")


def test_open_polls_and_offers_come_in_one_read_in_their_lists_order(engine_app):
    owner = make_user()
    circle = make_circle(owner)
    hosts = [add_member(circle, make_user(f"{AWKWARD} {n}")) for n in range(3)]
    made = []
    for n in range(queries.POLLS_LISTED + 2):
        made.append(polls.create_poll(owner, circle.slug, title=f"{AWKWARD} poll {n}",
                                      timezone="Europe/London", duration="60", location="Leeds",
                                      options=[at(day(20 + n), 12), at(day(21 + n), 12)]))
    # Newest first, by when each was made: stored in the opposite order to their ids.
    now = utcnow()
    for n, poll in enumerate(made):
        db.session.execute(update(DatePoll).where(DatePoll.id == poll.id)
                           .values(created_at=now - timedelta(hours=n)))
    option = polls.poll_options(made[0])[0]
    for voter in hosts[:2]:
        polls.vote(voter, circle.slug, made[0].id, {option.id: "yes"})
    polls.close_poll(owner, circle.slug, made[1].id)
    offers = [visits.offer_to_host(host, circle.slug, organisation=f"{AWKWARD} org", note="Tour\n\"ward\"",
                                   places=str(n + 2)) for n, host in enumerate(hosts)]
    for n, offer in enumerate(offers):
        db.session.execute(update(HostOffer).where(HostOffer.id == offer.id)
                           .values(created_at=now - timedelta(hours=n)))
    visits.withdraw_host_offer(hosts[1], circle.slug, offers[1].id)
    db.session.commit()
    with engine_app.test_request_context("/"):
        shown_polls, shown_offers = queries.open_polls_and_offers(circle)
    open_polls = [p for p in made if p.id != made[1].id]
    assert [p.id for p in shown_polls] == [p.id for p in open_polls[:queries.POLLS_LISTED]]
    assert shown_polls[0] == (made[0].id, made[0].title, owner.display_name, 2)
    assert '"Q"' in made[0].title and "🎉" in made[0].title
    assert shown_polls[1].voters == 0
    assert [o.id for o in shown_offers] == [offers[2].id, offers[0].id]  # oldest first
    assert shown_offers[1][:6] == (offers[0].id, hosts[0].id, offers[0].organisation, 2, offers[0].note,
                                   hosts[0].display_name)
    assert "\\" in offers[0].organisation and '"ward"' in offers[0].note
    assert (shown_offers[1].withdrawn_at, shown_offers[1].meeting_id) == (None, None)


def test_a_circle_with_no_polls_or_offers_reads_none(engine_app):
    circle = make_circle(make_user())
    with engine_app.test_request_context("/"):
        assert queries.open_polls_and_offers(circle) == ((), ())
