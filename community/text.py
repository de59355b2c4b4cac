"""Plain-text input rules shared by every form and socket event."""
import re
import unicodedata

from .errors import ActionError

# Text no database stores: NUL (PostgreSQL refuses it, even in a query) and half a
# surrogate pair (JSON's "\ud800" escapes decode to one; it has no UTF-8 form).
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")

# C0/C1 controls (but tab and newline), and bidi overrides that can disguise text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def holds_unstorable(value) -> bool:
    """Whether decoded JSON holds UNSTORABLE text anywhere: a string, a key, nested."""
    if isinstance(value, str):
        return UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(holds_unstorable(key) or holds_unstorable(item) for key, item in value.items())
    if isinstance(value, list):
        return any(holds_unstorable(item) for item in value)
    return False


def clean_text(value, *, field: str, label: str, max_len: int, required: bool = False,
               multiline: bool = False) -> str:
    """Strip, drop control characters, enforce length; raise a clear ActionError."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ActionError(f"{label} must be text.", field=field)
    value = unicodedata.normalize("NFC", _CONTROL.sub("", value))
    if not multiline:
        value = " ".join(value.split())
    value = value.strip()
    if required and not value:
        raise ActionError(f"Enter {label.lower()}.", field=field)
    if len(value) > max_len:
        raise ActionError(f"{label} can be at most {max_len:,} characters.", field=field)
    return value


def slugify(value: str, max_len: int = 60) -> str:
    ascii_value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_value.lower()).strip("-")
    return slug[:max_len].strip("-")
