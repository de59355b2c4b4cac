"""Discussion threads, posts, read positions, reactions and the search index."""
from datetime import datetime

from sqlalchemy import (
    DDL,
    Boolean,
    Column,
    Computed,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..database import POSTGRESQL_ONLY
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow
from . import circle_words  # noqa: F401  (registers the SQL function the index's triggers call)

REACTIONS = {"thumbs_up": "👍", "heart": "❤️", "pray": "🙏", "laugh": "😂", "bulb": "💡"}
REACTION_LABELS = {"thumbs_up": "Thumbs up", "heart": "Heart", "pray": "Thank you",
                   "laugh": "Laugh", "bulb": "Insightful"}


class Thread(db.Model):
    __tablename__ = "threads"
    __table_args__ = (Index("ix_threads_circle_listing", "circle_id", "pinned", "last_post_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    # "discussion", or "challenge" (a peer consultation: challenges.models.Challenge).
    kind: Mapped[str] = mapped_column(String(12), default="discussion", server_default="discussion")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Kept by the actions, so listing a thread needs no count over its posts.
    post_count: Mapped[int] = mapped_column(Integer, default=0)  # numbers handed out
    removed_count: Mapped[int] = mapped_column(Integer, default=0)
    last_post_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_poster_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    author: Mapped[User | None] = relationship(foreign_keys=[author_id], lazy="joined")
    last_poster: Mapped[User | None] = relationship(foreign_keys=[last_poster_id], lazy="joined")

    @property
    def reply_count(self) -> int:
        return max(0, self.post_count - self.removed_count - 1)


class Post(db.Model):
    """A post. `number` is its place in the thread (1 = the opening post);
    numbers are never reused, so pages and read positions are stable."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("thread_id", "number"),
                      Index("ix_posts_author", "author_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    number: Mapped[int] = mapped_column(Integer)
    # None in a discussion; in a challenge, what the post is (challenges.models.POST_KINDS).
    kind: Mapped[str | None] = mapped_column(String(12))
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    author: Mapped[User | None] = relationship(foreign_keys=[author_id], lazy="joined")
    thread: Mapped[Thread] = relationship(lazy="raise")

    @property
    def removed(self) -> bool:
        return self.deleted_at is not None


class ThreadState(db.Model):
    """One member's place in a thread: how far they have read, and whether they follow it."""

    __tablename__ = "thread_states"
    __table_args__ = (UniqueConstraint("user_id", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    last_read_number: Mapped[int] = mapped_column(Integer, default=0)
    # following | muted | None (neither: hears only of mentions)
    subscription: Mapped[str | None] = mapped_column(String(10))


class Reaction(db.Model):
    __tablename__ = "reactions"
    __table_args__ = (UniqueConstraint("post_id", "user_id", "emoji"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    emoji: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# What PostgreSQL searches in a row of search_entries: its words, and its circle
# as a lexeme no text can produce ("_c17": the parser splits words at
# underscores), so a query can keep to the viewer's circles inside the index
# (threads/search.py). Stored in the row (SearchEntry's `document`) as it is
# written: the index held it, but ranking read it again from the text, parsing
# each match's words anew on every search (bench/findings.md, 37).
SEARCH_DOCUMENT = "to_tsvector('english', title || ' ' || body) || ('_c' || circle_id::text)::tsvector"


class SearchEntry(db.Model):
    """What search reads: one row a post, as plain text (the opening post's row
    carries the thread's title too).

    SQLite indexes it with an FTS5 table kept in step by triggers; PostgreSQL
    with a GIN index over `document`, a column of PostgreSQL's alone, made by it
    from the text: the ORM never reads or writes it. Removed posts have no row.
    """

    __tablename__ = "search_entries"
    __table_args__ = (
        Column("document", TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True),
               info={POSTGRESQL_ONLY: True}),
        Index("ix_search_entries_fts", "document", postgresql_using="gin",
              info={POSTGRESQL_ONLY: True}).ddl_if(dialect="postgresql"),
    )
    __mapper_args__ = {"exclude_properties": ["document"]}

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)


# The FTS5 table and its triggers (SQLite only). The migrations run the same DDL
# (9e4c1d7b2a60). Each post's words are indexed twice: as they are, in title
# and body, which a search matches and ranks; and joined to the post's circle
# (circle_words), so the match keeps to the viewer's circles without walking
# each word's site-wide list (threads/circle_words.py). The index reads title
# and body from search_entries through a view; the keyed words are never read
# back, only matched, so the view gives them as ''. So the index is never
# "rebuilt" from it: it is filled by SQLITE_FTS_FILL.
SQLITE_FTS_DDL = [
    "CREATE VIEW search_fts_content AS "
    "SELECT post_id, title, body, '' AS circle_words FROM search_entries",
    "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, circle_words, "
    "content='search_fts_content', content_rowid='post_id', tokenize='porter unicode61')",
    "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, title, body, circle_words) "
    "VALUES (new.post_id, new.title, new.body, circle_words(new.circle_id, new.title, new.body)); END",
    "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body, circle_words) "
    "VALUES ('delete', old.post_id, old.title, old.body, "
    "circle_words(old.circle_id, old.title, old.body)); END",
    "CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body, circle_words) "
    "VALUES ('delete', old.post_id, old.title, old.body, "
    "circle_words(old.circle_id, old.title, old.body)); "
    "INSERT INTO search_fts(rowid, title, body, circle_words) "
    "VALUES (new.post_id, new.title, new.body, circle_words(new.circle_id, new.title, new.body)); END",
]
# The whole index from search_entries, into an empty search_fts (bench/dataset.py).
SQLITE_FTS_FILL = ("INSERT INTO search_fts(rowid, title, body, circle_words) "
                   "SELECT post_id, title, body, circle_words(circle_id, title, body) FROM search_entries")
for _statement in SQLITE_FTS_DDL:
    event.listen(SearchEntry.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in ("DROP TABLE IF EXISTS search_fts", "DROP VIEW IF EXISTS search_fts_content"):
    event.listen(SearchEntry.__table__, "before_drop", DDL(_statement).execute_if(dialect="sqlite"))
