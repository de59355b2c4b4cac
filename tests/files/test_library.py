"""The circle's Files page: what it lists and where, filters, pages, its cost;
removing a file; files after their sharer leaves or deletes their account."""
import io
import itertools
import re

import pytest
from sqlalchemy import func, select, update

from community.accounts.actions import delete_account
from community.chat.actions import send_message
from community.circles.actions import leave_circle
from community.circles.models import Circle
from community.database import begin_write
from community.extensions import db
from community.files import actions
from community.files.base import describe_size
from community.files.library import FILES_PER_PAGE
from community.files.models import Attachment
from community.meetings.actions import scheduling
from community.moderation.models import AuditEvent
from community.threads.actions import delete_post, start_thread
from community.threads.models import Post
from community.timeutil import utcnow
from tests.factories import PASSWORD, add_member, make_circle, make_user
from tests.files.builders import docx_bytes, image_bytes
from tests.files.test_attachments import stored_files
from tests.meetings.conftest import meeting_fields

_titles = itertools.count(1)


def uploaded(user, circle, data=b"notes\n", name="notes.txt") -> Attachment:
    return actions.upload(user, circle.slug, io.BytesIO(data), name)


def attached(user, circle, place: str, files: list[Attachment], title=None):
    """Put the user's uploads on a new thread ("post"), meeting or chat message. Returns the place's id."""
    title = title or f"Slides {next(_titles)}"  # a thread like the last one would be the last one
    if place == "post":
        thread = start_thread(user, circle.slug, title, "From the visit")
        place_id = db.session.scalar(select(Post.id).where(Post.thread_id == thread.id))
    elif place == "meeting":
        place_id = scheduling.schedule_meeting(user, circle.slug, **meeting_fields(title=title)).id
    else:
        place_id = send_message(user, circle.slug, "Here it is", f"c{files[0].id}")[0]["id"]
    begin_write()
    column = {"post": "post_id", "meeting": "meeting_id", "chat": "chat_message_id"}[place]
    actions.attach(user, circle.id, [f.public_id for f in files], **{column: place_id})
    db.session.commit()
    return place_id


def share(user, circle, place="post", data=b"notes\n", name="notes.txt", title=None) -> Attachment:
    attachment = uploaded(user, circle, data, name)
    attached(user, circle, place, [attachment], title)
    return attachment


def listing(client, circle, **args) -> str:
    got = client.get(f"/c/{circle.slug}/files", query_string=args)
    assert got.status_code == 200
    return got.get_data(as_text=True)


def names_in(page: str) -> list[str]:
    return re.findall(r'class="file-row__name" href="[^"]*">([^<]*)</a>', page)


def test_lists_attached_files_newest_first_with_who_and_where(app, client, auth, world):
    circle, owner, member = world
    share(owner, circle, "post", docx_bytes(), "Minutes.docx", title="After the prison visit")
    share(member, circle, "meeting", image_bytes("PNG"), "whiteboard.png", title="March meetup")
    chat_file = share(member, circle, "chat", b"a,b\n1,2\n", "figures.csv")
    uploaded(owner, circle, b"draft\n", "draft.txt")  # never attached: not listed
    auth.login(owner)
    page = listing(client, circle)
    assert names_in(page) == ["figures.csv", "whiteboard.png", "Minutes.docx"]
    assert "draft.txt" not in page and "3 files" in page
    assert f'href="/c/{circle.slug}/files/{chat_file.public_id}/figures.csv"' in page
    assert "Word document" in page and "PNG image" in page and "CSV" in page
    assert owner.display_name in page and member.display_name in page
    assert re.search(rf'in <a href="/c/{circle.slug}/t/\d+\?page=1#post-1">After the prison visit</a>', page)
    assert re.search(rf'at the meeting <a href="/c/{circle.slug}/m/\d+">March meetup</a>', page)
    assert f'in the <a href="/c/{circle.slug}/chat">chat</a>' in page
    assert "<time datetime=" in page
    # The space: the four stored files (the draft too: it is stored) against the quota of 2 GB.
    used = db.session.scalar(select(func.sum(Attachment.size)))
    assert used > 0 and f"{describe_size(used)} of 2 GB used" in page
    assert f'href="/c/{circle.slug}/files" aria-current="page">Files</a>' in page


def test_the_circle_navigation_links_the_files_page(app, client, auth, world):
    circle, owner, _ = world
    auth.login(owner)
    home = client.get(f"/c/{circle.slug}/").get_data(as_text=True)
    assert f'<a href="/c/{circle.slug}/files">Files</a>' in home


def test_empty_state_says_what_to_do(app, client, auth, world):
    circle, owner, _ = world
    auth.login(owner)
    page = listing(client, circle)
    assert "No files shared yet" in page and f"/c/{circle.slug}/threads/new" in page
    assert "0 bytes of 2 GB used" in page


def test_filter_by_kind_and_search_by_name(app, client, auth, world):
    circle, owner, _ = world
    share(owner, circle, "post", docx_bytes(), "Budget_2025.docx")
    share(owner, circle, "post", image_bytes("PNG"), "Budget photo.png")
    share(owner, circle, "post", b"x\n", "Budget100%.txt")
    share(owner, circle, "post", b"y\n", "agenda.txt")
    auth.login(owner)
    assert names_in(listing(client, circle, kind="images")) == ["Budget photo.png"]
    assert names_in(listing(client, circle, kind="documents")) == [
        "agenda.txt", "Budget100%.txt", "Budget_2025.docx"]
    assert len(names_in(listing(client, circle, kind="nonsense"))) == 4
    assert names_in(listing(client, circle, q="bUdGeT")) == [
        "Budget100%.txt", "Budget photo.png", "Budget_2025.docx"]
    # %, _ and \ are letters in a search, not patterns.
    assert names_in(listing(client, circle, q="100%")) == ["Budget100%.txt"]
    assert names_in(listing(client, circle, q="t_2")) == ["Budget_2025.docx"]
    assert names_in(listing(client, circle, q="%")) == ["Budget100%.txt"]
    assert names_in(listing(client, circle, q="\\")) == []
    none = listing(client, circle, q="minutes", kind="images")
    assert "No file matches that" in none and "No files shared yet" not in none


def test_paginated(app, client, auth, world):
    circle, owner, _ = world
    post_files = [uploaded(owner, circle, f"file {n}\n".encode(), f"f{n:02}.txt")
                  for n in range(FILES_PER_PAGE + 1)]
    for start in range(0, len(post_files), 10):
        attached(owner, circle, "post", post_files[start:start + 10])
    auth.login(owner)
    first = listing(client, circle)
    assert len(names_in(first)) == FILES_PER_PAGE and "Page 1 of 2" in first
    assert names_in(first)[0] == f"f{FILES_PER_PAGE:02}.txt"
    assert names_in(listing(client, circle, page=2)) == ["f00.txt"]
    # The pager's links keep the search, and only what the page understands.
    searched = listing(client, circle, q="f", utm_source="newsletter")
    older = re.search(r'href="([^"]+)" rel="next"', searched).group(1).replace("&amp;", "&")
    assert older == f"/c/{circle.slug}/files?page=2&q=f"
    second = client.get(older).get_data(as_text=True)
    assert names_in(second) == ["f00.txt"] and "Page 2 of 2" in second
    newer = re.search(r'href="([^"]+)" rel="prev"', second).group(1).replace("&amp;", "&")
    assert newer == f"/c/{circle.slug}/files?page=1&q=f"


def test_statements_stay_within_budget_and_do_not_grow_with_files(app, client, auth, world,
                                                                   count_queries):
    circle, owner, member = world
    share(owner, circle, "post")
    auth.login(member)
    listing(client, circle)  # warm: the first request loads what every request then has
    with count_queries() as one:
        listing(client, circle)
    for place in ("post", "meeting", "chat"):
        attached(owner if place != "chat" else member, circle, place,
                 [uploaded(owner if place != "chat" else member, circle, f"{place} {n}".encode(),
                           f"{place}{n}.txt") for n in range(8)])
    share(make_user_in(circle), circle, "post")
    with count_queries() as many:
        page = listing(client, circle)
    assert len(names_in(page)) == 26
    assert many.count == one.count <= 8, many.statements


def make_user_in(circle):
    return add_member(circle)


@pytest.mark.parametrize("who", ["outsider", "removed", "banned", "left", "missing"])
def test_outsiders_get_the_404_of_a_missing_circle(app, client, auth, world, who):
    circle, owner, member = world
    share(owner, circle, "post")
    slug = circle.slug
    if who == "outsider":
        member = make_user()
    elif who == "missing":
        slug = "no-such-circle"
    elif who == "left":
        leave_circle(member, circle.slug)
    else:
        from tests.files.test_attachments import _set_status
        _set_status(member, circle, who)
    auth.login(member)
    assert client.get(f"/c/{slug}/files").status_code == 404


def test_a_member_owing_the_pledge_is_sent_to_accept_it(app, client, auth, world):
    circle, owner, member = world
    share(owner, circle, "post")
    db.session.execute(update(Circle).where(Circle.id == circle.id).values(
        pledge_required=True, pledge_updated_at=utcnow()))
    db.session.commit()
    auth.login(member)
    got = client.get(f"/c/{circle.slug}/files")
    assert got.status_code == 302 and "/pledge" in got.headers["Location"]


def test_a_member_without_a_second_factor_the_circle_requires_is_sent_to_set_one_up(
        app, client, auth, world):
    circle, owner, member = world
    share(owner, circle, "post", name="budget-cuts.txt")
    db.session.execute(update(Circle).where(Circle.id == circle.id).values(require_two_factor=True))
    db.session.commit()
    auth.login(member)
    got = client.get(f"/c/{circle.slug}/files")
    assert got.status_code == 302 and f"/c/{circle.slug}/second-factor" in got.headers["Location"]
    assert "budget-cuts" not in client.get(got.headers["Location"]).get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(app, client, world):
    circle, _, _ = world
    got = client.get(f"/c/{circle.slug}/files")
    assert got.status_code == 302 and "/auth/login" in got.headers["Location"]


def test_a_removed_posts_files_are_not_listed(app, client, auth, world):
    circle, owner, _ = world
    kept = share(owner, circle, "post", name="kept.txt")
    gone = uploaded(owner, circle, b"gone\n", "gone.txt")
    post_id = attached(owner, circle, "post", [gone])
    delete_post(owner, circle.slug, post_id)
    auth.login(owner)
    assert names_in(listing(client, circle)) == [kept.name]


# --- Removing a file -------------------------------------------------------------

def remove(client, circle, attachment, **data):
    return client.post(f"/c/{circle.slug}/files/{attachment.public_id}/delete", data=data)


def audit_actions(circle) -> list[tuple[str, int | None, str]]:
    return [(e.action, e.target_user_id, e.detail) for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.circle_id == circle.id,
                                 AuditEvent.action == "file.deleted"))]


def test_the_sharer_removes_their_file_and_its_bytes_go(app, client, auth, world):
    circle, owner, member = world
    mine = share(member, circle, "post", image_bytes("PNG"), "mine.png")
    key, url = mine.storage_key, f"/c/{circle.slug}/files/{mine.public_id}/mine.png"
    before = len(stored_files(app))
    auth.login(member)
    page = listing(client, circle)
    assert "Remove “mine.png” for everyone?" in page  # asked on the page, without script
    got = remove(client, circle, mine, next=f"/c/{circle.slug}/files?q=mine")
    assert got.status_code == 302 and got.headers["Location"] == f"/c/{circle.slug}/files?q=mine"
    assert db.session.scalar(select(Attachment).where(Attachment.storage_key == key)) is None
    assert len(stored_files(app)) == before - 2  # the image and its thumbnail
    assert audit_actions(circle) == []  # one's own file: nothing to audit
    assert "“mine.png” is removed." in client.get(got.headers["Location"]).get_data(as_text=True)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("role", ["moderator", "owner"])
def test_staff_remove_anyones_file_and_the_audit_log_says_so(app, client, auth, world, role):
    circle, owner, member = world
    staff = owner if role == "owner" else add_member(circle, role="moderator")
    theirs = share(member, circle, "chat", name="rumour.txt")
    theirs_id = theirs.id
    auth.login(staff)
    assert "Remove “rumour.txt” for everyone?" in listing(client, circle)
    assert remove(client, circle, theirs).status_code == 302
    assert db.session.get(Attachment, theirs_id) is None
    assert audit_actions(circle) == [("file.deleted", member.id, "“rumour.txt”")]
    log = client.get(f"/c/{circle.slug}/manage/audit").get_data(as_text=True)
    assert "removed a file shared by" in log


def test_a_plain_member_cannot_remove_anothers_file(app, client, auth, world):
    circle, owner, member = world
    theirs = share(owner, circle, "post")
    auth.login(member)
    assert "Remove “" not in listing(client, circle)
    assert remove(client, circle, theirs).status_code == 403
    assert db.session.get(Attachment, theirs.id) is not None


@pytest.mark.parametrize("who", ["outsider", "other_circle", "missing", "pledge", "second_factor"])
def test_removal_by_anyone_outside_is_the_404_of_a_missing_file(app, client, auth, world, who):
    circle, owner, member = world
    theirs = share(owner, circle, "post")
    slug, viewer, public_id = circle.slug, make_user(), theirs.public_id
    if who == "other_circle":
        viewer = owner
        slug = make_circle(owner, name="Elsewhere").slug
    elif who == "missing":
        viewer, public_id = owner, "x" * 22
    elif who == "pledge":
        viewer = add_member(circle, role="moderator")
        db.session.execute(update(Circle).where(Circle.id == circle.id).values(
            pledge_required=True, pledge_updated_at=utcnow()))
        db.session.commit()
    elif who == "second_factor":  # a moderator without one, in a circle that requires it
        viewer = add_member(circle, role="moderator")
        db.session.execute(update(Circle).where(Circle.id == circle.id).values(require_two_factor=True))
        db.session.commit()
    auth.login(viewer)
    assert client.post(f"/c/{slug}/files/{public_id}/delete").status_code == 404
    assert db.session.get(Attachment, theirs.id) is not None


def test_a_moderator_cannot_remove_someones_unshared_upload(app, client, auth, world):
    circle, owner, member = world
    draft = uploaded(member, circle)
    auth.login(owner)
    assert remove(client, circle, draft).status_code == 403
    assert db.session.get(Attachment, draft.id) is not None


def test_a_download_link_ending_in_delete_is_still_a_download(app, client, auth, world):
    circle, owner, _ = world
    named = share(owner, circle, "post", b"plain\n", "delete")
    auth.login(owner)
    # The name in a download link is cosmetic: GET .../delete is the download, not a 405.
    got = client.get(f"/c/{circle.slug}/files/{named.public_id}/delete")
    assert got.status_code == 302 and got.headers["Location"].endswith("/delete.txt")


# --- Files after their sharer has gone ---------------------------------------------

def test_leaving_anonymised_keeps_the_files_without_the_name(app, client, auth, world):
    circle, owner, member = world
    other = make_circle(member, name="Elsewhere")
    here = share(member, circle, "post", name="here.txt")
    there = share(member, other, "post", name="there.txt")
    leave_circle(member, circle.slug, anonymise=True)
    assert db.session.get(Attachment, here.id).uploader_id is None
    assert db.session.get(Attachment, there.id).uploader_id == member.id  # only that circle
    auth.login(owner)
    page = listing(client, circle)
    assert names_in(page) == ["here.txt"] and "Former member" in page
    assert member.display_name not in page


def test_leaving_without_anonymising_keeps_the_name(app, client, auth, world):
    circle, owner, member = world
    share(member, circle, "post")
    leave_circle(member, circle.slug)
    auth.login(owner)
    assert member.display_name in listing(client, circle)


def test_a_deleted_accounts_files_stay_as_former_members(app, client, auth, world):
    circle, owner, member = world
    share(member, circle, "meeting", name="agenda.txt")
    name = member.display_name
    delete_account(member, PASSWORD)
    auth.login(owner)
    page = listing(client, circle)
    assert names_in(page) == ["agenda.txt"] and "Former member" in page and name not in page


def test_deleting_an_account_takes_the_files_of_circles_it_was_alone_in(app, world):
    circle, owner, member = world
    alone = make_circle(member, name="Just me")
    share(member, alone, "post", image_bytes("PNG"), "mine.png")
    kept = share(member, circle, "post", b"kept\n", "kept.txt")
    kept_id = kept.id
    delete_account(member, PASSWORD)
    assert [a.id for a in db.session.scalars(select(Attachment))] == [kept_id]
    assert sorted(stored_files(app)) == [kept.storage_key]


@pytest.mark.parametrize("narrowed", [{}, {"q": "NOTES"}, {"kind": "documents"}],
                         ids=["all", "a name in any case", "a kind"])
def test_the_count_of_files_and_the_space_they_use_are_one_read_of_the_index(app, client, auth,
                                                                             world, narrowed):
    """The count reads each file's place and the quota line sums their sizes
    from the circle's index, in one statement: neither reads an attachment's
    row (half the count's time at 1,137 files, and most of the sum's;
    bench/findings.md, 34 and 35), nor the post, meeting or chat message each
    file is in (a removed one's files are discarded with it: a quarter of the
    page's time), and PostgreSQL makes one round trip for both (39). A name
    or kind searched for is read from the index too (45)."""
    from sqlalchemy import event

    circle, owner, member = world
    for place in ("post", "meeting", "chat"):
        share(owner if place != "chat" else member, circle, place)
    uploaded(member, circle, b"a draft\n", "draft.txt")  # stored, so counted against the quota
    auth.login(member)
    sent = []
    listen = lambda conn, cursor, statement, parameters, *args: sent.append((statement, parameters))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        page = listing(client, circle, **narrowed)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert len(names_in(page)) == 3
    counted = [(s, p) for s, p in sent if "attachments" in s and re.search(r"\b(count|sum)\(", s)]
    assert len(counted) == 1, [s for s, _ in sent]
    assert describe_size(db.session.scalar(select(func.sum(Attachment.size)))) in page  # the draft too
    driver = db.session.connection().connection.driver_connection
    sql, parameters = counted[0]
    plan = " ".join(row[-1] for row in driver.execute("EXPLAIN QUERY PLAN " + sql, parameters))
    assert "COVERING INDEX ix_attachments_circle_searched" in plan, (sql, plan)
    assert not re.search(r"\b(posts|meetings|chat_messages)\b", plan), (sql, plan)
    # SQLite's LIKE ignores the case its lower() would fold: no lower() of every row.
    assert "lower(" not in sql.lower(), sql
