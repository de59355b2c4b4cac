"""Search over thread titles and posts, limited to the circles the viewer may read.

SQLite: FTS5 (the search_fts table, porter stemming). PostgreSQL: full-text
search over a GIN-indexed tsvector. Either way policy's read rule is part of
the query itself, so no result can come from a circle the viewer has left or
whose pledge they have yet to accept.
"""
import re
from dataclasses import dataclass
from functools import cache

from markupsafe import Markup, escape
from sqlalchemy import String, bindparam, cast, column, func, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import TSQUERY

from ..accounts.models import User
from ..circles.models import Circle
from ..content import highlight
from ..extensions import db
from ..fast.prepared import inline, prepared
from ..policy import may_read, readable_circle_ids
from .models import SEARCH_DOCUMENT, Post, SearchEntry, Thread

MAX_TERMS = 8
SEARCH_FTS = table("search_fts", column("rowid"))  # SQLite's FTS5 index (threads/models.py)


@dataclass
class Hit:
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
           per_page: int = 20) -> tuple[list[Hit], int, list[str]]:
    """(hits, total, terms) for the user's query, in one circle or all of theirs.

    The read rule (policy.may_read) is in the statement itself; naming the
    viewer's circles in the index's query as well lets it find only their
    posts, rather than every match on the site that the join then drops
    (bench/findings.md, 25). Its statements are built once per database and
    scope; the words and circles are values.
    """
    terms = terms_of(query)
    if not terms:
        return [], 0, []
    circle_ids = ([circle_id] if circle_id is not None
                  else [row[0] for row in _readable.values({"user_id": user.id})])
    if not circle_ids:
        return [], 0, terms
    dialect, scoped = db.engine.dialect.name, circle_id is not None
    values = {"user_id": user.id, "circle_id": circle_id, "limit": per_page,
              "offset": (page - 1) * per_page, **_match_values(dialect, terms, circle_ids)}
    rows = db.session.execute(_page(dialect, scoped), values).all()
    total = rows[0].total if rows else (
        # Past the last page: only then is the count asked on its own.
        db.session.scalar(_count(dialect, scoped), values) if page > 1 else 0)
    stems = [_stem(t) for t in terms]
    hits = [Hit(r.post_id, r.thread_id, r.number, r.title, r.slug, r.name,
                highlight(r.title, stems, whole_words=True), _snippet(r.body, stems))
            for r in rows]
    return hits, total, terms


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
        words = " ".join(f'"{t}"' for t in terms)  # each term quoted: an implicit AND
        circles = " OR ".join(f'"{int(i)}"' for i in circle_ids)
        # The words are looked for in the text only, never in the circle column.
        return {"fts": f"{{title body}} : ({words}) AND circle_id : ({circles})"}
    return {"words": " ".join(terms), "circles": " | ".join(f"_c{int(i)}" for i in circle_ids)}


@cache
def _matched(dialect: str, scoped: bool):
    """The viewer's readable posts matching the words (in one circle when
    scoped), and their score, lowest first."""
    base = select(SearchEntry.post_id).where(may_read(bindparam("user_id"), SearchEntry.circle_id))
    if scoped:
        base = base.where(SearchEntry.circle_id == bindparam("circle_id"))
    if dialect == "sqlite":
        matched = (base.join(SEARCH_FTS, SEARCH_FTS.c.rowid == SearchEntry.post_id)
                   .where(text("search_fts MATCH :fts")))
        return matched, literal_column("bm25(search_fts, 1.0, 1.0, 0.0)")  # the circle weighs nothing
    document = literal_column(f"({SEARCH_DOCUMENT})")
    words = func.plainto_tsquery(literal_column("'english'"), bindparam("words", type_=String))
    circles = cast(bindparam("circles", type_=String), TSQUERY)
    # Ranked by the words alone: every row has one circle lexeme.
    return base.where(document.op("@@")(words.op("&&")(circles))), -func.ts_rank(document, words)


@cache
def _page(dialect: str, scoped: bool):
    """A page of matches, best first, each with the total: a window over every
    match (ranking reads every match anyway, and a count of its own ran the
    index's search again). The score is taken inside: FTS5's bm25() can't be
    used beside a window."""
    matched, score = _matched(dialect, scoped)
    found = matched.add_columns(SearchEntry.thread_id, SearchEntry.circle_id, SearchEntry.body,
                                score.label("score")).subquery()
    return (select(found.c.post_id, found.c.thread_id, found.c.body, Thread.title, Post.number,
                   Circle.slug, Circle.name, func.count().over().label("total"))
            .join(Post, Post.id == found.c.post_id)
            .join(Thread, Thread.id == found.c.thread_id)
            .join(Circle, Circle.id == found.c.circle_id)
            .order_by(found.c.score, found.c.post_id.desc())
            .limit(inline("limit")).offset(inline("offset")))


@cache
def _count(dialect: str, scoped: bool):
    return select(func.count()).select_from(_matched(dialect, scoped)[0].subquery())


def _snippet(body: str, terms: list[str], width: int = 200) -> Markup:
    """A window of the post around the first term, with every term marked."""
    lower = body.lower()
    positions = [lower.find(t.lower()) for t in terms if t.lower() in lower]
    start = max(0, min(positions) - width // 3) if positions else 0
    piece = body[start:start + width]
    prefix = "…" if start else ""
    suffix = "…" if start + width < len(body) else ""
    return escape(prefix) + highlight(piece, terms, whole_words=True) + escape(suffix)
