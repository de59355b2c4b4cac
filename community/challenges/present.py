"""What a challenge's thread page shows of the challenge: ChallengeFace, part
of the page's key (threads.views.ThreadFrame), so a new phase, a held idea or
a change of who may post what is a new page (community/fast/README.md).

One prepared read gives the challenge with the viewer's held ideas: a
challenge page costs one statement more than a thread page, whatever it holds.
"""
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, bindparam, select

from ..fast.prepared import prepared
from ..policy import can_hold_idea, can_move_phase, challenge_post_kinds, is_presenter
from .models import PHASE_LABELS, PHASES, Challenge, IdeaDraft
from .phases import effective_phase, next_phase

# What the composer says, by the kind of post it offers.
COMPOSER = {
    "question": ("Ask a question", "Ask a question — ideas wait for the next phase.", "Ask"),
    "answer": ("Answer", "Answer the circle's questions, or respond to what they offer.", "Post answer"),
    "idea": ("Offer an idea", "Offer an idea, or experience of something like this.", "Post idea"),
    "update": ("How did it go?", "Tell the circle how it went: what you did, what happened.",
               "Post update"),
    "comment": ("Comment", "Encourage, or ask about what happened.", "Post comment"),
}
# What each phase asks of the room, shown under the phase.
GUIDANCE = {
    "questions": "Members ask questions to understand the situation; the presenter answers. "
                 "No ideas or advice yet.",
    "ideas": "Members offer ideas and experience; the presenter listens and may respond.",
    "reflection": "The presenter says what they take away and what they will do.",
    "follow_up": "The presenter reports back on what they committed to.",
}


class HeldIdea(NamedTuple):
    id: int
    source: str


class ChallengeFace(NamedTuple):
    id: int
    phase: str
    phase_label: str
    phases: tuple[tuple[str, str, str], ...]  # (name, label, "done" | "current" | "later")
    guidance: str
    ends_at: datetime | None  # a timed phase's end (a slot shows it in the viewer's zone)
    presenter: bool  # the viewer presents it
    kinds: tuple[str, ...]  # the posts the viewer may add now (policy.challenge_post_kinds)
    may_hold: bool  # may keep an idea for later (Questions)
    move_to: str | None  # the next phase's label, if the viewer may move it on
    awaiting_update: bool
    held: tuple[HeldIdea, ...]  # the viewer's own held ideas, seen by no one else


def challenge_face(thread, membership, now: datetime) -> ChallengeFace:
    """The challenge of this thread (a row of threads.reading) as the viewer sees it now."""
    rows = _challenge_with_held.rows({"thread_id": thread.id, "user_id": membership.user_id})
    challenge = rows[0]  # has what effective_phase reads
    held = tuple(HeldIdea(row.draft_id, row.draft_source) for row in rows if row.draft_id)
    phase = effective_phase(challenge, now)
    kinds = challenge_post_kinds(membership, thread.locked, challenge.presenter_id, phase.name)
    after = next_phase(phase.name)
    index = PHASES.index(phase.name)
    return ChallengeFace(
        challenge.id, phase.name, PHASE_LABELS[phase.name],
        tuple((name, PHASE_LABELS[name], "done" if i < index else "current" if i == index else "later")
              for i, name in enumerate(PHASES)),
        GUIDANCE[phase.name], phase.ends_at, is_presenter(membership, challenge.presenter_id),
        tuple(kind for kind in (*COMPOSER, "reflection") if kind in kinds),
        can_hold_idea(membership, thread.locked, challenge.presenter_id, phase.name),
        PHASE_LABELS[after] if after and can_move_phase(membership, challenge.presenter_id, phase.name)
        else None,
        challenge.awaiting_update_since is not None, held)


_COLUMNS = ("id", "presenter_id", "phase", "phase_started_at", "questions_minutes", "ideas_minutes",
            "awaiting_update_since")


@prepared
def _challenge_with_held():
    return (select(*(getattr(Challenge, key) for key in _COLUMNS),
                   IdeaDraft.id.label("draft_id"), IdeaDraft.source.label("draft_source"))
            .outerjoin(IdeaDraft, and_(IdeaDraft.challenge_id == Challenge.id,
                                       IdeaDraft.author_id == bindparam("user_id")))
            .where(Challenge.thread_id == bindparam("thread_id"))
            .order_by(IdeaDraft.id))


def composer_context(key: tuple) -> dict:
    """The composer's context (kept per slug, thread, challenge face and starting text)."""
    from ..fast.fragments import clean

    slug, thread_id, challenge, body = key
    return {"slug": slug, "thread_id": thread_id, "challenge": challenge, "body": clean(body),
            "composer": COMPOSER}
