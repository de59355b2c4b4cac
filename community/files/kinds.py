"""What a file is, decided from its bytes, never from its name or the browser's Content-Type.

A kind names the MIME type and extension we store and serve, so a PNG uploaded
as "report.pdf" is served as image/png named "report.png", and anything not on
the allow-list (HTML, SVG, executables, archives) is refused before it is stored.
"""
import codecs
import io
import struct
import zipfile
from dataclasses import dataclass

from ..errors import ActionError

# Enough to see every signature below, a zip's first local headers and a text's opening.
HEAD_BYTES = 8192


@dataclass(frozen=True)
class Kind:
    name: str         # the setting's word for it (FILE_KINDS)
    mime: str         # the Content-Type we store and serve, whatever the upload said
    extension: str    # the one we give a file whose name says otherwise
    group: str        # "image", "document" or "text": the Files page's filter
    label: str        # for messages
    inline: bool = False  # raster images only: shown in the page, everything else downloads
    also: tuple[str, ...] = ()  # other extensions that mean the same kind (.jpeg)

    @property
    def extensions(self) -> tuple[str, ...]:
        return (self.extension, *self.also)


_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."

KINDS = {k.name: k for k in (
    Kind("pdf", "application/pdf", "pdf", "document", "PDF"),
    Kind("jpeg", "image/jpeg", "jpg", "image", "JPEG image", inline=True, also=("jpeg", "jpe")),
    Kind("png", "image/png", "png", "image", "PNG image", inline=True),
    Kind("gif", "image/gif", "gif", "image", "GIF image", inline=True),
    Kind("webp", "image/webp", "webp", "image", "WebP image", inline=True),
    Kind("docx", _OOXML + "wordprocessingml.document", "docx", "document", "Word document"),
    Kind("xlsx", _OOXML + "spreadsheetml.sheet", "xlsx", "document", "Excel workbook"),
    Kind("pptx", _OOXML + "presentationml.presentation", "pptx", "document", "PowerPoint presentation"),
    Kind("doc", "application/msword", "doc", "document", "Word 97-2003 document"),
    Kind("xls", "application/vnd.ms-excel", "xls", "document", "Excel 97-2003 workbook"),
    Kind("ppt", "application/vnd.ms-powerpoint", "ppt", "document", "PowerPoint 97-2003 presentation"),
    Kind("odt", _ODF + "text", "odt", "document", "OpenDocument text"),
    Kind("ods", _ODF + "spreadsheet", "ods", "document", "OpenDocument spreadsheet"),
    Kind("odp", _ODF + "presentation", "odp", "document", "OpenDocument presentation"),
    Kind("text", "text/plain; charset=utf-8", "txt", "text", "plain text", also=("text", "md", "log")),
    Kind("csv", "text/csv; charset=utf-8", "csv", "text", "CSV"),
)}

ALL_KINDS = tuple(KINDS)


def refuse(message: str, code: str = "unsupported_type") -> ActionError:
    return ActionError(message, code=code, field="file")


def sniff(head: bytes, name: str = "", allowed=ALL_KINDS) -> Kind:
    """The kind of a file from its first bytes (or all of it).

    `name` only tells CSV from plain text, two kinds that are safe alike. `head`
    may be the start of a longer file; a zip's members are then read from the
    local headers it holds.
    :raise ActionError: ("unsupported_type") the content is not an allowed kind.
    """
    # A head shorter than HEAD_BYTES is the whole file.
    return _allowed(_sniff(head, name, io.BytesIO(head), whole=len(head) < HEAD_BYTES), allowed)


def sniff_file(stream, name: str = "", allowed=ALL_KINDS) -> Kind:
    """The kind of a seekable binary stream (an upload in a temporary file); leaves it at 0.

    A zip's member names come from its central directory at the end, and an old
    Office file's streams from its directory sector, so both are read by seeking,
    never by reading or unpacking the whole file.
    :raise ActionError: ("unsupported_type") the content is not an allowed kind.
    """
    stream.seek(0)
    head = stream.read(HEAD_BYTES)
    whole = not stream.read(1)
    try:
        return _allowed(_sniff(head, name, stream, whole), allowed)
    finally:
        stream.seek(0)


def _allowed(kind: Kind, allowed) -> Kind:
    if kind.name not in allowed:
        raise refuse(f"{kind.label} files can't be shared here. " + allowed_sentence(allowed))
    return kind


def allowed_sentence(allowed) -> str:
    labels = [KINDS[name].label for name in allowed if name in KINDS]
    return "You can share: " + ", ".join(labels) + "." if labels else "No files can be shared here."


def _sniff(head: bytes, name: str, stream, whole: bool) -> Kind:
    if not head:
        raise refuse("The file is empty.", code="invalid")
    if head.startswith(b"%PDF-"):
        return KINDS["pdf"]
    if head.startswith(b"\xff\xd8\xff"):
        return KINDS["jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return KINDS["png"]
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return KINDS["gif"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return KINDS["webp"]
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(head, stream)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _ole_kind(head, stream)
    return _text_kind(head, name, whole)


# --- Office files in a zip (OOXML, ODF) -------------------------------------

_ODF_KINDS = {_ODF + "text": "odt", _ODF + "spreadsheet": "ods", _ODF + "presentation": "odp"}
_OOXML_PARTS = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}
_NOT_OFFICE = "This zip file is not an office document; archives can't be shared."


def _zip_kind(head: bytes, stream) -> Kind:
    try:
        # Names only, from the central directory: nothing is decompressed, so a zip bomb costs nothing.
        with zipfile.ZipFile(stream) as zf:
            names = zf.namelist()
            odf_type = _first_member(zf, "mimetype") if "mimetype" in names else b""
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error, NotImplementedError):
        # `head` is only the start of a longer file: read the local headers it holds.
        names, odf_type = _local_members(head)
    if "mimetype" in names:
        kind = _ODF_KINDS.get(odf_type.decode("ascii", "replace").strip())
        if kind:
            return KINDS[kind]
    if "[Content_Types].xml" in names:
        # Macros are how an office file runs code; a .docm renamed .docx still carries one.
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise refuse("Office documents with macros can't be shared; save it without macros.")
        for prefix, kind in _OOXML_PARTS.items():
            if any(n.startswith(prefix) for n in names):
                return KINDS[kind]
    raise refuse(_NOT_OFFICE)


def _first_member(zf: zipfile.ZipFile, name: str) -> bytes:
    with zf.open(name) as member:
        return member.read(100)  # ODF's mimetype is one short line; never unpack more


def _local_members(head: bytes) -> tuple[list[str], bytes]:
    """Member names from the local file headers within `head` (ODF puts `mimetype` first, stored)."""
    names, odf_type, at = [], b"", 0
    while head[at:at + 4] == b"PK\x03\x04" and at + 30 <= len(head):
        method, size, name_len, extra_len = struct.unpack("<4xH8xI4xHH", head[at + 4:at + 30])
        name = head[at + 30:at + 30 + name_len].decode("utf-8", "replace")
        data = at + 30 + name_len + extra_len
        if name == "mimetype" and method == 0:
            odf_type = head[data:data + min(size, 100)]
        names.append(name)
        if size == 0 or data + size > len(head):
            break  # streamed sizes (0 here) or past the head: stop
        at = data + size
    return names, odf_type


# --- Old Office files (OLE compound files) ---------------------------------

_OLE_STREAMS = {"WordDocument": "doc", "Workbook": "xls", "Book": "xls", "PowerPoint Document": "ppt"}


def _ole_kind(head: bytes, stream) -> Kind:
    """doc, xls or ppt from the streams named in the first directory sector.

    The same container holds installers (.msi) and Outlook messages, so the
    signature alone is not enough.
    """
    try:
        shift, = struct.unpack("<H", head[30:32])
        first_dir, = struct.unpack("<I", head[48:52])
        sector = 1 << shift
        if shift not in (9, 12):
            raise ValueError("odd sector size")
        stream.seek((first_dir + 1) * sector)
        directory = stream.read(sector)
    except (struct.error, ValueError, OSError, OverflowError):
        directory = b""
    for at in range(0, len(directory) - 127, 128):
        name_len, = struct.unpack("<H", directory[at + 64:at + 66])
        name = directory[at:at + max(0, min(name_len, 64) - 2)].decode("utf-16-le", "replace")
        if name in _OLE_STREAMS:
            return KINDS[_OLE_STREAMS[name]]
    raise refuse("This file is not a Word, Excel or PowerPoint document this site can share.")


# --- Plain text and CSV ----------------------------------------------------

# What browsers take for a web page (WHATWG MIME sniffing, "text/html" patterns) and
# for SVG/XML. Text is always a download, but a page saved as .txt has no place here.
_WEB_STARTS = (b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div",
               b"<font", b"<table", b"<a ", b"<style", b"<title", b"<b>", b"<body", b"<br",
               b"<p>", b"<p ", b"<!--", b"<?xml", b"<svg", b"<object", b"<embed")
_WEB_ANYWHERE = (b"<script", b"<html", b"<svg", b"<iframe", b"javascript:")
_CONTROLS = set(range(32)) - {9, 10, 12, 13}  # tab, newline, form feed, carriage return are text


def _text_kind(head: bytes, name: str, whole: bool) -> Kind:
    if b"\x00" in head:
        raise refuse("This file is not a document, an image or text, so it can't be shared here.")
    try:
        # final=whole: a character cut at the end of the head is fine, one cut at the end of the file is not.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
    except UnicodeDecodeError:
        raise refuse("Text files must be UTF-8; this one isn't (or isn't text at all).") from None
    if any(byte in _CONTROLS for byte in head):
        raise refuse("This file holds control characters, so it is not plain text.")
    lowered = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if lowered.startswith((b"<svg", b"<?xml")) and b"<svg" in lowered:
        raise refuse("SVG images can't be shared (they can carry script); export it as PNG.")
    if lowered.startswith(_WEB_STARTS) or any(marker in lowered for marker in _WEB_ANYWHERE):
        raise refuse("Web pages and markup (HTML, XML, SVG) can't be shared; export it as PDF.")
    return KINDS["csv"] if name.lower().endswith(".csv") else KINDS["text"]
