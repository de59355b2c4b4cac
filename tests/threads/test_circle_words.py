"""SQLite's search index holds each post's words keyed by its circle
(community/threads/circle_words.py): a search must find with them what the
words alone find in the viewer's circles, and nothing of any other circle."""
import pytest
from sqlalchemy import select, text

from community.extensions import db
from community.threads.circle_words import circle_words
from community.threads.models import Post
from community.threads.search import search
from tests.factories import make_circle, make_thread, make_user

# Words and their kin, of the shapes a tokenizer treats apart: inflections the
# stemmer joins, words beginning with y (a vowel after a consonant, to it),
# accents, digits, apostrophes, hyphens, underscores, capitals, and no spaces.
VOCABULARY = [
    "coaching", "coaches", "coached", "coach", "burnout", "burnouts", "rota", "rotas",
    "agreed", "agreement", "agreeing", "happy", "happiness", "happily", "generalize",
    "generalization", "yearly", "years", "yes", "yielding", "yields", "ytterbium",
    "naïve", "naive", "café", "cafes", "Straße", "ÉCOLE", "x-ray", "o'brien", "3D",
    "covid19", "2026", "foo_bar", "bar", "東京", "use", "used", "using", "uses",
]


@pytest.fixture
def two_circles(app):
    """(viewer, their circle, {word: post id} in it, the same in another circle)."""
    viewer, other = make_user("Vera Viewer"), make_user("Other Owner")
    ours, theirs = make_circle(viewer, name="Ours"), make_circle(other, name="Theirs")
    posts = {circle.id: {word: opening_post(make_thread(circle, author, title=f"About {word}",
                                                        body=f"We spoke of {word} today."))
                         for word in VOCABULARY}
             for circle, author in ((ours, viewer), (theirs, other))}
    return viewer, ours, posts[ours.id], posts[theirs.id]


def opening_post(thread) -> int:
    return db.session.scalar(select(Post.id).where(Post.thread_id == thread.id, Post.number == 1))


def test_keyed_words_are_the_circles_words_with_no_underscores():
    assert circle_words(12, "Burnout_coaching, naïve", "3D!") == "c12xBurnout c12xcoaching c12xnaïve c12x3D"
    assert circle_words(7, "___", "") == ""


def test_a_search_finds_what_the_words_alone_find_in_the_viewers_circles(two_circles):
    viewer, _, ours, theirs = two_circles
    for word in VOCABULARY:
        plain = {row[0] for row in db.session.execute(
            text("SELECT rowid FROM search_fts WHERE search_fts MATCH :q"),
            {"q": f'{{title body}} : ("{word}")'})}
        hits, total, _ = search(viewer, word, per_page=100)
        found = {hit.post_id for hit in hits}
        assert found == plain & set(ours.values()), word
        assert ours[word] in found and theirs[word] in plain  # the word's own posts, here and there
        assert total == len(found)


def test_a_two_letter_word_is_found_apart_from_the_longer_ones_it_stems(two_circles):
    """The one place the keyed words differ: "us" and "use" share a stem for the
    words alone ("us"), but keyed, "c5xuse" keeps its e (circle_words' docstring)."""
    viewer, circle, ours, _ = two_circles
    us = opening_post(make_thread(circle, viewer, title="Between us", body="Only us"))
    assert us in {hit.post_id for hit in search(viewer, "us", per_page=100)[0]}
    assert us not in {hit.post_id for hit in search(viewer, "use", per_page=100)[0]}
    assert ours["using"] in {hit.post_id for hit in search(viewer, "use", per_page=100)[0]}


def test_a_query_of_underscores_finds_nothing_and_fails_nothing(two_circles):
    viewer = two_circles[0]
    assert search(viewer, "___") == ([], 0, ["___"])
    assert search(viewer, "___ burnout") == search(viewer, "burnout")[:2] + (["___", "burnout"],)
