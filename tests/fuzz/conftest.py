"""One app and one lived-in circle per fuzz module, put back as it was after
every example.

Building an app per example would take most of the time budget, so each
module gets one app on one SQLite file, and after each example the file's
pristine copy is put back (engine disposed, file copied: a few milliseconds).
CSRF protection is on, as in production: every client holds a real token.
A statement carrying a NUL character fails, as it would on PostgreSQL.
"""
import filecmp
import io
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from community import create_app
from community.accounts.models import User
from community.extensions import db
from tests.conftest import app_config, pass_second_step
from tests.factories import PASSWORD, add_member, make_circle, make_thread, make_user
from tests.fingerprint import changed_tables, snapshot

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass
class World:
    app: object
    path: Path
    pristine: Path
    pools: dict[str, list[str]] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)  # who -> session cookie
    tokens: dict[str, str] = field(default_factory=dict)  # who -> CSRF token
    foreign_csrf_token: str = ""
    fingerprint: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    rooms: list = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<World {self.path}>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))  # not every field in every Hypothesis failure report

    def client(self, who: str):
        """A fresh test client carrying `who`'s session ("anonymous" has one too)."""
        client = self.app.test_client()
        client.set_cookie("session", self.cookies[who])
        return client

    def snapshot(self) -> dict[str, str]:
        with self.app.app_context():
            return snapshot()

    def changed_tables(self) -> list[str]:
        """The tables whose rows differ from the built world's (tests/fingerprint.py).

        Nothing committed since the reset leaves the file as the pristine copy and
        its write-ahead log empty (SQLite appends every commit there first, and a
        checkpoint writes the file only after a commit): then the rows are the
        built world's, and no table is read again. Else every table is compared.
        """
        wal = Path(f"{self.path}-wal")
        if ((not wal.exists() or wal.stat().st_size == 0)
                and filecmp.cmp(self.path, self.pristine, shallow=False)):
            return []
        return changed_tables(self.fingerprint, self.snapshot())

    def reset(self) -> None:
        """Put the database back as it was built."""
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.pristine, self.path)


def _local(days: int, hour: int = 19) -> str:
    """A wall-clock time `days` from now in London, as the meeting form sends it."""
    moment = datetime.now(ZoneInfo("Europe/London")) + timedelta(days=days)
    return moment.strftime(f"%Y-%m-%dT{hour:02d}:00")


def _populate(world: World) -> None:
    """Everything the POST routes and chat events act on, built through the actions."""
    from community.accounts import actions as accounts
    from community.chat import actions as chat
    from community.circles import actions as circles
    from community.database import begin_write
    from community.files import actions as files
    from community.meetings.actions import polls, scheduling, visits
    from community.meetings.models import MeetingOccurrence, PollOption
    from community.messages import actions as dm
    from community.messages import reports as dm_reports
    from community.moderation import actions as moderation
    from community.notifications.dispatch import unsubscribe_token
    from community.notifications.models import Notification
    from community.threads import actions as threads
    from community.threads.models import Post
    from community.timeutil import utcnow

    owner = make_user("Rachel Stone")
    owner.is_site_admin = True
    owner.second_factor_at = utcnow()  # the admin pages ask it of every admin
    db.session.commit()
    circle = make_circle(owner, name="Berkshire Leaders", join_policy="request")
    slug = circle.slug
    moderator = add_member(circle, make_user("Amara Okafor"), role="moderator")
    member = add_member(circle, make_user("Gareth Lloyd"))
    other = add_member(circle, make_user("Priya Raman"))
    banned = add_member(circle, make_user("Ben Marsh"))
    moderation.ban_member(owner, slug, banned.id)
    outsider = make_user("Nina Outsider")
    join_request = circles.request_to_join(outsider, slug, "We met on day three.")
    listed = make_circle(moderator, name="Open Circle", join_policy="request")
    hidden = make_circle(outsider, name="Hidden Circle")

    thread = make_thread(circle, member, "Getting out of the silo", "Opening post by Gareth")
    own_reply = threads.post_reply(owner, slug, thread.id, "A reply by Rachel")
    other_reply = threads.post_reply(other, slug, thread.id, "A reply by Priya")
    opening = db.session.scalar(db.select(Post.id).where(Post.thread_id == thread.id,
                                                          Post.number == 1))
    report = threads.report_post(other, slug, opening, "Off topic")
    from community.challenges import actions as challenges

    asking = challenges.open_challenge(member, slug, "Merging two teams", "Two teams, one budget",
                                       "How do I start?")
    reflecting = challenges.open_challenge(other, slug, "A hard conversation", "A board member",
                                           "What would you say?")
    challenges.move_phase(other, slug, reflecting.id, "questions")
    challenges.move_phase(other, slug, reflecting.id, "ideas")
    held = challenges.hold_idea(owner, slug, asking.id, "Start with a shared goal")
    others_held = challenges.hold_idea(moderator, slug, asking.id, "Ask HR first")

    one_off = scheduling.schedule_meeting(member, slug, title="Breakfast", start=_local(10),
                                          duration="90", timezone="Europe/London",
                                          location="Reading", capacity="2")
    series = scheduling.schedule_meeting(owner, slug, title="Weekly call", start=_local(12, 8),
                                         duration="60", timezone="Europe/London",
                                         online_link="https://meet.example.org/weekly",
                                         repeat="weekly", interval="1", count="4")
    poll = polls.create_poll(member, slug, title="When next?", timezone="Europe/London",
                             duration="60", location="Reading",
                             options=[_local(20), _local(21), _local(22)])
    offer = visits.offer_to_host(member, slug, "Kennet Valley GP Practice", "Come and see")
    invitation, invite_token = moderation.create_invitation(owner, slug, days=7)
    from community.programmes import actions as programmes
    programme = programmes.create_programme(owner, "Berkshire Leadership", "Reading", 2020)
    programmes.grant_programme_staff(owner, member.email, programme.id)
    batch = programmes.preview_invitations(owner, slug, text="New Person, new.person@example.org\n"
                                                           "Bad Row, not-an-address")
    mailed, _ = moderation.create_invitation(owner, slug, days=7, email="invited@example.org")

    shared = []  # a file on Gareth's post and one on Rachel's reply
    for author, post_id, text in ((member, opening, b"Gareth's notes\n"), (owner, own_reply.id, b"Agenda\n")):
        upload = files.upload(author, slug, io.BytesIO(text), "notes.txt")
        begin_write()
        files.attach(author, circle.id, [upload.public_id], post_id=post_id)
        db.session.commit()
        shared.append(upload.public_id)

    messages = [chat.send_message(member, slug, "Morning all", "fuzz-1")[0],
                chat.send_message(owner, slug, "Morning Gareth", "fuzz-2")[0],
                chat.send_message(other, slug, "Hello", "fuzz-3")[0]]
    chat.delete_message(other, messages[2]["id"])

    # Conversations: the owner's pair and group, and one the owner is not in.
    pair = dm.start_conversation(owner, [str(member.id)])
    group = dm.start_conversation(owner, [str(member.id), str(other.id)])
    theirs = dm.start_conversation(member, [str(other.id)])
    said = [dm.send_message(member, conversation.id, "About the funding cliff",
                            f"dm-{conversation.id}")[0] for conversation in (pair, group, theirs)]
    said.append(dm.send_message(owner, pair.id, "Rachel's own", "dm-own")[0])
    dm_report = dm_reports.report_message(moderator, *_moderators_pair(dm, moderator, member),
                                          "Not kind", True)
    dm.block(other, member.id)

    # Introductions: the outsider (no circle in common) asks the owner, the owner asks them.
    from community.directory import actions as directory
    from tests.directory.conftest import set_profile

    for person in (owner, outsider):
        set_profile(person, listed_in_directory=True, open_to_contact=True,
                    visibility={"contact": "alumni"})
    asked_of_owner = directory.ask_introduction(outsider, owner.id, "We met at the summit.")
    asked_by_owner = directory.ask_introduction(owner, outsider.id, "Hello from the trust.")

    from community.agenda import actions as agenda_actions

    first_date = db.session.scalar(db.select(MeetingOccurrence.id).where(
        MeetingOccurrence.meeting_id == one_off.id))
    on_agenda = agenda_actions.put_on_agenda(member, slug, one_off.id, first_date, asking.id)
    reset_token = accounts._reset_serializer().dumps({"u": other.id,
                                                      "h": accounts._hash_tag(other)})
    occurrences = db.session.scalars(db.select(MeetingOccurrence.id)).all()
    options = db.session.scalars(db.select(PollOption.id).where(PollOption.poll_id == poll.id)).all()
    notes = db.session.scalars(db.select(Notification.id).where(
        Notification.user_id == owner.id)).all()
    user_ids = [owner.id, moderator.id, member.id, other.id, banned.id, outsider.id]
    with world.app.test_request_context():
        own_passkey, others_passkey = _add_passkey(owner), _add_passkey(other)
    s = lambda values: [str(v) for v in values]  # noqa: E731
    world.pools.update({
        "slug": [slug],
        "listed_slug": [listed.slug, slug, hidden.slug],
        "chat_slug": [slug, slug, slug, listed.slug, hidden.slug],
        "user_id": s(user_ids),
        "member_id": s([member.id, other.id, outsider.id, banned.id]) + ["", "0"],
        "thread_id": s([thread.id]),
        "challenge_id": s([asking.id, reflecting.id]),
        "draft_id": s([held.id, others_held.id]),
        "post_id": s([opening, own_reply.id, other_reply.id]),
        "meeting_id": s([one_off.id, series.id]),
        "occurrence_id": s(occurrences),
        "poll_id": s([poll.id]),
        "option_id": s(options),
        "offer_id": s([offer.id]),
        "item_id": s([on_agenda.id]),
        "invitation_id": s([invitation.id, mailed.id]),
        "programme_id": s([programme.id]) + ["", "0"],
        "batch_key": [batch.key, "x" * 43],
        "request_id": s([join_request.id]),
        "report_id": s([report.id]),
        "notification_id": s(notes),
        "invite_token": [invite_token],
        "reset_token": [reset_token],
        "unsubscribe_token": [unsubscribe_token(other.id, "reply"),
                              unsubscribe_token(other.id, "digest")],
        "login_email": [owner.email, other.email, "nobody@example.org"],
        "message_id": s(m["id"] for m in messages),
        "public_id": [*shared, "x" * 22],
        "passkey_id": s([own_passkey.id, others_passkey.id]),
        "conversation_id": s([pair.id, group.id, theirs.id]),
        # the member's in each conversation, the owner's own, one of the moderator's
        "dm_message_id": s([*(m["id"] for m in said), dm_report.message_id]),
        "dm_report_id": s([dm_report.id]),
        "introduction_id": s([asked_of_owner.id, asked_by_owner.id]) + ["0"],
        "person_id": s([member.id, other.id, moderator.id, outsider.id, owner.id]) + ["", "0"],
    })
    world.ids.update(owner=owner.id, member=member.id, other=other.id, circle=circle.id)


def _moderators_pair(dm, moderator, member) -> tuple[int, int]:
    """(conversation, message) of a message by the member to the moderator."""
    conversation = dm.start_conversation(moderator, [str(member.id)])
    message, _ = dm.send_message(member, conversation.id, "Between us two", "dm-mod")
    return conversation.id, message["id"]


def _add_passkey(user):
    """A passkey for user, through the actions, made by a soft authenticator."""
    from community.accounts import passkeys
    from tests.accounts.soft_authenticator import SoftAuthenticator

    options = passkeys.registration_options(user, "Laptop", PASSWORD)
    passkey, _codes = passkeys.add_passkey(user, SoftAuthenticator().create(
        options, passkeys.relying_party()[1]))
    return passkey


def _sign_in(app, email: str | None) -> tuple[str, str]:
    """(session cookie, CSRF token) of a browser that signed in (or only looked)."""
    client = app.test_client()
    page = client.get("/auth/login")
    token = CSRF_FIELD.search(page.get_data(as_text=True)).group(1)
    if email is not None:
        answer = client.post("/auth/login", data={"email": email, "password": PASSWORD,
                                                  "csrf_token": token})
        assert answer.status_code == 302, answer.get_data(as_text=True)
        if answer.location.endswith("/auth/second-step"):  # the owner has a passkey
            with app.app_context():
                pass_second_step(client, db.session.scalar(db.select(User).where(User.email == email)))
        token = CSRF_FIELD.search(client.get("/settings/profile").get_data(as_text=True)).group(1)
    return client.get_cookie("session").value, token


def _refuse_what_postgresql_refuses(conn, cursor, statement, parameters, context, executemany):
    """SQLite stores a NUL character; PostgreSQL refuses it, even as a query parameter
    (a 500 there). The fuzz runs on SQLite, so it fails the statement here instead."""
    if any("\x00" in value for value in _strings(parameters)):
        raise AssertionError(f"a NUL character reached the database: {statement[:120]}")


def _strings(parameters):
    """Every str among a statement's parameters (a row, or rows, as tuples or dicts)."""
    if isinstance(parameters, str):
        yield parameters
    elif isinstance(parameters, dict):
        for value in parameters.values():
            yield from _strings(value)
    elif isinstance(parameters, list | tuple):
        for value in parameters:
            yield from _strings(value)


def build_world(tmp_path: Path, schema_template: Path, **config) -> World:
    path = tmp_path / "fuzz.sqlite3"
    shutil.copy(schema_template, path)
    config.setdefault("FILE_STORAGE_URL", f"file://{tmp_path}/files")
    app = create_app(app_config(f"sqlite:///{path}", WTF_CSRF_ENABLED=True,
                                CHAT_RATE_LIMIT=1_000_000, CHAT_PRESENCE_DELAY=0, **config))
    world = World(app=app, path=path, pristine=tmp_path / "pristine.sqlite3")
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", _refuse_what_postgresql_refuses)
        _populate(world)
        db.session.remove()
    with app.app_context():
        from community.accounts.models import User

        owner_email = db.session.get(User, world.ids["owner"]).email
        member_email = db.session.get(User, world.ids["member"]).email
    world.cookies["owner"], world.tokens["owner"] = _sign_in(app, owner_email)
    world.cookies["member"], world.tokens["member"] = _sign_in(app, member_email)
    world.cookies["anonymous"], world.tokens["anonymous"] = _sign_in(app, None)
    world.foreign_csrf_token = _sign_in(app, None)[1]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    shutil.copyfile(path, world.pristine)
    world.fingerprint = world.snapshot()
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory, schema_template):
    world = build_world(tmp_path_factory.mktemp("fuzz"), schema_template)
    yield world
    with world.app.app_context():
        db.session.remove()
        db.engine.dispose()
