"""Threads through HTTP: list, thread page, unread jumps, quotes, locks, search, safety."""
import re

import pytest
from sqlalchemy import select

from community.accounts.models import User
from community.extensions import db
from community.moderation import actions as moderation
from community.threads import actions as threads
from community.threads.models import Post, Thread
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_thread, make_user
from tests.safety import PAYLOADS, active_content


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def circle_pair(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    return circle, owner, helen


def test_list_puts_pinned_first_then_latest_activity(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    old = make_thread(circle, owner, title="Old but pinned")
    make_thread(circle, owner, title="Quiet")
    busy = make_thread(circle, owner, title="Busy")
    threads.post_reply(helen, circle.slug, busy.id, "new reply")
    threads.set_pinned(owner, circle.slug, old.id, True)
    auth.login(helen)
    page = text(client.get(f"/c/{circle.slug}/threads"))
    assert page.index("Old but pinned") < page.index("Busy") < page.index("Quiet")
    assert "1 reply" in page and "Pinned" in page


def test_list_shows_unread_counts_and_pages_of_25(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    for n in range(26):
        make_thread(circle, owner, title=f"Topic {n:02d}")
    auth.login(helen)
    first = text(client.get(f"/c/{circle.slug}/threads"))
    assert first.count('<li class="thread-row') == 25 and "Page 1 of 2" in first
    assert '<span class="badge" title="1 unread">' in first
    second = text(client.get(f"/c/{circle.slug}/threads?page=2"))
    assert second.count('<li class="thread-row') == 1 and "Topic 00" in second
    client.post(f"/c/{circle.slug}/threads/read")
    assert 'title="1 unread"' not in text(client.get(f"/c/{circle.slug}/threads"))


def test_the_list_counts_its_threads_in_the_statement_that_lists_them(client, auth, circle_pair,
                                                                       count_queries):
    """One statement fewer, on PostgreSQL a round trip (bench/findings.md, 39):
    the count is asked alone only past the last page, where no row brings it."""
    circle, owner, helen = circle_pair
    for n in range(26):
        make_thread(circle, owner, title=f"Topic {n:02d}")
    auth.login(helen)
    url = f"/c/{circle.slug}/threads"
    counts = lambda sent: [s for s in sent.statements if re.match(r"\s*SELECT count", s)]  # noqa: E731
    client.get(url)
    for page, shows in ((1, "Page 1 of 2"), (2, "Page 2 of 2")):
        with count_queries() as sent:
            assert shows in text(client.get(f"{url}?page={page}"))
        assert len(sent.statements) == 2 and not counts(sent), sent.statements
    with count_queries() as beyond:
        past = text(client.get(f"{url}?page=7"))
    assert "Topic" not in past and len(counts(beyond)) == 1


def test_empty_list_says_what_to_do(client, auth, circle_pair):
    circle, owner, _ = circle_pair
    auth.login(owner)
    assert "Start the first conversation" in text(client.get(f"/c/{circle.slug}/threads"))


def test_new_thread_form(client, auth, circle_pair):
    circle, _, helen = circle_pair
    auth.login(helen)
    response = client.post(f"/c/{circle.slug}/threads/new",
                           data={"title": "Funding cliff", "body": "**Three** grants end"})
    thread = db.session.scalar(select(Thread))
    assert response.headers["Location"] == f"/c/{circle.slug}/t/{thread.id}"
    page = text(client.get(response.headers["Location"]))
    assert "<strong>Three</strong> grants end" in page
    empty = client.post(f"/c/{circle.slug}/threads/new", data={"title": "x", "body": "   "})
    assert empty.status_code == 400 and "empty" in text(empty)


def test_opening_a_thread_jumps_to_the_first_unread_post(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    thread = make_thread(circle, owner)
    for n in range(24):
        threads.post_reply(owner, circle.slug, thread.id, f"reply {n}")
    threads.mark_read(helen, circle.slug, thread.id, 22)
    auth.login(helen)
    jump = client.get(f"/c/{circle.slug}/t/{thread.id}")
    assert jump.headers["Location"] == f"/c/{circle.slug}/t/{thread.id}?page=2#post-23"
    page = text(client.get(jump.headers["Location"]))
    assert 'id="post-23"' in page and "New since your last visit" in page
    assert 'id="post-20"' not in page and 'id="post-21"' in page  # 20 a page
    # The page reports reading through its last post.
    assert client.post(f"/c/{circle.slug}/t/{thread.id}/read", data={"number": "25"},
                       headers={"Accept": "application/json"}).json == {"ok": True, "read": 25}
    assert client.get(f"/c/{circle.slug}/t/{thread.id}").status_code == 200  # nothing unread


def test_quote_prefills_the_reply(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    thread = make_thread(circle, owner, body="Who owns the relationship?\nNobody.")
    post = db.session.scalar(select(Post))
    auth.login(helen)
    page = text(client.get(f"/c/{circle.slug}/t/{thread.id}?page=1&quote={post.id}"))
    assert f"&gt; @{owner.handle} wrote:\n&gt; Who owns the relationship?\n&gt; Nobody." in page


def test_edited_and_removed_posts_show_as_such(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    thread = make_thread(circle, owner)
    reply = threads.post_reply(helen, circle.slug, thread.id, "first thought")
    auth.login(helen)
    client.post(f"/c/{circle.slug}/p/{reply.id}/edit", data={"body": "second thought"})
    page = text(client.get(f"/c/{circle.slug}/t/{thread.id}?page=1"))
    assert "second thought" in page and "edited" in page
    client.post(f"/c/{circle.slug}/p/{reply.id}/delete")
    page = text(client.get(f"/c/{circle.slug}/t/{thread.id}?page=1"))
    assert "Post removed" in page and "second thought" not in page
    assert 'id="post-2"' in page  # the thread keeps its shape


def test_a_reply_has_no_title_to_refuse(client, auth, circle_pair):
    """A reply's edit form shows no title; a title sent with it was validated anyway,
    so a long one was a 400 whose page showed no error."""
    circle, owner, helen = circle_pair
    thread = make_thread(circle, owner, title="Kept")
    reply = threads.post_reply(helen, circle.slug, thread.id, "first thought")
    auth.login(helen)
    response = client.post(f"/c/{circle.slug}/p/{reply.id}/edit",
                           data={"body": "second thought", "title": "\u202e" * 10_240})
    assert response.status_code == 302
    assert db.session.get(Post, reply.id).source == "second thought"
    assert db.session.get(Thread, thread.id).title == "Kept"
    refused = client.post(f"/c/{circle.slug}/p/{reply.id}/edit", data={"body": " "})
    assert refused.status_code == 400 and 'class="error"' in text(refused)


def test_editing_someone_elses_post_is_forbidden(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    make_thread(circle, owner)
    post = db.session.scalar(select(Post))
    auth.login(helen)
    assert client.get(f"/c/{circle.slug}/p/{post.id}/edit").status_code == 403
    assert client.post(f"/c/{circle.slug}/p/{post.id}/edit", data={"body": "x"}).status_code == 403


def test_locked_thread_refuses_replies_with_a_clear_message(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    thread = make_thread(circle, owner)
    threads.set_locked(owner, circle.slug, thread.id, True)
    auth.login(helen)
    page = text(client.get(f"/c/{circle.slug}/t/{thread.id}?page=1"))
    assert "closed it to new replies" in page and "Post reply" not in page
    refused = client.post(f"/c/{circle.slug}/t/{thread.id}/reply", data={"body": "let me"})
    assert refused.status_code == 403 and "locked" in text(refused)
    assert thread.post_count == 1


def test_empty_reply_is_sent_back_with_a_message(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    thread = make_thread(circle, owner)
    auth.login(helen)
    response = client.post(f"/c/{circle.slug}/t/{thread.id}/reply", data={"body": "  "},
                           follow_redirects=True)
    assert "empty" in text(response)
    assert db.session.query(Post).count() == 1


def test_reactions_show_who_reacted(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    thread = make_thread(circle, owner)
    post = db.session.scalar(select(Post))
    auth.login(helen)
    client.post(f"/c/{circle.slug}/p/{post.id}/react", data={"emoji": "heart"})
    page = text(client.get(f"/c/{circle.slug}/t/{thread.id}?page=1"))
    assert 'title="Heart: Helen Marsh"' in page and 'aria-pressed="true"' in page
    assert client.post(f"/c/{circle.slug}/p/{post.id}/react", data={"emoji": "nope"}).status_code == 400


def test_report_form_and_queue(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    thread = make_thread(circle, owner, body="a questionable post")
    post = db.session.scalar(select(Post))
    auth.login(helen)
    response = client.post(f"/c/{circle.slug}/p/{post.id}/report", data={"reason": "Names a patient"})
    assert response.status_code == 302
    AuthActions(client).logout()
    auth.login(owner)
    queue = text(client.get(f"/c/{circle.slug}/manage/reports"))
    assert "Names a patient" in queue and "a questionable post" in queue
    client.post(f"/c/{circle.slug}/manage/reports/1/remove")
    assert "Nothing has been reported" in text(client.get(f"/c/{circle.slug}/manage/reports"))
    assert "Post removed" in text(client.get(f"/c/{circle.slug}/t/{thread.id}?page=1"))


def test_search_highlights_and_stays_in_the_viewers_circles(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    make_thread(circle, owner, title="Prison visit", body="What we learned at the prison <b>visit</b>")
    other = make_circle(make_user(), name="Another circle")
    make_thread(other, db.session.get(User, other.created_by_id), title="Prison secrets",
                body="prison talk in another circle")
    auth.login(helen)
    page = text(client.get(f"/c/{circle.slug}/search?q=prisons"))  # stemmed
    assert "1 result" in page and "<mark>Prison</mark> visit" in page
    assert "&lt;b&gt;" in page and "<b>" not in page
    everywhere = text(client.get("/search?q=prison"))
    assert "1 result" in everywhere and "another circle" not in everywhere


def test_search_across_circles_finds_each_of_the_viewers_and_no_other(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    make_thread(circle, owner, title="Burnout", body="coaching for burnout")
    second = make_circle(owner, name="Second circle")
    add_member(second, helen)
    make_thread(second, owner, title="Night shifts", body="burnout on nights")
    third = make_circle(owner, name="Third circle")  # Helen is not in it
    make_thread(third, owner, title="Burnout in the third", body="burnout burnout")
    auth.login(helen)
    page = text(client.get("/search?q=burnout"))
    assert "2 results" in page and "Night shifts" in page and "Burnout in the third" not in page
    assert "1 result" in text(client.get(f"/c/{second.slug}/search?q=burnout"))


def test_a_circles_number_is_not_a_word_in_it(client, auth, circle_pair):
    """The index holds each post's circle id; searching for that number finds
    only posts that say it."""
    circle, owner, helen = circle_pair
    make_thread(circle, owner, title="Rotas", body="no numbers here")
    auth.login(helen)
    assert "0 results" in text(client.get(f"/search?q={circle.id}"))
    make_thread(circle, owner, title="Ward moves", body=f"ward {circle.id} closes")
    page = text(client.get(f"/search?q={circle.id}"))
    assert "1 result" in page and "Ward moves" in page


def test_search_with_no_circles_finds_nothing(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    make_thread(circle, owner, title="Prison visit", body="prison")
    auth.login(make_user("Nina Newcomer"))
    assert "0 results" in text(client.get("/search?q=prison"))


def test_search_after_removal_finds_nothing(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    make_thread(circle, owner, title="Prison visit", body="prison")
    auth.login(helen)
    assert "1 result" in text(client.get("/search?q=prison"))
    moderation.remove_member(owner, circle.slug, helen.id)
    assert "0 results" in text(client.get("/search?q=prison"))
    assert client.get(f"/c/{circle.slug}/search?q=prison").status_code == 404


@pytest.mark.parametrize("query", ['"', "*", "prison AND", "NEAR(", ")(", "-", "a" * 300, "\x00"])
def test_search_syntax_never_errors(client, auth, circle_pair, query):
    circle, owner, helen = circle_pair
    make_thread(circle, owner, title="Prison visit", body="prison")
    auth.login(helen)
    assert client.get("/search", query_string={"q": query}).status_code == 200
    assert client.get(f"/c/{circle.slug}/search", query_string={"q": query}).status_code == 200


def test_mention_autocomplete_lists_only_members(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    make_user("Helena Outsider")
    auth.login(owner)
    people = client.get(f"/c/{circle.slug}/mentions?q=hel").json
    assert people == [{"handle": helen.handle, "name": "Helen Marsh"}]


def test_mention_suggestions_match_any_part_of_a_name_or_handle(client, auth, circle_pair):
    circle, owner, _ = circle_pair
    amara = add_member(circle, make_user("Dr Amara Okafor"))
    auth.login(owner)
    expected = [{"handle": amara.handle, "name": "Dr Amara Okafor"}]
    for q in ("Amara", "amara", "@Amara", "okaf", "mara", "r_amara"):
        assert client.get(f"/c/{circle.slug}/mentions", query_string={"q": q}).json == expected, q


def test_mention_suggestions_put_prefix_matches_first(client, auth, circle_pair):
    circle, owner, _ = circle_pair
    for name in ("Ethel Brown", "Rachel Helmsley"):
        add_member(circle, make_user(name))
    auth.login(owner)
    names = [p["name"] for p in client.get(f"/c/{circle.slug}/mentions?q=hel").json]
    assert names == ["Helen Marsh", "Rachel Helmsley", "Ethel Brown"]


@pytest.mark.parametrize("q", ["%", "%%", "\\", "\\%", "x%", "_%_"])
def test_mention_suggestions_take_like_wildcards_literally(client, auth, circle_pair, q):
    circle, owner, _ = circle_pair
    auth.login(owner)
    response = client.get(f"/c/{circle.slug}/mentions", query_string={"q": q})
    assert response.status_code == 200 and response.json == []


def test_known_mentions_name_only_members(client, auth, circle_pair):
    circle, owner, helen = circle_pair
    outsider = make_user("Nina Outsider")
    auth.login(owner)
    known = client.get(f"/c/{circle.slug}/mentions/known",
                       query_string={"handles": f"{helen.handle},{outsider.handle},nobody"})
    assert known.json == {"known": [helen.handle]}
    assert client.get(f"/c/{circle.slug}/mentions/known").json == {"known": []}
    for bad in ("a" * 41, "x%y", ",".join(["ab"] * 51)):
        response = client.get(f"/c/{circle.slug}/mentions/known", query_string={"handles": bad},
                              headers={"Accept": "application/json"})
        assert response.status_code == 400 and "handle" in response.json["message"]


def test_xss_payloads_never_reach_a_page_as_active_content(client, auth, circle_pair):
    """The whole corpus as thread titles, post bodies and display names."""
    circle, owner, helen = circle_pair
    for payload in PAYLOADS:
        author = add_member(circle, make_user(payload[:80] or "x"))
        thread = threads.start_thread(author, circle.slug, payload[:200], payload)
        threads.post_reply(helen, circle.slug, thread.id, f"> {payload}\n\n@{author.handle} {payload}")
    auth.login(helen)
    pages = ["/", f"/c/{circle.slug}/", f"/c/{circle.slug}/members", "/search?q=alert",
             f"/c/{circle.slug}/search?q=script", f"/c/{circle.slug}/search?q=javascript"]
    pages += [f"/c/{circle.slug}/threads?page={n}" for n in range(1, 5)]
    pages += [f"/c/{circle.slug}/t/{t.id}?page=1" for t in db.session.scalars(select(Thread))]
    pages += [f"/people/{u.id}" for u in db.session.scalars(select(User))]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert active_content(text(response)) == [], path


def _bulk_posts(thread, author, count: int) -> None:
    """Append posts in bulk (the read path is measured; the write path is tested above)."""
    start = thread.post_count + 1
    db.session.add_all(Post(thread_id=thread.id, circle_id=thread.circle_id, author_id=author.id,
                            number=n, source=f"post {n}", html=f"<p>post {n}</p>")
                       for n in range(start, start + count))
    thread.post_count += count
    db.session.commit()


@pytest.mark.parametrize("path", ["/c/{slug}/t/{thread}?page=1", "/c/{slug}/t/{thread}?page={last}",
                                  "/c/{slug}/threads", "/c/{slug}/", "/"])
def test_query_count_is_the_same_for_20_and_2000_posts(client, auth, circle_pair, count_queries, path):
    circle, owner, helen = circle_pair
    small = make_thread(circle, owner, title="Small")
    big = make_thread(circle, owner, title="Big")
    _bulk_posts(small, owner, 19)
    _bulk_posts(big, owner, 1999)
    for post in db.session.scalars(select(Post).where(Post.number <= 3)):
        threads.toggle_reaction(helen, circle.slug, post.id, "heart")
    auth.login(helen)
    counts = []
    for thread in (small, big):
        url = path.format(slug=circle.slug, thread=thread.id, last=-(-thread.post_count // 20))
        client.get(url)
        with count_queries() as q:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(q.count)
    assert counts[0] == counts[1] and counts[1] <= 8, counts


def test_search_pages_keep_their_total_and_rank_and_ask_the_index_once(app, circle_pair, count_queries):
    """The total comes with the page, from the same statement: the index's
    search runs once per page (it ran twice, for the count and the page)."""
    from community.threads.search import search

    circle, owner, helen = circle_pair
    make_thread(circle, owner, title="Rotas", body="rota rota rota rota: the rota")  # the best match
    for n in range(24):
        make_thread(circle, owner, title=f"Week {n}", body=f"the rota for week {n}")
    with count_queries() as sent:
        first, total, _ = search(helen, "rota")
    assert total == 25 and len(first) == 20 and first[0].title == "Rotas"
    assert sum("MATCH" in statement for statement in sent.statements) == 1
    second, total, _ = search(helen, "rota", page=2)
    assert total == 25 and len(second) == 5
    assert not {hit.post_id for hit in first} & {hit.post_id for hit in second}
    assert search(helen, "rota", page=3)[:2] == ([], 25)  # past the last page
    assert search(helen, "nothing", page=1)[:2] == ([], 0)


def test_search_ranks_the_newest_matches_and_says_when_there_are_more(client, auth, circle_pair,
                                                                       ranked_up_to_five):
    """Ranking reads each match it ranks, so a search ranks only the newest
    RANKED: the page says there are more, and pages through those alone."""
    circle, owner, helen = circle_pair
    # The best match, but the oldest.
    oldest = make_thread(circle, owner, title="Rota rota rota", body="rota rota rota rota")
    for n in range(6):
        make_thread(circle, owner, title=f"Week {n}", body=f"the rota for week {n}")
    auth.login(helen)
    page = client.get("/search?q=rota").get_data(as_text=True)
    assert "More than 5 results for “rota”" in page and "The best of the newest 5 are shown" in page
    assert page.count('class="snippet"') == 5 and "Page 1 of" not in page
    assert f"t/{oldest.id}" not in page and "Week 5" in page and "Week 1" in page and "Week 0" not in page
    assert 'class="snippet"' not in client.get("/search?q=rota&page=2").get_data(as_text=True)
    few = client.get("/search?q=week+3").get_data(as_text=True)
    assert "1 result for “week 3”" in few and "More than" not in few


def test_search_reads_the_index_newest_first_only_when_there_are_more_than_it_ranks(
        app, circle_pair, ranked_up_to_five, count_queries):
    """FTS5 reads its index backwards at several times the cost (bench/findings.md,
    35): a search with no more matches than it ranks reads it forwards, once;
    with more, it asks again, newest first, and ranks those."""
    from community.threads.search import search

    circle, owner, helen = circle_pair
    for n in range(7):
        make_thread(circle, owner, title=f"Week {n}", body=f"the rota for week {n}")
    make_thread(circle, owner, title="Budget", body="the budget, rota aside")

    def searched(query):
        with count_queries() as counted:
            hits, total, _ = search(helen, query)
        reads = [sql for sql in counted.statements if "search_fts MATCH" in sql]
        return [hit.title for hit in hits], total, ["search_fts.rowid DESC" in sql for sql in reads]

    assert searched("budget") == (["Budget"], 1, [False])
    # The read rule is asked once, before: inside the statement it cost
    # PostgreSQL 1.6 ms of planning on every search (bench/findings.md, 35).
    with count_queries() as counted:
        search(helen, "budget")
    assert sum("FROM memberships" in sql for sql in counted.statements) == 1
    titles, total, reads = searched("rota")
    assert total == 6 and reads == [False, True]  # more than 5: the newest ones, ranked
    assert len(titles) == 5 and set(titles) < {"Budget", "Week 6", "Week 5", "Week 4", "Week 3", "Week 2"}


def test_search_ranks_words_in_the_title_and_found_more_often_first(app, circle_pair):
    from community.threads.search import search

    circle, owner, helen = circle_pair
    once = make_thread(circle, owner, title="Notes", body="a word on the rota, and on much else besides")
    often = make_thread(circle, owner, title="Notes again", body="rota: the rota, the rotas, rota")
    titled = make_thread(circle, owner, title="The rota", body="as it stands")
    hits, total, _ = search(helen, "rota")
    assert [hit.thread_id for hit in hits] == [titled.id, often.id, once.id] and total == 3
