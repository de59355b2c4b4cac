"""What the meetings pages, panels and feeds read. Each function runs a fixed
number of queries, whatever the number of meetings, dates or people."""
import json
from collections import defaultdict, namedtuple
from datetime import datetime, timedelta
from functools import cache
from typing import NamedTuple

from sqlalchemy import and_, bindparam, case, exists, func, inspect, or_, select
from sqlalchemy.orm import aliased

from ..accounts.models import User
from ..agenda.models import RunSheet
from ..circles.models import Circle, Membership
from ..extensions import db
from ..fast.nested import in_order, json_row, json_rows
from ..fast.prepared import as_loaded, inline, prepared
from ..files.models import Attachment
from ..files.places import FileFace, face_columns, file_face
from ..pagination import paginate_bound
from ..policy import active_members, active_membership, may_read, shown_to_circle
from .models import (
    RSVP,
    DatePoll,
    HostOffer,
    Meeting,
    MeetingOccurrence,
    PollOption,
    PollVote,
)

PER_PAGE = 20
SERIES_DATES_SHOWN = 12
SERIES_DATES_FOLDED = 4  # the next few dates of a series, folded under it on the list
FEED_HISTORY = timedelta(days=365)
FEED_LIMIT = 500


def _listed_columns():
    """What a meetings list's entry shows of a date, its meeting and circle
    (meetings/rows.py), as plain rows: loading each date as an object, its
    meeting and circle joined in, was half the list's reads (bench/findings.md, 34).
    No one's name: a list shows none. Its answers come beside it (`_answered`)."""
    return (MeetingOccurrence.id, MeetingOccurrence.meeting_id, MeetingOccurrence.starts_at,
            MeetingOccurrence.ends_at, MeetingOccurrence.cancelled_at, MeetingOccurrence.moved_at,
            Meeting.title, Meeting.cancelled_at.label("meeting_cancelled_at"), Meeting.host_user_id,
            Meeting.rrule, Meeting.location, Meeting.online_link, Meeting.capacity, Meeting.timezone,
            Circle.slug.label("circle_slug"), _answered().label("answers"))


def _answered():
    """A date's answers, read beside it (a statement of their own cost PostgreSQL
    a round trip on every list; bench/findings.md, 52): the text of a JSON array
    [going, waitlisted, maybe, the viewer's own answer or null]. Only active
    members' answers count; the viewer is one (circle_page let them in)."""
    def counted(answer: str):
        return func.count(case((RSVP.answer == answer, 1)))
    own = func.max(case((RSVP.user_id == bindparam("viewer_id"), RSVP.answer)))
    # Each answer's membership looked up by its key: joined, SQLite read every
    # member of the circle and looked for their answer, whoever had answered.
    member = (exists().where(active_membership(RSVP.user_id, MeetingOccurrence.circle_id))
              .correlate(RSVP, MeetingOccurrence))
    return (select(json_row(counted("going"), counted("waitlisted"), counted("maybe"), own))
            .where(RSVP.occurrence_id == MeetingOccurrence.id, member).scalar_subquery())


def answers_of(date) -> tuple[tuple[int, int, int], str | None]:
    """A listed date's ((going, waitlisted, maybe), the viewer's answer)."""
    going, waiting, maybe, mine = json.loads(date.answers)
    return (going, waiting, maybe), mine


def _listed():
    return (select(*_listed_columns()).join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
            .join(Circle, Circle.id == MeetingOccurrence.circle_id))


def upcoming(circle: Circle, now: datetime, viewer: User):
    """Meetings not yet over, soonest first, a page at a time: a one-off by its date
    (cancelled too, marked), a series once, by its next date that is not cancelled
    (or, if all are, its next). Items are plain rows (_listed_columns), with
    the viewer's answers (answers_of)."""
    return paginate_bound(_upcoming(), {"circle_id": circle.id, "now": now, "viewer_id": viewer.id},
                          PER_PAGE, rows=True, counted_beside=True)


@cache
def _upcoming():
    first = (select(MeetingOccurrence.id, func.row_number().over(
        partition_by=MeetingOccurrence.meeting_id,
        order_by=(MeetingOccurrence.cancelled_at.is_not(None), MeetingOccurrence.starts_at,
                  MeetingOccurrence.id)).label("rank"))
        .where(MeetingOccurrence.circle_id == bindparam("circle_id"),
               MeetingOccurrence.ends_at > bindparam("now", type_=MeetingOccurrence.ends_at.type))
        .subquery())
    return (_listed().join(first, first.c.id == MeetingOccurrence.id).where(first.c.rank == 1)
            .order_by(MeetingOccurrence.starts_at, MeetingOccurrence.id))


class FoldedRow(NamedTuple):
    """One of a series' next dates, as its list entry shows it."""

    id: int
    meeting_id: int
    starts_at: datetime
    ends_at: datetime
    cancelled_at: datetime | None
    moved_at: datetime | None
    mine: str | None  # the viewer's answer


def folded_dates(meeting_ids: list[int], now: datetime, viewer: User) -> tuple[
        dict[int, list[FoldedRow]], dict[int, int]]:
    """For these series: ({meeting id: its next few dates, cancelled ones too,
    with the viewer's answers}, {meeting id: how many dates not cancelled are
    still to come}), in one query."""
    if not meeting_ids:
        return {}, {}
    dates: dict[int, list[FoldedRow]] = defaultdict(list)
    coming: dict[int, int] = {}
    for *date, n in _folded_dates.values({"ids": meeting_ids, "now": now, "viewer_id": viewer.id}):
        row = FoldedRow(*date)
        dates[row.meeting_id].append(row)
        coming[row.meeting_id] = n
    return dates, coming


@prepared
def _folded_dates():
    ranked = (select(MeetingOccurrence.id,
                     func.row_number().over(partition_by=MeetingOccurrence.meeting_id,
                                            order_by=(MeetingOccurrence.starts_at,
                                                      MeetingOccurrence.id)).label("rank"),
                     func.sum(case((MeetingOccurrence.cancelled_at.is_(None), 1), else_=0))
                     .over(partition_by=MeetingOccurrence.meeting_id).label("coming"))
              .where(MeetingOccurrence.meeting_id.in_(bindparam("ids", expanding=True)),
                     MeetingOccurrence.ends_at > bindparam("now", type_=MeetingOccurrence.ends_at.type))
              .subquery())
    own = (select(RSVP.answer).where(RSVP.occurrence_id == MeetingOccurrence.id,
                                     RSVP.user_id == bindparam("viewer_id")).scalar_subquery())
    return (select(MeetingOccurrence.id, MeetingOccurrence.meeting_id, MeetingOccurrence.starts_at,
                   MeetingOccurrence.ends_at, MeetingOccurrence.cancelled_at, MeetingOccurrence.moved_at,
                   own, ranked.c.coming)
            .join(ranked, ranked.c.id == MeetingOccurrence.id)
            .where(ranked.c.rank <= SERIES_DATES_FOLDED)
            .order_by(MeetingOccurrence.starts_at, MeetingOccurrence.id))


def past(circle: Circle, now: datetime, viewer: User):
    """Dates that are over, latest first, a page at a time (plain rows, as upcoming)."""
    return paginate_bound(_past(), {"circle_id": circle.id, "now": now, "viewer_id": viewer.id},
                          PER_PAGE, rows=True, counted_beside=True)


@cache
def _past():
    return (_listed()
            .where(MeetingOccurrence.circle_id == bindparam("circle_id"),
                   MeetingOccurrence.ends_at <= bindparam("now", type_=MeetingOccurrence.ends_at.type))
            .order_by(MeetingOccurrence.starts_at.desc(), MeetingOccurrence.id.desc()))


class NextDate(NamedTuple):
    """A date in the short lists of the circle home and the dashboard: what they show."""

    id: int
    meeting_id: int
    starts_at: datetime
    ends_at: datetime
    title: str
    timezone: str  # the meeting's own (meetings/_macros.html's `when` shows both)
    is_series: bool  # a series' date links to itself
    circle_slug: str
    circle_name: str


def next_dates(circle_ids: list[int], now: datetime, limit: int = 3) -> list[NextDate]:
    """The next dates that will happen (not cancelled) in these circles: plain
    rows, as every dashboard and circle home shows them and nothing more
    (loading each as a date joined to its meeting, circle and people cost
    more than the page's other lists: bench/findings.md, 29)."""
    if not circle_ids:
        return []
    rows = _next_dates.values({"circle_ids": circle_ids, "now": now, "limit": limit})
    return [NextDate(id_, meeting_id, starts, ends, title, zone, rrule is not None, slug, name)
            for id_, meeting_id, starts, ends, title, zone, rrule, slug, name in rows]


@prepared
def _next_dates():
    # On every dashboard and circle home: prepared (building it cost more than running it).
    return (select(MeetingOccurrence.id, MeetingOccurrence.meeting_id, MeetingOccurrence.starts_at,
                   MeetingOccurrence.ends_at, Meeting.title, Meeting.timezone, Meeting.rrule,
                   Circle.slug, Circle.name)
            .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
            .join(Circle, Circle.id == Meeting.circle_id)
            .where(MeetingOccurrence.circle_id.in_(bindparam("circle_ids", expanding=True)),
                   MeetingOccurrence.ends_at > bindparam("now", type_=MeetingOccurrence.ends_at.type),
                   MeetingOccurrence.cancelled_at.is_(None), Meeting.cancelled_at.is_(None))
            .order_by(MeetingOccurrence.starts_at, MeetingOccurrence.id).limit(inline("limit")))


class Person(NamedTuple):
    """Someone a meeting's page links to: its organiser, its host."""

    id: int
    display_name: str


class MeetingFace(NamedTuple):
    """A meeting as its page shows it, with its organiser's and host's names: a
    plain row (policy.access_meeting with rows), part of the page's key."""

    id: int
    circle_id: int
    organiser_id: int | None
    title: str
    description_html: str
    timezone: str
    rrule: str | None
    location: str
    online_link: str
    capacity: int | None
    host_user_id: int | None
    host_organisation: str
    cancelled_at: datetime | None
    cancel_reason: str
    organiser_name: str | None
    host_name: str | None

    @property
    def is_series(self) -> bool:
        return self.rrule is not None

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def organiser(self) -> Person | None:
        return Person(self.organiser_id, self.organiser_name) if self.organiser_name is not None else None

    @property
    def host(self) -> Person | None:
        return Person(self.host_user_id, self.host_name) if self.host_name is not None else None


class DateFace(NamedTuple):
    """One date of a meeting as its page shows it (a plain row, with whether
    its meeting is cancelled: then so is every date)."""

    id: int
    meeting_id: int
    circle_id: int
    original_start: datetime
    starts_at: datetime
    ends_at: datetime
    moved_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    meeting_cancelled: bool

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None or self.meeting_cancelled


def _date_columns():
    return (MeetingOccurrence.id, MeetingOccurrence.meeting_id, MeetingOccurrence.circle_id,
            MeetingOccurrence.original_start, MeetingOccurrence.starts_at, MeetingOccurrence.ends_at,
            MeetingOccurrence.moved_at, MeetingOccurrence.cancelled_at, MeetingOccurrence.cancel_reason)


class OpenedMeeting(NamedTuple):
    """A meeting's page as read in one statement (opened_meeting)."""

    meeting: MeetingFace
    date: DateFace | None  # None: the meeting has no such date
    sheet: RunSheet | None  # the date's run sheet, if it has one


def opened_meeting(circle_id: int, meeting_id: int, date_id: int | None,
                   now: datetime) -> OpenedMeeting | None:
    """The meeting with this id in this circle, as its page shows it (None: no
    such meeting here), on the date of it date_id names, else on the date the
    page opens on (the next one not over, else the last), and that date's run
    sheet. One prepared read: on PostgreSQL each statement is a round trip, and
    these were three (bench/findings.md, 42)."""
    where = {"circle_id": circle_id, "meeting_id": meeting_id}
    found = (_opened_where_it_opens.values({**where, "now": now}) if date_id is None
             else _opened_on_date.values({**where, "date_id": date_id}))
    if not found:
        return None
    row, faced, dated = found[0], len(MeetingFace._fields), len(_date_columns())
    meeting = MeetingFace._make(row[:faced])
    date_row, sheet_row = row[faced:faced + dated], row[faced + dated:]
    date = DateFace(*date_row, meeting.cancelled_at is not None) if date_row[0] is not None else None
    sheet = as_loaded(RunSheet, _sheet_row()._make(sheet_row)) if sheet_row[0] is not None else None
    return OpenedMeeting(meeting, date, sheet)


@cache
def _sheet_row() -> type:
    """A run sheet's row as as_loaded takes it: its columns named by attribute."""
    return namedtuple("SheetRow", [attr.key for attr in inspect(RunSheet).column_attrs])


def _opened(date_is):
    """The meeting's face, the date date_is picks and its run sheet, outer-joined."""
    organiser, host = aliased(User), aliased(User)
    sheet = [getattr(RunSheet, key) for key in _sheet_row()._fields]
    face = (Meeting.id, Meeting.circle_id, Meeting.organiser_id, Meeting.title, Meeting.description_html,
            Meeting.timezone, Meeting.rrule, Meeting.location, Meeting.online_link, Meeting.capacity,
            Meeting.host_user_id, Meeting.host_organisation, Meeting.cancelled_at, Meeting.cancel_reason,
            organiser.display_name.label("organiser_name"), host.display_name.label("host_name"))
    return (select(*face, *_date_columns(), *sheet).select_from(Meeting)
            .outerjoin(organiser, organiser.id == Meeting.organiser_id)
            .outerjoin(host, host.id == Meeting.host_user_id)
            .outerjoin(MeetingOccurrence, and_(MeetingOccurrence.meeting_id == Meeting.id, date_is))
            .outerjoin(RunSheet, RunSheet.occurrence_id == MeetingOccurrence.id)
            .where(Meeting.id == bindparam("meeting_id"), Meeting.circle_id == bindparam("circle_id")))


@prepared
def _opened_on_date():
    return _opened(MeetingOccurrence.id == bindparam("date_id"))


@prepared
def _opened_where_it_opens():
    dates = aliased(MeetingOccurrence)
    over = dates.ends_at <= bindparam("now", type_=MeetingOccurrence.ends_at.type)
    # Dates to come first (those not cancelled soonest), then the past ones, latest first.
    first = (select(dates.id).where(dates.meeting_id == Meeting.id)
             .order_by(over, case((over, None), else_=dates.cancelled_at.is_not(None)),
                       case((over, None), else_=dates.starts_at), dates.starts_at.desc())
             .limit(1).correlate(Meeting).scalar_subquery())
    return _opened(MeetingOccurrence.id == first)


class SeriesDate(NamedTuple):
    """One of a series' next dates, in its page's Dates card."""

    id: int
    starts_at: datetime
    cancelled_at: datetime | None
    moved_at: datetime | None


def series_dates(meeting: MeetingFace, now: datetime) -> tuple[tuple[SeriesDate, ...], int, int]:
    """(the next few dates, how many are still to come, how many in all): two prepared reads."""
    params = {"meeting_id": meeting.id, "now": now}
    dates = tuple(SeriesDate(*row) for row in _series_dates.values(params))
    coming, total = _series_counts.values(params)[0]
    return dates, coming, total


@prepared
def _series_dates():
    return (select(MeetingOccurrence.id, MeetingOccurrence.starts_at, MeetingOccurrence.cancelled_at,
                   MeetingOccurrence.moved_at)
            .where(MeetingOccurrence.meeting_id == bindparam("meeting_id"),
                   MeetingOccurrence.ends_at > bindparam("now", type_=MeetingOccurrence.ends_at.type))
            .order_by(MeetingOccurrence.starts_at).limit(SERIES_DATES_SHOWN))


@prepared
def _series_counts():
    now = bindparam("now", type_=MeetingOccurrence.ends_at.type)
    return (select(func.count(MeetingOccurrence.id).filter(MeetingOccurrence.ends_at > now),
                   func.count(MeetingOccurrence.id))
            .where(MeetingOccurrence.meeting_id == bindparam("meeting_id")))


def meeting_files(meeting_id: int) -> tuple[FileFace, ...]:
    """The meeting's files as its pages show them, oldest first: one prepared read."""
    return tuple(file_face(*row) for row in _meeting_files.values({"meeting_id": meeting_id}))


@prepared
def _meeting_files():
    # Every meeting page: prepared, as the thread page's files (threads/reading.py).
    return (select(*face_columns()).where(Attachment.meeting_id == bindparam("meeting_id"))
            .order_by(Attachment.id))


class Attendee(NamedTuple):
    """Someone's answer for a date, as its page lists it."""

    user_id: int
    display_name: str
    organisation: str  # "" when they show it to nobody (policy.shown_to_circle)


class Attendance(NamedTuple):
    """Active members' answers for a date: each by name, the waitlist in its order."""

    going: tuple[Attendee, ...]
    maybe: tuple[Attendee, ...]
    waitlisted: tuple[Attendee, ...]
    declined: tuple[Attendee, ...]


def attendance(date: DateFace, viewer_id: int) -> Attendance:
    """Who answered what for the date, as the viewer is shown them: one prepared read."""
    out: dict[str, list[Attendee]] = {answer: [] for answer in Attendance._fields}
    for row in _attendance.rows({"circle_id": date.circle_id, "occurrence_id": date.id}):
        shown = row.organisation if shown_to_circle(row, "organisation", viewer_id) else ""
        out[row.answer].append(Attendee(row.id, row.display_name, shown))
    for answer in ("going", "maybe", "declined"):
        out[answer].sort(key=lambda person: person.display_name.lower())
    return Attendance(**{answer: tuple(people) for answer, people in out.items()})


@prepared
def _attendance():
    # Every meeting page: of each person, what the page shows.
    return (select(User.id, User.display_name, User.organisation, User.organisation_visibility,
                   RSVP.answer)
            .join(User, User.id == RSVP.user_id)
            .join(Membership, active_membership(RSVP.user_id, bindparam("circle_id")))
            .where(RSVP.occurrence_id == bindparam("occurrence_id"))
            .order_by(RSVP.waitlisted_at, RSVP.responded_at, RSVP.id))


POLLS_LISTED = 10
OFFERS_LISTED = 20


class OpenPoll(NamedTuple):
    """An open date poll as the meetings list shows it."""

    id: int
    title: str
    organiser_name: str | None  # None: a former member
    voters: int  # how many people have answered


class OpenOffer(NamedTuple):
    """An open offer to host a visit, with what policy.can_withdraw_host_offer reads."""

    id: int
    user_id: int
    organisation: str
    places: int | None
    note: str | None
    user_name: str
    withdrawn_at: None = None  # open: neither withdrawn
    meeting_id: None = None  # nor planned


def open_polls_and_offers(circle: Circle) -> tuple[tuple[OpenPoll, ...], tuple[OpenOffer, ...]]:
    """The meetings list's open polls (newest first) and open offers to host a
    visit by active members (oldest first), in one statement: each of them
    alone cost PostgreSQL a round trip on every list (bench/findings.md, 52)."""
    polls, offers = _open_polls_and_offers.values({"circle_id": circle.id})[0]
    # Each nested row leads with its place in its list (in_order sorts by it).
    return (tuple(OpenPoll(*row[1:]) for row in in_order(polls)),
            tuple(OpenOffer(*row[1:]) for row in in_order(offers)))


@prepared
def _open_polls_and_offers():
    return select(select(json_rows(*_open_polls().c)).scalar_subquery(),
                  select(json_rows(*_open_offers().c)).scalar_subquery())


def _open_polls():
    newest_first = (DatePoll.created_at.desc(), DatePoll.id.desc())
    voters = (select(func.count(func.distinct(PollVote.user_id))).where(PollVote.poll_id == DatePoll.id)
              .scalar_subquery())
    organiser = select(User.display_name).where(User.id == DatePoll.organiser_id).scalar_subquery()
    return (select(func.row_number().over(order_by=newest_first), DatePoll.id, DatePoll.title,
                   organiser, voters)
            .where(DatePoll.circle_id == bindparam("circle_id"), DatePoll.status == "open")
            .order_by(*newest_first).limit(POLLS_LISTED).subquery())


def _open_offers():
    oldest_first = (HostOffer.created_at, HostOffer.id)
    return (select(func.row_number().over(order_by=oldest_first), HostOffer.id, HostOffer.user_id,
                   HostOffer.organisation, HostOffer.places, HostOffer.note, User.display_name)
            .select_from(HostOffer)
            .join(User, User.id == HostOffer.user_id)
            .join(Membership, active_membership(HostOffer.user_id, HostOffer.circle_id))
            .where(HostOffer.circle_id == bindparam("circle_id"), HostOffer.withdrawn_at.is_(None),
                   HostOffer.meeting_id.is_(None))
            .order_by(*oldest_first).limit(OFFERS_LISTED).subquery())


def poll_grid(poll: DatePoll) -> dict:
    """Slots, each active voter's answers, totals, and the best slot, in two queries."""
    options = list(db.session.scalars(select(PollOption).where(PollOption.poll_id == poll.id)
                                      .order_by(PollOption.starts_at, PollOption.id)))
    votes = db.session.execute(
        select(PollVote.option_id, PollVote.answer, User)
        .join(User, User.id == PollVote.user_id)
        .join(Membership, active_membership(PollVote.user_id, poll.circle_id))
        .where(PollVote.poll_id == poll.id)).all()
    people: dict[int, User] = {}
    answers: dict[int, dict[int, str]] = defaultdict(dict)
    totals = {o.id: {"yes": 0, "maybe": 0, "no": 0} for o in options}
    for option_id, answer, user in votes:
        people[user.id] = user
        answers[user.id][option_id] = answer
        totals[option_id][answer] += 1
    best = None
    if votes:
        # Most "yes", then most who can come at all, then the earliest.
        best = max(options, key=lambda o: (totals[o.id]["yes"],
                                           totals[o.id]["yes"] + totals[o.id]["maybe"],
                                           -o.starts_at.timestamp())).id
    return {"options": options, "people": sorted(people.values(),
                                                 key=lambda u: u.display_name.lower()),
            "answers": answers, "totals": totals, "best": best}


def circle_members(circle: Circle) -> list[User]:
    """Active members by name, for the host picker."""
    return list(db.session.scalars(active_members(circle.id).order_by(User.display_name)))


def feed_meetings(user: User, now: datetime) -> list[tuple[Meeting, list[MeetingOccurrence]]]:
    """Every meeting (not long past) of every circle the user may read now (an
    active member, any pledge accepted), with the dates a calendar must be told
    about one by one."""
    meetings = list(db.session.scalars(_in_feed(select(Meeting), user.id, now - FEED_HISTORY, FEED_LIMIT)))
    return with_exceptions(meetings)


def _in_feed(query, user_id, since, limit):
    """The query narrowed to the meetings of a feed: in the circles the user may
    read, with a date ending after `since`, the latest first."""
    return (query.where(may_read(user_id, Meeting.circle_id), Meeting.id.in_(
        select(MeetingOccurrence.meeting_id).where(MeetingOccurrence.ends_at > since)))
        .order_by(Meeting.starts_at.desc()).limit(limit))


def _told_one_by_one(ids, series):
    """Clause: the dates of these meetings a calendar is told about one by one:
    every date of a one-off, the moved or cancelled ones of a series (`series`,
    never empty: the RRULE gives the rest)."""
    return and_(MeetingOccurrence.meeting_id.in_(ids),
                or_(MeetingOccurrence.meeting_id.not_in(series),
                    MeetingOccurrence.moved_at.is_not(None), MeetingOccurrence.cancelled_at.is_not(None)))


def feed_version_rows(user: User, now: datetime) -> list[tuple[tuple, str, str, list[tuple]]]:
    """What feed_meetings gives, as plain rows for feed_cache.version: each
    meeting's columns, its circle's slug, its host's name ("" if none) and its
    dates' columns (as with_exceptions picks them). Two prepared reads and no
    ORM object: a calendar app's poll, answered from the kept feed or with a
    304, needs only the version (bench/findings.md, 43)."""
    meetings = _feed_meetings_read.values({"user_id": user.id, "since": now - FEED_HISTORY,
                                           "limit": FEED_LIMIT})
    if not meetings:
        return []
    faced = len(_columns_of(Meeting))
    ids = [row[0] for row in meetings]
    series = [row[0] for row in meetings if row[_column_at(Meeting, "rrule")] is not None]
    dates: dict[int, list[tuple]] = defaultdict(list)
    for row in _feed_dates_read.values({"ids": ids, "series": series or [0]}):
        dates[row[_column_at(MeetingOccurrence, "meeting_id")]].append(tuple(row))
    return [(tuple(row[:faced]), row[faced], row[faced + 1] or "", dates[row[0]]) for row in meetings]


@cache
def _columns_of(model) -> tuple:
    """Every column the model maps, in the mapper's order (feed_cache.version's)."""
    return tuple(getattr(model, attr.key) for attr in inspect(model).column_attrs)


@cache
def _column_at(model, key: str) -> int:
    """Where the model's column `key` is among _columns_of(model)."""
    return [column.key for column in _columns_of(model)].index(key)


@prepared
def _feed_meetings_read():
    host = aliased(User)
    return _in_feed(select(*_columns_of(Meeting), Circle.slug, host.display_name)
                    .join(Circle, Circle.id == Meeting.circle_id)
                    .outerjoin(host, host.id == Meeting.host_user_id),
                    bindparam("user_id"), bindparam("since", type_=MeetingOccurrence.ends_at.type),
                    inline("limit"))


@prepared
def _feed_dates_read():
    return (select(*_columns_of(MeetingOccurrence))
            .where(_told_one_by_one(bindparam("ids", expanding=True), bindparam("series", expanding=True)))
            .order_by(MeetingOccurrence.original_start))


def with_exceptions(meetings: list[Meeting]) -> list[tuple[Meeting, list[MeetingOccurrence]]]:
    """Each meeting with its dates: all of them for a one-off, only the moved or
    cancelled ones for a series (the RRULE gives the rest)."""
    if not meetings:
        return []
    ids = [m.id for m in meetings]
    series = [m.id for m in meetings if m.is_series] or [0]  # ids start at 1
    rows = db.session.scalars(select(MeetingOccurrence).where(_told_one_by_one(ids, series))
                              .order_by(MeetingOccurrence.original_start))
    by_meeting: dict[int, list[MeetingOccurrence]] = defaultdict(list)
    for row in rows:
        by_meeting[row.meeting_id].append(row)
    return [(m, by_meeting[m.id]) for m in meetings]
