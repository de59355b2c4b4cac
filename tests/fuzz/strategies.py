"""Hypothesis strategies: hostile text, malformed values, and a request for
every POST route and a payload for every Socket.IO event.

FORMS maps each POST endpoint to the fields its form sends; test_forms.py
fails when a POST route has no entry here, so a new form is fuzzed from the
day it lands. SOCKET_EVENTS does the same for the /chat handlers.
"""
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

from community.accounts.models import PROFILE_FIELDS, SECTORS, VISIBILITIES
from community.circles.models import JOIN_POLICIES
from community.meetings.models import ANSWERS, VOTES
from community.notifications.kinds import CHANNELS, DIGEST_FREQUENCIES, KINDS, PRESETS
from community.threads.models import REACTIONS

# --- Text ------------------------------------------------------------------------------

NASTY_CHARS = [
    "\u202e", "\u202d", "\u202a", "\u2066", "\u2069", "\u200f", "\u200b", "\u200d", "\ufeff",
    "\x00", "\x01", "\x08", "\x1b", "\x7f", "\x85", "\x9f", "\r", "\n", "\t", "\u2028",
    "\u2029", "\u0301", "\u0336", "\u20dd", "\u0489", "\ud800", "\udfff", "\udc80",
    "😀", "👩🏽‍💻", "🇬🇧", "\U0010ffff", "\U000e0041", "\ufffd", "\uffff",
    "²", "٣", "１", "߂", "ﬁ", "ß", "İ", "ǅ", "Å", "Å", "%", "_", "\\", "'", '"', "<", ">", "&",
    ";", "/", "..", "@", "#", "?", "=", "+",
]
# Whole strings that have broken programs before.
NASTY_STRINGS = [
    "", " ", "\u202egnp.exe", "Zalgo: Z̴̛͚̝a̸͖͠l̷g̶o̵", "\x00", "null", "None", "undefined",
    "true", "[]", "{}", "0", "-1", "NaN", "Infinity", "1e309", "<script>alert(1)</script>",
    "'; DROP TABLE users; --", "{{7*7}}", "${7*7}", "%s%s%n", "../../../../etc/passwd",
    "javascript:alert(1)", "a@b", "@@@", "\r\nSet-Cookie: x=1", "\ud800\udc00", "\udbff",
    "ｆｕｌｌｗｉｄｔｈ", "١٢٣", "²³", "Ⅻ",
]
# About 10 KB (in characters) each: longer than any field allows.
HUGE_STRINGS = [
    "\u202e" * 10_240,
    "👩🏽‍💻" * 1_464,
    ("e\u0301" * 5_120),
    "A" * 10_240,
    ("lorem ipsum " * 900)[:10_240],
    "\x00" * 10_240,
    "\n" * 10_240,
]

nasty_char = st.sampled_from(NASTY_CHARS)  # some are several code points (emoji)
any_char = st.characters(codec=None, exclude_categories=())  # surrogates included
nasty_text = st.one_of(
    st.lists(st.one_of(nasty_char, any_char), max_size=40).map("".join),
    st.lists(nasty_char, min_size=1, max_size=20).map("".join),
    st.sampled_from(NASTY_STRINGS),
    st.sampled_from(HUGE_STRINGS),
)
plain_text = st.text(alphabet="abcdefghij klmnopqrstuvwxyzABC0123456789.,-'", min_size=1,
                     max_size=40).filter(str.strip)

# --- Malformed scalars ----------------------------------------------------------------------

HUGE_INTS = [2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63),
             -(2**31) - 1]
MALFORMED = [
    "", " ", "-1", "0", "-0", "00", "1.5", "1e3", "1e309", "0x10", "NaN", "inf", "-inf",
    "9" * 30, "-" + "9" * 30, "9" * 4_400, " 12 ", "+5", "1_000", "١٢", "²", "１２", "߂",
    "2025-02-30T10:00", "2025-13-01T00:00", "2025-01-01T24:00", "2025-01-01T23:60",
    "0000-01-01T00:00", "0001-01-01T00:00", "9999-12-31T23:59", "1999-12-31T23:59",
    "2101-01-01T00:00", "2030-03-31T01:30", "2030-10-27T01:30", "2030-01-01T10:00+14:00",
    "2030-01-01", "10:00", "2030/01/01 10:00", "tomorrow", "2030-01-01T10:00:00.123456Z",
    "2030-02-29", "2028-02-29", "Europe", "Mars/Olympus", "UTC", "Etc/GMT+14",
    "../../etc/passwd", "Europe/London\x00", "EUROPE/LONDON", "posixrules", "a" * 300,
    "http://", "https://", "ftp://example.org", "https://exa mple.org", "//example.org",
    "javascript:alert(1)", "https://example.org/\u202e", "y", "on", "off", "yes", "no",
] + [str(n) for n in HUGE_INTS]

malformed = st.one_of(
    st.sampled_from(MALFORMED),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.binary(max_size=24),  # often not UTF-8 at all
)
hostile = st.one_of(nasty_text, malformed)


def mostly(usual: st.SearchStrategy, other: st.SearchStrategy, tenths: int = 8):
    """`usual` about tenths/10 of the time, else `other`."""
    return st.integers(0, 9).flatmap(lambda n: usual if n < tenths else other)


def _future(days_low: int = 2, days_high: int = 4 * 365) -> st.SearchStrategy[datetime]:
    now = datetime.now(UTC).replace(tzinfo=None)
    return st.datetimes(min_value=now + timedelta(days=days_low),
                        max_value=now + timedelta(days=days_high))


VALID_ZONES = ["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
               "Pacific/Chatham", "UTC", "America/St_Johns", "Asia/Kathmandu"]

# One strategy per kind of field: mostly plausible values, with hostile ones mixed in.
KINDS_OF_FIELD: dict[str, st.SearchStrategy] = {
    "text": plain_text,
    "email": st.one_of(st.sampled_from(["new.person@example.org", "Someone@Example.ORG",
                                        "a@b.co", "x" * 64 + "@example.org"]),
                       st.emails().map(str)),
    "password": st.sampled_from(["correct horse battery", "another long passphrase", "short"]),
    "int": st.integers(min_value=-3, max_value=1_100).map(str),
    "minutes": st.sampled_from(["5", "30", "90", "120", "10080", "10081", "4"]),
    "datetime": _future().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
    "date": _future(30, 900).map(lambda d: d.strftime("%Y-%m-%d")),
    "timezone": st.sampled_from(VALID_ZONES),
    "url": st.sampled_from(["https://meet.example.org/abc", "http://example.org", ""]),
    "bool": st.sampled_from(["y", "", "on", "1"]),
}


# Values that are wrong in a way particular to a kind of field.
BAD_VALUES: dict[str, list[str]] = {
    "timezone": ["Europe", "America", "Etc", "Europe/", "/Europe/London", "Europe/London/",
                 "Europe/London\x00", "EUROPE/LONDON", "posixrules", "zone.tab", "Factory",
                 "../zoneinfo/UTC", "Mars/Olympus", "GMT+5", "a" * 64, "a" * 65, "a" * 300],
    "datetime": [v for v in MALFORMED if v[:1].isdigit() and "-" in v],
    "date": ["2030-02-30", "2030-13-01", "0000-00-00", "0001-01-01", "9999-12-31",
             "1999-12-31", "2101-01-01", "2030-1-1", "20300101", "2030-01-01T10:00",
             "2030-01-01 ", "２０３０-01-01"],
    "int": ["0", "-1", "1.0", "1e2", "١٢", "²", "9" * 11, "9" * 4_400, " ", "+1"],
    "email": ["\u202e@", "a@b", "@", "a@", "@b.org", "x@example.org\r\nBcc: y@example.org",
              "x@example.org\x00", "a" * 250 + "@example.org", "ü@exämple.org",
              '"quoted"@example.org', "a@-x.org", "a@b..org", "a b@example.org"],
    "url": ["http://", "https://", "ftp://example.org", "//example.org", "https://exa mple.org",
            "javascript:alert(1)", "https://example.org/\u202e", "https://" + "a" * 600],
}
BAD_VALUES["minutes"] = BAD_VALUES["int"]
BAD_VALUES["login_email"] = BAD_VALUES["email"]


def value_of(kind) -> st.SearchStrategy:
    """Values for a field: its plausible ones (kind, or a list of choices), or hostile ones
    (wrong for that kind of field, or wrong for any field)."""
    plausible = st.sampled_from(kind) if isinstance(kind, list | tuple) else KINDS_OF_FIELD[kind]
    bad = BAD_VALUES.get(kind) if isinstance(kind, str) else None
    return mostly(plausible, st.one_of(st.sampled_from(bad), hostile) if bad else hostile, 7)


def as_bytes(value) -> bytes:
    """How a browser (or anything else) could send it: UTF-8, lone surrogates and all."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


# --- Forms -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Form:
    """One POST route: who sends it, its fields, and which path values to use."""

    # name -> a kind (KINDS_OF_FIELD), a list of choices, or a pool of the world's values
    fields: dict = field(default_factory=dict)
    anonymous: bool = False  # sent signed out (sign-in, sign-up, links from emails)
    paths: dict = field(default_factory=dict)  # argument -> world pool name, when not its own
    csrf_exempt: bool = False
    # Tables a refused request may still write (e.g. a failed sign-in is logged and counted).
    refusal_writes: frozenset = frozenset()


PROFILE = {"display_name": "text", "organisation": "text", "job_title": "text",
           "sector": list(SECTORS), "location": "text", "timezone": "timezone"}
MEETING = {"title": "text", "description": "text", "start": "datetime", "end": "datetime",
           "duration": "minutes", "timezone": "timezone", "location": "text",
           "online_link": "url", "capacity": "int", "repeat": ["none", "weekly", "monthly"],
           "interval": "int", "month_week": ["", "1", "2", "3", "4", "-1"], "count": "int",
           "until": "date", "host_user_id": "member_id", "host_organisation": "text",
           "host_offer_id": "offer_id"}
POLL = {"title": "text", "description": "text", "timezone": "timezone", "duration": "minutes",
        "location": "text", "online_link": "url", "capacity": "int",
        "host_user_id": "member_id", "host_organisation": "text",
        **{f"options-{i}": "datetime" for i in range(10)}}
CIRCLE = {"name": "text", "cohort": "text", "description": "text",
          "join_policy": list(JOIN_POLICIES)}

FORMS: dict[str, Form] = {
    # Signed out
    "accounts.login": Form({"email": "login_email", "password": "password", "remember": "bool",
                            "next": "text"}, anonymous=True,
                           refusal_writes=frozenset({"security_events", "sign_in_throttles"})),
    "accounts.register": Form({"email": "email", "password": "password", **PROFILE},
                              anonymous=True),
    "accounts.reset_request": Form({"email": "login_email"}, anonymous=True),
    "accounts.reset_password": Form({"new_password": "password"}, anonymous=True,
                                    paths={"token": "reset_token"}),
    # Without a half-signed-in note it sends the browser back to sign in.
    "accounts.second_step_page": Form({"code": "text", "remember_browser": "bool"}, anonymous=True),
    "notifications.unsubscribe": Form({}, anonymous=True, csrf_exempt=True,
                                      paths={"token": "unsubscribe_token"}),
    # Settings
    "accounts.logout": Form(),
    "accounts.profile": Form({**PROFILE, "bio": "text", "tags": "text", "open_to_contact": "bool",
                              "listed_in_directory": "bool", "introduction_excerpts": "bool",
                              **{f"{f}_visibility": list(VISIBILITIES) for f in PROFILE_FIELDS}}),
    # Fields only: a form value named "photo" is not an upload (tests/directory sends photos).
    "directory.upload_photo": Form({"photo": "text"}),
    "directory.remove_photo": Form(),
    "directory.ask_introduction": Form({"message": "text"}),
    "directory.decide_introduction": Form(),
    "accounts.password": Form({"current_password": "password", "new_password": "password"}),
    "accounts.end_other_sessions": Form(),
    "accounts.totp_new": Form(),
    "accounts.totp_setup": Form({"code": "text", "password": "password"}),
    "accounts.totp_off": Form({"off-password": "password"}),
    "accounts.recovery_codes": Form({"codes-password": "password"}),
    "accounts.delete_account": Form({"password": "password"}),
    # Passkeys: the settings page, and signing in with one (accounts/passkey_views.py)
    "accounts.passkeys.registration_options": Form({"name": "text", "password": "password"}),
    "accounts.passkeys.add": Form({"credential": "text"}),
    "accounts.passkeys.rename": Form({"name": "text"}),
    "accounts.passkeys.remove": Form(),
    "accounts.passkeys.sign_in_options": Form(anonymous=True),
    "accounts.passkeys.sign_in": Form({"credential": "text", "next": "text"}, anonymous=True,
                                      refusal_writes=frozenset({"security_events"})),
    "accounts.passkeys.second_step_options": Form(anonymous=True),
    "accounts.passkeys.second_step": Form({"credential": "text"}, anonymous=True),
    "meetings.calendar_settings": Form(),
    "meetings.calendar_off": Form(),
    "notifications.settings": Form({kind: list(CHANNELS) for kind in KINDS}
                                   | {"preset": [*PRESETS, "custom"],
                                      "digest_frequency": list(DIGEST_FREQUENCIES),
                                      "digest_hour": "int", "dm_excerpts_shown": "bool",
                                      "dm_excerpts": "bool"}),
    "notifications.open": Form(),
    "notifications.seen": Form({"ids": "text"}),
    "notifications.read_all": Form(),
    "admin.suspend": Form(),
    "admin.reset_factor": Form({"reason": "text"}),
    # Circles
    "circles.new": Form(CIRCLE),
    "circles.request_to_join": Form({"message": "text"}, paths={"slug": "listed_slug"}),
    "circles.withdraw_request": Form({"next": "text"}, paths={"slug": "listed_slug"}),
    "circles.pledge": Form({"next": "text"}),
    "circles.leave": Form(),
    "circles.accept_invite": Form(paths={"token": "invite_token"}),
    # Threads
    "threads.new": Form({"title": "text", "body": "text", "attachments": "text"}),
    "threads.reply": Form({"body": "text", "attachments": "text"}),
    "threads.edit": Form({"title": "text", "body": "text", "attachments": "text", "remove_files": "text"}),
    "threads.delete": Form(),
    "threads.react": Form({"emoji": list(REACTIONS)}),
    # Fields only: a form value named "file" is not an upload (tests/files/test_attachments.py sends files).
    "files.upload": Form({"file": "text"}),
    "files.remove": Form({"next": "text"}),
    "threads.report": Form({"reason": "text"}),
    "threads.moderate": Form(),
    "threads.subscription": Form({"subscription": ["following", "muted", ""]}),
    "threads.read": Form({"number": "int"}),
    "threads.read_all": Form(),
    # Challenges
    "challenges.new": Form({"title": "text", "situation": "text", "ask": "text",
                            "questions_amount": "int", "questions_unit": ["minutes", "hours", "days"],
                            "ideas_amount": "int", "ideas_unit": ["minutes", "hours", "days"],
                            "follow_up_days": ["7", "28", "84", "3"], "attachments": "text"}),
    "challenges.post": Form({"kind": ["question", "answer", "idea", "comment", "update", "reflection"],
                             "body": "text", "hold": ["1", ""], "attachments": "text"}),
    "challenges.post_held": Form(),
    "challenges.discard_held": Form(),
    "challenges.move": Form({"seen_phase": ["questions", "ideas", "reflection", "follow_up"]}),
    "challenges.reflect": Form({"takeaways": "text", "commitment": "text",
                                "commitment_date": ["2027-01-10", "", "2020-01-01", "31/12/2027"],
                                "attachments": "text"}),
    # Meetings
    "meetings.new": Form({**MEETING, "attachments": "text"}),
    "meetings.edit": Form({**MEETING, "attachments": "text", "remove_files": "text"}),
    "meetings.cancel": Form({"reason": "text"}),
    "meetings.delete": Form(),
    "meetings.files": Form({"attachments": "text", "remove_files": "text"}),
    "meetings.rsvp": Form({"answer": list(ANSWERS)}),
    "meetings.move_date": Form({"start": "datetime", "duration": "minutes", "end": "datetime"}),
    "meetings.cancel_date": Form({"reason": "text"}),
    "meetings.new_poll": Form(POLL),
    "meetings.vote": Form({"votes": "poll_votes"}),
    "meetings.schedule_poll": Form({"option_id": "option_id"}),
    "meetings.close_poll": Form(),
    "meetings.offer_to_host": Form({"organisation": "text", "note": "text", "places": "int"}),
    # A meeting date's agenda and run sheet
    "agenda.add": Form({"challenge_id": "challenge_id"}),
    "agenda.bring": Form({"title": "text", "situation": "text", "ask": "text",
                          "follow_up_days": ["7", "14", "28", "42"]}),
    "agenda.remove": Form(),
    "agenda.move": Form({"direction": ["up", "down"]}),
    "agenda.minutes": Form({"check_in": "int", "check_out": "int", "questions-1": "int",
                            "ideas-1": "int", "reflection-1": "int"}),
    "agenda.facilitator": Form({"user_id": "user_id"}),
    "agenda.step": Form({"command": ["start", "next", "back", "pause", "resume", "add_minute"],
                         "version": "int"}),
    "meetings.withdraw_offer": Form(),
    # Managing a circle
    "moderation.settings": Form({**CIRCLE, "pledge_required": "bool", "pledge_text": "text",
                                 "require_two_factor": "bool",
                                 "audit_visible_to_members": "bool", "email_excerpts": "bool"}),
    "moderation.invitations": Form({"days": "int", "max_uses": "int", "email": "email",
                                    "note": "text"}),
    "moderation.revoke_invitation": Form(),
    "moderation.decide_request": Form(),
    "moderation.member_action": Form({"reason": "text"}),
    "moderation.change_role": Form({"role": ["member", "moderator", "owner"]}),
    "moderation.decide_report": Form(),
    # Direct messages
    "messages.new": Form({"people": "person_id"}),
    "messages.send": Form({"body": "text", "client_id": "text", "attachments": "text"}),
    "files.conversation_upload": Form({"file": "text"}),
    "messages.read": Form({"seq": "int"}),
    # Programmes and bulk invitations (the owner is a site admin: every programme is theirs)
    "admin.programme_staff": Form({"email": "login_email", "programme": "programme_id"}),
    "admin.revoke_programme_staff": Form(),
    "programmes.new": Form({"name": "text", "place": "text", "start_year": "int",
                            "end_year": "int"}),
    "programmes.new_cohort": Form({**CIRCLE, "year": "int"}),
    "programmes.bulk": Form({"lines": "text", "csv_file": "text", "days": "int"}),
    "programmes.send": Form(paths={"key": "batch_key"}),
    "programmes.people": Form({"verb": ["resend", "revoke", ""], "invitation": "invitation_id"}),
    "messages.leave": Form(),
    "messages.mute": Form(),
    "messages.unmute": Form(),
    "messages.block": Form({"next": "text"}),
    "messages.unblock": Form({"next": "text"}),
    "messages.add": Form({"people": "person_id"}),
    "messages.report": Form({"reason": "text", "consent": ["yes", "", "no", "on"]},
                            paths={"message_id": "dm_message_id"}),
    "admin.resolve_message_report": Form({"note": "text"}, paths={"report_id": "dm_report_id"}),
}


@dataclass
class Request:
    """What one example sends."""

    url: str
    body: bytes
    content_type: str
    headers: dict
    csrf: str  # how the token was sent: "valid", "header", or a kind of bad one

    @property
    def csrf_ok(self) -> bool:
        return self.csrf in ("valid", "header", "exempt")


# Keys that trip parsers of field names (WTForms' FieldList reads "options-<n>").
ODD_KEYS = ["options-²", "options-٣", "options-" + "9" * 5_000, "options-99999999999999999999",
            "options--1", "options-0-x", "option-²", "option-" + "9" * 40, "csrf_token[]",
            "\x00", "", "a" * 1_000, "\u202e"]


def path_value(world_pool: list, converter: str) -> st.SearchStrategy[str]:
    """A path argument: one of the world's real values, or junk."""
    junk = [st.sampled_from(["0", "-1", str(2**31 - 1), str(2**31), str(2**63), "9" * 40,
                             "1.0", "١", "x"])]
    if converter in ("", "string", "path"):
        junk.append(nasty_text.filter(lambda s: len(s) < 300))
    real = st.sampled_from([str(v) for v in world_pool]) if world_pool else st.nothing()
    return mostly(real, st.one_of(*junk), 9)


def encode_path(value: str) -> str:
    return quote_from_bytes(as_bytes(value), safe="")


@st.composite
def form_request(draw, rule: str, form: Form, world, csrf_token: str):
    """A POST for one route: path, fields (missing, doubled, hostile), token, encoding."""
    def path_arg(match):
        converter, name = match.group(1) or "", match.group(2)
        if converter.startswith("any("):
            options = [o.strip() for o in converter[4:-1].split(",")]
            return encode_path(draw(mostly(st.sampled_from(options),
                                           nasty_text.filter(lambda s: len(s) < 100), 9)))
        pool = world.pools[form.paths.get(name, name)]
        return encode_path(draw(path_value(pool, converter.split("(")[0])))

    url = re.sub(r"<(?:([^:<>]+):)?([^<>:]+)>", path_arg, rule)
    pairs: list[tuple[str, object]] = []
    for name, kind in form.fields.items():
        if kind == "poll_votes":
            for option_id in world.pools["option_id"]:
                if draw(st.booleans()):
                    pairs.append((f"option-{option_id}", draw(value_of(list(VOTES) + [""]))))
            continue
        how = draw(st.sampled_from(["once"] * 8 + ["missing", "twice"]))
        if how == "missing":
            continue
        if isinstance(kind, str) and kind in world.pools:
            bad = st.one_of(st.sampled_from(BAD_VALUES[kind]), hostile) \
                if kind in BAD_VALUES else hostile
            strategy = mostly(st.sampled_from(world.pools[kind]), bad, 7)
        else:
            strategy = value_of(kind)
        pairs.append((name, draw(strategy)))
        if how == "twice":
            pairs.append((name, draw(strategy)))
    if draw(st.integers(0, 4)) == 0:
        odd_key = mostly(st.sampled_from(ODD_KEYS), nasty_text, 6)
        pairs += draw(st.lists(st.tuples(odd_key, st.one_of(plain_text, hostile)), min_size=1,
                               max_size=3))
    csrf = "exempt" if form.csrf_exempt else draw(st.sampled_from(
        ["valid"] * 12 + ["header", "missing", "empty", "garbage", "foreign", "doubled_bad"]))
    headers = {}
    if csrf in ("valid", "exempt"):
        pairs.insert(draw(st.integers(0, len(pairs))), ("csrf_token", csrf_token))
    elif csrf == "header":
        headers["X-CSRFToken"] = csrf_token
    elif csrf == "empty":
        pairs.append(("csrf_token", ""))
    elif csrf == "garbage":
        pairs.append(("csrf_token", draw(hostile)))
    elif csrf == "foreign":
        pairs.append(("csrf_token", world.foreign_csrf_token))
    elif csrf == "doubled_bad":
        pairs += [("csrf_token", "not-a-token"), ("csrf_token", csrf_token)]
    encoding = draw(st.sampled_from(["urlencoded"] * 10 + ["multipart", "json", "junk"]))
    body, content_type = _encode(pairs, encoding, draw)
    if csrf == "valid" and encoding in ("json", "junk"):
        csrf = "lost"  # the token was in the form, which is no longer a form
    return Request(url=url, body=body, content_type=content_type, headers=headers, csrf=csrf)


def _encode(pairs, encoding: str, draw) -> tuple[bytes, str]:
    if encoding == "urlencoded":
        body = "&".join(f"{quote_from_bytes(as_bytes(k), safe='')}="
                        f"{quote_from_bytes(as_bytes(v), safe='')}" for k, v in pairs)
        return body.encode("ascii"), "application/x-www-form-urlencoded"
    if encoding == "multipart":
        boundary = "----fuzz7MA4YWxkTrZu0gW"
        parts = []
        for k, v in pairs:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="'.encode()
                         + as_bytes(k) + b'"\r\n\r\n' + as_bytes(v) + b"\r\n")
        return b"".join(parts) + f"--{boundary}--\r\n".encode(), \
            f"multipart/form-data; boundary={boundary}"
    if encoding == "json":
        return json.dumps({k if isinstance(k, str) else k.hex(): v if isinstance(v, str)
                           else v.hex() for k, v in pairs}).encode(), "application/json"
    return draw(st.binary(max_size=200)), draw(st.sampled_from(
        ["application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; "
         "boundary=x", "text/plain", ""]))



# --- Socket.IO payloads ----------------------------------------------------------------------

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        st.sampled_from(HUGE_INTS), nasty_text)
json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)

ISO_TIMES = ["2030-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00",
             "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+00:00", "2025-01-01T00:00:00",
             "2025-02-30T00:00:00+00:00", "not a time", "2025-01-01T00:00:00.123+05:30",
             "2025-01-01T00:00:00Z", "9999-12-31T23:59:59.999999+00:00"]


def socket_value(kind, world) -> st.SearchStrategy:
    plausible = {
        "circle": st.sampled_from(world.pools["chat_slug"]),
        "message_id": st.sampled_from([int(i) for i in world.pools["message_id"]]),
        "conversation": st.sampled_from([int(i) for i in world.pools["conversation_id"]]),
        "dm_id": st.sampled_from([int(i) for i in world.pools["dm_message_id"]]),
        "seq": st.integers(0, 5),
        "consent": st.booleans(),
        "body": plain_text,
        "client_id": st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True),
        "time": st.sampled_from(ISO_TIMES),
        "reason": plain_text,
        "meeting": st.sampled_from([int(i) for i in world.pools["meeting_id"]]),
        "date": st.sampled_from([int(i) for i in world.pools["occurrence_id"]]),
        "command": st.sampled_from(["start", "next", "back", "pause", "resume", "add_minute"]),
    }[kind]
    return mostly(plausible, st.one_of(nasty_text, json_value))


# event -> its fields (name -> kind); "*" events take anything at all.
SOCKET_EVENTS = {
    "join": {"circle": "circle", "after_id": "message_id", "after_seq": "message_id",
             "changed_since": "time"},
    "fetch": {"circle": "circle", "after_seq": "message_id", "before_seq": "message_id"},
    "send_message": {"circle": "circle", "body": "body", "client_id": "client_id"},
    "load_older": {"circle": "circle", "before_id": "message_id"},
    "typing": {"circle": "circle"},
    "edit_message": {"id": "message_id", "body": "body"},
    "delete_message": {"id": "message_id"},
    "mark_read": {"circle": "circle", "id": "message_id"},
    "report_message": {"id": "message_id", "reason": "reason"},
    "join_run_sheet": {"circle": "circle", "meeting": "meeting", "date": "date"},
    "step_run_sheet": {"circle": "circle", "meeting": "meeting", "date": "date",
                       "command": "command", "version": "seq"},
}
# The same events about a direct conversation (community/messages/events.py).
CONVERSATION_EVENTS = {
    "join": {"conversation": "conversation", "after_seq": "seq", "changed_since": "time"},
    "fetch": {"conversation": "conversation", "after_seq": "seq", "before_seq": "seq"},
    "send_message": {"conversation": "conversation", "body": "body", "client_id": "client_id"},
    "load_older": {"conversation": "conversation", "before_id": "dm_id"},
    "typing": {"conversation": "conversation"},
    "edit_message": {"conversation": "conversation", "id": "dm_id", "body": "body"},
    "delete_message": {"conversation": "conversation", "id": "dm_id"},
    "mark_read": {"conversation": "conversation", "seq": "seq"},
    "report_message": {"conversation": "conversation", "id": "dm_id", "reason": "reason",
                       "consent": "consent"},
}


@st.composite
def socket_payload(draw, event: str, world):
    """The arguments of one emit: usually an object with the event's fields (some
    missing, wrong or hostile), sometimes no argument, several, or not an object."""
    fields = SOCKET_EVENTS.get(event, {})
    if event in CONVERSATION_EVENTS and draw(st.booleans()):
        fields = CONVERSATION_EVENTS[event]
    shape = draw(st.sampled_from(["object"] * 8 + ["none", "scalar", "list", "many", "nested"]))
    if shape == "none":
        return ()
    if shape == "scalar":
        return (draw(json_scalar),)
    if shape == "list":
        return (draw(st.lists(json_value, max_size=3)),)
    obj = {}
    for name, kind in fields.items():
        if draw(st.integers(0, 5)) == 0:
            continue
        obj[name] = draw(socket_value(kind, world))
    if draw(st.integers(0, 4)) == 0:
        obj.update(draw(st.dictionaries(st.text(max_size=10), json_value, max_size=3)))
    if shape == "nested":
        return ({"data": obj, **{k: [v] for k, v in obj.items()}},)
    if shape == "many":
        return (obj, draw(json_value))
    return (obj,)
