"""Hostile file names come out safe to show, to save and to put in a header."""
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.http import parse_options_header

from community.files.kinds import KINDS
from community.files.names import MAX_NAME_BYTES, MAX_NAME_CHARS, content_disposition, safe_filename
from tests.files.builders import HOSTILE


def assert_safe(name: str):
    # Never empty, never hidden or a path step, nothing Windows trims.
    assert name and name == name.strip(". "), name
    assert len(name) <= MAX_NAME_CHARS and len(name.encode()) <= MAX_NAME_BYTES
    assert not set(name) & set('/\\:<>"|?*'), name
    assert all(not unicodedata.category(c).startswith("C") for c in name), ascii(name)
    assert "\u2028" not in name


@pytest.mark.parametrize(("raw", "safe"), [
    ("../../x", "x"),
    ("..\\..\\x", "x"),
    ("C:\\evil.exe", "evil.exe"),
    ("C:evil.exe", "evil.exe"),
    ("a\r\nb.txt", "ab.txt"),
    ("a\x00b.txt", "ab.txt"),
    ("\u202egpj.exe", "gpj.exe"),  # shown as "exe.jpg" with the override
    ("CON", "_CON"),
    ("con.txt", "_con.txt"),
    ("LPT1.csv", "_LPT1.csv"),
    ("", "file"),
    (None, "file"),
    ("...", "file"),
    (".htaccess", "htaccess"),
    ("Réunion   de  mars.pdf", "Réunion de mars.pdf"),
    ("report.pdf.", "report.pdf"),
])
def test_hostile_names(raw, safe):
    assert safe_filename(raw) == safe
    assert_safe(safe_filename(raw))


@pytest.mark.parametrize("raw", HOSTILE)
def test_every_hostile_name_is_safe_with_a_kind_too(raw):
    for kind in KINDS.values():
        name = safe_filename(raw, kind)
        assert_safe(name)
        assert name.rsplit(".", 1)[1] in kind.extensions


def test_a_long_name_keeps_its_extension():
    assert safe_filename("x" * 500 + ".pdf") == "x" * (MAX_NAME_CHARS - 4) + ".pdf"
    # Three bytes a character: the byte limit binds before the character limit.
    long_cjk = safe_filename("東" * 500 + ".docx")
    assert long_cjk.endswith("東.docx") and len(long_cjk.encode()) <= MAX_NAME_BYTES


@pytest.mark.parametrize(("raw", "kind", "safe"), [
    ("report.pdf", "png", "report.png"),
    ("holiday.JPEG", "jpeg", "holiday.JPEG"),
    ("holiday.jpg", "jpeg", "holiday.jpg"),
    ("evil.html", "text", "evil.txt"),
    ("notes", "text", "notes.txt"),
    ("minutes 2024.03", "text", "minutes 2024.03.txt"),
    ("v1.2 notes", "pdf", "v1.2 notes.pdf"),
    ("CON.exe", "png", "_CON.png"),
])
def test_the_kind_decides_the_extension(raw, kind, safe):
    assert safe_filename(raw, KINDS[kind]) == safe


@pytest.mark.parametrize("raw", HOSTILE)
@pytest.mark.parametrize("inline", [True, False])
def test_content_disposition_is_one_header_with_just_a_name(raw, inline):
    header = content_disposition(raw, inline)
    assert not set(header) & {"\r", "\n", "\0"}
    assert header.isascii()
    disposition, params = parse_options_header(header)
    assert disposition == ("inline" if inline else "attachment")
    # A quote or semicolon in the name opened no parameter of its own.
    assert set(params) == {"filename"}
    assert params["filename"] == safe_filename(raw)


@pytest.mark.parametrize("name", ["Protokoll März — 東京.pdf", "Ωμέγα.docx", "naïve café.txt", "😀.png"])
def test_non_ascii_names_round_trip(name):
    header = content_disposition(name, inline=False)
    assert parse_options_header(header)[1]["filename"] == name
    fallback = header.split('filename="')[1].split('"')[0]
    assert fallback.isascii() and fallback.endswith(name.rsplit(".", 1)[1])
    assert fallback.strip("_.") != ""


def test_the_ascii_fallback_keeps_letters_under_accents():
    assert 'filename="naive cafe.txt"' in content_disposition("naïve café.txt")


def test_the_ascii_fallback_has_no_percent_or_semicolon():
    # Some browsers percent-decode `filename`, and a lax parser ends the value at ";".
    header = content_disposition("100%20done;final.pdf")
    assert 'filename="100_20done_final.pdf"' in header
    assert parse_options_header(header)[1]["filename"] == "100%20done;final.pdf"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_name_gives_a_safe_name_and_header(raw):
    assert_safe(safe_filename(raw))
    header = content_disposition(raw)
    assert header.isascii() and "\n" not in header and "\r" not in header
    assert parse_options_header(header)[1] == {"filename": safe_filename(raw)}
