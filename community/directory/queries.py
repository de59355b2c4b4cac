"""The directory's reads: a page of people found, and one person's profile,
each field present only where policy.field_visible lets the viewer see it.

A page of the directory is three statements whatever the number of alumni: the
people (one more than a page, to know whether another follows), the tags of
those whose tags the viewer may see, and the cohorts they were on of the
programmes the viewer was on too.
"""
import re
from functools import cache
from typing import NamedTuple

from sqlalchemy import and_, bindparam, exists, or_, select

from ..accounts.models import PROFILE_FIELDS, SECTORS, User
from ..errors import ActionError
from ..extensions import db
from ..fast.prepared import Prepared, inline, prepared
from ..policy import (
    circle_mates_once,
    field_visible,
    in_directory,
    is_alumnus,
    on_programme,
    shared_cohorts,
    viewer_programmes,
    visible_columns,
)
from ..text import clean_text
from .models import MAX_TAG_LENGTH, ProfileTag

PER_PAGE = 20
MAX_QUERY = 100   # characters of a search
MAX_WORDS = 6     # words of a search, each of which must match
MAX_PAGE = 500


class Card(NamedTuple):
    """A person as the viewer may see them: a field the viewer may not see is
    None (the template has nothing to leak), tags () and photo False. Plain
    values: a page of cards is part of the directory page's key."""

    id: int
    name: str
    handle: str
    organisation: str | None = None
    job_title: str | None = None
    sector: str | None = None
    location: str | None = None
    bio: str | None = None
    tags: tuple[str, ...] = ()
    photo: bool = False
    open_to_contact: bool | None = None
    # "Programme 2025" for each cohort they are in of a programme the viewer was on
    programmes: tuple[str, ...] = ()

    @property
    def sector_label(self) -> str | None:
        return SECTORS.get(self.sector, self.sector) if self.sector else None


class Listed(NamedTuple):
    """A person as a page of the directory reads them: what card() takes of a User."""

    id: int
    display_name: str
    handle: str
    organisation: str | None
    job_title: str | None
    sector: str | None
    location: str | None
    bio: str | None
    photo_thumbnail_key: str | None
    open_to_contact: bool


def card(person: User | Listed, shown: dict[str, bool], tags: list[str] | None = None,
         programmes=()) -> Card:
    """The Card of `person` for a viewer allowed `shown` ({field: bool}), with
    the cohorts they share with the viewer (cohorts_of)."""
    return Card(
        id=person.id, name=person.display_name, handle=person.handle,
        organisation=person.organisation if shown["organisation"] else None,
        job_title=person.job_title if shown["job_title"] else None,
        sector=person.sector if shown["sector"] else None,
        location=person.location if shown["location"] else None,
        bio=person.bio if shown["bio"] else None,
        tags=tuple(tags or ()) if shown["tags"] else (),
        photo=bool(shown["photo"] and person.photo_thumbnail_key),
        open_to_contact=person.open_to_contact if shown["contact"] else None,
        programmes=tuple(programmes))


def profile_tags(user_ids) -> dict[int, list[str]]:
    """{user id: [tags in their order]} for these people (one statement)."""
    found: dict[int, list[str]] = {}
    ids = list(user_ids)
    if ids:
        for user_id, name in _tags.values({"user_ids": ids}):
            found.setdefault(user_id, []).append(name)
    return found


@prepared
def _tags():
    return (select(ProfileTag.user_id, ProfileTag.name)
            .where(ProfileTag.user_id.in_(bindparam("user_ids", expanding=True)))
            .order_by(ProfileTag.user_id, ProfileTag.position, ProfileTag.id))


class Search(NamedTuple):
    """What the directory was asked: free text over name, organisation, job
    title, place and tags; a sector; a tag; a place; a programme and cohort."""

    q: str = ""
    sector: str = ""
    tag: str = ""
    place: str = ""
    programme: str = ""   # a programme's name, any case (policy.on_programme)
    cohort: int | None = None  # a cohort's year
    page: int = 1

    @property
    def any(self) -> bool:
        return any((self.q, self.sector, self.tag, self.place, self.programme,
                    self.cohort is not None))


def parse_search(args) -> Search:
    """A Search from the query string.

    :raise ActionError: too long, or a sector not on the list.
    """
    def text(name: str, label: str, max_len: int = MAX_QUERY) -> str:
        value = args.get(name, "")
        return clean_text(value, field=name, label=label, max_len=max_len)

    sector = args.get("sector", "") or ""
    if sector and sector not in SECTORS:
        raise ActionError("Choose a sector from the list.", field="sector")
    cohort = text("cohort", "A cohort", 20)
    if cohort and not (cohort.isascii() and cohort.isdigit() and len(cohort) == 4):
        raise ActionError("A cohort is a year, such as 2025.", field="cohort")
    page = args.get("page", "1")
    fine = page.isascii() and page.isdigit() and len(page) < 6
    return Search(q=text("q", "A search"), tag=text("tag", "A tag", MAX_TAG_LENGTH),
                  place=text("place", "A place"), programme=text("programme", "A programme"),
                  sector=sector, cohort=int(cohort) if cohort else None,
                  page=min(max(int(page), 1), MAX_PAGE) if fine else 1)


def like_pattern(text: str) -> str:
    """`%text%` for LIKE ... ESCAPE '\\', the text's own %, _ and \\ taken literally."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def _like(column, pattern):
    """Clause: the column is LIKE the pattern (like_pattern of lower-cased text), in any case."""
    return column.ilike(pattern, escape="\\")


def _has_tag(viewer_id, pattern=None, key=None, mate=None):
    """Clause: the person has a tag matching (a LIKE pattern on its key, or the
    key itself), and the viewer may see their tags."""
    match = ProfileTag.key.like(pattern, escape="\\") if pattern is not None else ProfileTag.key == key
    return and_(exists().where(ProfileTag.user_id == User.id, match),
                field_visible("tags", viewer_id, mate=mate))


def word_matches(viewer_id, pattern, tag_pattern, mate=None):
    """Clause: one word of a search is in the person's name, or in a field the
    viewer may see (organisation, job title, place, tags). A field hidden from
    the viewer can't make them match: that would tell what it holds.

    :param pattern: like_pattern(word.lower()); tag_pattern: like_pattern(word.casefold()).
    :param mate: as policy.field_visible's.
    """
    # The text first: the database asks who may see a field only of a row it matches.
    return or_(_like(User.display_name, pattern),
               and_(_like(User.organisation, pattern), field_visible("organisation", viewer_id, mate=mate)),
               and_(_like(User.job_title, pattern), field_visible("job_title", viewer_id, mate=mate)),
               and_(_like(User.location, pattern), field_visible("location", viewer_id, mate=mate)),
               _has_tag(viewer_id, pattern=tag_pattern, mate=mate))


@cache
def _statement(words: int, sector: bool, place: bool, tag: bool, programme: bool, cohort: bool):
    """The directory's one statement for a search of this shape, built once:
    building it (a dozen aliased subqueries) cost more than running it. Every
    value is a parameter (viewer_id, pattern_<n>, tag_pattern_<n>, sector,
    place, tag, programme, cohort, limit, offset)."""
    vid = bindparam("viewer_id")
    mates = circle_mates_once(vid)
    mate = mates.mate
    ids = mates.joined(select(User.id)).where(in_directory(vid))
    for n in range(words):
        ids = ids.where(word_matches(vid, bindparam(f"pattern_{n}"), bindparam(f"tag_pattern_{n}"), mate))
    if sector:
        ids = ids.where(field_visible("sector", vid, mate=mate), User.sector == bindparam("sector"))
    if place:
        ids = ids.where(_like(User.location, bindparam("place")), field_visible("location", vid, mate=mate))
    if tag:
        ids = ids.where(_has_tag(vid, key=bindparam("tag"), mate=mate))
    if programme:
        ids = ids.where(on_programme(vid, bindparam("programme"),
                                     bindparam("cohort") if cohort else None))
    # The page's ids first (walking the name index, stopping at the page's end),
    # then what the viewer may see of those few only.
    page = (ids.order_by(User.display_name, User.id).limit(inline("limit"))
            .offset(inline("offset")).subquery())
    statement = (mates.joined(select(*(getattr(User, name) for name in Listed._fields),
                                     *visible_columns(vid, mate=mate)).join(page, page.c.id == User.id))
                 .order_by(User.display_name, User.id))
    return Prepared(lambda: statement)


def find(viewer: User, search: Search) -> tuple[list[Card], bool]:
    """The page of people the directory shows the viewer for this search,
    sorted by name, and whether another page follows (one statement, then
    one for the tags of those whose tags the viewer may see)."""
    words = search.q.split()[:MAX_WORDS]
    params = {"viewer_id": viewer.id, "limit": PER_PAGE + 1, "offset": (search.page - 1) * PER_PAGE,
              "sector": search.sector, "place": like_pattern(search.place.lower()),
              "tag": search.tag.casefold(), "programme": search.programme, "cohort": search.cohort}
    for n, word in enumerate(words):
        params[f"pattern_{n}"] = like_pattern(word.lower())
        params[f"tag_pattern_{n}"] = like_pattern(word.casefold())
    statement = _statement(len(words), bool(search.sector), bool(search.place), bool(search.tag),
                           bool(search.programme), search.cohort is not None and bool(search.programme))
    rows = statement.values(params)  # a parameter the shape lacks is ignored
    more, rows = len(rows) > PER_PAGE, rows[:PER_PAGE]
    cut = len(Listed._fields)
    shown = [(Listed._make(row[:cut]), dict(zip(PROFILE_FIELDS, map(bool, row[cut:]), strict=True)))
             for row in rows]
    tags = profile_tags(person.id for person, fields in shown if fields["tags"])
    cohorts = cohorts_of(viewer.id, [person.id for person, _ in shown])
    return [card(person, fields, tags.get(person.id), cohorts.get(person.id, ()))
            for person, fields in shown], more


def cohorts_of(viewer_id: int, person_ids: list[int]) -> dict[int, list[str]]:
    """{person id: ["Programme 2025", ...]} of the programmes the viewer was on
    too (policy.shared_cohorts): one statement, none for an empty page."""
    found: dict[int, list[str]] = {}
    if person_ids:
        for person_id, name, year in _cohorts.values({"viewer_id": viewer_id, "person_ids": person_ids}):
            found.setdefault(person_id, []).append(f"{name} {year}")
    return found


@prepared
def _cohorts():
    return shared_cohorts(bindparam("viewer_id"), bindparam("person_ids", expanding=True))


def viewer_reach(viewer_id: int) -> tuple[bool, list]:
    """(whether the viewer is an alumnus, who may use the directory; the
    programmes (id, name) they were on, to search by): two statements built
    once, the second only for an alumnus."""
    if not _alumnus.scalar({"viewer_id": viewer_id}):
        return False, []
    return True, _programmes.rows({"viewer_id": viewer_id})


@prepared
def _alumnus():
    return select(is_alumnus(bindparam("viewer_id")))


@prepared
def _programmes():
    return viewer_programmes(bindparam("viewer_id"))


def introductions_of(user: User) -> tuple[list, list]:
    """(asked of the user and still pending, with who asked; asked by the user,
    newest first, with whom): two statements. What the user asked reads
    "accepted" or "sent", never "declined" (declining is silent)."""
    from sqlalchemy.orm import aliased

    from .models import Introduction

    other = aliased(User)
    received = db.session.execute(
        select(Introduction, other).join(other, other.id == Introduction.requester_id)
        .where(Introduction.recipient_id == user.id, Introduction.status == "pending")
        .order_by(Introduction.created_at.desc()).limit(100)).all()
    sent = db.session.execute(
        select(Introduction, other).join(other, other.id == Introduction.recipient_id)
        .where(Introduction.requester_id == user.id)
        .order_by(Introduction.created_at.desc()).limit(100)).all()
    return received, [(intro, person, "accepted" if intro.status == "accepted" else "sent")
                      for intro, person in sent]
