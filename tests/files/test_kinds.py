"""A file's kind comes from its bytes: hostile content is refused whatever it is called."""
import io

import pytest

from community.config import DEFAULTS
from community.errors import ActionError
from community.files.kinds import ALL_KINDS, HEAD_BYTES, KINDS, sniff, sniff_file
from tests.files.builders import docx_bytes, image_bytes, noisy_jpeg, odf_bytes, ole_bytes, zip_bytes


def refusal(head: bytes, name: str = "", **kwargs) -> ActionError:
    with pytest.raises(ActionError) as caught:
        sniff(head, name, **kwargs)
    assert caught.value.field == "file"
    return caught.value


@pytest.mark.parametrize(("content", "kind"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "pdf"),
    (image_bytes("JPEG"), "jpeg"),
    (image_bytes("PNG"), "png"),
    (image_bytes("GIF"), "gif"),
    (image_bytes("WEBP"), "webp"),
])
def test_signatures_decide_the_kind_not_the_name(content, kind):
    # Every one named as something else, and as a script.
    assert sniff(content, "slides.docx").name == kind
    assert sniff(content, "run.sh").name == kind


def test_a_pdf_name_with_png_content_is_png():
    kind = sniff(image_bytes("PNG"), "report.pdf")
    assert (kind.name, kind.mime, kind.extension) == ("png", "image/png", "png")


@pytest.mark.parametrize("svg", [
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>',
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    b'\xef\xbb\xbf  <SVG><script>alert(1)</script></SVG>',
])
@pytest.mark.parametrize("name", ["logo.svg", "logo.png", "logo.txt"])
def test_svg_with_script_is_refused_whatever_its_name(svg, name):
    error = refusal(svg, name)
    assert error.code == "unsupported_type"
    assert "SVG" in error.message


@pytest.mark.parametrize("html", [
    b"<!DOCTYPE html><html><body><script>fetch('/settings')</script></body></html>",
    b"\n\n   <HTML><HEAD><TITLE>x</TITLE></HEAD></HTML>",
    b"<iframe src=https://evil.example></iframe>",
    b"<!-- a comment first --><p>hello</p>",
    b"Dear all,\nthe minutes are below.\n<script>alert(1)</script>\n",
    b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'/>",
])
def test_html_is_refused_even_as_text(html):
    # Default: refused outright. Files are downloads with a sandbox CSP anyway, but
    # a web page has no use in a circle's library and is the classic upload attack.
    error = refusal(html, "notes.txt")
    assert error.code == "unsupported_type"
    assert "HTML" in error.message


@pytest.mark.parametrize(("content", "name", "kind"), [
    ("Minutes of the March meeting\r\n– Anaïs, Jörg, 東京\n".encode(), "minutes.txt", "text"),
    (b"name,year\nAda,2019\n", "members.csv", "csv"),
    (b"name,year\nAda,2019\n", "members", "text"),
    (b"a < b and c > d\n", "maths.md", "text"),
])
def test_utf8_text_is_text_or_csv(content, name, kind):
    assert sniff(content, name).name == kind


@pytest.mark.parametrize(("content", "why"), [
    (b"hello\x00world", "NUL"),
    ("caf\u00e9".encode("latin-1"), "not UTF-8"),
    (b"\x1b[31mred\x1b[0m", "terminal escapes"),
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 9, "an ELF program"),
    (b"MZ\x90\x00\x03\x00\x00\x00", "a Windows program"),
])
def test_binary_or_non_utf8_text_is_refused(content, why):
    assert refusal(content, "notes.txt").code == "unsupported_type", why


def test_an_empty_file_is_refused():
    assert refusal(b"", "empty.txt").code == "invalid"


def test_a_head_cut_inside_a_character_is_still_text():
    text = ("a" + "é" * HEAD_BYTES).encode()  # two bytes each: the head ends mid-character
    assert sniff(text[:HEAD_BYTES], "a.txt").name == "text"
    assert sniff_file(io.BytesIO(text), "a.txt").name == "text"
    # ...but a whole file may not end mid-character.
    with pytest.raises(ActionError):
        sniff_file(io.BytesIO(text[:HEAD_BYTES]), "a.txt")


def test_a_minimal_docx_is_a_word_document():
    assert sniff(docx_bytes(), "x.bin").name == "docx"
    assert sniff_file(io.BytesIO(docx_bytes()), "x.bin").name == "docx"


@pytest.mark.parametrize(("part", "kind"), [("xl/workbook.xml", "xlsx"), ("ppt/presentation.xml", "pptx")])
def test_excel_and_powerpoint_by_their_parts(part, kind):
    content = zip_bytes({"[Content_Types].xml": b"<Types/>", part: b"<x/>"})
    assert sniff_file(io.BytesIO(content), "x.docx").name == kind


@pytest.mark.parametrize(("mimetype", "kind"), [(b"application/vnd.oasis.opendocument.text", "odt"),
                                                 (b"application/vnd.oasis.opendocument.spreadsheet", "ods"),
                                                 (b"application/vnd.oasis.opendocument.presentation", "odp")])
def test_opendocument_by_its_mimetype_member(mimetype, kind):
    assert sniff_file(io.BytesIO(odf_bytes(mimetype)), "x").name == kind


def test_a_long_docx_is_known_from_its_head_alone():
    # sniff() given only the first HEAD_BYTES of a large document (no central
    # directory in sight) reads the local headers it holds.
    big = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>",
                     "word/media/photo.jpg": noisy_jpeg()})
    assert len(big) > HEAD_BYTES
    assert sniff(big[:HEAD_BYTES], "x").name == "docx"


@pytest.mark.parametrize(("members", "why"), [
    ({"readme.txt": b"hi", "run.exe": b"MZ"}, "a plain archive"),
    ({"word/document.xml": b"<w/>"}, "Word parts but no [Content_Types].xml"),
    ({"mimetype": b"application/epub+zip", "content.opf": b"<x/>"}, "an e-book"),
    ({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0", "a/Main.class": b"\xca\xfe"}, "a Java archive"),
])
def test_a_zip_that_is_not_an_office_document_is_refused(members, why):
    error = refusal(zip_bytes(members), "slides.pptx")
    assert error.code == "unsupported_type", why
    assert "zip" in error.message


def test_a_docx_with_macros_is_refused():
    content = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>",
                         "word/vbaProject.bin": b"\xd0\xcf\x11\xe0"})
    assert "macros" in refusal(content, "harmless.docx").message


@pytest.mark.parametrize(("stream", "kind"), [("WordDocument", "doc"), ("Workbook", "xls"),
                                              ("PowerPoint Document", "ppt")])
def test_old_office_files_by_their_streams(stream, kind):
    content = ole_bytes("\x05SummaryInformation", stream)
    assert sniff(content, "x.pdf").name == kind
    assert sniff_file(io.BytesIO(content), "x.pdf").name == kind


def test_another_compound_file_is_refused():
    # The same container holds installers (.msi) and Outlook messages.
    msi = ole_bytes("\x05SummaryInformation", "!_StringData")
    assert refusal(msi, "setup.doc").code == "unsupported_type"


def test_a_kind_left_out_of_the_setting_is_refused():
    error = refusal(image_bytes("GIF"), "x.gif", allowed=("pdf", "png"))
    assert error.code == "unsupported_type"
    assert "GIF image files can't be shared here" in error.message
    assert "PDF, PNG image" in error.message


def test_the_setting_allows_every_kind_by_default_and_never_svg_or_html():
    assert tuple(DEFAULTS["FILE_KINDS"]) == ALL_KINDS
    assert not {"svg", "html"} & set(KINDS)
    assert all(kind.inline == (kind.group == "image") for kind in KINDS.values())


def test_sniff_file_rewinds_the_stream():
    stream = io.BytesIO(docx_bytes())
    stream.seek(5)
    sniff_file(stream, "x")
    assert stream.tell() == 0
