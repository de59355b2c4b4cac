"""Images re-encoded from their pixels alone, with a thumbnail.

A photo's EXIF says where it was taken (GPS) and with what; a JPEG or PNG can
carry HTML or script in a comment, a text chunk or after its end. Decoding the
pixels and encoding them again leaves none of that: only what we write is kept.

Decisions:
- Metadata: none is kept (EXIF, GPS, XMP, comments, PNG text chunks). An ICC
  profile is applied (the pixels converted to sRGB) and then dropped, so colours
  stay right without carrying a blob of the uploader's bytes.
- Animation: a GIF, WebP or APNG keeps its first frame only. It bounds the work
  (frames x pixels) and leaves one simple path; revisit if members ask for it.
- Thumbnails are WebP (alpha kept, small), at most THUMBNAIL_SIZE px a side.
"""
import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from .kinds import KINDS, Kind, refuse

# 50 megapixels: a 48 MP phone photo passes; decoded as RGBA it is 200 MB at most,
# the memory one upload may cost a worker. A "bomb" (tiny file, huge canvas) is
# refused from its header, before a pixel is decoded.
MAX_PIXELS = 50_000_000
MAX_BYTES = 25 * 1024 * 1024
THUMBNAIL_SIZE = 400

# Pillow's own name for each kind; open() tries these parsers only (never EPS, which
# runs Ghostscript, nor any of Pillow's rarer, less-trodden formats).
_FORMATS = {"JPEG": "jpeg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}


@dataclass(frozen=True)
class CleanImage:
    data: bytes       # the image to store, metadata-free, same kind as uploaded
    kind: Kind
    width: int
    height: int
    thumbnail: bytes  # WebP, at most THUMBNAIL_SIZE a side
    thumbnail_kind: Kind


def clean_image(stream, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> CleanImage:
    """Decode a JPEG, PNG, GIF or WebP from a seekable stream and encode it again, clean.

    :raise ActionError: ("too_large") over max_bytes or max_pixels;
        ("invalid") truncated, corrupt or not one of those images.
    """
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if size > max_bytes:
        raise refuse(f"The image is larger than {max_bytes // (1024 * 1024)} MB.", code="too_large")
    image = _decode(stream, max_pixels)
    kind = KINDS[_FORMATS[image.format]]
    try:
        pixels = _pixels_only(image)  # reads the EXIF, which may be as damaged as anything else
        data, thumbnail = _encode(pixels, kind), _thumbnail(pixels)
    except _DAMAGED as error:
        raise _damaged() from error
    finally:
        image.close()
    return CleanImage(data=data, kind=kind, width=pixels.width, height=pixels.height,
                      thumbnail=thumbnail, thumbnail_kind=KINDS["webp"])


# What Pillow raises for a truncated ("image file is truncated"), corrupt or foreign file.
_DAMAGED = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError,
            TypeError, KeyError, struct.error)


def _damaged():
    return refuse("This image is damaged or incomplete, so it can't be shared. Try saving it again.",
                  code="invalid")


def _too_large(max_pixels: int):
    return refuse(f"The image is too large: at most {max_pixels // 1_000_000} megapixels.",
                  code="too_large")


def _decode(stream, max_pixels: int) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow warns (and at twice its limit raises) for huge canvases; a warning
        # would let the bomb through, so it becomes a refusal like the error.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(stream, formats=list(_FORMATS))
            # The header gives the size before any pixel is decoded: refuse a bomb here.
            if image.width * image.height > max_pixels:
                raise _too_large(max_pixels)
            image.load()  # the first frame only
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise _too_large(max_pixels) from None
        except _DAMAGED as error:
            raise _damaged() from error
    return image


def _pixels_only(image: Image.Image) -> Image.Image:
    """The first frame upright, in sRGB, with nothing but pixels (and transparency)."""
    icc = image.info.get("icc_profile")
    # In place: a 12 MP photo is 36 MB of pixels; a copy per step is what would add up.
    ImageOps.exif_transpose(image, in_place=True)
    image = _to_srgb(image, icc)
    transparency = image.info.get("transparency")  # a palette's see-through colour(s)
    # Everything Pillow carried over (exif, comment, text chunks, xmp, icc) is forgotten:
    # save() writes some of these back from .info by default.
    image.info = {} if transparency is None else {"transparency": transparency}
    return image


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), inPlace=True)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        pass  # an unreadable profile: the pixels as they are
    return image


def _encode(image: Image.Image, kind: Kind) -> bytes:
    out = io.BytesIO()
    if kind.name == "jpeg":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        # No optimize=True (for JPEG nor PNG): its extra pass costs memory and time;
        # measured on a 12 MP photo, 88 -> 62 MiB peak and 0.35 -> 0.24 s, for 5% more bytes.
        image.save(out, "JPEG", quality=90)
    elif kind.name == "png":
        if image.mode not in ("1", "L", "LA", "I;16", "P", "RGB", "RGBA"):
            image = image.convert("RGBA")  # what Pillow reads but can't write as PNG
        image.save(out, "PNG")  # a palette's transparency comes from .info, kept for it
    elif kind.name == "gif":
        image.save(out, "GIF")
    else:
        image.save(out, "WEBP", quality=90)
    return out.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info else "RGB"
    if image.mode in ("P", "PA", "1", "I;16"):
        image = image.convert(mode)  # palette and odd modes resize badly; they are small anyway
    scale = min(1.0, THUMBNAIL_SIZE / max(image.size))  # never enlarged
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # Resized first, converted after: no full-size copy of a large photo.
    thumb = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0).convert(mode)
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=80)
    return out.getvalue()
