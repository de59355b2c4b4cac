"""The headers of every file response: the kind decides the type, only images are inline."""
import pytest
from werkzeug.http import parse_options_header

from community.files.kinds import KINDS
from community.files.safety import FILE_CSP, file_headers
from tests.files.builders import HOSTILE


@pytest.mark.parametrize("kind", ["jpeg", "png", "gif", "webp"])
def test_a_raster_image_is_shown_inline(kind):
    headers = file_headers(KINDS[kind], "photo")
    assert headers["Content-Disposition"].startswith("inline;")
    assert headers["Content-Type"] == KINDS[kind].mime


@pytest.mark.parametrize("kind", ["pdf", "docx", "xlsx", "pptx", "doc", "odt", "text", "csv"])
def test_everything_else_is_a_download(kind):
    headers = file_headers(KINDS[kind], "file")
    assert headers["Content-Disposition"].startswith("attachment;")
    assert headers["Cache-Control"] == "private, no-store"


def test_every_file_response_is_locked_down():
    for kind in KINDS.values():
        headers = file_headers(kind, "x")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"] == FILE_CSP
        assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
        assert headers["Cache-Control"].startswith("private,")
    directives = [d.strip() for d in FILE_CSP.split(";")]
    assert "sandbox" in directives and "default-src 'none'" in directives


def test_the_type_and_extension_come_from_the_kind_not_the_name():
    headers = file_headers(KINDS["png"], "invoice.html")
    assert headers["Content-Type"] == "image/png"
    assert parse_options_header(headers["Content-Disposition"])[1]["filename"] == "invoice.png"


@pytest.mark.parametrize("raw", HOSTILE)
def test_no_header_value_can_break_a_line(raw):
    for kind in KINDS.values():
        for value in file_headers(kind, raw).values():
            assert value.isascii() and not set(value) & {"\r", "\n", "\0"}
