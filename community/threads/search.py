"""Search over thread titles and posts, limited to the circles the viewer may read.

SQLite: FTS5 (the search_fts table, porter stemming). PostgreSQL: full-text
search over a GIN-indexed tsvector. Either way policy's read rule is part of
the query itself, so no result can come from a circle the viewer has left or
whose pledge they have yet to accept.
"""
import re
from functools import cache, lru_cache
from typing import NamedTuple

from markupsafe import Markup, escape
from sqlalchemy import Integer, String, bindparam, cast, column, func, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import TSQUERY

from ..accounts.models import User
from ..circles.models import Circle
from ..content import highlight
from ..extensions import db
from ..fast.prepared import Prepared, inline, prepared
from ..policy import readable_circle_ids
from .circle_words import WORD, circle_words
from .models import Post, SearchEntry, Thread

MAX_TERMS = 8
PER_PAGE = 20
SEARCH_FTS = table("search_fts", column("rowid"))  # SQLite's FTS5 index (threads/models.py)


class Hit(NamedTuple):
    """A match as the results show it (part of the search page's key)."""

    post_id: int
    thread_id: int
    number: int
    title: str
    circle_slug: str
    circle_name: str
    title_html: Markup
    snippet_html: Markup


def terms_of(query: str) -> list[str]:
    """The words searched for: letters and digits only, so no query syntax gets through."""
    return re.findall(r"\w+", query or "")[:MAX_TERMS]


def search(user: User, query: str, circle_id: int | None = None, page: int = 1,
           per_page: int = PER_PAGE) -> tuple[list[Hit], int, list[str]]:
    """(hits, total, terms) for the user's query, in one circle or all of theirs:
    the newest RANKED matches, best first (a total of RANKED + 1: there are more).

    The circles searched are those the read rule (policy.readable_circle_ids)
    gives the viewer, asked first in the same transaction and named in the
    statement: in the index's query, so it finds only their posts rather than
    every match on the site (bench/findings.md, 25), and as the rows' circles.
    Re-asking the rule inside the statement cost PostgreSQL 1.6 ms of planning
    on every search (35). Its statements are built once per database; the
    words and circles are values.
    """
    terms = terms_of(query)
    if not terms:
        return [], 0, []
    if not any(WORD.search(t) for t in terms):
        return [], 0, terms  # underscores only: no word to find
    circle_ids = [row[0] for row in _readable.values({"user_id": user.id})
                  if circle_id is None or row[0] == circle_id]
    if not circle_ids:
        return [], 0, terms
    dialect = db.engine.dialect.name
    offset = (page - 1) * per_page
    values = {"circle_ids": circle_ids, "limit": min(per_page, RANKED - offset), "offset": offset,
              **_match_values(dialect, terms, circle_ids)}
    # Past the ranked matches there is no page (the one more only says there are more).
    rows = _ranked_page(dialect, values) if offset < RANKED else []
    total = rows[0].total if rows else (
        # Past the last page: only then is the count asked on its own.
        _count(dialect).scalar(values) if page > 1 else 0)
    stems = tuple(_stem(t) for t in terms)
    hits = [Hit(r.post_id, r.thread_id, r.number, r.title, r.slug, r.name, *_marked(r.title, r.body, stems))
            for r in rows]
    return hits, total, terms


@lru_cache(maxsize=2048)
def _marked(title: str, body: str, stems: tuple[str, ...]) -> tuple[Markup, Markup]:
    """A match's title and snippet with the words marked: the same for everyone
    searching them, and the same matches come back page after page, so kept."""
    return highlight(title, stems, whole_words=True), _snippet(body, stems)


def _ranked_page(dialect: str, values: dict) -> list:
    """A page of the ranked matches. FTS5 reads its index backwards, newest
    first, at several times the cost of reading it forwards (680 against
    259 µs for the bench's 43 matches; bench/findings.md, 35). So SQLite reads
    forwards first: up to RANKED matches, that is every match, the same set the
    newest first would give. Only when there are more is it asked again, newest first."""
    if dialect != "sqlite":
        return _page(dialect).rows(values)
    rows = _page(dialect, newest_first=False).rows(values)
    if rows and rows[0].total > RANKED:
        rows = _page(dialect).rows(values)
    return rows


def _stem(term: str) -> str:
    """A rough English stem, to mark the words the engine's stemmer matched."""
    lower = term.lower()
    for suffix in ("ing", "ers", "er", "es", "ed", "ly", "s"):
        if lower.endswith(suffix) and len(lower) - len(suffix) >= 3:
            return lower[: -len(suffix)]
    return lower


@prepared
def _readable():
    return readable_circle_ids(bindparam("user_id"))


def _match_values(dialect: str, terms: list[str], circle_ids: list[int]) -> dict:
    """The index's query for these words in these circles, as _matched's values."""
    if dialect == "sqlite":
        keyed = " OR ".join(f"({_quoted(_keyed(circle_id, terms))})" for circle_id in circle_ids)
        # The plain words are looked for in the text only, never in the keyed ones.
        return {"fts": f"{{title body}} : ({_quoted(terms)}) AND circle_words : ({keyed})"}
    return {"words": " ".join(terms), "circles": " | ".join(f"_c{int(i)}" for i in circle_ids)}


def _keyed(circle_id: int, terms: list[str]) -> list[str]:
    """The words keyed by one circle (threads/circle_words.py): their lists hold
    that circle's posts only. A term of no letters or digits keys to nothing, as
    it tokenizes to nothing."""
    return [key for term in terms if (key := circle_words(circle_id, term))]


def _quoted(words: list[str]) -> str:
    """Each word quoted, so FTS5 reads none as an operator: together, an implicit AND."""
    return " ".join(f'"{word}"' for word in words)


# A search ranks the newest matches up to this many (one more tells there are
# more). Ranking every match cost with the whole site: FTS5's bm25() counts,
# for each word, every post on the site that holds it (4.5 ms for two common
# words at 1,000,000 posts, for 43 matches; bench/findings.md, 34).
RANKED = 1000
# The score is BM25's term-frequency part (k1 1.2, b 0.75) without its rarity
# part (the site-wide counts above; PostgreSQL's ts_rank has none either).
# A word in the title outweighs any number in the body (a body's part stays
# under 1, a title's first word gives 3 × 1/2.2); BODY_LENGTH is the length,
# in characters, at which a body's count of words found is neither raised nor lowered.
TITLE_WEIGHT, BODY_LENGTH = 3.0, 400.0


@cache
def _matched(dialect: str, newest_first: bool = True):
    """The posts in the circles searched matching the words, the newest
    RANKED + 1 (on SQLite, without newest_first, the oldest: every match when
    there are no more), and their score, lowest first."""
    if dialect == "sqlite":
        newest = _newest_sqlite(newest_first)
        score = -(TITLE_WEIGHT * _saturated(newest.c.title_hits, 1.0)
                  + _saturated(newest.c.body_hits, 0.25 + 0.75 * newest.c.body_length / BODY_LENGTH))
        # The index holds search_entries' rows (its content table), and its query
        # names the circles: ranked from the index alone, and search_entries
        # read for the page's rows only (_page; bench/findings.md, 40).
        return select(newest.c.post_id), score
    document = SearchEntry.__table__.c.document  # PostgreSQL's alone (models.SEARCH_DOCUMENT)
    words = func.plainto_tsquery(literal_column("'english'"), bindparam("words", type_=String))
    circles = cast(bindparam("circles", type_=String), TSQUERY)
    newest = (select(SearchEntry.post_id).where(document.op("@@")(words.op("&&")(circles)))
              .order_by(SearchEntry.post_id.desc()).limit(RANKED + 1).subquery())
    score = -func.ts_rank(document, words)  # by the words alone: every row has one circle lexeme
    return (select(SearchEntry.post_id).join(newest, newest.c.post_id == SearchEntry.post_id)
            .where(SearchEntry.circle_id.in_(bindparam("circle_ids", expanding=True)))), score


def _newest_sqlite(newest_first: bool):
    """FTS5's newest matches (it reads its index newest first, and stops), or
    its oldest, each with how many times the words were found in its title and
    in its body: highlight() marks each one found, with one character."""
    def found(column: int, name: str):
        marked = f"length(highlight(search_fts, {column}, char(1), ''))"
        return literal_column(f"{marked} - length(search_fts.{name})", Integer)

    return (select(SEARCH_FTS.c.rowid.label("post_id"), found(0, "title").label("title_hits"),
                   found(1, "body").label("body_hits"),
                   literal_column("length(search_fts.body)", Integer).label("body_length"))
            .where(text("search_fts MATCH :fts"))
            .order_by(SEARCH_FTS.c.rowid.desc() if newest_first else SEARCH_FTS.c.rowid)
            .limit(RANKED + 1).subquery())


def _saturated(hits, length):
    """BM25's term frequency: each further word found adds less, and a long text needs more."""
    return hits / (hits + 1.2 * length)


@cache
def _page(dialect: str, newest_first: bool = True) -> Prepared:
    """A page of matches, best first, each with the total: a window over every
    match ranked (ranking reads each anyway, and a count of its own ran the
    index's search again). Only the page's rows are joined to what they show:
    joining every match first cost SQLite a tenth of the search (findings, 40).
    Prepared: the constants (RANKED, the weights) are in its SQL (fast/prepared.py)."""
    matched, score = _matched(dialect, newest_first)
    post_id = matched.selected_columns.post_id
    ranked = (matched.add_columns(score.label("score"), func.count().over().label("total"))
              .order_by(score, post_id.desc())
              .limit(inline("limit")).offset(inline("offset")).subquery())
    page = (select(ranked.c.post_id, SearchEntry.thread_id, SearchEntry.body, Thread.title, Post.number,
                   Circle.slug, Circle.name, ranked.c.total)
            .select_from(ranked)
            .join(SearchEntry, SearchEntry.post_id == ranked.c.post_id)
            .join(Post, Post.id == ranked.c.post_id)
            .join(Thread, Thread.id == SearchEntry.thread_id)
            .join(Circle, Circle.id == SearchEntry.circle_id)
            .where(SearchEntry.circle_id.in_(bindparam("circle_ids", expanding=True)))
            .order_by(ranked.c.score, ranked.c.post_id.desc()))
    return Prepared(lambda: page)


@cache
def _count(dialect: str) -> Prepared:
    # Up to RANKED + 1, which the oldest count as well as the newest, and faster on SQLite.
    return Prepared(lambda: select(func.count()).select_from(
        _matched(dialect, newest_first=False)[0].subquery()))


def _snippet(body: str, terms: list[str], width: int = 200) -> Markup:
    """A window of the post around the first term, with every term marked."""
    lower = body.lower()
    positions = [lower.find(t.lower()) for t in terms if t.lower() in lower]
    start = max(0, min(positions) - width // 3) if positions else 0
    piece = body[start:start + width]
    prefix = "…" if start else ""
    suffix = "…" if start + width < len(body) else ""
    return escape(prefix) + highlight(piece, terms, whole_words=True) + escape(suffix)
