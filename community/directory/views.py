"""The alumni directory's pages: /people (search), a person's photo, and one's
own photo (set from /settings/profile). A person's profile page is
circles.profile (/people/<id>), which shows the same Card.

Signed-out visitors are sent to sign in, like every private path.
"""
from typing import NamedTuple

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from ..accounts.models import SECTORS
from ..errors import ActionError
from ..fast.fragments import cleaned
from ..policy import access_profile, shown_to_circle
from ..templating import kept_in_layout
from . import actions, queries

bp = Blueprint("directory", __name__)
ENVELOPE = 64 * 1024  # the multipart envelope around the photo (boundaries, CSRF field)


@bp.url_value_preprocessor
def _raise_body_limit(endpoint, values):
    # As files.upload: the site's 1 MiB form limit is too small for a photo.
    if endpoint == "directory.upload_photo":
        request.max_content_length = actions.PHOTO_MAX_BYTES + ENVELOPE


@bp.app_template_global()
def circle_field(person, field: str) -> str:
    """A person's field as a circle's pages show it to the signed-in viewer
    (policy.shown_to_circle), else "": `{{ circle_field(m.user, "organisation") }}`."""
    if person is None or not shown_to_circle(person, field, current_user.id):
        return ""
    return person.sector_label if field == "sector" else getattr(person, field)


class DirectoryFrame(NamedTuple):
    """Everything /people shows, bar its layout's slots: its key in the memo
    (fast.fragments.kept_page). Each card holds only what its person lets this
    viewer see, so a viewer's page is another's only if it shows the same."""

    search: queries.Search
    people: tuple[queries.Card, ...]
    more: bool  # another page follows
    error: str | None  # why the search was refused (a 400)
    alumnus: bool  # the viewer may use the directory
    programmes: tuple[tuple[int, str], ...]  # the viewer's, to search by
    listed: bool  # the viewer is listed (else the page says how to be)


@bp.route("/people")
@login_required
def index():
    """Alumni who listed themselves, searchable by what each lets the viewer see.
    Kept whole per what it shows (DirectoryFrame)."""
    listed = bool(current_user.listed_in_directory)
    try:
        search = queries.parse_search(request.args)
    except ActionError as err:
        frame = DirectoryFrame(queries.Search(), (), False, err.message, True, (), listed)
        return _page(frame), 400
    alumnus, programmes = queries.viewer_reach(current_user.id)
    people, more = queries.find(current_user, search) if alumnus else ([], False)
    return _page(DirectoryFrame(search, tuple(people), more, None, alumnus,
                                tuple((p.id, p.name) for p in programmes), listed))


def _page(frame: DirectoryFrame) -> bytes:
    context = lambda: {**cleaned(frame)._asdict(), "sectors": SECTORS}  # noqa: E731
    return kept_in_layout("directory/index.html", frame, context)


@bp.get("/people/<int:user_id>/photo")
@login_required
def photo(user_id):
    """A person's photo (its thumbnail), to whoever may see it: the same 404
    for no person, no photo and a photo not shown to the viewer."""
    from ..files.kinds import KINDS
    from ..files.views import _serve

    person, shown = access_profile(current_user, user_id)
    if not shown["photo"] or not person.photo_thumbnail_key:
        raise NotFound()
    return _serve(person.photo_thumbnail_key, KINDS["webp"], "photo.webp")


@bp.post("/settings/profile/photo")
@login_required
def upload_photo():
    try:
        sent = request.files.get("photo")
    except RequestEntityTooLarge:
        return _photo_refused(ActionError(
            f"The photo is larger than {actions.PHOTO_MAX_BYTES // (1024 * 1024)} MB.", code="too_large"),
            413)
    if sent is None or not sent.filename:
        return _photo_refused(ActionError("Choose a photo to upload.", field="photo"))
    try:
        actions.set_photo(current_user._get_current_object(), sent.stream, sent.filename)
    except ActionError as err:
        return _photo_refused(err)
    flash("Your photo is saved.", "success")
    return redirect(url_for("accounts.profile"))


@bp.post("/settings/profile/photo/delete")
@login_required
def remove_photo():
    actions.remove_photo(current_user._get_current_object())
    flash("Your photo is removed.", "success")
    return redirect(url_for("accounts.profile"))


def _photo_refused(err: ActionError, status: int | None = None):
    """The profile settings page again, with why the photo wasn't taken."""
    from ..accounts.forms import ProfileForm

    form = ProfileForm(obj=current_user, formdata=None)
    form.tags.data = ", ".join(actions.tags_of(current_user.id))
    return (render_template("accounts/profile.html", form=form, photo_error=err.message),
            status or getattr(err, "status", 400))


# --- Introductions ------------------------------------------------------------------

@bp.post("/people/<int:user_id>/introduction")
@login_required
def ask_introduction(user_id):
    """Ask, from a directory profile, to be introduced."""
    try:
        actions.ask_introduction(current_user._get_current_object(), user_id, request.form.get("message", ""))
    except ActionError as err:
        return _profile_refused(user_id, err)
    flash("Your request is sent. If they accept, a conversation with them opens in Messages.", "success")
    return redirect(url_for("circles.profile", user_id=user_id))


@bp.route("/introductions")
@login_required
def introductions():
    """Introductions asked of me (to accept or decline) and those I asked."""
    received, sent = queries.introductions_of(current_user)
    return render_template("directory/introductions.html", received=received, sent=sent)


@bp.post("/introductions/<int:introduction_id>/<any(accept, decline):decision>")
@login_required
def decide_introduction(introduction_id, decision):
    actor = current_user._get_current_object()
    if decision == "decline":
        actions.decline_introduction(actor, introduction_id)
        flash("Declined. They won't be told.", "info")
        return redirect(url_for("directory.introductions"))
    try:
        conversation = actions.accept_introduction(actor, introduction_id)
    except ActionError as err:
        flash(err.message, "error")
        return redirect(url_for("directory.introductions"))
    return redirect(url_for("messages.conversation", conversation_id=conversation.id))


def _profile_refused(user_id: int, err: ActionError):
    """The person's profile again, with why the request wasn't sent (a 4xx)."""
    from ..circles.views import profile

    return profile(user_id, introduction_error=err.message, status=err.status)
