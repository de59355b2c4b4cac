"""Files built in code for the hostile tests: nothing binary is committed."""
import io
import struct
import zipfile
import zlib

from PIL import Image

# Names an attacker or a careless machine uploads with.
HOSTILE = ["../../x", "..\\..\\x", "C:\\evil.exe", "C:evil.exe", "/etc/passwd", "a\r\nb.txt",
           "a\x00b.txt", "\u202egpj.exe", "x" * 500 + ".pdf", "CON", "", None, ".htaccess", "...",
           "..", "report.pdf\u200b", "na\u0308me.txt", 'a";b=c.pdf', "line\u2028break.pdf", " . "]


def image_bytes(fmt: str, size=(8, 8), color="red", mode="RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt, **save)
    return out.getvalue()


def noisy_jpeg(size=(200, 200)) -> bytes:
    """A JPEG with real entropy-coded data, so cutting it leaves the decoder short."""
    out = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(out, "JPEG", quality=95)
    return out.getvalue()


# Members are stamped with a fixed time, so the same members make the same
# bytes: by name alone zipfile stamps the current time, to 2 s, and two
# uploads built across a tick differed (the shared-bytes tests failed in CI).
STAMP = (2026, 1, 1, 0, 0, 0)


def zip_bytes(members: dict[str, bytes], stored_first: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        if stored_first:
            zf.writestr(zipfile.ZipInfo(stored_first, STAMP), members.pop(stored_first),
                        compress_type=zipfile.ZIP_STORED)
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, STAMP), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def docx_bytes() -> bytes:
    """The smallest zip that is a Word document by its parts."""
    return zip_bytes({"[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
                      "word/document.xml": b"<w:document/>"})


def odf_bytes(mimetype: bytes) -> bytes:
    """ODF: a stored `mimetype` member first, as the standard requires."""
    return zip_bytes({"mimetype": mimetype, "content.xml": b"<office:document-content/>"},
                     stored_first="mimetype")


def ole_bytes(*streams: str) -> bytes:
    """An OLE compound file (old Office) whose first directory sector names `streams`."""
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HH", header, 28, 0xFFFE, 9)  # byte order, 512-byte sectors
    struct.pack_into("<I", header, 48, 0)           # the directory starts at sector 0
    directory = bytearray()
    for name in ("Root Entry", *streams):
        entry = bytearray(128)
        encoded = (name + "\0").encode("utf-16-le")
        entry[:len(encoded)] = encoded
        struct.pack_into("<H", entry, 64, len(encoded))
        directory += entry
    return bytes(header) + bytes(directory.ljust(512, b"\0"))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int) -> bytes:
    """A valid one-colour 1-bit PNG of side x side pixels: kilobytes on disk, a huge canvas."""
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte and the row's bits, all zero
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data)
            + _chunk(b"IEND", b""))


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def swapped_rgb_profile() -> bytes:
    """An ICC v2 RGB display profile whose red and green primaries are sRGB's swapped:
    a pixel's colour under it differs plainly from the same numbers read as sRGB."""
    gamma = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233) + b"\0\0"  # gamma 2.2
    text = b"swapped\0"
    desc = (b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 8
            + b"\0\0\0" + b"\0" * 67)
    tags = [(b"desc", desc), (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), (b"cprt", b"text\0\0\0\0none\0"),
            (b"rXYZ", _xyz(0.3851, 0.7169, 0.0971)), (b"gXYZ", _xyz(0.4361, 0.2225, 0.0139)),
            (b"bXYZ", _xyz(0.1431, 0.0606, 0.7141)),
            (b"rTRC", gamma), (b"gTRC", gamma), (b"bTRC", gamma)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
              + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"lcms" + b"\0" * 44)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body
