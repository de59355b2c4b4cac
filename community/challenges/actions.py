"""Everything people do with a challenge: bring one, post in its phases, hold
an idea back, move it on, reflect, and report back when asked how it went.

A challenge's posts are its thread's posts, written by the threads area's own
helpers (threads.actions._add_post and friends), so search, mentions, files,
reactions, reports, export and anonymising treat them as any post. What may be
posted when is policy.challenge_post_kinds, asked once here per write.
"""
from datetime import date, datetime, timedelta

from sqlalchemy import and_, or_, select, update

from ..accounts.models import User
from ..circles.models import Circle
from ..content import plain_excerpt
from ..database import begin_write
from ..errors import ActionError, NotFound
from ..extensions import db
from ..moderation.audit import record
from ..notifications.actions import notify
from ..policy import (
    access_challenge,
    access_circle,
    active_member_ids,
    can_hold_idea,
    can_move_phase,
    can_post_in_challenge,
    is_presenter,
    may_read,
    require,
)
from ..text import clean_text
from ..threads import actions as threads
from ..threads.models import Post, Thread, ThreadState
from ..timeutil import to_zone, utcnow
from ..urls import path_for
from .models import PHASE_LABELS, PHASES, Challenge, Commitment, FollowUp, IdeaDraft
from .phases import Phase, effective_phase, follow_up_time, local_morning, next_phase, settled

ASK_MAX = 2_000
MAX_COMMITMENTS = 5
COMMITMENT_MAX = 300
# Durations a presenter may choose for a timed phase.
UNITS = {"minutes": 1, "hours": 60, "days": 24 * 60}
MAX_PHASE_MINUTES = 60 * 24 * 60  # sixty days
FOLLOW_UP_DAYS = (7, 14, 28, 42, 56, 84)  # after Reflection; 28 by default
LATEST_COMMITMENT = timedelta(days=2 * 366)

# Why a kind of post is refused, by phase: said to the person (a 403).
REFUSALS = {
    "questions": "It's the Questions phase: members ask questions and the presenter answers. "
                 "Keep your idea as a private draft until Ideas opens.",
    "ideas": "It's the Ideas phase: members offer ideas and experience; the presenter responds.",
    "reflection": "It's the Reflection phase: only the presenter writes now.",
    "follow_up": "The presenter has reflected: they post updates, and members can comment.",
}


def duration_minutes(amount, unit) -> int | None:
    """A phase's length from the form: None ("move on by hand") for no amount.

    :raise ActionError: not a whole number, an unknown unit, or outside 1 minute .. 60 days.
    """
    if amount in (None, ""):
        return None
    if unit not in UNITS:
        raise ActionError("Choose minutes, hours or days.", field="unit")
    try:
        minutes = int(str(amount).strip()) * UNITS[unit]
    except ValueError:
        raise ActionError("Give the length as a whole number, or leave it empty to move on "
                          "by hand.", field="amount") from None
    if not 1 <= minutes <= MAX_PHASE_MINUTES:
        raise ActionError("A phase lasts between 1 minute and 60 days.", field="amount")
    return minutes


def _clean_ask(ask) -> str:
    return clean_text(ask, field="ask", label="What you'd like help with", max_len=ASK_MAX,
                      required=True, multiline=True)


def opening_text(situation: str, ask: str) -> str:
    """The opening post: the situation, then the ask, as the presenter wrote them."""
    return f"{situation}\n\n**What I'd like help with:** {ask}"


def open_challenge(actor: User, slug: str, title: str, situation: str, ask: str,
                   questions_minutes: int | None = None, ideas_minutes: int | None = None,
                   follow_up_days: int = 28, attachments=(), then=None) -> Challenge:
    """Bring a challenge to the circle: a thread of kind "challenge" opening in
    Questions, presented by the actor. The circle's members hear of it (not
    what it says). The same form sent twice is stored once.

    :raise NotFound: not an active member.
    :raise ActionError: empty or too long; a bad duration; a file that can't
        be attached: then nothing is written.
    :param then: called with the challenge before the commit, to do more in
        the same transaction (agenda.actions.bring_challenge puts it on a
        meeting's agenda); what it raises leaves nothing written.
    """
    title, situation = threads._clean_title(title), threads._clean_body(situation)
    body = threads._clean_body(opening_text(situation, _clean_ask(ask)))
    for minutes, field in ((questions_minutes, "questions"), (ideas_minutes, "ideas")):
        if minutes is not None and not (isinstance(minutes, int) and 1 <= minutes <= MAX_PHASE_MINUTES):
            raise ActionError("A phase lasts between 1 minute and 60 days.", field=field)
    if follow_up_days not in FOLLOW_UP_DAYS:
        raise ActionError("Choose when you'd like to be asked how it went.", field="follow_up_days")
    begin_write()
    circle, _ = access_circle(actor, slug, for_update=True)
    earlier = threads._just_started(actor, circle, title, body)
    if earlier is not None and earlier.kind == "challenge":
        challenge = db.session.scalar(select(Challenge).where(Challenge.thread_id == earlier.id))
        if then is not None:
            then(challenge)
        db.session.commit()
        return challenge
    now = utcnow()
    thread = Thread(circle_id=circle.id, author_id=actor.id, title=title, kind="challenge",
                    post_count=0, removed_count=0, last_poster_id=actor.id)
    db.session.add(thread)
    db.session.flush()
    challenge = Challenge(thread_id=thread.id, circle_id=circle.id, presenter_id=actor.id,
                          phase="questions", phase_started_at=now,
                          questions_minutes=questions_minutes, ideas_minutes=ideas_minutes,
                          follow_up_days=follow_up_days, created_at=now)
    db.session.add(challenge)
    post, mentioned = threads._add_post(actor, circle, thread, body)
    post.kind = "situation"
    threads._attach(actor, circle, post, attachments)
    members = set(db.session.scalars(active_member_ids(circle.id)))
    told = threads._notify_mentions(actor, circle, thread, post, mentioned, members)
    url = threads.post_url(circle, thread, 1)
    for user_id in members - told - {actor.id}:
        notify(user_id, "new_challenge", f"{actor.display_name} brought a challenge to {circle.name}",
               url, circle_id=circle.id, actor_id=actor.id)
    if then is not None:
        then(challenge)
    db.session.commit()
    return challenge


def composer_url(circle, thread) -> str:
    """The challenge's last page, at its composer."""
    pages = max(1, -(-thread.post_count // threads.PER_PAGE))
    return path_for("threads.show", slug=circle.slug, thread_id=thread.id, page=pages) + "#reply"


def _writable(actor: User, slug: str, challenge_id: int):
    """(circle, membership, challenge, thread, phase now) with the thread locked
    and the phase stored as it now is (phases.settled)."""
    begin_write()
    circle, membership, challenge, thread = access_challenge(actor, slug, challenge_id,
                                                             for_update=True)
    phase, moved = settled(challenge, utcnow())
    if moved:  # its time ran out and no one had written since: this write tells of it
        announce_phase(circle, thread, challenge, mover_id=actor.id)
    return circle, membership, challenge, thread, phase


def announce_phase(circle, thread, challenge, mover_id: int | None = None) -> None:
    """Tell those concerned that the challenge has moved on to challenge.phase
    (in the caller's transaction; not the mover). Ideas: the thread's followers
    (a muted thread tells no one) and whoever kept an idea for it. Reflection:
    the presenter, whose turn it is. No title or text: it may be emailed."""
    url, presenter = composer_url(circle, thread), challenge.presenter_id
    if challenge.phase == "ideas":
        followers = threads._followers(circle, thread)
        holders = set(db.session.scalars(
            select(IdeaDraft.author_id).where(IdeaDraft.challenge_id == challenge.id,
                                              IdeaDraft.author_id.in_(active_member_ids(circle.id)),
                                              IdeaDraft.author_id.not_in(_muted(thread)))))
        for user_id in sorted((followers | holders) - {mover_id}):
            text = (f"Ideas are open on your challenge in {circle.name}" if user_id == presenter
                    else f"Ideas are open: post the idea you kept, in {circle.name}"
                    if user_id in holders else
                    f"Ideas are open on a challenge you follow in {circle.name}")
            notify(user_id, "challenge_phase", text, url, circle_id=circle.id, actor_id=mover_id)
    elif challenge.phase == "reflection" and presenter is not None and presenter != mover_id \
            and db.session.scalar(select(Circle.id).where(Circle.id == circle.id,
                                                          may_read(presenter, Circle.id))):
        notify(presenter, "challenge_phase",
               f"It's time for your reflection on your challenge in {circle.name}", url,
               circle_id=circle.id, actor_id=mover_id)


def _muted(thread):
    return select(ThreadState.user_id).where(ThreadState.thread_id == thread.id,
                                             ThreadState.subscription == "muted")


def _refusal(phase: str, locked: bool) -> str:
    if locked:
        return "This challenge is locked: a moderator has closed it to new posts."
    return REFUSALS.get(phase, "That can't be posted now.")


def _append(actor: User, circle, thread, kind: str, body: str, attachments=()) -> Post:
    """Add the post of this kind and tell the thread's followers (no content in the text)."""
    post, mentioned = threads._add_post(actor, circle, thread, body)
    post.kind = kind
    threads._attach(actor, circle, post, attachments)
    followers = threads._followers(circle, thread)
    told = threads._notify_mentions(actor, circle, thread, post, mentioned, followers) | {actor.id}
    what = {"question": "asked a question", "answer": "answered", "idea": "offered an idea",
            "reflection": "reflected", "update": "posted an update",
            "comment": "commented"}.get(kind, "posted")
    for user_id in followers - told:
        notify(user_id, "reply", f"{actor.display_name} {what} on a challenge in {circle.name}",
               threads.post_url(circle, thread, post.number), circle_id=circle.id,
               actor_id=actor.id, excerpt=plain_excerpt(post.html, 200))
    return post


def post_to_challenge(actor: User, slug: str, challenge_id: int, kind: str, body: str,
                      attachments=()) -> Post:
    """Add a question, answer, idea, comment or update, as the phase and the
    actor's part allow (policy.challenge_post_kinds). An update answers "how
    did it go?": the circle is told. The same post sent twice is stored once.

    :raise NotFound: as access_challenge.
    :raise Forbidden: this kind of post isn't open to the actor now (nothing is stored).
    :raise ActionError: empty or too long, or not a kind of post at all.
    """
    if kind not in ("question", "answer", "idea", "comment", "update"):
        raise ActionError("Choose what you are posting: a question, an idea, an answer, a comment "
                          "or an update.", field="kind")
    body = threads._clean_body(body)
    circle, membership, challenge, thread, phase = _writable(actor, slug, challenge_id)
    require(can_post_in_challenge(membership, thread.locked, challenge.presenter_id, phase.name,
                                  kind), _refusal(phase.name, thread.locked))
    earlier = threads._just_posted(actor, thread, body)
    if earlier is not None and earlier.kind == kind and threads._same_files(earlier.id, attachments):
        db.session.commit()
        return earlier
    post = _append(actor, circle, thread, kind, body, attachments)
    if kind == "update":
        challenge.awaiting_update_since, challenge.last_update_at = None, post.created_at
        for user_id in set(db.session.scalars(active_member_ids(circle.id))) - {actor.id}:
            notify(user_id, "challenge_update",
                   f"{actor.display_name} said how their challenge went, in {circle.name}",
                   threads.post_url(circle, thread, post.number), circle_id=circle.id,
                   actor_id=actor.id)
    db.session.commit()
    return post


def hold_idea(actor: User, slug: str, challenge_id: int, body: str) -> IdeaDraft:
    """Keep an idea written during Questions, for the actor alone, to post once Ideas opens.

    :raise NotFound: as access_challenge.
    :raise Forbidden: not Questions, or the actor is the presenter (they answer).
    :raise ActionError: empty or too long.
    """
    body = threads._clean_body(body)
    _, membership, challenge, thread, phase = _writable(actor, slug, challenge_id)
    require(can_hold_idea(membership, thread.locked, challenge.presenter_id, phase.name),
            "Ideas can be held back only during Questions, by the members asking them."
            if not thread.locked else _refusal(phase.name, True))
    draft = IdeaDraft(challenge_id=challenge.id, author_id=actor.id, source=body, created_at=utcnow())
    db.session.add(draft)
    db.session.commit()
    return draft


def _own_draft(actor: User, challenge: Challenge, draft_id) -> IdeaDraft:
    draft = db.session.scalar(select(IdeaDraft).where(
        IdeaDraft.id == draft_id, IdeaDraft.challenge_id == challenge.id,
        IdeaDraft.author_id == actor.id))
    if draft is None:  # someone else's is as missing as none: it is theirs alone
        raise NotFound()
    return draft


def post_held_idea(actor: User, slug: str, challenge_id: int, draft_id: int) -> Post:
    """Post an idea held during Questions, now that Ideas is open (one click).

    :raise NotFound: as access_challenge, or no such draft of the actor's.
    :raise Forbidden: Ideas isn't open (yet, or any more).
    """
    circle, membership, challenge, thread, phase = _writable(actor, slug, challenge_id)
    draft = _own_draft(actor, challenge, draft_id)
    require(can_post_in_challenge(membership, thread.locked, challenge.presenter_id, phase.name,
                                  "idea"), "Your idea is kept until the Ideas phase opens."
            if phase.name == "questions" else _refusal(phase.name, thread.locked))
    post = _append(actor, circle, thread, "idea", draft.source)
    db.session.delete(draft)
    db.session.commit()
    return post


def discard_held_idea(actor: User, slug: str, challenge_id: int, draft_id: int) -> None:
    """Throw away one's own held idea.

    :raise NotFound: as access_challenge, or no such draft of the actor's.
    """
    begin_write()
    _, _, challenge, _ = access_challenge(actor, slug, challenge_id)
    db.session.delete(_own_draft(actor, challenge, draft_id))
    db.session.commit()


def move_phase(actor: User, slug: str, challenge_id: int, seen_phase: str) -> Phase:
    """Move the challenge on from `seen_phase` (the phase the actor's page
    showed) to the next. If it has already moved on (a timer, someone else, a
    double click), nothing changes: a move is never applied twice.

    :raise NotFound: as access_challenge.
    :raise Forbidden: neither the presenter nor a moderator, or the phase
        doesn't move by hand (Reflection ends with the presenter's reflection).
    """
    circle, membership, challenge, thread, phase = _writable(actor, slug, challenge_id)
    if phase.name != seen_phase:
        db.session.commit()  # the settled phase, if time moved it
        return phase
    require(can_move_phase(membership, challenge.presenter_id, phase.name),
            "Only the presenter and the circle's moderators can move a challenge on."
            if phase.name in ("questions", "ideas") else
            "Reflection ends when the presenter writes their reflection.")
    now = utcnow()
    challenge.phase, challenge.phase_started_at = next_phase(phase.name), now
    if not is_presenter(membership, challenge.presenter_id):
        record(circle.id, actor.id, "challenge.moved",
               detail=f"“{thread.title}” to {PHASE_LABELS[challenge.phase]}")
    announce_phase(circle, thread, challenge, mover_id=actor.id)
    db.session.commit()
    return Phase(challenge.phase, now, None)


def advance_for_session(actor: User, slug: str, challenge_id: int, phase: str) -> bool:
    """A meeting's run sheet reached this challenge's Ideas or Reflection: move
    the challenge there if it is behind (forward only; never out of Reflection,
    which ends with the presenter's reflection). In the caller's transaction
    (agenda.actions.step_run_sheet, which checked the actor facilitates);
    returns whether it moved. Recorded in the audit log when the facilitator
    isn't the presenter, as a moderator's move is.

    :raise NotFound: as access_challenge.
    """
    if phase not in ("ideas", "reflection"):
        return False
    circle, membership, challenge, thread = access_challenge(actor, slug, challenge_id,
                                                             for_update=True)
    now = utcnow()
    current, moved = settled(challenge, now)
    if moved:  # its time had run out meanwhile: this write tells of it
        announce_phase(circle, thread, challenge, mover_id=actor.id)
    if current.name not in ("questions", "ideas") or PHASES.index(current.name) >= PHASES.index(phase):
        return False
    challenge.phase, challenge.phase_started_at = phase, now
    announce_phase(circle, thread, challenge, mover_id=actor.id)
    if not is_presenter(membership, challenge.presenter_id):
        record(circle.id, actor.id, "challenge.moved",
               detail=f"“{thread.title}” to {PHASE_LABELS[phase]}, on a meeting's run sheet")
    return True


def parse_commitments(lines: list[tuple[str, str]], zone: str | None, now: datetime
                      ) -> list[tuple[str, date | None]]:
    """The reflection form's commitment rows (text, date as YYYY-MM-DD or empty),
    blank rows left out.

    :raise ActionError: too many, too long, a date that isn't one, or a date
        before today or more than two years ahead (in the presenter's zone).
    """
    today = to_zone(now, zone).date()
    found = []
    for text, when in lines:
        text = clean_text(text, field="commitments", label="A commitment", max_len=COMMITMENT_MAX)
        when = (when or "").strip() if isinstance(when, str) else ""
        if not text:
            if when:
                raise ActionError("A commitment's date needs the commitment beside it.",
                                  field="commitments")
            continue
        due = None
        if when:
            try:
                due = date.fromisoformat(when)
            except ValueError:
                raise ActionError(f"“{when}” isn't a date (use the date picker, or YYYY-MM-DD).",
                                  field="commitments") from None
            if not today <= due <= today + LATEST_COMMITMENT:
                raise ActionError("A commitment's date must be between today and two years ahead.",
                                  field="commitments")
        found.append((text, due))
    if len(found) > MAX_COMMITMENTS:
        raise ActionError(f"At most {MAX_COMMITMENTS} commitments: keep to the ones that matter.",
                          field="commitments")
    return found


def reflection_text(takeaways: str, commitments: list[tuple[str, date | None]]) -> str:
    lines = [takeaways]
    if commitments:
        lines.append("\n**What I will do:**\n")
        lines += [f"- {text}" + (f" (by {due:%-d %B %Y})" if due else "") for text, due in commitments]
    return "\n".join(lines)


def reflect(actor: User, slug: str, challenge_id: int, takeaways: str,
            commitments: list[tuple[str, str]], attachments=()) -> Post:
    """The presenter's reflection: what they take away and what they will do
    (each with an optional date). The challenge moves to Follow-up; "how did it
    go?" is due at 9:00 the presenter's time on each commitment's date, and
    follow_up_days after today (phases.follow_up_time).

    :raise NotFound: as access_challenge.
    :raise Forbidden: not the presenter, or not the Reflection phase.
    :raise ActionError: empty takeaways, bad commitments (parse_commitments), or
        a file that can't be attached: then nothing is written.
    """
    takeaways = clean_text(takeaways, field="takeaways", label="What you take away",
                           max_len=threads.BODY_MAX // 2, required=True, multiline=True)
    now = utcnow()
    items = parse_commitments(commitments, actor.timezone, now)
    circle, membership, challenge, thread, phase = _writable(actor, slug, challenge_id)
    require(can_post_in_challenge(membership, thread.locked, challenge.presenter_id, phase.name,
                                  "reflection"),
            "Only the presenter reflects, once the Reflection phase has begun."
            if not thread.locked else _refusal(phase.name, True))
    post = _append(actor, circle, thread, "reflection", reflection_text(takeaways, items),
                   attachments)
    for position, (text, due) in enumerate(items):
        commitment = Commitment(challenge_id=challenge.id, position=position, text=text, due_on=due)
        db.session.add(commitment)
        if due is not None:
            db.session.flush()
            db.session.add(FollowUp(challenge_id=challenge.id, commitment_id=commitment.id,
                                    due_at=local_morning(due, actor.timezone)))
    db.session.add(FollowUp(challenge_id=challenge.id,
                            due_at=follow_up_time(now, challenge.follow_up_days, actor.timezone)))
    challenge.phase, challenge.phase_started_at, challenge.reflected_at = "follow_up", now, now
    db.session.commit()
    return post


# --- Follow-up: "how did it go?" ----------------------------------------------------

BATCH = 200


def due_follow_ups(now: datetime) -> list[int]:
    """Ids of follow-ups due and not yet sent, whose presenter may still read the circle."""
    return list(db.session.scalars(
        select(FollowUp.id).join(Challenge, Challenge.id == FollowUp.challenge_id)
        .where(FollowUp.sent_at.is_(None), FollowUp.due_at <= now,
               Challenge.presenter_id.is_not(None),
               may_read(Challenge.presenter_id, Challenge.circle_id))
        .order_by(FollowUp.due_at, FollowUp.id).limit(BATCH)))


def send_follow_up(follow_up_id: int, now: datetime) -> bool:
    """Ask the presenter how it went, once: the follow-up is claimed by a
    conditional UPDATE (sent_at still empty) in the same transaction as the
    notification, so of several workers only the first one sends it.
    Returns whether this call sent it."""
    begin_write()
    claimed = db.session.execute(
        update(FollowUp).where(FollowUp.id == follow_up_id, FollowUp.sent_at.is_(None))
        .values(sent_at=now).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        db.session.rollback()
        return False
    challenge, thread, circle = db.session.execute(
        select(Challenge, Thread, Circle)
        .join(Thread, Thread.id == Challenge.thread_id).join(Circle, Circle.id == Challenge.circle_id)
        .join(FollowUp, FollowUp.challenge_id == Challenge.id)
        .where(FollowUp.id == follow_up_id)).one()
    if challenge.awaiting_update_since is None:
        challenge.awaiting_update_since = now
    # No content in the text (it may be emailed): not the title, not the commitment.
    notify(challenge.presenter_id, "challenge_follow_up",
           f"How did it go? Tell {circle.name} about your challenge",
           composer_url(circle, thread), circle_id=circle.id)
    db.session.commit()
    return True


def send_due_follow_ups(now: datetime | None = None) -> int:
    """Send every follow-up now due. Returns how many this call sent; safe to run
    in every worker at once, and again."""
    now = now or utcnow()
    sent = 0
    while True:
        ids = due_follow_ups(now)
        db.session.commit()
        sent += sum(send_follow_up(follow_up_id, now) for follow_up_id in ids)
        if len(ids) < BATCH:
            return sent


# --- Timed phases that ended with no one writing -------------------------------------

def _timed_now():
    """Clause: a challenge in a phase that ends by itself."""
    return or_(and_(Challenge.phase == "questions", Challenge.questions_minutes.is_not(None)),
               and_(Challenge.phase == "ideas", Challenge.ideas_minutes.is_not(None)))


def settle_ended_phase(challenge_id: int, now: datetime) -> bool:
    """Store and announce the move of one challenge whose timed phase has ended
    (phases.settled: of several workers, and of a member writing meanwhile,
    one does it). Returns whether this call did."""
    begin_write()
    thread = db.session.scalar(
        select(Thread).join(Challenge, Challenge.thread_id == Thread.id)
        .where(Challenge.id == challenge_id).with_for_update(of=Thread)
        .execution_options(populate_existing=True))
    challenge = db.session.get(Challenge, challenge_id, populate_existing=True)
    if thread is None or challenge is None:
        db.session.rollback()
        return False
    _, moved = settled(challenge, now)
    if moved:
        announce_phase(db.session.get(Circle, challenge.circle_id), thread, challenge)
    db.session.commit()
    return moved


def settle_ended_phases(now: datetime | None = None) -> int:
    """Move on, and announce, every challenge whose timed phase has ended though
    no one has written to it since. Returns how many this call moved; safe to
    run in every worker at once. It looks only at challenges in a timed phase
    (a few live consultations at a time), BATCH at a time."""
    now = now or utcnow()
    moved, after = 0, 0
    while True:
        rows = db.session.execute(
            select(Challenge.id, Challenge.phase, Challenge.phase_started_at,
                   Challenge.questions_minutes, Challenge.ideas_minutes)
            .where(_timed_now(), Challenge.id > after).order_by(Challenge.id).limit(BATCH)).all()
        db.session.commit()
        due = [row.id for row in rows if effective_phase(row, now).name != row.phase]
        moved += sum(settle_ended_phase(challenge_id, now) for challenge_id in due)
        if len(rows) < BATCH:
            return moved
        after = rows[-1].id


def run_due(now: datetime | None = None) -> int:
    """One pass of the challenges' timed work: ended phases, then follow-ups."""
    now = now or utcnow()
    return settle_ended_phases(now) + send_due_follow_ups(now)


def run_forever(app) -> None:
    """Every minute: move on challenges whose timed phase ended, and ask
    presenters how it went as their follow-ups fall due."""
    import logging

    from ..background import repeat

    repeat(app, lambda: run_due(), first_delay=7, interval=lambda: 60,
           log=logging.getLogger(__name__),
           done="Moved on %d challenge(s) or asked their presenters how it went",
           failed="Challenge phases and follow-ups failed")


def start_follow_up_loop(app) -> None:
    """Start run_forever as a background task of the Socket.IO server (gevent)."""
    from ..extensions import socketio

    socketio.start_background_task(run_forever, app)
