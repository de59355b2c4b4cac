"""Who may do what: the one place the rules live.

Loaders (`access_*`) fetch and authorise in one call and raise the same
NotFound for "missing" and "not yours", so nothing leaks. Predicates (`can_*`)
take explicit objects and never read the request, so views, Socket.IO handlers
and templates (through the `policy` template global) apply the same rules.
"""
from collections import namedtuple
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, case, exists, false, func, not_, or_, select
from sqlalchemy.orm import aliased, lazyload
from sqlalchemy.sql.elements import BindParameter
from werkzeug.exceptions import Forbidden, NotFound

from .accounts.models import PROFILE_FIELDS, VISIBILITIES, User
from .circles.models import Circle, JoinRequest, Membership
from .directory.models import Introduction
from .extensions import db
from .fast.prepared import as_loaded, every_column_of, loaded_row, prepared
from .messages.models import MAX_PEOPLE, MIN_PEOPLE, Block, Conversation, ConversationMember, DirectMessage
from .programmes.models import Programme, ProgrammeCohort, ProgrammeStaff

RANK = {"member": 1, "moderator": 2, "owner": 3}


def require(allowed: bool, message: str = "Your role in this circle doesn't allow that.") -> None:
    """:raise Forbidden: when a rule says no to someone who may know the thing exists."""
    if not allowed:
        raise Forbidden(message)


# --- Read rules, as query clauses -----------------------------------------------
# Every query that lists or counts across circles is built from these, so "a
# member" and "may read" mean the same on every page, panel, feed, email and
# socket. No other module spells a membership status, the pledge rule or the
# second-factor rule (tests/test_read_rules.py keeps it so).

MEMBERSHIP_STATUSES = ("active", "left", "removed", "banned")


def is_active_row(membership=Membership):
    """Clause: this membership row grants access (not left, removed or banned)."""
    return membership.status == "active"


def pledge_kept(circle=Circle, membership=Membership):
    """Clause: the circle asks no pledge, or this member accepted its current text."""
    return or_(not_(circle.pledge_required),
               and_(membership.pledge_accepted_at.is_not(None),
                    membership.pledge_accepted_at >= circle.pledge_updated_at))


def second_factor_kept(circle=Circle, user=User):
    """Clause: the circle requires no second factor, or this person has one.

    `users.second_factor_at` says so without a join to the factor tables: the
    user row is at hand on every page (accounts/factors.py keeps it in step)."""
    return or_(not_(circle.require_two_factor), user.second_factor_at.is_not(None))


def active_membership(user_id, circle_id, membership=Membership):
    """Join condition: the user's active membership of the circle (columns or values)."""
    return and_(membership.user_id == user_id, membership.circle_id == circle_id,
                is_active_row(membership))


# The subqueries below never correlate with an enclosing query that reads
# memberships too: each always means "this user's" or "this circle's" rows.

def active_circle_ids(user_id, role: str | None = None):
    """A subquery: the ids of the circles the user is an active member of (in
    this role, if given)."""
    query = select(Membership.circle_id).where(Membership.user_id == user_id, is_active_row())
    if role is not None:
        query = query.where(Membership.role == role)
    return query.correlate(None)


def is_staff_somewhere(user_id: int) -> bool:
    """Whether the user is an active owner or moderator of any circle."""
    return db.session.scalar(select(active_circle_ids(user_id).where(
        Membership.role.in_(("owner", "moderator"))).exists()))


def readable_circle_ids(user_id):
    """A subquery: the ids of the circles whose content the user may read now
    (an active member, the pledge accepted where the circle asks it, a second
    factor where it requires one)."""
    return (select(Membership.circle_id).join(Circle, Circle.id == Membership.circle_id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.user_id == user_id, is_active_row(), pledge_kept(),
                   second_factor_kept()).correlate(None))


def may_read(user_id, circle_column):
    """Clause: the user may read the content of the circle in circle_column."""
    return circle_column.in_(readable_circle_ids(user_id))


def active_member_ids(circle_id):
    """A subquery: the ids of the circle's active members."""
    return (select(Membership.user_id).where(Membership.circle_id == circle_id, is_active_row())
            .correlate(None))


def active_members(circle_id):
    """A select of the circle's active members (User), to order and narrow."""
    return select(User).join(Membership, active_membership(User.id, circle_id))


def member_counts(circle_ids) -> dict[int, int]:
    """{circle id: number of active members} for these circles (one statement)."""
    if not circle_ids:
        return {}
    return dict(_member_counts.values({"circle_ids": list(circle_ids)}))


@prepared
def _member_counts():
    # On every page of the site admins' list of circles: prepared (building it
    # cost more than running it). The dashboard counts with its circles.
    return (select(Membership.circle_id, func.count(Membership.id))
            .where(Membership.circle_id.in_(bindparam("circle_ids", expanding=True)), is_active_row())
            .group_by(Membership.circle_id))


def staff_ids(circle_id) -> list[int]:
    """The ids of the circle's active owners and moderators."""
    return list(db.session.scalars(active_member_ids(circle_id).where(
        Membership.role.in_(("owner", "moderator")))))


def reading_pairs(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Of these (circle id, user id) pairs, those where the user may read the circle."""
    if not pairs:
        return set()
    rows = db.session.execute(
        select(Membership.circle_id, Membership.user_id).join(Circle, Circle.id == Membership.circle_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.circle_id.in_({c for c, _ in pairs}), Membership.user_id.in_({u for _, u in pairs}),
               is_active_row(), pledge_kept(), second_factor_kept()))
    return {(row.circle_id, row.user_id) for row in rows} & pairs


def members_by_email(circle_id: int, emails: list[str]):
    """A select of (email, status) of the circle's active and banned members
    with these addresses (bulk invitations: who is in already, who may not be)."""
    return (select(User.email, Membership.status).join(Membership, Membership.user_id == User.id)
            .where(Membership.circle_id == circle_id, Membership.status.in_(("active", "banned")),
                   User.email.in_(emails)))


def active_count(circle, role: str | None = None, besides: int | None = None):
    """A scalar subquery: how many active members the circle (a column or an id)
    has, of one role if given, leaving out one person if given."""
    others = aliased(Membership)
    query = select(func.count(others.id)).where(others.circle_id == circle, is_active_row(others))
    if role is not None:
        query = query.where(others.role == role)
    if besides is not None:
        query = query.where(others.user_id != besides)
    return query.scalar_subquery()


def membership_history(user_id: int):
    """A select of every membership the person has had, with its circle's name
    and slug (for their data export: their own rows, in any state)."""
    return (select(Circle.name.label("circle"), Circle.slug.label("circle_slug"), Membership.role,
                   Membership.status, Membership.joined_at, Membership.pledge_accepted_at)
            .join(Circle, Circle.id == Membership.circle_id)
            .where(Membership.user_id == user_id).order_by(Circle.name))


def owner_count(circle_id: int) -> int:
    """How many active owners the circle has (a circle keeps at least one)."""
    return db.session.scalar(select(func.count(Membership.id)).where(
        Membership.circle_id == circle_id, Membership.role == "owner", is_active_row()))


def banned_members(circle_id: int) -> list[Membership]:
    """The circle's banned people, for its staff."""
    return list(db.session.scalars(select(Membership).where(
        Membership.circle_id == circle_id, Membership.status == "banned")))


def member_list(circle_id: int):
    """A select of the circle's active memberships (with their users), to order and page."""
    return (select(Membership).join(Membership.user)
            .where(Membership.circle_id == circle_id, is_active_row()))


def readable(circles, user: User):
    """Of the user's [(circle, membership)], those whose content they may read now."""
    return [(c, m) for c, m in circles if may_read_circle(c, m, user)]


def members_without_second_factor(circle_id: int) -> int:
    """How many of the circle's active members have no second factor (for its
    owners, before they require one)."""
    return db.session.scalar(
        select(func.count(Membership.id)).join(User, User.id == Membership.user_id)
        .where(Membership.circle_id == circle_id, is_active_row(), User.second_factor_at.is_(None)))


# --- Loaders -----------------------------------------------------------------

# Every page runs these loaders, so their statements are built once, with
# parameters: building a select anew cost more than running it (bench/findings.md, 12).

@cache
def _membership_query():
    # The membership's own circle and user are the row's circle and the caller,
    # already in the session: joining them again (their eager default) is waste.
    return (select(Circle, Membership)
            .outerjoin(Membership, and_(Membership.circle_id == Circle.id,
                                        Membership.user_id == bindparam("user_id")))
            .options(lazyload(Membership.circle), lazyload(Membership.user)))


@cache
def _circle_by_slug():
    return _membership_query().where(Circle.slug == bindparam("slug"))


@cache
def _circle_by_id():
    return _membership_query().where(Circle.id == bindparam("circle_id"))


def access_circle(user: User, slug: str, for_update: bool = False) -> tuple[Circle, Membership]:
    """The circle with this slug and the user's active membership of it.

    With for_update, the circle's row stays locked until the transaction ends
    (PostgreSQL), so membership changes in one circle happen one at a time, and
    the membership is read only after the lock is held: a row read while
    waiting would predate the change that held the lock.

    :raise NotFound: no such circle, or the user is not an active member
        (signed out, never joined, left, removed or banned) — the same error.
    """
    if user is None or not user.is_authenticated or not could_be_slug(slug):
        raise NotFound()
    if for_update:
        circle_id = db.session.scalar(
            select(Circle.id).where(Circle.slug == slug).with_for_update())
        row = db.session.execute(_circle_by_id().execution_options(populate_existing=True),
                                 {"user_id": user.id, "circle_id": circle_id}).first()
    else:
        row = db.session.execute(_circle_by_slug(), {"user_id": user.id, "slug": slug}).first()
    return _active_or_404(row)


def access_circle_rows(user: User, slug: str, read=None) -> tuple["CircleRow", "MembershipRow"]:
    """As access_circle, for pages that only show: the circle and membership as
    plain rows with the same attributes (a membership's is_active too), read
    in one statement. Making them ORM objects was a seventh of a thread page.
    `read`: those columns as `with_circle_rows` read them beside the user's
    own, in this transaction, if they were.

    :raise NotFound: as access_circle.
    """
    if user is None or not user.is_authenticated or not could_be_slug(slug):
        raise NotFound()
    row = read if read is not None else _circle_rows_by_slug.first({"user_id": user.id, "slug": slug})
    if row is None or row[0] is None:  # no such circle (read beside the user: every column NULL)
        raise NotFound()
    circle, membership = _split(row)
    return _active_or_404((circle, membership if membership.id is not None else None))


def with_circle_rows(user_row):
    """`user_row`, a select of one user's row, with the circle a `slug`
    parameter names and the user's membership of it after its columns, as
    access_circle_rows reads them (all NULL: no such circle): a page in a
    circle reads them with its viewer, one round trip fewer (bench/findings.md, 39)."""
    users, circles, membership = User.__table__, Circle.__table__, Membership.__table__
    joined = (users.outerjoin(circles, circles.c.slug == bindparam("slug"))
              .outerjoin(membership, and_(membership.c.circle_id == circles.c.id,
                                          membership.c.user_id == users.c.id)))
    return user_row.add_columns(*_circle_and_membership().selected_columns).select_from(joined)


def circle_rows_of(user_id: int) -> list[tuple["CircleRow", "MembershipRow", int]]:
    """The user's active circles by name, with their memberships, as plain rows
    (as access_circle_rows gives them), and how many active members each has,
    in one prepared read: for the dashboard, which only shows them (making
    them ORM objects was a fifth of it; the counts apart, on PostgreSQL a round
    trip: bench/findings.md, 39)."""
    return [(*_split(row[:-1]), row[-1]) for row in _circle_rows_of.values({"user_id": user_id})]


CircleRow = namedtuple("CircleRow", Circle.__table__.columns.keys())


class MembershipRow(namedtuple("MembershipRow", Membership.__table__.columns.keys())):
    __slots__ = ()
    is_active = Membership.is_active  # the model's own rules
    role_label = Membership.role_label


def _circle_and_membership():
    """A select of every column of a circle, then of a membership (_split parts them)."""
    return select(Circle.__table__, *(column.label(f"membership_{column.key}")
                                      for column in Membership.__table__.c))


def _split(row) -> tuple[CircleRow, MembershipRow]:
    split = len(CircleRow._fields)
    return CircleRow(*row[:split]), MembershipRow(*row[split:])


@prepared
def _circle_rows_by_slug():
    membership = Membership.__table__
    return (_circle_and_membership()
            .outerjoin(membership, and_(membership.c.circle_id == Circle.id,
                                        membership.c.user_id == bindparam("user_id")))
            .where(Circle.slug == bindparam("slug")))


@prepared
def _circle_rows_of():
    return (_circle_and_membership().add_columns(active_count(Circle.id))
            .join(Membership, active_membership(bindparam("user_id"), Circle.id))
            .order_by(Circle.name))


def could_be_slug(slug) -> bool:
    # A NUL can't be in a slug, and PostgreSQL can't even be asked about one.
    return bool(slug) and len(slug) <= 80 and "\x00" not in slug


def _active_or_404(row) -> tuple[Circle, Membership]:
    """(circle, membership), if the membership is active; (circle, None) and None
    (no such circle, never a member) fail alike."""
    if row is None or row[1] is None or row[1].status != "active":
        raise NotFound()
    return row[0], row[1]


def _row_in_circle(model, circle: Circle, row_id: int, for_update: bool = False):
    """The row of `model` with this id in this circle (locked, if asked).

    :raise NotFound: no such row, or it belongs to another circle.
    """
    row = db.session.scalar(_in_circle(model, for_update), {"row_id": row_id, "circle_id": circle.id})
    if row is None:
        raise NotFound()
    return row


@cache
def _in_circle(model, for_update: bool):
    # Built once per model: every meeting, file and poll route loads its row so.
    query = select(model).where(model.id == bindparam("row_id"), model.circle_id == bindparam("circle_id"))
    if for_update:
        query = query.with_for_update(of=model).execution_options(populate_existing=True)
    return query


def access_listed_circle(slug: str) -> Circle:
    """A circle that anyone signed in may see listed (join policy `request`).

    :raise NotFound: no such circle, or it is invite-only.
    """
    if not could_be_slug(slug):
        raise NotFound()
    circle = db.session.scalar(select(Circle).where(Circle.slug == slug))
    if circle is None or circle.join_policy != "request":
        raise NotFound()
    return circle


def membership_of(circle_id: int, user_id: int, for_update: bool = False) -> Membership | None:
    """The person's membership row of the circle, whatever its status, or None
    (for actions that admit, or tell someone why they can't join).

    With for_update the row stays locked until the transaction ends."""
    query = select(Membership).where(Membership.circle_id == circle_id, Membership.user_id == user_id)
    if for_update:
        query = query.with_for_update(of=Membership)
    return db.session.scalar(query)


def former_membership(user: User, slug: str) -> tuple[Circle, Membership] | None:
    """The circle and the user's membership of it if they were a member and no
    longer are (left, removed or banned), else None: for telling someone whose
    membership ended mid-sentence why their words didn't go. Never for anyone
    who was not a member, to whom the circle stays a 404."""
    if user is None or not user.is_authenticated or not could_be_slug(slug):
        return None
    row = db.session.execute(_circle_by_slug(), {"user_id": user.id, "slug": slug}).first()
    if row is None or row[1] is None or row[1].status == "active":
        return None
    return row[0], row[1]


def ended_by_staff(membership: Membership) -> bool:
    """The membership was ended by a moderator (removed or banned), not by leaving."""
    return membership.status in ("removed", "banned")


def is_active_member(circle_id: int, user_id: int) -> bool:
    """Whether the person is an active member of the circle now (one statement)."""
    return db.session.scalar(select(Membership.id).where(
        active_membership(user_id, circle_id))) is not None


def access_member(circle: Circle, user_id: int) -> Membership:
    """Another person's membership row in a circle the actor is already in.

    :raise NotFound: they have never been a member of it.
    """
    membership = membership_of(circle.id, user_id)
    if membership is None:
        raise NotFound()
    return membership


def access_profile(viewer: User, user_id: int) -> tuple[User, dict[str, bool]]:
    """A person's profile and which of its fields the viewer may see
    ({field: bool} for each of PROFILE_FIELDS), in one statement.

    Open to oneself, to people who share a circle with them (an active member
    of a circle the viewer may read), and, once they are listed in the
    directory, to every alumnus (see "Directory" below).

    :raise NotFound: no such person, or none of those — the same error.
    """
    if viewer is None or not viewer.is_authenticated or not 0 < user_id < 2**31:
        raise NotFound()
    row = _profile_statement.first({"viewer_id": viewer.id, "user_id": user_id})
    if row is None:
        raise NotFound()
    columns = len(loaded_row(User)._fields)
    return (as_loaded(User, loaded_row(User)._make(row[:columns])),
            {field: bool(shown) for field, shown in zip(PROFILE_FIELDS, row[columns:], strict=True)})


@prepared
def _profile_statement():
    # A person's columns (as_loaded makes them the User), then a column per
    # field; the viewer's circle-mates joined once for every field
    # (circle_mates_once). A profile, and each photo a page shows, asks it.
    viewer_id = bindparam("viewer_id")
    mates = circle_mates_once(viewer_id)
    return (mates.joined(every_column_of(User).add_columns(*visible_columns(viewer_id, mate=mates.mate)))
            .where(User.id == bindparam("user_id"), may_see_person(viewer_id, mate=mates.mate)))


# --- Directory -------------------------------------------------------------------
# Who sees which profile field, as SQL clauses: the directory's listing shows a
# field, its search matches on a field, and a profile page shows a field, all
# by field_visible, so a search never finds anyone by what the searcher may not
# see. community/directory/__init__.py describes the audiences.

VISIBILITY_VALUES = tuple(VISIBILITIES)


def is_alumnus(user_id):
    """Clause: the person (a column or a value) is an alumnus of this site: an
    active member of at least one circle."""
    any_circle = aliased(Membership)
    return exists().where(any_circle.user_id == user_id, is_active_row(any_circle))


# Programmes: who was on which programme and cohort is told only to that
# programme's own alumni (active members of any of its cohorts' circles), and
# only of people who listed themselves; other alumni neither see it nor find
# anyone by it.

def programme_alumnus(viewer_id, programme_id):
    """Clause: the viewer (a value or parameter) is an active member of a
    cohort circle of the programme (a column)."""
    mine, cohort = aliased(Membership), aliased(ProgrammeCohort)
    return exists().where(active_membership(viewer_id, mine.circle_id, mine),
                          cohort.circle_id == mine.circle_id, cohort.programme_id == programme_id)


def on_programme(viewer_id, name, year=None, person=User):
    """Clause: the person is an active member of a cohort of the programme
    called `name` (any case; of cohort `year` if given), and the viewer is an
    alumnus of that programme (programme_alumnus)."""
    theirs, cohort = aliased(Membership), aliased(ProgrammeCohort)
    conditions = [active_membership(person.id, theirs.circle_id, theirs),
                  cohort.circle_id == theirs.circle_id, Programme.id == cohort.programme_id,
                  func.lower(Programme.name) == func.lower(name),
                  programme_alumnus(viewer_id, Programme.id)]
    if year is not None:
        conditions.append(cohort.year == year)
    return exists().where(*conditions)


def shared_cohorts(viewer_id: int, person_ids):
    """A select of (person id, programme name, cohort year) for these people's
    cohorts of the programmes the viewer is an alumnus of."""
    theirs = aliased(Membership)
    return (select(theirs.user_id, Programme.name, ProgrammeCohort.year)
            .join(ProgrammeCohort, ProgrammeCohort.circle_id == theirs.circle_id)
            .join(Programme, Programme.id == ProgrammeCohort.programme_id)
            .where(theirs.user_id.in_(person_ids), is_active_row(theirs),
                   programme_alumnus(viewer_id, Programme.id))
            .order_by(theirs.user_id, Programme.name, ProgrammeCohort.year))


def viewer_programmes(viewer_id: int):
    """A select of the programmes (id, name) the viewer is an alumnus of."""
    return (select(Programme.id, Programme.name).where(programme_alumnus(viewer_id, Programme.id))
            .order_by(Programme.name))


def circle_mate_ids(viewer_id):
    """A subquery: the ids of the people who share a circle with the viewer
    (active members of a circle whose content the viewer may read), the viewer too."""
    theirs = aliased(Membership)
    return (select(theirs.user_id).where(theirs.circle_id.in_(readable_circle_ids(viewer_id)),
                                         is_active_row(theirs)).correlate(None))


class CircleMates(NamedTuple):
    """The viewer's circle-mates' ids (circle_mate_ids), each once, as a CTE
    that a statement asking field_visible of many fields reads once: it
    `joined`s them to the people it lists and gives `mate=` to each field.
    Asked per field, the directory's page read them a dozen times."""

    cte: Any

    def joined(self, query, person=User):
        return query.outerjoin(self.cte, self.cte.c.user_id == person.id)

    @property
    def mate(self):
        """Clause: the person joined is one of them."""
        return self.cte.c.user_id.is_not(None)


def circle_mates_once(viewer_id) -> CircleMates:
    return CircleMates(circle_mate_ids(viewer_id).distinct().cte("circle_mates"))


def field_visible(field: str, viewer_id, person=User, mate=None):
    """Clause: the viewer may see this profile field of `person` (the User
    entity or an alias): always their own; "circles" to circle-mates; "alumni"
    to every alumnus (circle-mates are alumni); "nobody" to no one else.

    :param mate: a clause, the person is the viewer's circle-mate, where the
        statement has them joined (CircleMates.mate); else it asks here.
    """
    if field not in PROFILE_FIELDS:
        raise ValueError(f"not a profile field: {field}")
    audience = getattr(person, f"{field}_visibility")
    mate = person.id.in_(circle_mate_ids(viewer_id)) if mate is None else mate
    return or_(person.id == viewer_id,
               and_(audience == "alumni", is_alumnus(viewer_id)),
               and_(audience.in_(("circles", "alumni")), mate))


def visible_columns(viewer_id, person=User, mate=None) -> list:
    """A boolean column per profile field (PROFILE_FIELDS' order): may the viewer see it."""
    return [field_visible(field, viewer_id, person, mate).label(f"show_{field}") for field in PROFILE_FIELDS]


def listed(person=User):
    """Clause: the person is in the directory: opted in, not suspended, an alumnus."""
    return and_(person.listed_in_directory.is_(True), person.suspended_at.is_(None),
                is_alumnus(person.id))


def may_see_person(viewer_id, person=User, mate=None):
    """Clause: the viewer may see that the person exists (their name, and each
    field field_visible allows): oneself, a circle-mate, or a listed person
    when the viewer is an alumnus. `mate` as field_visible's."""
    mate = person.id.in_(circle_mate_ids(viewer_id)) if mate is None else mate
    return or_(person.id == viewer_id, mate, and_(listed(person), is_alumnus(viewer_id)))


def shown_to_circle(person: User, field: str, viewer_id: int) -> bool:
    """Whether a field of someone shown on a circle's pages (its members,
    attendees, requests to join, the people to message) is shown to the viewer
    there: what a circle-mate may see (field_visible's "circles" and "alumni"),
    i.e. all but a field its owner shows to nobody, which only they see."""
    if field not in PROFILE_FIELDS:
        raise ValueError(f"not a profile field: {field}")
    return person.id == viewer_id or getattr(person, f"{field}_visibility") != "nobody"


INTRODUCTIONS_PER_DAY = 5


def introduction_refusal(viewer: User, person: User, shown: dict[str, bool], facts: dict | None,
                         asked: bool, asked_today: int) -> str | None:
    """Why the viewer can't ask for an introduction to this person, or None.

    Asked from the person's profile (access_profile gave `shown`), of someone
    the viewer shares no circle with (they would just message them), who lets
    the viewer see they are open to being contacted, and says so; once per
    person (a declined request reads as still sent); INTRODUCTIONS_PER_DAY a day.

    :param facts: message_facts(viewer, [person])[person.id].
    :param asked: the viewer asked this person before (whatever came of it).
    :param asked_today: requests the viewer sent in the last 24 hours.
    """
    if person.id == viewer.id or facts is None:
        return "You can't ask for an introduction to yourself."
    if facts["mate"]:
        return "You can already message each other."
    if not (shown["contact"] and person.open_to_contact):
        return f"{person.display_name} isn't open to introductions."
    if facts["blocked"]:
        return f"You've blocked {person.display_name}: unblock them first."
    if facts["blocked_me"]:
        return "You can't ask for an introduction to this person."
    if asked:
        return f"You have asked for an introduction to {person.display_name} already."
    if asked_today >= INTRODUCTIONS_PER_DAY:
        return (f"You can ask for {INTRODUCTIONS_PER_DAY} introductions a day: "
                "please try again tomorrow.")
    return None


def in_directory(viewer_id, person=User):
    """Clause: the person is one of those /people lists to the viewer: listed,
    and the viewer an alumnus (who then finds themself too, if listed)."""
    return and_(listed(person), is_alumnus(viewer_id))


# --- Predicates ----------------------------------------------------------------

def is_staff(membership: Membership | None) -> bool:
    """Owners and moderators."""
    return bool(membership and membership.status == "active"
                and membership.role in ("owner", "moderator"))


def is_owner(membership: Membership | None) -> bool:
    return bool(membership and membership.status == "active" and membership.role == "owner")


def may_read_circle(circle: Circle, membership: Membership | None, user: User) -> bool:
    """An active member (user, whose membership it is) with nothing to do first
    (read_gate): the pledge accepted, a second factor where the circle requires one."""
    return bool(membership and membership.is_active) and read_gate(circle, membership, user) is None


def read_gate(circle: Circle, membership: Membership, user: User) -> str | None:
    """What an active member must do before seeing anything of the circle but
    its name: "second_factor" (set one up: who is reading comes before what
    they promise), "pledge" (accept it), or None.

    :param user: the member (the membership's own user; passed in, as the
        caller holds it, so that asking costs no query).
    """
    if needs_second_factor(circle, user):
        return "second_factor"
    if needs_pledge(circle, membership):
        return "pledge"
    return None


def needs_second_factor(circle: Circle, user: User) -> bool:
    """True when the circle requires two-factor sign-in and the person has no second factor."""
    return bool(circle.require_two_factor) and user.second_factor_at is None


def is_banned(membership: Membership | None) -> bool:
    return membership is not None and membership.status == "banned"


def needs_pledge(circle: Circle, membership: Membership) -> bool:
    """True when the member must accept the circle's pledge before seeing content."""
    if not circle.pledge_required:
        return False
    accepted = membership.pledge_accepted_at
    return accepted is None or accepted < circle.pledge_updated_at


def can_edit_circle(membership: Membership) -> bool:
    return is_owner(membership)


def can_invite(membership: Membership) -> bool:
    return is_staff(membership)


def can_decide_requests(membership: Membership) -> bool:
    return is_staff(membership)


def can_moderate_content(membership: Membership) -> bool:
    """Delete others' posts and messages, pin and lock threads, decide reports."""
    return is_staff(membership)


# --- Threads ----------------------------------------------------------------------

def access_thread(user: User, slug: str, thread_id: int, for_update: bool = False):
    """(circle, membership, thread) for a thread in a circle the user is in.

    :raise NotFound: no such circle or thread, the thread is in another circle,
        or the user is not an active member — one error for all.
    """
    from .threads.models import Thread

    circle, membership = access_circle(user, slug)
    return circle, membership, _row_in_circle(Thread, circle, thread_id, for_update)


def access_post(user: User, slug: str, post_id: int):
    """(circle, membership, post) for a post in a circle the user is in.

    :raise NotFound: as access_thread.
    """
    from .threads.models import Post

    circle, membership = access_circle(user, slug)
    return circle, membership, _row_in_circle(Post, circle, post_id)


def access_attachment(user: User, slug: str, public_id: str):
    """(circle, attachment) for a file in a circle whose content the user may read.

    :raise NotFound: no such circle or file, the file is another circle's, or the
        user is not an active member who may read it (the pledge accepted, a
        second factor where the circle requires one) — one error for all.
    """
    circle, _, attachment = access_file(user, slug, public_id)
    return circle, attachment


def access_file(user: User, slug: str, public_id: str, for_update: bool = False):
    """(circle, membership, attachment), as access_attachment, with the viewer's
    membership (for the rules on changing it); the file's row locked, if asked.

    :raise NotFound: as access_attachment.
    """
    from .files.models import Attachment, is_public_id

    circle, membership = access_circle(user, slug)
    if read_gate(circle, membership, user) is not None or not is_public_id(public_id):
        raise NotFound()
    query = select(Attachment).where(Attachment.public_id == public_id,
                                     Attachment.circle_id == circle.id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    attachment = db.session.scalar(query)
    if attachment is None:
        raise NotFound()
    return circle, membership, attachment


def access_conversation_attachment(user: User, conversation_id, public_id):
    """(conversation, attachment) for a file of a direct conversation that the
    user may open: one on a message they may read (readable_message: a current
    member every one, a former member those written before they left), not a
    deleted one; or their own upload not yet sent, while they are still in it
    (the composer shows it).

    :raise NotFound: no such conversation or file, the file is another
        conversation's or a circle's, the user was never in the conversation
        (a site admin, a moderator of a circle its people share), or the
        message is one they may not read — one error for all, as access_attachment.
    """
    from .files.models import Attachment, is_public_id

    conversation, member = access_conversation_rows(user, conversation_id)
    if not is_public_id(public_id):
        raise NotFound()
    may_open = [and_(DirectMessage.id.is_not(None), DirectMessage.deleted_at.is_(None),
                     readable_message(member.joined_at, member.left_at))]
    if member.is_current:
        may_open.append(and_(Attachment.direct_message_id.is_(None),
                             Attachment.uploader_id == user.id))
    attachment = db.session.scalar(
        select(Attachment)
        .outerjoin(DirectMessage, and_(DirectMessage.id == Attachment.direct_message_id,
                                       DirectMessage.conversation_id == conversation.id))
        .where(Attachment.public_id == public_id, Attachment.conversation_id == conversation.id,
               or_(*may_open)))
    if attachment is None:
        raise NotFound()
    return conversation, attachment


def can_remove_file(membership: Membership, attachment) -> bool:
    """The sharer removes their own file; owners and moderators anyone's shared one."""
    if not membership.is_active:
        return False
    return attachment.uploader_id == membership.user_id or (
        attachment.attached and can_moderate_content(membership))


def can_reply(membership: Membership, thread) -> bool:
    """Members reply to open threads; staff may still add to a locked one."""
    return membership.is_active and (not thread.locked or is_staff(membership))


def post_rights(membership: Membership) -> Callable[[int | None, bool], tuple[bool, bool, bool]]:
    """What the member may do to a post, by its author and whether it was
    removed: (edit, delete, report). The membership is read once, here: a
    thread page asks for each of its twenty posts (bench/findings.md, 47).

    Authors edit and remove their own posts, staff remove anyone's; members
    report others' posts."""
    active, me = membership.is_active, membership.user_id
    moderates = can_moderate_content(membership)

    def rights(author_id: int | None, removed: bool) -> tuple[bool, bool, bool]:
        mine = author_id == me
        live = active and not removed
        return live and mine, live and (mine or moderates), active and not mine
    return rights


def can_edit_post(membership: Membership, post) -> bool:
    return post_rights(membership)(post.author_id, post.removed)[0]


def can_delete_post(membership: Membership, post) -> bool:
    return post_rights(membership)(post.author_id, post.removed)[1]


def can_report(membership: Membership, author_id: int | None) -> bool:
    return post_rights(membership)(author_id, False)[2]


def can_read_audit(circle: Circle, membership: Membership) -> bool:
    return is_staff(membership) or (membership.is_active and circle.audit_visible_to_members)


def can_moderate_member(actor: Membership, target: Membership) -> bool:
    """Remove or ban: staff acting on someone of lower rank, never themselves."""
    return (is_staff(actor) and actor.user_id != target.user_id
            and RANK[actor.role] > RANK[target.role])


def can_end_membership(actor: Membership, target: Membership, status: str) -> bool:
    """Remove an active member, or ban anyone not banned yet: staff above them."""
    return can_moderate_member(actor, target) and (
        target.is_active or (status == "banned" and not is_banned(target)))


def can_unban(actor: Membership, target: Membership) -> bool:
    return is_staff(actor) and target.status == "banned"


def can_change_role(actor: Membership, target: Membership, new_role: str) -> bool:
    """Owners promote and demote; the last-owner rule is checked by the action."""
    return (is_owner(actor) and target.status == "active" and new_role in RANK
            and new_role != target.role)


def can_transfer_ownership(actor: Membership, target: Membership) -> bool:
    return is_owner(actor) and target.status == "active" and target.user_id != actor.user_id


def can_leave(membership: Membership, owner_count: int) -> bool:
    """Anyone may leave, except the last owner (they must hand over first)."""
    return membership.is_active and not (membership.role == "owner" and owner_count <= 1)


def can_request_to_join(circle: Circle, membership: Membership | None,
                        request: JoinRequest | None) -> bool:
    if circle.join_policy != "request":
        return False
    if membership is not None and membership.status in ("active", "banned"):
        return False
    return request is None or request.status != "pending"


def is_site_admin(user: User) -> bool:
    """A site administrator's account, second factor or not (the admin pages
    tell one without a factor to set it up; to anyone else they are a 404)."""
    return bool(user and user.is_authenticated and user.is_site_admin)


def can_administer_site(user: User) -> bool:
    """Use the admin pages and their actions: a site admin with a second factor."""
    return is_site_admin(user) and user.second_factor_at is not None


def access_account(admin: User, user_id: int, not_yourself: str) -> User:
    """Another person's account, for a site admin to act on (suspend, reset a factor).

    :raise Forbidden: not a site admin with a second factor, or their own account
        (`not_yourself` says why not).
    :raise NotFound: no such account.
    """
    require(can_administer_site(admin), "Only site admins with a second factor can do that.")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    require(user.id != admin.id, not_yourself)
    return user


# --- Challenges -------------------------------------------------------------------
# A challenge is a thread (kind "challenge") read by whoever may read its thread.
# Who may post what depends on the phase (challenges/phases.py) and on being its
# presenter. This one table is used by the page (which composer to show), the
# action (what to store) and the composer's wording, so they can't disagree.
#                 presenter         everyone else
#   questions     answer            question   (an idea is held as a private draft)
#   ideas         answer            idea
#   reflection    reflection        -
#   follow_up     update            comment
# A locked challenge takes posts from owners and moderators only, as a locked
# thread does, and still by the phase's rule.

CHALLENGE_POSTS = {
    "questions": (frozenset({"answer"}), frozenset({"question"})),
    "ideas": (frozenset({"answer"}), frozenset({"idea"})),
    "reflection": (frozenset({"reflection"}), frozenset()),
    "follow_up": (frozenset({"update"}), frozenset({"comment"})),
}


def access_challenge(user: User, slug: str, challenge_id: int, for_update: bool = False):
    """(circle, membership, challenge, thread) for a challenge in a circle whose
    content the user may read; with for_update, the thread's row is locked (as
    a reply locks it), so the challenge's writes happen one at a time.

    :raise NotFound: no such circle or challenge, it is another circle's, the
        user is not an active member, or has a gate to pass first (pledge,
        second factor) — one error for all.
    """
    from .challenges.models import Challenge
    from .threads.models import Thread

    circle, membership = access_circle(user, slug)
    if read_gate(circle, membership, user) is not None:
        raise NotFound()
    challenge = _row_in_circle(Challenge, circle, challenge_id)
    thread = _row_in_circle(Thread, circle, challenge.thread_id, for_update)
    if for_update:
        db.session.refresh(challenge)  # read after the lock: a row read while waiting is stale
    return circle, membership, challenge, thread


def is_presenter(membership: Membership | None, presenter_id: int | None) -> bool:
    return bool(membership and membership.is_active and presenter_id is not None
                and membership.user_id == presenter_id)


def challenge_post_kinds(membership: Membership | None, locked: bool, presenter_id: int | None,
                         phase: str) -> frozenset[str]:
    """The kinds of post this member may add to a challenge in this phase (none
    for anyone not an active member)."""
    if not (membership and membership.is_active) or (locked and not is_staff(membership)):
        return frozenset()
    presenter, others = CHALLENGE_POSTS.get(phase, (frozenset(), frozenset()))
    return presenter if is_presenter(membership, presenter_id) else others


def can_post_in_challenge(membership: Membership | None, locked: bool, presenter_id: int | None,
                          phase: str, kind: str) -> bool:
    return kind in challenge_post_kinds(membership, locked, presenter_id, phase)


def can_hold_idea(membership: Membership | None, locked: bool, presenter_id: int | None,
                  phase: str) -> bool:
    """During Questions, someone who may ask may also write an idea down, held
    for them alone until Ideas opens."""
    return phase == "questions" and can_post_in_challenge(membership, locked, presenter_id,
                                                          phase, "question")


def can_move_phase(membership: Membership | None, presenter_id: int | None, phase: str) -> bool:
    """The presenter, and the circle's owners and moderators, move Questions on
    to Ideas and Ideas on to Reflection; never back (challenges/phases.py)."""
    return phase in ("questions", "ideas") and (is_presenter(membership, presenter_id)
                                                or is_staff(membership))


# --- Programmes ----------------------------------------------------------------------
# Programme staff is a site role below admin (users.is_programme_staff, granted by
# site admins); a staff member manages the programmes they are staff of. Managing
# a programme shows its cohorts' names and sizes, never their content: only a
# circle's members read it, programme staff and site admins included.

def is_programme_staff(user: User) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_programme_staff)


def can_grant_programme_staff(user: User) -> bool:
    return can_administer_site(user)


def can_create_programme(user: User) -> bool:
    """Programme staff and site admins (with their second factor) start programmes."""
    return is_programme_staff(user) or can_administer_site(user)


def can_manage_programme(user: User, staffs_it: bool) -> bool:
    """See a programme's cohorts, start a cohort's circle: its staff, or a site admin.

    :param staffs_it: whether the user has a ProgrammeStaff row for it (it counts
        only while they hold the role).
    """
    return can_administer_site(user) or (is_programme_staff(user) and staffs_it)


def staffs_programme(user_id: int, programme_id: int) -> bool:
    return db.session.scalar(select(exists().where(
        ProgrammeStaff.user_id == user_id, ProgrammeStaff.programme_id == programme_id)))


def access_programme(user: User, programme_id: int) -> Programme:
    """A programme the user manages.

    :raise NotFound: no such programme, or the user doesn't manage it (the same answer).
    """
    programme = db.session.get(Programme, programme_id)
    if programme is None or not can_manage_programme(
            user, is_programme_staff(user) and staffs_programme(user.id, programme.id)):
        raise NotFound()
    return programme


def managed_programmes(user: User):
    """A query of the programmes the user manages, by name."""
    query = select(Programme).order_by(Programme.name, Programme.start_year)
    if can_administer_site(user):
        return query
    if not is_programme_staff(user):
        return query.where(false())
    return query.where(Programme.id.in_(
        select(ProgrammeStaff.programme_id).where(ProgrammeStaff.user_id == user.id)))


def can_bulk_invite(membership: Membership) -> bool:
    """Invite a list of people by email: the circle's owners and moderators (programme
    staff who started a cohort's circle are its owner until they hand it over)."""
    return can_invite(membership)


# --- Meetings ----------------------------------------------------------------------

def access_meeting(user: User, slug: str, meeting_id: int, for_update: bool = False):
    """(circle, membership, meeting) for a meeting in a circle the user is in.

    With for_update the meeting's row stays locked until the transaction ends.
    (A meeting's page, which only shows, reads it as a plain row in the circle
    access_circle_rows gives: meetings.views._meeting_on_date.)

    :raise NotFound: no such circle or meeting, the meeting is in another
        circle, or the user is not an active member — one error for all.
    """
    from .meetings.models import Meeting

    circle, membership = access_circle(user, slug)
    return circle, membership, _row_in_circle(Meeting, circle, meeting_id, for_update)


def access_occurrence(user: User, slug: str, occurrence_id: int, for_update: bool = False):
    """(circle, membership, occurrence) for one date of a meeting in the user's circle.

    With for_update the date's row stays locked until the transaction ends: the
    lock every RSVP for that date queues on, so seats are given one at a time.

    :raise NotFound: as access_meeting.
    """
    from .meetings.models import MeetingOccurrence

    circle, membership = access_circle(user, slug)
    return circle, membership, _row_in_circle(MeetingOccurrence, circle, occurrence_id, for_update)


def access_poll(user: User, slug: str, poll_id: int, for_update: bool = False):
    """(circle, membership, poll) for a date poll in a circle the user is in.

    :raise NotFound: as access_meeting.
    """
    from .meetings.models import DatePoll

    circle, membership = access_circle(user, slug)
    return circle, membership, _row_in_circle(DatePoll, circle, poll_id, for_update)


def can_propose_meeting(membership: Membership) -> bool:
    """Any member proposes meetings, date polls and visits."""
    return membership.is_active


def can_manage_meeting(membership: Membership, meeting) -> bool:
    """Edit, reschedule, move, cancel or delete: the organiser, and the circle's staff."""
    return membership.is_active and (meeting.organiser_id == membership.user_id
                                     or is_staff(membership))


def can_rsvp(membership: Membership, occurrence, now=None) -> bool:
    """Members answer for dates that are neither cancelled nor under way."""
    from .timeutil import utcnow

    return (membership.is_active and not occurrence.is_cancelled
            and occurrence.starts_at > (now or utcnow()))


def can_manage_poll(membership: Membership, poll) -> bool:
    """Pick the slot, or close the poll: its organiser, and the circle's staff."""
    return membership.is_active and (poll.organiser_id == membership.user_id
                                     or is_staff(membership))


def can_vote(membership: Membership, poll) -> bool:
    return membership.is_active and poll.status == "open"


def can_withdraw_host_offer(membership: Membership, offer) -> bool:
    return (membership.is_active and offer.withdrawn_at is None and offer.meeting_id is None
            and (offer.user_id == membership.user_id or is_staff(membership)))


# --- Agendas and run sheets ------------------------------------------------------------
# A meeting date's agenda lists challenges, so it is seen by whoever may read
# the circle's content (the read gate passed), as the challenges themselves.
#                          facilitator*   presenter of a challenge   other members
#   see agenda / timer     yes            yes                        yes
#   put a challenge on     any open one   their own                  their own
#   take one off           any            their own                  -
#   order, minutes         yes            -                          -
#   hand over, step        yes            -                          -
# * the meeting's organiser, the member the run sheet was handed to, and the
#   circle's owners and moderators (who can step in if the facilitator drops out).
# Stepping the run sheet into a challenge's Ideas or Reflection moves the
# challenge on (forward only): the facilitator runs it there, as its presenter
# or a moderator could (agenda/__init__.py).

def access_run_sheet(user: User, slug: str, meeting_id: int, occurrence_id: int,
                     for_update: bool = False):
    """(circle, membership, occurrence, run sheet or None) for one date of a
    meeting in a circle whose content the user may read. With for_update the
    date's row is locked, so a date's agenda and run sheet change one write at
    a time (and its run sheet is made once).

    :raise NotFound: no such circle, meeting or date, the date is another
        meeting's, the user is not an active member or has a gate to pass first
        (pledge, second factor) — one error for all.
    """
    from .agenda.models import RunSheet

    circle, membership, occurrence = access_occurrence(user, slug, occurrence_id, for_update)
    if occurrence.meeting_id != meeting_id or read_gate(circle, membership, user) is not None:
        raise NotFound()
    query = select(RunSheet).where(RunSheet.occurrence_id == occurrence.id)
    if for_update:
        query = query.execution_options(populate_existing=True)
    return circle, membership, occurrence, db.session.scalar(query)


def facilitator_id(meeting, sheet) -> int | None:
    """Who facilitates the date: the member it was handed to, else the organiser."""
    return (sheet.facilitator_id if sheet is not None and sheet.facilitator_id else None) \
        or meeting.organiser_id


def can_facilitate(membership: Membership | None, meeting, sheet) -> bool:
    """Step the run sheet, order the agenda and set its minutes, hand it over."""
    if not (membership and membership.is_active):
        return False
    return (is_staff(membership) or membership.user_id == meeting.organiser_id
            or (sheet is not None and membership.user_id == sheet.facilitator_id))


def can_put_on_agenda(membership: Membership | None, meeting, sheet,
                      presenter_id: int | None) -> bool:
    """A facilitator puts any open challenge on; a presenter their own."""
    return can_facilitate(membership, meeting, sheet) or is_presenter(membership, presenter_id)


def can_take_off_agenda(membership: Membership | None, meeting, sheet,
                        presenter_id: int | None) -> bool:
    return can_put_on_agenda(membership, meeting, sheet, presenter_id)


def agenda_closed(occurrence, sheet) -> str | None:
    """Why a date's agenda can't change or its run sheet run now, or None."""
    if occurrence.is_cancelled:
        return "This date is cancelled, so its agenda is closed."
    if sheet is not None and sheet.status == "finished":
        return "This session is over: its run sheet is finished."
    return None


# --- Chat --------------------------------------------------------------------------

def access_chat_message(user: User, message_id: int):
    """(circle, membership, message) for a chat message in a circle the user is in.

    One query whether or not the message exists, so timing tells nothing either.

    :raise NotFound: no such message, or the user is not an active member of its
        circle — one error for both.
    """
    from .chat.models import ChatMessage

    if user is None or not user.is_authenticated:
        raise NotFound()
    row = db.session.execute(
        select(ChatMessage, Membership)
        .outerjoin(Membership, and_(Membership.circle_id == ChatMessage.circle_id,
                                    Membership.user_id == user.id))
        .where(ChatMessage.id == message_id)).first()
    if row is None or row.Membership is None or row.Membership.status != "active":
        raise NotFound()
    return row.Membership.circle, row.Membership, row.ChatMessage


def can_edit_message(membership: Membership, message) -> bool:
    """Authors edit their own messages, while they are members and it isn't deleted."""
    return membership.is_active and message.author_id == membership.user_id and not message.removed


def can_delete_message(membership: Membership, message) -> bool:
    """Authors delete their own messages; owners and moderators delete anyone's."""
    return (membership.is_active and not message.removed
            and (message.author_id == membership.user_id or can_moderate_content(membership)))


def can_report_message(membership: Membership, message) -> bool:
    """Members report others' messages (not their own, not deleted ones)."""
    return membership.is_active and not message.removed and message.author_id != membership.user_id


# --- Direct messages ---------------------------------------------------------------
# A conversation is read by its members, past or present, and by no one else:
# not a site admin, not a moderator of a circle its people share. Writing to it
# needs more: every other current member must still share an active circle
# with the sender (or have accepted an introduction with them: may_message),
# and no block stands between them either way.

CANT_MESSAGE = "You can't message this person."
ONLY_CIRCLE_MATES = "You can only message people who share a circle with you."


def shares_a_circle(user_id, other_id):
    """Clause: both are active members of at least one same circle (each a
    column or a value: hearing_pairs compares two columns)."""
    mine, theirs = aliased(Membership), aliased(Membership)
    return exists().where(active_membership(user_id, mine.circle_id, mine),
                          active_membership(other_id, mine.circle_id, theirs))


def introduced(user_id, other_id):
    """Clause: an introduction between the two was accepted (either asked it),
    which lets them message each other as if they shared a circle (each a
    column or a value)."""
    return exists().where(Introduction.status == "accepted", or_(
        and_(Introduction.requester_id == user_id, Introduction.recipient_id == other_id),
        and_(Introduction.requester_id == other_id, Introduction.recipient_id == user_id)))


def may_message(user_id, other_id):
    """Clause: the two may write to each other, blocks aside: they share an
    active circle, or an accepted introduction stands between them."""
    return or_(shares_a_circle(user_id, other_id), introduced(user_id, other_id))


def blocked_by(blocker_id, blocked_id):
    """Clause: blocker has blocked blocked (both columns or values)."""
    return exists().where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)


def circle_mates(user_id: int):
    """A select of the people (User) who share an active circle with the user,
    oneself left out: the people one may pick for a conversation."""
    return select(User).where(User.id != user_id, shares_a_circle(user_id, User.id))


def message_facts(user_id: int, other_ids) -> dict[int, dict]:
    """{other id: {name, mate, blocked, blocked_me}} for each of these people
    who exists, in one statement: whether they share an active circle with the
    user, whether the user blocked them, whether they blocked the user."""
    ids = [i for i in other_ids if i != user_id]
    if not ids:
        return {}
    rows = _facts_statement.rows({"user_id": user_id, "ids": ids})
    return {row.id: _fact(row) for row in rows}


# Built once with parameters: on every conversation page, send and join,
# building these expressions anew cost more than running them (as the bell's).
@prepared
def _facts_statement():
    return select(*_fact_columns(bindparam("user_id"))).where(
        User.id.in_(bindparam("ids", expanding=True)))


@cache
def _others_statement():
    user_id = bindparam("user_id")
    return (select(ConversationMember, *_fact_columns(user_id))
            .join(User, User.id == ConversationMember.user_id)
            .where(ConversationMember.conversation_id == bindparam("conversation_id"),
                   ConversationMember.user_id != user_id, ConversationMember.left_at.is_(None))
            .order_by(ConversationMember.id).options(lazyload(ConversationMember.user)))


def _fact_columns(user_id) -> tuple:
    return (User.id, User.display_name, may_message(user_id, User.id).label("mate"),
            blocked_by(user_id, User.id).label("blocked"),
            blocked_by(User.id, user_id).label("blocked_me"))


def _fact(row) -> dict:
    return {"name": row.display_name, "mate": bool(row.mate), "blocked": bool(row.blocked),
            "blocked_me": bool(row.blocked_me)}


def others_with_facts(user_id: int, conversation_id: int) -> tuple[list, dict[int, dict]]:
    """The other current members of a conversation (ConversationMember) and
    message_facts about each, in one statement: what send_refusal needs."""
    rows = db.session.execute(_others_statement(),
                              {"user_id": user_id, "conversation_id": conversation_id}).all()
    return [row.ConversationMember for row in rows], {row.id: _fact(row) for row in rows}


def _refusal(facts: dict, group: bool) -> str | None:
    """Why one person can't be written to, by the facts message_facts gives.
    A block by them reads exactly as "can't message": nothing tells it apart."""
    if facts["blocked"]:
        return f"You've blocked {facts['name']}: unblock them first to message them."
    if facts["blocked_me"]:
        return f"You can't message {facts['name']}." if group else CANT_MESSAGE
    return None  # not sharing a circle: the caller has the words that fit


def start_refusal(other_ids: list[int], facts: dict[int, dict]) -> str | None:
    """Why a conversation with these other people can't be started, or None.

    :param other_ids: the people picked, oneself not among them, each once.
    :param facts: message_facts(actor, other_ids).
    """
    if not MIN_PEOPLE - 1 <= len(other_ids) <= MAX_PEOPLE - 1:
        return (f"A conversation has {MIN_PEOPLE} to {MAX_PEOPLE} people, you included: "
                f"pick 1 to {MAX_PEOPLE - 1} people.")
    # Someone who doesn't exist and someone who shares no circle read the same.
    if any(i not in facts or not facts[i]["mate"] for i in other_ids):
        return ONLY_CIRCLE_MATES
    group = len(other_ids) > 1
    for i in other_ids:
        refusal = _refusal(facts[i], group)
        if refusal:
            return refusal
    return None


def send_refusal(member, others, facts: dict[int, dict]) -> str | None:
    """Why the member can't write to the conversation now, or None.

    :param member: the sender's ConversationMember.
    :param others: the other current members (ConversationMember).
    :param facts: message_facts(sender, their ids).
    """
    if member is None or not member.is_current:
        return "You left this conversation, so you can't write to it."
    if not others:
        return "Everyone else has left this conversation."
    group = len(others) > 1
    for other in others:
        fact = facts[other.user_id]
        refusal = _refusal(fact, group)
        if refusal:
            return refusal
        if not fact["mate"]:
            return (f"{fact['name']} no longer shares a circle with you, so messages can't be "
                    "sent here. What was said stays readable.")
    return None


def readable_message(joined_at, left_at, message=DirectMessage):
    """Clause: a message of a conversation its member may read: those written
    from when they joined (someone added to a group reads nothing said before)
    until they left (every one after joining while they are still in it).

    :param joined_at: the member's joined_at: a column or the value itself.
    :param left_at: the member's left_at: a column (ConversationMember.left_at,
        or an alias's) or the value itself (None: still in it), or a parameter
        for it (never None).
    """
    since = message.created_at >= joined_at
    if left_at is None:
        return since
    if isinstance(left_at, datetime | BindParameter):
        return and_(since, message.created_at <= left_at)
    return and_(since, or_(left_at.is_(None), message.created_at <= left_at))


def may_read_message(member, message) -> bool:
    """The same rule as readable_message, for one loaded message and membership."""
    return (member is not None and message.conversation_id == member.conversation_id
            and message.created_at >= member.joined_at
            and (member.left_at is None or message.created_at <= member.left_at))


def report_refusal(member, message, actor_id: int) -> str | None:
    """Why the member can't report this message to the site's administrators, or None.

    Anyone who may read a message (a current or former member, for what they
    could read) may report someone else's: not their own, not a deleted one.
    The caller has already checked that the message is one the member may
    read (access_reportable_message), so nothing here tells a stranger anything.
    """
    if message.author_id is not None and message.author_id == actor_id:
        return "You can't report your own message."
    if message.deleted_at is not None:
        return "This message was deleted, so there is nothing to report."
    return None


def access_reportable_message(user: User, conversation_id, message_id):
    """(conversation, the user's ConversationMember, the DirectMessage) for a
    message the user may read in a conversation they are or were in.

    :raise NotFound: as access_conversation; or no such message, a message of
        another conversation, or one written before they joined or after they left.
    """
    conversation, member = access_conversation(user, conversation_id)
    if not isinstance(message_id, int) or isinstance(message_id, bool) or not 0 < message_id < 2**31:
        raise NotFound()
    message = db.session.get(DirectMessage, message_id)
    if message is None or not may_read_message(member, message):
        raise NotFound()
    return conversation, member, message


# Adding people. A current member who may write to the conversation (send_refusal
# says nothing) may add people, so that it has at most MAX_PEOPLE in all (former
# members count: they still read it and may come back). Each person added must:
# - share an active circle with the one adding them (not with everyone: the
#   members chose to talk with the adder, who vouches for the newcomer), and
# - have no block with any current member, either way: a block means "I don't
#   hear from them", which a shared conversation would break. Whose block it is
#   is never said (only the adder's own block is named, as when starting one).
# Added to a group (3 or more), they read what is said from then on only
# (readable_message). Added to a conversation of two, they are not let into it:
# the two's conversation stays theirs, and a new one (or the existing one of
# exactly those people) holds the three or more.

def add_refusal(member, adder_id: int, current_ids: list[int], former_ids: list[int],
                added: list[int], facts: dict[int, dict], blocked: set[int]) -> str | None:
    """Why these people can't be added to the conversation, or None.

    :param member: the adder's ConversationMember (current: the caller checked
        send_refusal).
    :param current_ids: the current members' ids, the adder included.
    :param former_ids: those who left.
    :param added: the ids picked, each once, the adder not among them.
    :param facts: message_facts(adder, added).
    :param blocked: those of `added` with a block either way with another
        current member (blocks_with).
    """
    if member is None or not member.is_current:
        return "You left this conversation, so you can't add people to it."
    if not added:
        return "Pick at least one person to add."
    if any(i in current_ids for i in added):
        return "Everyone picked is already in this conversation."
    total = len(set(current_ids) | set(former_ids) | set(added))
    if total > MAX_PEOPLE:
        return (f"A conversation can have at most {MAX_PEOPLE} people (those who left "
                f"included): this one has {len(set(current_ids) | set(former_ids))}.")
    if any(i not in facts or not facts[i]["mate"] for i in added):
        return "You can only add people who share a circle with you."
    for i in added:
        refusal = _refusal(facts[i], True)
        if refusal:
            return refusal
        if i in blocked:
            return f"{facts[i]['name']} can't be added to this conversation."
    return None


def blocks_with(user_ids: list[int], member_ids: list[int]) -> set[int]:
    """Those of user_ids with a block either way with any of member_ids, in one statement."""
    if not user_ids or not member_ids:
        return set()
    rows = db.session.execute(select(Block.blocker_id, Block.blocked_id).where(or_(
        and_(Block.blocker_id.in_(user_ids), Block.blocked_id.in_(member_ids)),
        and_(Block.blocked_id.in_(user_ids), Block.blocker_id.in_(member_ids)))))
    wanted = set(user_ids)
    return {i for row in rows for i in row if i in wanted}


def access_conversation(user: User, conversation_id, for_update: bool = False):
    """(conversation, the user's ConversationMember) for a conversation the user
    is or was in. With for_update the conversation's row stays locked until
    the transaction ends (sending numbers messages one at a time).

    :raise NotFound: no such conversation, or the user was never in it — the
        same error, whoever asks (a site admin, a moderator of a shared circle).
    """
    _conversation_asked(user, conversation_id)
    row = db.session.execute(_conversation_statement(for_update),
                             {"conversation_id": conversation_id, "user_id": user.id}).first()
    if row is None or row.ConversationMember is None:
        raise NotFound()
    return row.Conversation, row.ConversationMember


ConversationRow = namedtuple("ConversationRow", Conversation.__table__.columns.keys())


class ConversationMemberRow(namedtuple("ConversationMemberRow", ConversationMember.__table__.columns.keys())):
    __slots__ = ()
    is_current = ConversationMember.is_current  # the model's own rule


def access_conversation_rows(user: User, conversation_id) -> tuple[ConversationRow, ConversationMemberRow]:
    """access_conversation's answer as plain rows, for a page that only shows
    them: one prepared read, no ORM objects (bench/findings.md, 45).

    :raise NotFound: as access_conversation.
    """
    _conversation_asked(user, conversation_id)
    row = _conversation_rows.first({"conversation_id": conversation_id, "user_id": user.id})
    split = len(ConversationRow._fields)
    if row is None or row[split] is None:
        raise NotFound()
    return ConversationRow(*row[:split]), ConversationMemberRow(*row[split:])


def _conversation_asked(user: User, conversation_id) -> None:
    """:raise NotFound: no one signed in, or not a conversation's id at all."""
    if (user is None or not user.is_authenticated or not isinstance(conversation_id, int)
            or isinstance(conversation_id, bool) or not 0 < conversation_id < 2**31):
        raise NotFound()


@prepared
def _conversation_rows():
    member = ConversationMember.__table__
    return (select(Conversation.__table__, *(column.label(f"member_{column.key}") for column in member.c))
            .outerjoin(member, and_(member.c.conversation_id == Conversation.id,
                                    member.c.user_id == bindparam("user_id")))
            .where(Conversation.id == bindparam("conversation_id")))


@cache
def _conversation_statement(for_update: bool):
    # Built once: every conversation page, message sent and join asks it.
    query = (select(Conversation, ConversationMember)
             .outerjoin(ConversationMember, and_(ConversationMember.conversation_id == Conversation.id,
                                                 ConversationMember.user_id == bindparam("user_id")))
             .where(Conversation.id == bindparam("conversation_id"))
             .options(lazyload(ConversationMember.user)))
    if for_update:
        query = query.with_for_update(of=Conversation).execution_options(populate_existing=True)
    return query


def can_leave_conversation(member, people: int) -> bool:
    """A current member leaves a group conversation (of 3 or more); two people
    who no longer want to talk mute or block instead."""
    return member.is_current and people > MIN_PEOPLE


def access_blockable(user: User, other_id) -> User:
    """Someone the user may block: a circle-mate, or someone they share a conversation with.

    :raise NotFound: no such person, oneself, or a stranger — the same error.
    """
    if not isinstance(other_id, int) or other_id == user.id or not 0 < other_id < 2**31:
        raise NotFound()
    mine, theirs = aliased(ConversationMember), aliased(ConversationMember)
    together = exists().where(mine.user_id == user.id, theirs.user_id == User.id,
                              theirs.conversation_id == mine.conversation_id)
    other = db.session.scalar(select(User).where(
        User.id == other_id, or_(shares_a_circle(user.id, User.id), together)))
    if other is None:
        raise NotFound()
    return other


# Live: a socket hears a conversation (its messages, edits, typing) while its
# person is in it, no one in it has blocked them, and they still share a circle
# with someone in it. A block or a departure from the last shared circle stops
# their sockets hearing it at once, on every process (chat/live.py re-checks).
def hearing_pairs(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Of these (conversation id, user id) pairs, those whose user hears the
    conversation live, in one statement however many pairs."""
    if not pairs:
        return set()
    me, other = aliased(ConversationMember), aliased(ConversationMember)
    blocked_me = func.max(case((blocked_by(other.user_id, me.user_id), 1), else_=0))
    mates = func.max(case((may_message(me.user_id, other.user_id), 1), else_=0))
    rows = db.session.execute(
        select(me.conversation_id, me.user_id, func.count(other.id).label("others"),
               blocked_me.label("blocked_me"), mates.label("mates"))
        .outerjoin(other, and_(other.conversation_id == me.conversation_id,
                               other.user_id != me.user_id, other.left_at.is_(None)))
        .where(me.conversation_id.in_({c for c, _ in pairs}), me.user_id.in_({u for _, u in pairs}),
               me.left_at.is_(None))
        .group_by(me.conversation_id, me.user_id))
    hearing = {(row.conversation_id, row.user_id) for row in rows
               if row.others == 0 or (not row.blocked_me and row.mates)}
    return hearing & pairs


def access_direct_message(user: User, conversation_id, message_id):
    """(conversation, the user's ConversationMember, message) for a message the
    user may read in a conversation they are or were in.

    :raise NotFound: as access_conversation; no such message in it, or one
        written after they left — the same error.
    """
    conversation, me = access_conversation(user, conversation_id)
    if not isinstance(message_id, int) or isinstance(message_id, bool) or not 0 < message_id < 2**63:
        raise NotFound()
    message = db.session.scalar(select(DirectMessage).where(
        DirectMessage.id == message_id, DirectMessage.conversation_id == conversation.id,
        readable_message(me.joined_at, me.left_at)))
    if message is None:
        raise NotFound()
    return conversation, me, message


def can_edit_direct_message(member, message, refusal: str | None) -> bool:
    """Authors edit their own messages while they may still write to the
    conversation (a blocked person can't go on changing what the blocker reads)."""
    return (member.is_current and refusal is None and message.author_id == member.user_id
            and message.deleted_at is None)


def can_delete_direct_message(member, message) -> bool:
    """Authors take back their own messages, even after leaving or being blocked.
    No one else deletes in a conversation: it has no moderators."""
    return message.author_id == member.user_id and message.deleted_at is None
