"""Offers to host the circle at a member's organisation: made, updated,
withdrawn, and taken up when a visit is scheduled (scheduling.schedule_meeting)."""
from datetime import datetime

from sqlalchemy import select, update

from ...accounts.models import User
from ...circles.models import Circle
from ...errors import ActionError, NotFound
from ...extensions import db
from ...policy import access_circle, can_propose_meeting, can_withdraw_host_offer, require
from ...text import clean_text
from ...timeutil import utcnow
from .. import inputs
from ..models import HostOffer


def offer_to_host(actor: User, slug: str, organisation: str | None = None,
                  note: str = "", places=None) -> HostOffer:
    """Offer to host the circle at one's organisation, with how many places (optional);
    an open offer is updated.

    :raise NotFound: not an active member.
    :raise ActionError: no organisation, a note too long, or places out of range.
    """
    circle, membership = access_circle(actor, slug)
    require(can_propose_meeting(membership))
    organisation = inputs.single_line(organisation if organisation is not None
                                      else actor.organisation, field="organisation",
                                      label="The organisation", max_len=120, required=True)
    note = clean_text(note, field="note", label="The note", max_len=1000, multiline=True)
    places = inputs.integer(places, field="places", label="The number of places", low=1,
                            high=inputs.MAX_CAPACITY, optional=True)
    offer = db.session.scalar(select(HostOffer).where(
        HostOffer.circle_id == circle.id, HostOffer.user_id == actor.id,
        HostOffer.withdrawn_at.is_(None), HostOffer.meeting_id.is_(None)))
    if offer is None:
        offer = HostOffer(circle_id=circle.id, user_id=actor.id)
        db.session.add(offer)
    offer.organisation, offer.note, offer.places = organisation, note, places
    db.session.commit()
    return offer


def withdraw_host_offer(actor: User, slug: str, offer_id: int) -> HostOffer:
    """Withdraw an offer to host (its maker, or staff).

    :raise NotFound: not a member, or no such offer here.
    :raise Forbidden: someone else's offer, or already taken up or withdrawn.
    """
    circle, membership = access_circle(actor, slug)
    offer = db.session.scalar(select(HostOffer).where(HostOffer.id == offer_id,
                                                      HostOffer.circle_id == circle.id))
    if offer is None:
        raise NotFound()
    require(can_withdraw_host_offer(membership, offer),
            "Only the member who made this offer, or a moderator, can withdraw it.")
    offer.withdrawn_at = utcnow()
    db.session.commit()
    return offer


def open_offer(circle: Circle, offer_id) -> HostOffer:
    """An offer in this circle still open to take up (for a visit being scheduled).

    :raise NotFound: no such offer here.
    :raise ActionError: withdrawn, or already taken up.
    """
    offer_id = inputs.integer(offer_id, field="host_offer_id", label="The offer", low=1,
                              high=2**31 - 1)
    offer = db.session.scalar(select(HostOffer).where(
        HostOffer.id == offer_id, HostOffer.circle_id == circle.id))
    if offer is None:
        raise NotFound()
    if offer.withdrawn_at is not None or offer.meeting_id is not None:
        raise ActionError("That offer to host has been withdrawn or already taken up.",
                          field="host_user_id")
    return offer


def withdraw_open_offers(circle: Circle, user_id: int, now: datetime) -> None:
    """Withdraw someone's open offers in a circle they left (in the caller's transaction)."""
    db.session.execute(update(HostOffer).where(
        HostOffer.circle_id == circle.id, HostOffer.user_id == user_id,
        HostOffer.withdrawn_at.is_(None), HostOffer.meeting_id.is_(None)).values(withdrawn_at=now))
