"""Reading a list of people to invite: a CSV file or lines pasted in.

Pure functions, no database: bytes or text in, rows (or a clear refusal) out.
What a whole list can't be (empty, too big, not text, no email column) raises
ListRefused; what one row can't be is that row's `problem`, so the preview can
list it with its reason and still invite the rest.

Columns: name, email, organisation (optional). A first line without an "@" in
it is a header and names the columns (in any order; others are ignored);
otherwise the columns are taken as [name,] email [, organisation]. Pasted lines
may also be `Name <email>`, and tab-separated (as a spreadsheet pastes).
"""
import csv
import io
import re
import unicodedata
from dataclasses import dataclass

from ..errors import ActionError
from ..text import clean_text

MAX_PEOPLE = 500
MAX_BYTES = 512 * 1024  # 500 people fit in a tenth of it
NAME_MAX, ORGANISATION_MAX, EMAIL_MAX = 80, 120, 254

HEADERS = {
    "name": "name", "full name": "name", "display name": "name", "person": "name",
    "email": "email", "e-mail": "email", "email address": "email", "e-mail address": "email",
    "mail": "email",
    "organisation": "organisation", "organization": "organisation", "org": "organisation",
    "company": "organisation", "employer": "organisation",
}
ANGLE = re.compile(r"^(.*?)<([^<>]*)>\s*$")


class ListRefused(ActionError):
    """The whole list can't be read; nothing of it is kept."""


@dataclass
class Row:
    line: int
    name: str = ""
    email: str = ""
    organisation: str = ""
    problem: str = ""  # why this row can't be used, if it can't

    def as_dict(self) -> dict:
        return {"line": self.line, "name": self.name, "email": self.email,
                "organisation": self.organisation, "problem": self.problem}


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without a byte-order mark), else Windows-1252
    (what Excel on Windows saves as "CSV"), else a clear refusal.

    :raise ListRefused: empty, too large, binary, or in no encoding we can read.
    """
    if len(data) > MAX_BYTES:
        raise ListRefused(f"The file is {len(data) // 1024:,} KB; a list can be at most "
                          f"{MAX_BYTES // 1024} KB ({MAX_PEOPLE} people). Split it into smaller "
                          "files.", code="too_large", field="csv_file")
    if not data.strip():
        raise ListRefused("The file is empty. Choose a CSV file with a name, email and "
                          "organisation on each line.", code="empty", field="csv_file")
    if b"\x00" in data or data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ListRefused("That isn't a CSV file (it looks like a spreadsheet or other binary "
                          "file). In your spreadsheet, use File › Save as › CSV, then choose "
                          "that file.", code="not_text", field="csv_file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ListRefused("The file's text encoding can't be read. Save it as “CSV UTF-8” and "
                      "try again.", code="encoding", field="csv_file")


def parse(text: str, pasted: bool = False) -> list[Row]:
    """The rows of a list, each with its problem if it has one.

    :raise ListRefused: no rows, more than MAX_PEOPLE, unreadable CSV, or a header
        without an email column.
    """
    field = "lines" if pasted else "csv_file"
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ListRefused(f"The list is longer than {MAX_BYTES // 1024} KB; you can invite up "
                          f"to {MAX_PEOPLE} people at a time.", code="too_large", field=field)
    text = text.replace("\x00", "")
    lines = text.splitlines()
    nonblank = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if not nonblank:
        raise ListRefused("The list is empty. Give a name, email and organisation on each line.",
                          code="empty", field=field)
    delimiter = "\t" if pasted and any("\t" in line for _n, line in nonblank) else ","
    try:
        cells = [(n, next(csv.reader([line], delimiter=delimiter, skipinitialspace=True)))
                 for n, line in nonblank]
    except csv.Error as err:  # e.g. a cell larger than the csv module allows
        raise ListRefused(f"The list can't be read as CSV: {err}.", code="csv", field=field) \
            from None
    columns = None
    first = cells[0][1]
    if _is_header(first, [row for _n, row in cells[1:6]]):
        columns = _columns(first, field)
        cells = cells[1:]
    if not cells:
        raise ListRefused("The list has column names but nobody in it.", code="empty",
                          field=field)
    if len(cells) > MAX_PEOPLE:
        raise ListRefused(f"The list has {len(cells):,} people; you can invite up to "
                          f"{MAX_PEOPLE} at a time. Split it into smaller lists.",
                          code="too_many", field=field)
    return [_row(n, row, columns) for n, row in cells]


def _is_header(first: list[str], next_rows: list[list[str]]) -> bool:
    """Names columns if it says name/email/organisation, or if it has no address in it
    where the lines after it have ("first,last,phone" over a list)."""
    if any("@" in cell for cell in first):
        return False
    return any(_header_key(cell) for cell in first) or any(
        "@" in cell for row in next_rows for cell in row)


def _header_key(cell: str) -> str | None:
    return HEADERS.get(" ".join(cell.strip().lower().replace("_", " ").split()))


def _columns(header: list[str], field: str) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = _header_key(cell)
        if key and key not in columns:
            columns[key] = index
    if "email" not in columns:
        shown = ", ".join(f"“{c.strip()[:40]}”" for c in header[:6] if c.strip()) or "nothing"
        raise ListRefused(f"The first line names the columns {shown}, but none of them is "
                          "“email”. Use the columns name, email, organisation (organisation "
                          "may be left out).", code="columns", field=field)
    return columns


def _row(line: int, cells: list[str], columns: dict[str, int] | None) -> Row:
    row = Row(line=line)
    if columns is not None:
        def cell(key):
            index = columns.get(key)
            return cells[index] if index is not None and index < len(cells) else ""
        name, email, organisation = cell("name"), cell("email"), cell("organisation")
    else:
        cells = list(cells)
        while len(cells) > 3 and not cells[-1].strip():  # "a,b,c,,," from a spreadsheet
            cells.pop()
        if len(cells) == 1 and (match := ANGLE.match(cells[0])):
            cells = [match.group(1).strip().strip('"'), match.group(2)]
        if len(cells) > 3:
            row.problem = (f"{len(cells)} columns; expected name, email and organisation")
            row.name = _shown(cells[0])
            return row
        if len(cells) == 1:
            name, email, organisation = "", cells[0], ""
        else:
            name, email, organisation = cells[0], cells[1], cells[2] if len(cells) == 3 else ""
    row.email = " ".join(email.split()).lower() if _printable(email) else _shown(email)
    try:
        row.name = clean_text(name, field="name", label="The name", max_len=NAME_MAX)
        row.organisation = clean_text(organisation, field="organisation",
                                      label="The organisation", max_len=ORGANISATION_MAX)
    except ActionError as err:
        row.name = row.name or _shown(name)
        row.problem = err.message
        return row
    if not email.strip():
        row.problem = "No email address"
    elif not _printable(email):
        row.problem = "The email address has invisible or control characters in it"
    elif len(row.email) > EMAIL_MAX:
        row.problem = f"The email address is longer than {EMAIL_MAX} characters"
    return row


def _printable(value: str) -> bool:
    """No control, format (e.g. right-to-left override) or unassigned characters."""
    return not any(unicodedata.category(ch) in ("Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp")
                   for ch in value)


def _shown(value: str) -> str:
    """A bad cell as the preview may show it: printable, and short."""
    value = "".join(ch if _printable(ch) else "\N{REPLACEMENT CHARACTER}" for ch in value)
    value = " ".join(value.split())
    return value if len(value) <= 60 else value[:59] + "…"


# --- CSV export ---------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """A cell a spreadsheet won't run as a formula (OWASP "CSV injection"): one that
    starts with = + - @ (or a tab or carriage return) gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: list[str], rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(value) for value in row])
    return out.getvalue()
