"""Words keyed by their circle, for SQLite's search index.

FTS5 keeps one list of posts per word for the whole site. A search that named
the viewer's circles still walked each word's site-wide list against each
circle's (at 1,000,000 posts, 323 µs of the 508 a search's match and ranking
took for five circles; bench/findings.md, 41). So the index also holds each word of a post once more,
joined to its circle: "burnout" in circle 12 is "c12xburnout", whose list holds
only that circle's posts. A search asks for the words in the text *and* for the
keyed words of the viewer's circles (threads/search.py).

The index's triggers call `circle_words()` as an SQL function, registered on
every SQLite connection the app opens: a connection without it (the sqlite3
shell) can read the database but not change a post's search entry. Changing
what it returns changes the index: that takes a migration that rebuilds it
(as 9e4c1d7b2a60 built it).
"""
import re
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

# A word as both sides see it: letters and digits. The underscore, which \w
# counts, is a separator to FTS5's tokenizer, so it is one here too.
WORD = re.compile(r"[^\W_]+")


def circle_words(circle_id: int, *texts: str) -> str:
    """Each word of `texts`, joined to its circle: "c12xburnout c12xcoaching".

    The circle is written as consonants and digits ahead of the word, so the
    tokenizer's Porter stemmer, which counts a word's vowel-consonant runs,
    stems the keyed word as it stems the word alone: "c12xcoaching" and
    "c12xcoaches" meet at "c12xcoach" as "coaching" and "coaches" do. Apart:
    a word of two letters and the longer ones whose stem it is ("us" and
    "use", which the stemmer joins), where the keyed words are found apart:
    of 93,000 words and inflections, 39 such pairs split and no others
    (bench/findings.md, 41; tests/threads/test_circle_words.py)."""
    prefix = f"c{int(circle_id)}x"
    return " ".join(prefix + word for text in texts for word in WORD.findall(text or ""))


@event.listens_for(Engine, "connect")
def _register(dbapi_connection, connection_record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("circle_words", 3, circle_words, deterministic=True)
