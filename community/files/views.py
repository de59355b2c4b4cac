"""Files: upload into a circle (JSON) and download, checked on every request.

URLs: POST /c/<slug>/files, GET /c/<slug>/files/<public_id>/<name> and
/c/<slug>/files/<public_id>/thumbnail; for a direct conversation the same under
/messages/<conversation_id>/files (files/conversations.py). Whatever is not
allowed is the same 404 as a missing file (community/policy.py,
access_attachment and access_conversation_attachment).

How the bytes leave, once the check has passed (`_serve`):
- by default the worker streams them, a chunk at a time;
- FILE_ACCEL_REDIRECT (local storage behind deploy/'s nginx): an empty answer
  carrying the file's headers and `X-Accel-Redirect: /_protected_files/ab/cd/<key>`;
  nginx sends the file from its `internal` location (deploy/nginx-files.conf)
  with those headers, and the worker is free at once;
- FILE_S3_REDIRECT (S3 storage): a download is a 302 to a presigned URL valid for
  PRESIGNED_SECONDS, whose answer names the file as an attachment with our type.
  The store can't add nosniff and the sandbox CSP, so what is shown inline (images,
  thumbnails) is still streamed, with them.
"""
from flask import Blueprint, current_app, jsonify, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from ..errors import ActionError
from ..policy import access_attachment, access_conversation_attachment
from . import actions, conversations, library
from .base import CHUNK, FileTooLarge
from .kinds import KINDS, Kind
from .local import LocalStorage
from .present import describe
from .safety import file_headers, safe_filename
from .storage import storage_for

bp = Blueprint("files", __name__)

# Room for the multipart envelope (boundaries, the CSRF field) around the file itself.
# deploy/nginx-files.conf lets exactly FILE_MAX_BYTES + ENVELOPE through.
ENVELOPE = 64 * 1024
# nginx's internal location aliasing the local storage root (deploy/nginx-files.conf).
ACCEL_LOCATION = "/_protected_files/"
# A presigned S3 URL is good for this long: enough to follow the redirect, too
# short for a link copied out of the browser to outlive a member's access.
PRESIGNED_SECONDS = 60


@bp.url_value_preprocessor
def _raise_body_limit(endpoint, values):
    # The site-wide MAX_CONTENT_LENGTH (1 MiB) suits forms; an upload may be
    # FILE_MAX_BYTES. This runs before any before_request (the CSRF check reads
    # the body), so the larger limit is in place when the body is first parsed.
    if endpoint in ("files.upload", "files.conversation_upload"):
        request.max_content_length = current_app.config["FILE_MAX_BYTES"] + ENVELOPE


def _error(err: ActionError):
    return jsonify(error=err.code, message=err.message, field=err.field), err.status


@bp.post("/c/<slug>/files")
@login_required
def upload(slug):
    return _upload(lambda sent: actions.upload(current_user, slug, sent.stream, sent.filename or ""),
                   slug)


@bp.post("/messages/<int:conversation_id>/files")
@login_required
def conversation_upload(conversation_id):
    """The same answers as upload: static/js/attachments.js takes either."""
    return _upload(lambda sent: conversations.upload(current_user, conversation_id, sent.stream,
                                                     sent.filename or ""))


def _upload(store, slug: str | None = None):
    try:
        sent = request.files.get("file")
    except RequestEntityTooLarge:
        return _error(FileTooLarge(current_app.config["FILE_MAX_BYTES"]))
    if sent is None:
        return _error(ActionError("Choose a file to share.", code="required", field="file"))
    try:
        attachment = store(sent)
    except ActionError as err:
        return _error(err)
    return jsonify(describe(slug, attachment)), 201


@bp.get("/c/<slug>/files/<public_id>/<name>")
@login_required
def download(slug, public_id, name):
    circle, attachment = access_attachment(current_user, slug, public_id)
    if name != attachment.name:
        # The name is cosmetic; the stored one is what the link should say.
        return redirect(url_for("files.download", slug=circle.slug, public_id=public_id,
                                name=attachment.name))
    return _serve_file(attachment)


@bp.get("/c/<slug>/files/<public_id>/thumbnail")
@login_required
def thumbnail(slug, public_id):
    return _serve_thumbnail(access_attachment(current_user, slug, public_id)[1])


@bp.get("/messages/<int:conversation_id>/files/<public_id>/<name>")
@login_required
def conversation_download(conversation_id, public_id, name):
    _, attachment = access_conversation_attachment(current_user, conversation_id, public_id)
    if name != attachment.name:
        return redirect(url_for("files.conversation_download", conversation_id=conversation_id,
                                public_id=public_id, name=attachment.name))
    return _serve_file(attachment)


@bp.get("/messages/<int:conversation_id>/files/<public_id>/thumbnail")
@login_required
def conversation_thumbnail(conversation_id, public_id):
    return _serve_thumbnail(access_conversation_attachment(current_user, conversation_id, public_id)[1])


def _serve_file(attachment):
    return _serve(attachment.storage_key, KINDS[attachment.kind], attachment.name)


def _serve_thumbnail(attachment):
    """An image's thumbnail; a file without one (not an image) has none to find."""
    if not attachment.thumbnail_key:
        raise NotFound()
    return _serve(attachment.thumbnail_key, KINDS["webp"], "thumbnail.webp")


def _serve(key: str, kind: Kind, name: str):
    """The answer that sends the bytes of `key`, access having been checked."""
    storage = storage_for(current_app)
    config = current_app.config
    if config["FILE_ACCEL_REDIRECT"] and isinstance(storage, LocalStorage):
        headers = file_headers(kind, name)
        headers["X-Accel-Redirect"] = storage.accel_redirect(key, ACCEL_LOCATION)
        return current_app.response_class(b"", headers=headers)
    if config["FILE_S3_REDIRECT"] and not kind.inline:
        url = storage.presigned_url(key, PRESIGNED_SECONDS, safe_filename(name, kind),
                                    inline=False, content_type=kind.mime)
        if url:
            response = redirect(url)
            # Not kept by any cache: the next click is checked again, and gets a fresh URL.
            response.headers["Cache-Control"] = "private, no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response
    return _stream(storage, key, kind, name)


def _stream(storage, key: str, kind: Kind, name: str):
    try:
        stream = storage.open(key)
    except FileNotFoundError:
        raise NotFound() from None  # the row outlived its bytes: nothing to serve

    def chunks():
        with stream:
            while chunk := stream.read(CHUNK):
                yield chunk

    return current_app.response_class(chunks(), headers=file_headers(kind, name))


# The Files page (community/files/library.py), on this blueprint.
bp.add_url_rule("/c/<slug>/files", view_func=library.library, methods=["GET"])
bp.add_url_rule("/c/<slug>/files/<public_id>/delete", view_func=library.remove, methods=["POST"])
