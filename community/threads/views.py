"""Thread pages: the list, a thread, posting, editing, reactions, reports, search."""
from typing import NamedTuple

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import mentions as mentions_module
from .. import timefmt
from ..challenges.present import ChallengeFace, challenge_face, composer_context
from ..circles.models import Membership
from ..circles.pages import CircleHead, circle_head, circle_page
from ..errors import ActionError
from ..extensions import db
from ..fast.fragments import SLOT_MARKS, clean, cleaned, kept_page, numbered, parts_of
from ..files.models import Attachment
from ..files.places import faces_of, kept_uploads
from ..files.present import files_of
from ..forms import apply_error
from ..pagination import page_number
from ..panels import circle_home_panel, dashboard_panel
from ..policy import (
    access_post,
    access_thread,
    can_edit_post,
    can_reply,
    post_rights,
    require,
)
from ..security import csrf_token
from ..templating import kept_in_layout, layout_slots, layout_state, viewer_times
from ..timeutil import utcnow
from . import actions, reading
from . import search as search_module
from .forms import EditForm, ReplyForm, ReportForm, ThreadForm
from .models import Post, Thread
from .post_html import face, post_parts, time_slots
from .rows import ThreadRow, counted_listing, home_rows, listing, thread_rows

bp = Blueprint("threads", __name__)
bp.add_app_template_global(thread_rows)

THREADS_PER_PAGE = 25


@bp.route("/c/<slug>/threads")
@login_required
@circle_page(rows=True)
def index(circle, membership):
    """A page of the circle's threads, kept whole per what it shows
    (fast.fragments.kept_page), the rows' times slots named by their moments."""
    page = page_number()
    rows, total = counted_listing(circle.id, current_user.id, THREADS_PER_PAGE, (page - 1) * THREADS_PER_PAGE)
    frame = ThreadListFrame(circle_head(circle, membership), circle.id, tuple(rows), page,
                            max(1, -(-total // THREADS_PER_PAGE)))
    return kept_in_layout("threads/index.html", frame, lambda: _list_context(frame))


class ThreadListFrame(NamedTuple):
    """Everything a circle's thread list shows, bar its slots: its key in the memo."""

    head: CircleHead
    circle_id: int
    rows: tuple[ThreadRow, ...]
    page: int
    pages: int


def _list_context(frame: ThreadListFrame) -> dict:
    shown = cleaned(frame)
    return {"frame": shown, "circle_head": shown.head, "circles": {frame.circle_id: shown.head}}


@circle_home_panel("threads/_home_panel.html", order=10)
def home_panel(circle, membership):
    """The latest five threads, and the circle's open challenges and those waiting for an update."""
    rows = home_rows(circle.id, membership.user_id, 5)
    # The latest five rank above every other thread, so they are the first five rows.
    challenges = [row for row in rows if row.phase and (row.phase != "follow_up" or row.awaiting_update)]
    return {"threads": rows[:5], "circles": {circle.id: circle},
            "open_challenges": [row for row in challenges if row.phase != "follow_up"],
            "awaiting_update": [row for row in challenges if row.phase == "follow_up"]}


@dashboard_panel("threads/_dashboard_panel.html", order=10)
def dashboard_threads(user, circles):
    names = {c.id: c for c, _ in circles}
    return {"threads": listing(list(names), user.id, 8) if names else [], "circles": names}


@bp.route("/c/<slug>/threads/new", methods=["GET", "POST"])
@login_required
@circle_page(keep="body")
def new(circle, membership):
    form = ThreadForm()
    attachments = request.form.getlist("attachments")
    if form.validate_on_submit():
        try:
            thread = actions.start_thread(current_user, circle.slug, form.title.data, form.body.data,
                                          attachments=attachments)
        except ActionError as err:
            apply_error(form, err)
        else:
            return redirect(url_for("threads.show", slug=circle.slug, thread_id=thread.id))
    return render_template("threads/new.html", circle=circle, membership=membership, form=form,
                           kept=kept_uploads(current_user, circle.id, attachments, circle.slug)), \
        400 if form.errors else 200


@bp.route("/c/<slug>/t/<int:thread_id>")
@login_required
@circle_page(rows=True)
def show(circle, membership, thread_id):
    """A page of 20 posts. Opened without a page, it jumps to the first unread post."""
    asked = page_number()
    thread, posts = reading.thread_in(circle, thread_id, current_user.id, asked)
    read = thread.last_read_number or 0
    pages = max(1, -(-thread.post_count // actions.PER_PAGE))
    if "page" not in request.args and 0 < read < thread.post_count:
        return redirect(actions.post_url(circle, thread, read + 1))
    page = min(asked, pages)
    if page != asked:  # beyond the last page: the last
        posts = reading.page_of_posts(thread.id, (page - 1) * actions.PER_PAGE + 1, current_user.id)
    quote = _quote_of(thread, request.args.get("quote", type=int))
    first_unread = read + 1 if read < thread.post_count else None
    now = utcnow()
    challenge = challenge_face(thread, membership, now) if thread.kind == "challenge" else None
    frame = _frame(circle, membership, thread, page, pages, posts, first_unread, challenge)
    shown = _shown(posts, membership)
    slots = {"csrf": csrf_token(), **layout_slots()}
    zone, clock = viewer_times()
    if challenge is not None and challenge.ends_at is not None:
        slots["phase_ends"] = timefmt.full(challenge.ends_at, zone, clock)
    for number, post in enumerate(posts):
        time_slots(post, number, zone, clock, slots, now)
    # The page may show nothing per viewer but its key (frame, shown,
    # first_unread, quote), the layout's state and the slots: while it renders,
    # current_user, membership, circle, request, session and g raise (fast/README.md).
    return kept_page(
        "threads/show.html", (frame, shown, first_unread, quote),
        lambda: {"frame": frame, "circle_head": frame.head,
                 "posts": SLOT_MARKS.posts, "reply_form": SLOT_MARKS.reply},
        slots,
        inner={"posts": lambda: numbered(_posts_parts(frame, shown, first_unread)),
               "reply": lambda: parts_of("threads/_reply_form.html", _reply_form_context,
                                         (circle.slug, thread.id, quote)) if challenge is None
               else parts_of("challenges/_composer.html", composer_context,
                             (circle.slug, thread.id, challenge, quote))},
        layout=layout_state())


class ThreadFrame(NamedTuple):
    """Everything a thread page shows around its posts and reply form: its key
    in the memo (fast.fragments.kept_page). The circle's layout shows its head."""

    head: CircleHead  # the circle, and whether the viewer may pin, lock and manage
    thread_id: int
    title: str
    pinned: bool
    locked: bool
    can_reply: bool
    subscription: str | None
    page: int
    pages: int
    mark_read: int | None  # the noscript "mark read" form's number, when the page has unread posts
    challenge: ChallengeFace | None  # a challenge's phase, and what the viewer may post in it


def _frame(circle, membership, thread, page: int, pages: int, posts: list[reading.PagePost],
           first_unread: int | None, challenge: ChallengeFace | None) -> ThreadFrame:
    last_number = posts[-1].number if posts else 0
    # In a challenge the phase says who may post what (policy.challenge_post_kinds).
    replies = can_reply(membership, thread) if challenge is None else bool(
        challenge.kinds or challenge.may_hold)
    return ThreadFrame(
        circle_head(circle, membership), thread.id, thread.title, thread.pinned, thread.locked,
        replies, thread.subscription, page, pages,
        last_number if first_unread and last_number >= first_unread else None, challenge)


def _shown(posts: list[reading.PagePost], membership: Membership) -> tuple[tuple, ...]:
    """What the page's posts show this viewer, as the page's key holds it: each
    post's row (with its reactions and files as read) and the viewer's rights
    over it. The faces (post_html.face) are made from these only when the page
    is drawn: made on every load, they were a twentieth of it (bench/findings.md, 47)."""
    rights = post_rights(membership)
    return tuple((post, rights(post.author_id, post.removed)) for post in posts)


def _posts_parts(frame: ThreadFrame, shown: tuple[tuple, ...], first_unread: int | None) -> list:
    place = (frame.head.slug, frame.thread_id, frame.page)
    return [post_parts(face(post, reading.reactions_of(post), reading.files_of(post),
                            (frame.can_reply, *rights), place, first_unread))
            for post, rights in shown]


def _reply_form_context(key: tuple[str, int, str]) -> dict:
    slug, thread_id, body = key
    return {"slug": slug, "thread_id": thread_id,
            "form": ReplyForm(formdata=None, data={"body": clean(body)}, meta={"csrf": False})}


def _quote_of(thread: Thread, post_id: int | None) -> str:
    """The reply form's starting text when quoting a post (?quote=<post id>)."""
    if not post_id:
        return ""
    post = db.session.scalar(select(Post).where(Post.id == post_id, Post.thread_id == thread.id))
    if post is None or post.removed:
        return ""
    who = f"@{post.author.handle}" if post.author else "Someone"
    quoted = "\n".join("> " + line for line in post.source.splitlines())
    return f"> {who} wrote:\n{quoted}\n\n"


@bp.post("/c/<slug>/t/<int:thread_id>/reply")
@login_required
@circle_page(keep="body")
def reply(circle, membership, thread_id):
    """Post a reply. Refused, the reply comes back on a page of its own with the
    message, the text and the files, to be sent again."""
    form = ReplyForm()
    body = form.body.data or ""
    attachments = request.form.getlist("attachments")
    try:
        post = actions.post_reply(current_user, circle.slug, thread_id, body, attachments=attachments)
    except ActionError as err:
        _, _, thread = access_thread(current_user, circle.slug, thread_id)
        apply_error(form, err)
        return render_template("threads/reply.html", circle=circle, membership=membership,
                               thread=thread, form=form,
                               kept=kept_uploads(current_user, circle.id, attachments, circle.slug)), 400
    thread = db.session.get(Thread, post.thread_id)
    return redirect(actions.post_url(circle, thread, post.number))


@bp.route("/c/<slug>/p/<int:post_id>/edit", methods=["GET", "POST"])
@login_required
@circle_page
def edit(circle, membership, post_id):
    _, _, post = access_post(current_user, circle.slug, post_id)
    require(can_edit_post(membership, post), "You can only edit your own posts.")
    thread = db.session.get(Thread, post.thread_id)
    form = EditForm(data={"body": post.source, "title": thread.title} if request.method == "GET" else None)
    if post.number != 1:
        del form.title  # only the opening post has one: its errors would show nowhere
    attachments = request.form.getlist("attachments")
    remove = request.form.getlist("remove_files")
    if form.validate_on_submit():
        try:
            actions.edit_post(current_user, circle.slug, post.id, form.body.data,
                              title=form.title.data if post.number == 1 else None,
                              attachments=attachments, remove_files=remove)
        except ActionError as err:
            apply_error(form, err)
        else:
            flash("Your post is updated.", "success")
            return redirect(actions.post_url(circle, thread, post.number))
    files = faces_of(files_of(Attachment.post_id, [post.id]).get(post.id, ()))
    return render_template("threads/edit.html", circle=circle, membership=membership, post=post,
                           thread=thread, form=form, files=files, removing=set(remove),
                           kept=kept_uploads(current_user, circle.id, attachments, circle.slug)), \
        400 if form.errors else 200


@bp.post("/c/<slug>/p/<int:post_id>/delete")
@login_required
@circle_page
def delete(circle, membership, post_id):
    post = actions.delete_post(current_user, circle.slug, post_id)
    thread = db.session.get(Thread, post.thread_id)
    flash("The post is removed.", "success")
    return redirect(actions.post_url(circle, thread, post.number))


@bp.post("/c/<slug>/p/<int:post_id>/react")
@login_required
@circle_page
def react(circle, membership, post_id):
    added = actions.toggle_reaction(current_user, circle.slug, post_id, request.form.get("emoji", ""))
    _, _, post = access_post(current_user, circle.slug, post_id)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(ok=True, added=added)
    thread = db.session.get(Thread, post.thread_id)
    return redirect(actions.post_url(circle, thread, post.number))


@bp.route("/c/<slug>/p/<int:post_id>/report", methods=["GET", "POST"])
@login_required
@circle_page
def report(circle, membership, post_id):
    _, _, post = access_post(current_user, circle.slug, post_id)
    if post.removed:
        abort(404)
    thread = db.session.get(Thread, post.thread_id)
    form = ReportForm()
    if form.validate_on_submit():
        try:
            actions.report_post(current_user, circle.slug, post.id, form.reason.data)
        except ActionError as err:
            apply_error(form, err)
        else:
            flash("Thank you. The circle's moderators will look at it.", "success")
            return redirect(actions.post_url(circle, thread, post.number))
    return render_template("threads/report.html", circle=circle, membership=membership, post=post,
                           thread=thread, form=form), 400 if form.errors else 200


@bp.post("/c/<slug>/t/<int:thread_id>/<any(pin, unpin, lock, unlock):verb>")
@login_required
@circle_page
def moderate(circle, membership, thread_id, verb):
    if verb in ("pin", "unpin"):
        actions.set_pinned(current_user, circle.slug, thread_id, verb == "pin")
    else:
        actions.set_locked(current_user, circle.slug, thread_id, verb == "lock")
    flash({"pin": "Pinned to the top.", "unpin": "Unpinned.",
           "lock": "Locked: no new replies.", "unlock": "Reopened for replies."}[verb], "success")
    return redirect(url_for("threads.show", slug=circle.slug, thread_id=thread_id, page=1))


@bp.post("/c/<slug>/t/<int:thread_id>/subscription")
@login_required
@circle_page
def subscription(circle, membership, thread_id):
    choice = request.form.get("subscription") or None
    actions.set_subscription(current_user, circle.slug, thread_id, choice)
    flash({"following": "You'll hear of every reply.", "muted": "Muted: only mentions will reach you.",
           None: "Back to normal: you'll hear of mentions and replies once you post."}[choice], "success")
    return redirect(url_for("threads.show", slug=circle.slug, thread_id=thread_id, page=1))


@bp.post("/c/<slug>/t/<int:thread_id>/read")
@login_required
@circle_page
def read(circle, membership, thread_id):
    """Record how far the viewer has read (sent by threads.js, or the no-JS button)."""
    number = request.form.get("number", type=int)
    if number is None:
        abort(400)
    state = actions.mark_read(current_user, circle.slug, thread_id, number)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(ok=True, read=state.last_read_number)
    return redirect(url_for("threads.index", slug=circle.slug))


@bp.post("/c/<slug>/threads/read")
@login_required
@circle_page
def read_all(circle, membership):
    actions.mark_circle_read(current_user, circle.slug)
    flash("Everything in this circle is marked read.", "success")
    return redirect(url_for("threads.index", slug=circle.slug))


@bp.route("/c/<slug>/search")
@login_required
@circle_page(rows=True)
def search(circle, membership):
    return _search_page(circle_head(circle, membership), circle.id)


@bp.route("/search")
@login_required
def search_all():
    """Search across every circle the viewer is an active member of."""
    return _search_page(None, None)


class SearchFrame(NamedTuple):
    """Everything a page of search results shows: its key in the memo (the
    results are the viewer's own, found in their circles)."""

    head: CircleHead | None  # the circle searched, or None: all the viewer's
    q: str
    hits: tuple[search_module.Hit, ...]
    total: int  # ranked
    more: bool  # there are more matches than were ranked
    page: int
    pages: int


def _search_page(head: CircleHead | None, circle_id: int | None) -> bytes:
    """A page of results, kept whole per what it shows (fast.fragments.kept_page):
    drawing twenty results was a third of the page (bench/findings.md, 35).
    Past search.RANKED matches it says there are more, and pages through the ranked ones."""
    q = (request.args.get("q") or "").strip()[:200]
    page = page_number()
    hits, total, _ = search_module.search(current_user, q, circle_id=circle_id, page=page)
    ranked = min(total, search_module.RANKED)
    frame = SearchFrame(head, q, tuple(hits), ranked, total > ranked, page,
                        max(1, -(-ranked // search_module.PER_PAGE)))
    context = {"circle_head": head} if head is not None else {}
    return kept_in_layout("threads/search.html", frame, lambda: {**context, "frame": cleaned(frame)})


@bp.route("/c/<slug>/mentions")
@login_required
@circle_page
def mentions(circle, membership):
    """Members whose name or handle contains ?q= anywhere, for the composers' @ autocomplete
    (threads and chat)."""
    rows = mentions_module.suggest_members(circle.id, request.args.get("q") or "")
    return jsonify([{"handle": h, "name": n} for h, n in rows])


@bp.route("/c/<slug>/mentions/known")
@login_required
@circle_page
def known_mentions(circle, membership):
    """Which of ?handles=a,b name a member, so a composer can warn of a mention
    that will stay plain text before it is posted."""
    handles = (request.args.get("handles") or "").replace(" ", ",").split(",")
    return jsonify({"known": sorted(mentions_module.known_handles(circle.id, handles))})
