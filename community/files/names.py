"""File names that are safe to show, to save and to put in a header.

A name comes from the uploader's machine and ends up on other members' disks
and in a Content-Disposition header, so it must carry no path, no character
that hides or reorders text, nothing a header or Windows would choke on.
"""
import re
import unicodedata
from urllib.parse import quote

from .kinds import Kind

MAX_NAME_CHARS = 120
MAX_NAME_BYTES = 255  # most file systems' limit for one name, in UTF-8 bytes
FALLBACK = "file"

# Characters Windows refuses in a name (the separators are gone by then).
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
# Device names Windows opens instead of a file, whatever the extension ("CON.txt").
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
             *(f"COM{i}" for i in "123456789¹²³"), *(f"LPT{i}" for i in "123456789¹²³")}
# An extension as people write them: a few letters or digits, at least one letter
# ("v1.2 notes" and "minutes 2024.03" have none).
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,5})$")


def safe_filename(name: str | None, kind: Kind | None = None) -> str:
    """A name to show and to download as: never empty, never a path, ending in the kind's extension."""
    name = unicodedata.normalize("NFC", name or "")
    # The last part of any path, Windows or not, and no drive letter ("C:evil.exe").
    name = re.split(r"[/\\]", name)[-1]
    name = re.sub(r"^[A-Za-z]:", "", name)
    # Control characters (NUL, CR, LF), bidi overrides that make "gpj.exe" look like
    # "exe.jpg", zero-width and unassigned characters: all categories C*, plus line separators.
    name = "".join(" " if unicodedata.category(c) in ("Zs", "Zl", "Zp") else c
                   for c in name if not unicodedata.category(c).startswith("C"))
    name = _WINDOWS_FORBIDDEN.sub("_", name)
    name = re.sub(r"\s+", " ", name)
    # Leading dots hide a file (and ".." is a path); trailing dots and spaces Windows drops.
    name = name.lstrip(". ").rstrip(". ")
    stem, ext = _split(name)
    if kind is not None and ext.lower() not in kind.extensions:
        # The content decides: "report.pdf" holding a PNG becomes "report.png".
        # "minutes 2024.03" has no extension to replace, so it gains one: "minutes 2024.03.txt".
        ext = kind.extension
    stem = stem.rstrip(". ") or FALLBACK
    if stem.split(".")[0].strip().upper() in _RESERVED:
        stem = "_" + stem
    return _trim(stem, ext)


def _split(name: str) -> tuple[str, str]:
    match = _EXTENSION.search(name)
    if match and any(c.isalpha() for c in match.group(1)) and match.start() > 0:
        return name[:match.start()], match.group(1)
    return name, ""


def _trim(stem: str, ext: str) -> str:
    """Shorten the stem, never the extension, to fit MAX_NAME_CHARS and MAX_NAME_BYTES."""
    suffix = "." + ext if ext else ""
    stem = stem[:MAX_NAME_CHARS - len(suffix)]
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem.rstrip(". ") or FALLBACK) + suffix


def content_disposition(name: str, inline: bool = False) -> str:
    """A Content-Disposition header (RFC 6266): an ASCII `filename` for old clients and
    `filename*` (RFC 8187) with the real name percent-encoded.

    The name is made safe first, so no quote, semicolon or line break can end the
    value or start a header of its own.
    """
    name = safe_filename(name)
    # The ASCII fallback: accents dropped ("é" -> "e"); anything else non-ASCII, quotes,
    # backslashes, semicolons and percent signs (some browsers decode %xx here) become "_".
    ascii_name = "".join(c if " " <= c <= "~" else "_" for c in unicodedata.normalize("NFKD", name)
                         if not unicodedata.combining(c))
    ascii_name = re.sub(r'["\\%;]', "_", ascii_name)
    ascii_name = re.sub(r"_[_ ]*", "_", ascii_name)
    stem, ext = _split(ascii_name)
    if not stem.strip(" ._"):
        ascii_name = FALLBACK + ("." + ext if ext else "")
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
