"""Search over thread titles and posts, limited to the circles the viewer may read.

SQLite: FTS5 (the search_fts table, porter stemming). PostgreSQL: full-text
search over a GIN-indexed tsvector. Either way policy's read rule is part of
the query itself, so no result can come from a circle the viewer has left or
whose pledge they have yet to accept.
"""
import re
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import cast, column, func, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import TSQUERY

from ..accounts.models import User
from ..circles.models import Circle
from ..content import highlight
from ..extensions import db
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
    """(hits, total, terms) for the user's query, in one circle or all of theirs."""
    terms = terms_of(query)
    if not terms:
        return [], 0, []
    base = select(SearchEntry.post_id).where(may_read(user.id, SearchEntry.circle_id))
    if circle_id is not None:
        base = base.where(SearchEntry.circle_id == circle_id)
    matched, score = _match(base, terms, user.id, circle_id)
    if matched is None:
        return [], 0, terms
    # The total comes with the page (a window over every match): ranking reads
    # every match anyway, and a count of its own ran the index's search again.
    # The score is taken inside: FTS5's bm25() can't be used beside a window.
    found = matched.add_columns(SearchEntry.thread_id, SearchEntry.circle_id, SearchEntry.body,
                                score.label("score")).subquery()
    rows = db.session.execute(
        select(found.c.post_id, found.c.thread_id, found.c.body, Thread.title, Post.number,
               Circle.slug, Circle.name, func.count().over().label("total"))
        .join(Post, Post.id == found.c.post_id)
        .join(Thread, Thread.id == found.c.thread_id)
        .join(Circle, Circle.id == found.c.circle_id)
        .order_by(found.c.score, found.c.post_id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    total = rows[0].total if rows else (
        # Past the last page: only then is the count asked on its own.
        db.session.scalar(select(func.count()).select_from(matched.subquery())) if page > 1 else 0)
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


def _match(base, terms: list[str], user_id: int, circle_id: int | None):
    """The base query narrowed to the posts matching every term, and its score,
    lowest first (None, None when the viewer has no circle to search).

    The read rule in base keeps results to the circles the viewer may read. Naming those circles
    in the index's query as well lets it find only their posts, rather than
    every match on the site that the join then drops (bench/findings.md, 25).
    """
    circle_ids = ([circle_id] if circle_id is not None
                  else list(db.session.scalars(readable_circle_ids(user_id))))
    if not circle_ids:
        return None, None
    if db.engine.dialect.name == "sqlite":
        words = " ".join(f'"{t}"' for t in terms)  # each term quoted: an implicit AND
        circles = " OR ".join(f'"{int(i)}"' for i in circle_ids)
        # The words are looked for in the text only, never in the circle column.
        fts = f"{{title body}} : ({words}) AND circle_id : ({circles})"
        matched = (base.join(SEARCH_FTS, SEARCH_FTS.c.rowid == SearchEntry.post_id)
                   .where(text("search_fts MATCH :fts").bindparams(fts=fts)))
        return matched, literal_column("bm25(search_fts, 1.0, 1.0, 0.0)")  # the circle weighs nothing
    document = literal_column(f"({SEARCH_DOCUMENT})")
    words = func.plainto_tsquery(literal_column("'english'"), " ".join(terms))
    circles = cast(" | ".join(f"_c{int(i)}" for i in circle_ids), TSQUERY)
    # Ranked by the words alone: every row has one circle lexeme.
    return base.where(document.op("@@")(words.op("&&")(circles))), -func.ts_rank(document, words)


def _snippet(body: str, terms: list[str], width: int = 200) -> Markup:
    """A window of the post around the first term, with every term marked."""
    lower = body.lower()
    positions = [lower.find(t.lower()) for t in terms if t.lower() in lower]
    start = max(0, min(positions) - width // 3) if positions else 0
    piece = body[start:start + width]
    prefix = "…" if start else ""
    suffix = "…" if start + width < len(body) else ""
    return escape(prefix) + highlight(piece, terms, whole_words=True) + escape(suffix)
