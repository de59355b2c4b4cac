"""Damaged and random uploads are refused with a message, never a crash (a 500)."""
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from community.errors import ActionError
from community.files.images import clean_image
from community.files.kinds import sniff, sniff_file
from tests.files.builders import docx_bytes, image_bytes, noisy_jpeg, odf_bytes, ole_bytes

SAMPLES = [docx_bytes(), odf_bytes(b"application/vnd.oasis.opendocument.text"), ole_bytes("WordDocument"),
           image_bytes("PNG", (20, 20)), image_bytes("GIF", (20, 20)), image_bytes("WEBP", (20, 20)),
           noisy_jpeg((24, 24)), b"%PDF-1.4\n", b"plain text\n"]


@st.composite
def damaged(draw):
    """A known-good file with bytes overwritten, cut short, or random bytes after its signature."""
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=64))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_sniffing_a_damaged_file_refuses_or_names_a_kind(data):
    for decide in (lambda: sniff(data, "x.docx"), lambda: sniff_file(io.BytesIO(data), "x.docx")):
        try:
            decide()
        except ActionError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_cleaning_a_damaged_image_refuses_or_gives_an_image(data):
    try:
        result = clean_image(io.BytesIO(data))
    except ActionError as error:
        assert error.code in ("invalid", "too_large")
    else:
        assert Image.open(io.BytesIO(result.data)).format.lower() == result.kind.name


@pytest.mark.parametrize("mode", ["1", "L", "LA", "I;16", "P", "RGB", "RGBA"])
def test_every_png_mode_is_cleaned(mode):
    result = clean_image(io.BytesIO(image_bytes("PNG", (30, 20), 1, mode)))
    assert result.kind.name == "png" and (result.width, result.height) == (30, 20)


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
def test_every_jpeg_mode_is_cleaned(mode):
    result = clean_image(io.BytesIO(image_bytes("JPEG", (30, 20), 1, mode)))
    assert result.kind.name == "jpeg" and Image.open(io.BytesIO(result.thumbnail)).format == "WEBP"
