"""HTTP routes of the meetings area: lists, meeting pages, RSVPs, date polls,
visits, .ics downloads, and the personal calendar feed.

Pages about one meeting, date or poll load it with policy's access_* loader
(the same NotFound for missing and not yours); a submit is checked by the
action it calls, and the view only shows what the action refused.
"""
from functools import wraps
from typing import NamedTuple

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..circles.pages import CircleHead, circle_head, circle_page, gate_url
from ..circles.with_viewer import circle_rows, reads_circle_rows
from ..errors import ActionError, NotFound
from ..extensions import db
from ..fast.fragments import cleaned
from ..files.places import kept_uploads
from ..forms import apply_error
from ..panels import circle_home_panel, dashboard_panel
from ..policy import (
    access_meeting,
    access_occurrence,
    access_poll,
    can_manage_meeting,
    can_manage_poll,
    can_vote,
    can_withdraw_host_offer,
    read_gate,
    readable,
    require,
)
from ..templating import kept_in_layout, viewer_times
from ..timeutil import DEFAULT_TIMEZONE, to_zone, utcnow
from . import feed_cache, queries, rows
from .actions import feeds, polls, rsvps, scheduling, visits
from .forms import CancelForm, ConfirmForm, HostOfferForm, MeetingForm, MoveForm, PollForm
from .ical import build_calendar
from .models import VOTES, HostOffer, Meeting, MeetingOccurrence
from .page import meeting_page
from .recurrence import describe, parse_rrule

bp = Blueprint("meetings", __name__)

LOCAL_INPUT = "%Y-%m-%dT%H:%M"
# Ids in paths fit the database's integer, so a huge number is a plain 404.
ID = "int(max=2147483647)"
MAX_ID = 2147483647


def loaded_page(load):
    """As circle_page, for a page about one meeting, date or poll: load(user,
    slug, **path arguments) is a policy loader giving (circle, membership,
    *rows), and the view is called as view(circle, membership, *rows). A member
    with something to do before reading (policy.read_gate) is sent to do it first.
    """
    def decorate(view):
        @wraps(view)
        def wrapper(slug, **kwargs):
            circle, membership, *rows = load(current_user, slug, **kwargs)
            gate = read_gate(circle, membership, current_user)
            if gate is not None:
                return redirect(gate_url(gate, circle.slug))
            return view(circle, membership, *rows)
        return wrapper
    return decorate


def _date_of_meeting(user, slug: str, meeting_id: int, occurrence_id: int):
    """access_occurrence, for a path that names the date's meeting too.

    :raise NotFound: as access_occurrence, or the date is another meeting's.
    """
    circle, membership, occurrence = access_occurrence(user, slug, occurrence_id)
    if occurrence.meeting_id != meeting_id:
        raise NotFound()
    return circle, membership, occurrence


def _meeting_on_date(user, slug: str, meeting_id: int):
    """(circle, membership, opened) for a meeting's page, all plain rows: the
    circle and membership as policy.access_circle_rows gives them, and the
    meeting in that circle on the date ?date=<id> names, else the one the page
    opens on, with its run sheet (queries.opened_meeting).

    :raise NotFound: as access_meeting, or ?date names no date of this meeting.
    """
    circle, membership = circle_rows(user, slug)
    date_id = None
    if "date" in request.args:
        date_id = request.args.get("date", type=int)
        if date_id is None or not 0 < date_id <= MAX_ID:
            raise NotFound()
    return circle, membership, _opened(circle, meeting_id, date_id)


def _opened(circle, meeting_id: int, date_id: int | None) -> queries.OpenedMeeting:
    """queries.opened_meeting, or NotFound: no such meeting here, or no such date of it."""
    opened = queries.opened_meeting(circle.id, meeting_id, date_id, utcnow())
    if opened is None or opened.date is None:
        raise NotFound()
    return opened


def page_again(circle, membership, meeting_id: int, date_id: int | None, error: str, status: int,
               kept=()):
    """The meeting's page on the date (None: the one it opens on) with why a
    form on it was refused (its changes rolled back)."""
    opened = _opened(circle, meeting_id, date_id)
    return meeting_page(circle, membership, opened, error=error, status=status, kept=kept)


# --- Panels on the circle home and the dashboard ----------------------------------------

@circle_home_panel("meetings/_home_panel.html", order=20)
def next_in_circle(circle, membership) -> dict:
    """The circle's next three dates."""
    return {"circle": circle, "dates": queries.next_dates([circle.id], utcnow())}


@dashboard_panel("meetings/_dashboard_panel.html", order=20)
def next_across_circles(user, circles) -> dict:
    """The next three dates across all the viewer's circles."""
    return {"dates": queries.next_dates([c.id for c, _ in readable(circles, user)], utcnow())}


# --- Template helpers --------------------------------------------------------------------

@bp.app_template_global()
def meeting_times(start, end, zone_name: str) -> dict:
    """A date's times on the viewer's clock and, if it differs, on the meeting's own."""
    return rows.times(start, end, zone_name, *viewer_times())


bp.add_app_template_global(rows.date_rows)
bp.add_app_template_global(rows.date_rows_html)
bp.add_app_template_global(rows.next_date_rows)


@bp.app_template_global()
def repeat_text(meeting: Meeting) -> str:
    return describe(meeting.rrule, meeting.timezone)


# --- Lists ---------------------------------------------------------------------------------

@bp.route("/c/<slug>/meetings/")
@login_required
@circle_page(rows=True)
def index(circle, membership):
    """Coming meetings (paginated; a series once, its next dates folded under it),
    open date polls and offers to host a visit: kept whole per what it shows
    (fast.fragments.kept_page), its times slots named by their moments."""
    now = utcnow()
    page = queries.upcoming(circle, now, current_user)
    folded, coming = queries.folded_dates([o.meeting_id for o in page.items
                                           if o.rrule is not None], now, current_user)
    polls, offers = queries.open_polls_and_offers(circle)
    offers = tuple(OfferShown(o.id, o.user_name, o.organisation, o.places, o.note,
                              can_withdraw_host_offer(membership, o))
                   for o in offers)
    frame = MeetingsFrame(circle_head(circle, membership), rows.date_rows_of(page.items, folded, coming),
                          page.page, page.pages, polls, offers)
    return kept_in_layout("meetings/index.html", frame, lambda: _index_context(frame))


class OfferShown(NamedTuple):
    """An offer to host a visit as the meetings list shows it to this viewer."""

    id: int
    user_name: str
    organisation: str
    places: int | None
    note: str | None
    can_withdraw: bool


class MeetingsFrame(NamedTuple):
    """Everything the coming meetings list shows, bar its slots: its key in the memo."""

    head: CircleHead
    dates: tuple[rows.DateRow, ...]
    page: int
    pages: int
    polls: tuple[queries.OpenPoll, ...]
    offers: tuple[OfferShown, ...]


def _index_context(frame: MeetingsFrame) -> dict:
    shown = cleaned(frame)
    return {"frame": shown, "circle_head": shown.head}


@bp.route("/c/<slug>/meetings/past")
@login_required
@circle_page
def past(circle, membership):
    page = queries.past(circle, utcnow(), current_user)
    return render_template("meetings/past.html", circle=circle, membership=membership, page=page)


# --- Proposing and changing a meeting ----------------------------------------------------

@bp.route("/c/<slug>/meetings/new", methods=["GET", "POST"])
@login_required
@circle_page
def new(circle, membership):
    form = MeetingForm()
    form.set_hosts(queries.circle_members(circle))
    if request.method == "GET":
        form.timezone.data = current_user.timezone or DEFAULT_TIMEZONE
        _prefill_offer(form, circle)
    attachments = request.form.getlist("attachments")
    if form.validate_on_submit():
        try:
            meeting = scheduling.schedule_meeting(current_user, circle.slug, attachments=attachments,
                                                  **form.data_for_action())
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash("Your meeting is scheduled; the circle has been told.", "success")
            return redirect(url_for("meetings.meeting", slug=circle.slug, meeting_id=meeting.id))
    return render_template("meetings/form.html", circle=circle, membership=membership, form=form,
                           meeting=None, begun=False, files=(), removing=set(),
                           kept=kept_uploads(current_user, circle.id, attachments, circle.slug)), \
        400 if form.errors else 200


def _prefill_offer(form: MeetingForm, circle) -> None:
    """/meetings/new?offer=<id>: plan the visit a member offered, starting from its
    host, organisation, note and places."""
    offer_id = request.args.get("offer", type=int)
    if not offer_id or not 0 < offer_id <= MAX_ID:
        return
    offer = db.session.scalar(select(HostOffer).where(
        HostOffer.id == offer_id, HostOffer.circle_id == circle.id,
        HostOffer.withdrawn_at.is_(None), HostOffer.meeting_id.is_(None)))
    if offer is None:
        return
    form.host_offer_id.data = str(offer.id)
    form.host_user_id.data = str(offer.user_id)
    form.host_organisation.data = offer.organisation
    form.location.data = offer.organisation
    form.title.data = f"Visit to {offer.organisation}"
    form.description.data = offer.note
    form.capacity.data = "" if offer.places is None else str(offer.places)


@bp.route(f"/c/<slug>/m/<{ID}:meeting_id>/edit", methods=["GET", "POST"])
@login_required
@loaded_page(access_meeting)
def edit(circle, membership, meeting):
    if request.method == "GET":  # the form goes to those who may send it; the action checks a send
        require(can_manage_meeting(membership, meeting), scheduling.MANAGERS_ONLY)
    page = url_for("meetings.meeting", slug=circle.slug, meeting_id=meeting.id)
    form = MeetingForm(obj=None if request.method == "POST" else _FormData(meeting))
    form.set_hosts(queries.circle_members(circle))
    begun = meeting.is_series and db.session.scalar(select(MeetingOccurrence.id).where(
        MeetingOccurrence.meeting_id == meeting.id,
        MeetingOccurrence.starts_at <= utcnow()).limit(1)) is not None
    attachments = request.form.getlist("attachments")
    remove = request.form.getlist("remove_files")
    if form.validate_on_submit():
        try:
            scheduling.update_meeting(current_user, circle.slug, meeting.id, attachments=attachments,
                                      remove_files=remove, **form.data_for_action())
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash("The meeting is saved. Anyone coming to a changed date has been told.",
                  "success")
            return redirect(page)
    return render_template("meetings/form.html", circle=circle, membership=membership, form=form,
                           meeting=meeting, begun=begun, files=_files_of(meeting), removing=set(remove),
                           kept=kept_uploads(current_user, circle.id, attachments, circle.slug)), \
        400 if form.errors else 200


def _files_of(meeting: Meeting) -> tuple:
    """The meeting's files as its pages show them (files.places.FileFace), in one statement."""
    return queries.meeting_files(meeting.id)


@bp.post(f"/c/<slug>/m/<{ID}:meeting_id>/files")
@login_required
@loaded_page(access_meeting)
def files(circle, membership, meeting):
    """Add files to a meeting or take some off (its page's Files card): those
    who may manage it, before or after it happened. Refused, the page comes
    back with the message and the uploads."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    attachments = request.form.getlist("attachments")
    remove = request.form.getlist("remove_files")
    try:
        scheduling.change_meeting_files(current_user, circle.slug, meeting.id,
                                        attachments=attachments, remove_files=remove)
    except ActionError as err:
        db.session.rollback()
        return page_again(circle, membership, meeting.id, None, err.message, 400,
                           kept=kept_uploads(current_user, circle.id, attachments, circle.slug))
    flash("Files removed." if remove and not attachments else "The meeting's files are saved.",
          "success")
    return redirect(url_for("meetings.meeting", slug=circle.slug, meeting_id=meeting.id) + "#files")


class _FormData:
    """A meeting as the edit form's fields (local wall times in its own zone)."""

    def __init__(self, meeting: Meeting):
        start, end = to_zone(meeting.starts_at, meeting.timezone), to_zone(meeting.ends_at,
                                                                             meeting.timezone)
        rule = parse_rrule(meeting.rrule)
        self.title, self.description = meeting.title, meeting.description_source
        # A length rather than an end, so moving the start keeps the meeting's length.
        self.start, self.end = start.strftime(LOCAL_INPUT), ""
        self.duration = str(int((end - start).total_seconds() // 60))
        self.timezone = meeting.timezone
        self.location, self.online_link = meeting.location, meeting.online_link
        self.capacity = "" if meeting.capacity is None else str(meeting.capacity)
        self.repeat = rule["repeat"]
        self.interval = str(rule.get("interval", 1))
        self.month_week = str(rule["month_week"]) if rule.get("month_week") else ""
        self.count = str(rule["count"]) if rule.get("count") else ""
        self.until = to_zone(rule["until"], meeting.timezone).date().isoformat() \
            if rule.get("until") else ""
        self.host_user_id = str(meeting.host_user_id) if meeting.host_user_id else ""
        self.host_organisation = meeting.host_organisation
        self.host_offer_id = ""


@bp.route(f"/c/<slug>/m/<{ID}:meeting_id>/cancel", methods=["GET", "POST"])
@login_required
@loaded_page(access_meeting)
def cancel(circle, membership, meeting):
    if request.method == "GET":  # the form goes to those who may send it; the action checks a send
        require(can_manage_meeting(membership, meeting), scheduling.MANAGERS_ONLY)
    page = url_for("meetings.meeting", slug=circle.slug, meeting_id=meeting.id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            scheduling.cancel_meeting(current_user, circle.slug, meeting.id, form.reason.data)
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash("The meeting is cancelled. Everyone who said they were coming has been told.",
                  "success")
            return redirect(page)
    return render_template("meetings/cancel.html", circle=circle, membership=membership,
                           form=form, meeting=meeting, occurrence=None), \
        (400 if form.errors else 200)


@bp.route(f"/c/<slug>/m/<{ID}:meeting_id>/delete", methods=["GET", "POST"])
@login_required
@loaded_page(access_meeting)
def delete(circle, membership, meeting):
    """Confirm, then delete the meeting for good (scheduling.delete_meeting): the
    page says who will be told and what goes with it, and offers Cancel instead."""
    require(can_manage_meeting(membership, meeting),  # the action checks a send; the page too
            "Only the organiser and the circle's moderators can delete this meeting.")
    form = ConfirmForm()
    if form.validate_on_submit():
        title = scheduling.delete_meeting(current_user, circle.slug, meeting.id)
        flash(f"“{title}” is deleted, with its dates, replies and files.", "success")
        return redirect(url_for("meetings.index", slug=circle.slug))
    if request.method == "POST":
        abort(400)  # only a missing or stale CSRF token fails a form with no fields
    told = scheduling.coming_attendees(meeting, exclude=current_user.id) \
        if not meeting.is_cancelled else {}
    return render_template("meetings/delete.html", circle=circle, membership=membership,
                           form=form, meeting=meeting, told=len(told),
                           files=len(_files_of(meeting)))


# --- A meeting's page, its dates, and RSVPs ------------------------------------------------

@bp.route(f"/c/<slug>/m/<{ID}:meeting_id>")
@login_required
@reads_circle_rows
@loaded_page(_meeting_on_date)
def meeting(circle, membership, opened):
    """A meeting, opened on its next date, or on one date of a series (?date=<id>):
    its own time, RSVPs and attendees (meetings/page.py).

    :raise 404: no such meeting here, or ?date names no date of it.
    """
    return meeting_page(circle, membership, opened)


@bp.post(f"/c/<slug>/m/<{ID}:meeting_id>/dates/<{ID}:occurrence_id>/rsvp")
@login_required
@loaded_page(_date_of_meeting)
def rsvp(circle, membership, date):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    page = _date_url(circle, date) + "#rsvp"
    try:
        row = rsvps.rsvp(current_user, circle.slug, date.id, request.form.get("answer", ""))
    except ActionError as err:
        db.session.rollback()
        return page_again(circle, membership, date.meeting_id, date.id, err.message, err.status)
    messages = {"going": "You're going. See you there.",
                "waitlisted": "It's full, so you're on the waitlist. If a place opens up, "
                              "it's yours and we'll tell you.",
                "maybe": "Noted: maybe.", "declined": "Noted: you can't go."}
    flash(messages[row.answer], "success")
    return redirect(page, code=303)


def _date_url(circle, date: MeetingOccurrence) -> str:
    if not date.meeting.is_series:
        return url_for("meetings.meeting", slug=circle.slug, meeting_id=date.meeting_id)
    return url_for("meetings.meeting", slug=circle.slug, meeting_id=date.meeting_id,
                   date=date.id)


@bp.route(f"/c/<slug>/m/<{ID}:meeting_id>/dates/<{ID}:occurrence_id>/move", methods=["GET", "POST"])
@login_required
@loaded_page(_date_of_meeting)
def move_date(circle, membership, date):
    page = _date_url(circle, date)
    form = MoveForm()
    if request.method == "GET":  # the form goes to those who may send it; the action checks a send
        require(can_manage_meeting(membership, date.meeting), scheduling.MANAGERS_ONLY)
        form.start.data = to_zone(date.starts_at, date.meeting.timezone).strftime(LOCAL_INPUT)
        form.duration.data = str(int((date.ends_at - date.starts_at).total_seconds() // 60))
    if form.validate_on_submit():
        try:
            scheduling.move_occurrence(current_user, circle.slug, date.id, start=form.start.data,
                                       end=form.end.data, duration=form.duration.data)
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash("The date is moved. Everyone coming has been told.", "success")
            return redirect(page)
    return render_template("meetings/move.html", circle=circle, membership=membership, form=form,
                           meeting=date.meeting, occurrence=date), 400 if form.errors else 200


@bp.route(f"/c/<slug>/m/<{ID}:meeting_id>/dates/<{ID}:occurrence_id>/cancel",
          methods=["GET", "POST"])
@login_required
@loaded_page(_date_of_meeting)
def cancel_date(circle, membership, date):
    if request.method == "GET":  # the form goes to those who may send it; the action checks a send
        require(can_manage_meeting(membership, date.meeting), scheduling.MANAGERS_ONLY)
    page = _date_url(circle, date)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            scheduling.cancel_occurrence(current_user, circle.slug, date.id, form.reason.data)
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash("That date is cancelled; the others stand. Everyone coming has been told.",
                  "success")
            return redirect(page)
    return render_template("meetings/cancel.html", circle=circle, membership=membership,
                           form=form, meeting=date.meeting, occurrence=date), \
        (400 if form.errors else 200)


# --- iCalendar ---------------------------------------------------------------------------

def _link(meeting: Meeting, occurrence: MeetingOccurrence | None) -> str:
    if occurrence is None:
        return url_for("meetings.meeting", slug=meeting.circle.slug, meeting_id=meeting.id,
                       _external=True)
    return url_for("meetings.meeting", slug=meeting.circle.slug, meeting_id=meeting.id,
                   date=occurrence.id, _external=True)


def _calendar_response(body: bytes, filename: str, attachment: bool) -> Response:
    response = Response(body, content_type="text/calendar; charset=utf-8")
    disposition = "attachment" if attachment else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.route(f"/c/<slug>/m/<{ID}:meeting_id>.ics")
@login_required
@loaded_page(access_meeting)
def ics(circle, membership, meeting):
    """One meeting (a series with its RRULE, EXDATEs and moved dates) as iCalendar."""
    body = build_calendar(queries.with_exceptions([meeting]), name=circle.name, link=_link,
                          descriptions=True, method="PUBLISH")
    return _calendar_response(body, f"meeting-{meeting.id}.ics", attachment=True)


@bp.route("/calendar/<token>.ics")
def calendar_feed(token):
    """Every meeting of every circle the token's owner is an active member of.

    Public (calendar apps have no session): the secret token is the only key.
    :raise 404: the token opens nothing (unknown, replaced, turned off, or its
        owner suspended).
    """
    feed = feeds.find_calendar_feed(token)
    if feed is None:
        abort(404)
    now = utcnow()
    # Its version comes from the feed's own rows, so it is also the feed's ETag.
    key = feed_cache.version(queries.feed_version_rows(feed.user, now), request.host_url)
    if key in request.if_none_match:
        response = Response(status=304)
    else:
        key, body = _feed_body(feed.user, now, key)
        response = _calendar_response(body, "alumni-circles.ics", attachment=False)
    response.set_etag(key)
    # The owner's calendar app may keep it, but asks again each time (a 304 if unchanged).
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _feed_body(user, now, key: str) -> tuple[str, bytes]:
    """(its version, the feed): the body kept for this version, else one built
    from the meetings loaded now and kept under their own version, so that a
    change committed after the version's rows were read is in both or neither."""
    body = feed_cache.feeds.kept(key)
    if body is not None:
        return key, body
    entries = queries.feed_meetings(user, now)
    key = feed_cache.version(feed_cache.rows_of(entries), request.host_url)
    return key, feed_cache.feeds.body(key, lambda: build_calendar(
        entries, name="Alumni Circles", link=_link, descriptions=False))


@bp.route("/settings/calendar", methods=["GET", "POST"])
@login_required
def calendar_settings():
    """The personal feed: make it, or replace it (the old address dies); shown once."""
    form = ConfirmForm()
    new_url = None
    if form.validate_on_submit():
        token = feeds.create_calendar_feed(current_user)
        new_url = url_for("meetings.calendar_feed", token=token, _external=True)
    return render_template("meetings/calendar_settings.html", form=form, new_url=new_url,
                           feed=feeds.calendar_feed_of(current_user)), \
        (201 if new_url else 200)


@bp.post("/settings/calendar/off")
@login_required
def calendar_off():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    feeds.delete_calendar_feed(current_user)
    flash("Your calendar feed is off; its address no longer works.", "success")
    return redirect(url_for("meetings.calendar_settings"))


# --- Date polls ---------------------------------------------------------------------------

@bp.route("/c/<slug>/polls/new", methods=["GET", "POST"])
@login_required
@circle_page
def new_poll(circle, membership):
    form = PollForm()
    form.set_hosts(queries.circle_members(circle))
    if request.method == "GET":
        form.timezone.data = current_user.timezone or DEFAULT_TIMEZONE
    if form.validate_on_submit():
        try:
            poll = polls.create_poll(current_user, circle.slug, **form.data_for_action())
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash("Your poll is open; the circle has been asked.", "success")
            return redirect(url_for("meetings.poll", slug=circle.slug, poll_id=poll.id))
    return render_template("meetings/poll_new.html", circle=circle, membership=membership,
                           form=form), 400 if form.errors else 200


@bp.route(f"/c/<slug>/polls/<{ID}:poll_id>")
@login_required
@loaded_page(access_poll)
def poll(circle, membership, poll):
    """The grid of who can come when, your answers, and (for its organiser) the pick."""
    return _poll_page(circle, membership, poll)


def _poll_page(circle, membership, poll, error: str | None = None, status: int = 200):
    grid = queries.poll_grid(poll)
    return render_template("meetings/poll.html", circle=circle, membership=membership, poll=poll,
                           grid=grid, votes=VOTES, error=error,
                           mine=grid["answers"].get(current_user.id, {}),
                           can_vote=can_vote(membership, poll),
                           can_manage=can_manage_poll(membership, poll), now=utcnow()), status


@bp.post(f"/c/<slug>/polls/<{ID}:poll_id>/vote")
@login_required
@loaded_page(access_poll)
def vote(circle, membership, poll):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    answers = {key.removeprefix("option-"): value for key, value in request.form.items()
               if key.startswith("option-")}
    try:
        polls.vote(current_user, circle.slug, poll.id, answers)
    except ActionError as err:
        db.session.rollback()
        return _render_poll(circle, membership, poll, err)
    flash("Thanks — your answers are saved.", "success")
    return redirect(url_for("meetings.poll", slug=circle.slug, poll_id=poll.id), code=303)


def _render_poll(circle, membership, poll, err: ActionError):
    """The poll again, with the error, after a refused answer or pick."""
    return _poll_page(circle, membership, poll, error=err.message, status=err.status)


@bp.post(f"/c/<slug>/polls/<{ID}:poll_id>/schedule")
@login_required
@loaded_page(access_poll)
def schedule_poll(circle, membership, poll):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    option_id = request.form.get("option_id", type=int)
    if option_id is None or not 0 < option_id <= MAX_ID:
        return _render_poll(circle, membership, poll,
                            ActionError("Choose the time to schedule.", field="option_id"))
    try:
        meeting = polls.schedule_from_poll(current_user, circle.slug, poll.id, option_id)
    except ActionError as err:
        db.session.rollback()
        return _render_poll(circle, membership, poll, err)
    flash("The meeting is scheduled. Those who said yes are going and those who said maybe "
          "are down as maybe; everyone has been told, and can change their answer.", "success")
    return redirect(url_for("meetings.meeting", slug=circle.slug, meeting_id=meeting.id))


@bp.post(f"/c/<slug>/polls/<{ID}:poll_id>/close")
@login_required
@loaded_page(access_poll)
def close_poll(circle, membership, poll):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        polls.close_poll(current_user, circle.slug, poll.id)
    except ActionError as err:
        db.session.rollback()
        return _render_poll(circle, membership, poll, err)
    flash("The poll is closed without a date.", "info")
    return redirect(url_for("meetings.index", slug=circle.slug))


# --- Visits ---------------------------------------------------------------------------------

@bp.route("/c/<slug>/meetings/host", methods=["GET", "POST"])
@login_required
@circle_page
def offer_to_host(circle, membership):
    """Offer to host the circle at your organisation."""
    form = HostOfferForm()
    if request.method == "GET":
        form.organisation.data = current_user.organisation
    if form.validate_on_submit():
        try:
            visits.offer_to_host(current_user, circle.slug, form.organisation.data,
                                 form.note.data, form.places.data)
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash("Thank you — your offer to host is on the Meetings page for everyone to see.",
                  "success")
            return redirect(url_for("meetings.index", slug=circle.slug))
    return render_template("meetings/host.html", circle=circle, membership=membership,
                           form=form), 400 if form.errors else 200


@bp.post(f"/c/<slug>/meetings/host/<{ID}:offer_id>/withdraw")
@login_required
@circle_page
def withdraw_offer(circle, membership, offer_id):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    visits.withdraw_host_offer(current_user, circle.slug, offer_id)
    flash("The offer to host is withdrawn.", "info")
    return redirect(url_for("meetings.index", slug=circle.slug))
