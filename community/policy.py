"""Who may do what: the one place the rules live.

Loaders (`access_*`) fetch and authorise in one call and raise the same
NotFound for "missing" and "not yours", so nothing leaks. Predicates (`can_*`)
take explicit objects and never read the request, so views, Socket.IO handlers
and templates (through the `policy` template global) apply the same rules.
"""
from collections import namedtuple
from datetime import datetime
from functools import cache

from sqlalchemy import and_, bindparam, exists, func, not_, or_, select
from sqlalchemy.orm import aliased, lazyload
from werkzeug.exceptions import Forbidden, NotFound

from .accounts.models import User
from .circles.models import Circle, JoinRequest, Membership
from .extensions import db
from .fast.prepared import prepared
from .messages.models import MAX_PEOPLE, MIN_PEOPLE, Block, Conversation, ConversationMember, DirectMessage

RANK = {"member": 1, "moderator": 2, "owner": 3}


def require(allowed: bool, message: str = "Your role in this circle doesn't allow that.") -> None:
    """:raise Forbidden: when a rule says no to someone who may know the thing exists."""
    if not allowed:
        raise Forbidden(message)


# --- Read rules, as query clauses -----------------------------------------------
# Every query that lists or counts across circles is built from these, so "a
# member" and "may read" mean the same on every page, panel, feed, email and
# socket. No other module spells a membership status, the pledge rule or the
# second-factor rule (tests/test_read_rules.py keeps it so).

MEMBERSHIP_STATUSES = ("active", "left", "removed", "banned")


def is_active_row(membership=Membership):
    """Clause: this membership row grants access (not left, removed or banned)."""
    return membership.status == "active"


def pledge_kept(circle=Circle, membership=Membership):
    """Clause: the circle asks no pledge, or this member accepted its current text."""
    return or_(not_(circle.pledge_required),
               and_(membership.pledge_accepted_at.is_not(None),
                    membership.pledge_accepted_at >= circle.pledge_updated_at))


def second_factor_kept(circle=Circle, user=User):
    """Clause: the circle requires no second factor, or this person has one.

    `users.second_factor_at` says so without a join to the factor tables: the
    user row is at hand on every page (accounts/factors.py keeps it in step)."""
    return or_(not_(circle.require_two_factor), user.second_factor_at.is_not(None))


def active_membership(user_id, circle_id, membership=Membership):
    """Join condition: the user's active membership of the circle (columns or values)."""
    return and_(membership.user_id == user_id, membership.circle_id == circle_id,
                is_active_row(membership))


# The subqueries below never correlate with an enclosing query that reads
# memberships too: each always means "this user's" or "this circle's" rows.

def active_circle_ids(user_id, role: str | None = None):
    """A subquery: the ids of the circles the user is an active member of (in
    this role, if given)."""
    query = select(Membership.circle_id).where(Membership.user_id == user_id, is_active_row())
    if role is not None:
        query = query.where(Membership.role == role)
    return query.correlate(None)


def is_staff_somewhere(user_id: int) -> bool:
    """Whether the user is an active owner or moderator of any circle."""
    return db.session.scalar(select(active_circle_ids(user_id).where(
        Membership.role.in_(("owner", "moderator"))).exists()))


def readable_circle_ids(user_id):
    """A subquery: the ids of the circles whose content the user may read now
    (an active member, the pledge accepted where the circle asks it, a second
    factor where it requires one)."""
    return (select(Membership.circle_id).join(Circle, Circle.id == Membership.circle_id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.user_id == user_id, is_active_row(), pledge_kept(),
                   second_factor_kept()).correlate(None))


def may_read(user_id, circle_column):
    """Clause: the user may read the content of the circle in circle_column."""
    return circle_column.in_(readable_circle_ids(user_id))


def active_member_ids(circle_id):
    """A subquery: the ids of the circle's active members."""
    return (select(Membership.user_id).where(Membership.circle_id == circle_id, is_active_row())
            .correlate(None))


def active_members(circle_id):
    """A select of the circle's active members (User), to order and narrow."""
    return select(User).join(Membership, active_membership(User.id, circle_id))


def member_counts(circle_ids) -> dict[int, int]:
    """{circle id: number of active members} for these circles (one statement)."""
    if not circle_ids:
        return {}
    return dict(db.session.execute(
        select(Membership.circle_id, func.count(Membership.id))
        .where(Membership.circle_id.in_(list(circle_ids)), is_active_row())
        .group_by(Membership.circle_id)).all())


def staff_ids(circle_id) -> list[int]:
    """The ids of the circle's active owners and moderators."""
    return list(db.session.scalars(active_member_ids(circle_id).where(
        Membership.role.in_(("owner", "moderator")))))


def reading_pairs(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Of these (circle id, user id) pairs, those where the user may read the circle."""
    if not pairs:
        return set()
    rows = db.session.execute(
        select(Membership.circle_id, Membership.user_id).join(Circle, Circle.id == Membership.circle_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.circle_id.in_({c for c, _ in pairs}), Membership.user_id.in_({u for _, u in pairs}),
               is_active_row(), pledge_kept(), second_factor_kept()))
    return {(row.circle_id, row.user_id) for row in rows} & pairs


def active_count(circle, role: str | None = None, besides: int | None = None):
    """A scalar subquery: how many active members the circle (a column or an id)
    has, of one role if given, leaving out one person if given."""
    others = aliased(Membership)
    query = select(func.count(others.id)).where(others.circle_id == circle, is_active_row(others))
    if role is not None:
        query = query.where(others.role == role)
    if besides is not None:
        query = query.where(others.user_id != besides)
    return query.scalar_subquery()


def membership_history(user_id: int):
    """A select of every membership the person has had, with its circle's name
    and slug (for their data export: their own rows, in any state)."""
    return (select(Circle.name.label("circle"), Circle.slug.label("circle_slug"), Membership.role,
                   Membership.status, Membership.joined_at, Membership.pledge_accepted_at)
            .join(Circle, Circle.id == Membership.circle_id)
            .where(Membership.user_id == user_id).order_by(Circle.name))


def owner_count(circle_id: int) -> int:
    """How many active owners the circle has (a circle keeps at least one)."""
    return db.session.scalar(select(func.count(Membership.id)).where(
        Membership.circle_id == circle_id, Membership.role == "owner", is_active_row()))


def banned_members(circle_id: int) -> list[Membership]:
    """The circle's banned people, for its staff."""
    return list(db.session.scalars(select(Membership).where(
        Membership.circle_id == circle_id, Membership.status == "banned")))


def member_list(circle_id: int):
    """A select of the circle's active memberships (with their users), to order and page."""
    return (select(Membership).join(Membership.user)
            .where(Membership.circle_id == circle_id, is_active_row()))


def readable(circles, user: User):
    """Of the user's [(circle, membership)], those whose content they may read now."""
    return [(c, m) for c, m in circles if may_read_circle(c, m, user)]


def members_without_second_factor(circle_id: int) -> int:
    """How many of the circle's active members have no second factor (for its
    owners, before they require one)."""
    return db.session.scalar(
        select(func.count(Membership.id)).join(User, User.id == Membership.user_id)
        .where(Membership.circle_id == circle_id, is_active_row(), User.second_factor_at.is_(None)))


# --- Loaders -----------------------------------------------------------------

# Every page runs these loaders, so their statements are built once, with
# parameters: building a select anew cost more than running it (bench/findings.md, 12).

@cache
def _membership_query():
    # The membership's own circle and user are the row's circle and the caller,
    # already in the session: joining them again (their eager default) is waste.
    return (select(Circle, Membership)
            .outerjoin(Membership, and_(Membership.circle_id == Circle.id,
                                        Membership.user_id == bindparam("user_id")))
            .options(lazyload(Membership.circle), lazyload(Membership.user)))


@cache
def _circle_by_slug():
    return _membership_query().where(Circle.slug == bindparam("slug"))


@cache
def _circle_by_id():
    return _membership_query().where(Circle.id == bindparam("circle_id"))


def access_circle(user: User, slug: str, for_update: bool = False) -> tuple[Circle, Membership]:
    """The circle with this slug and the user's active membership of it.

    With for_update, the circle's row stays locked until the transaction ends
    (PostgreSQL), so membership changes in one circle happen one at a time, and
    the membership is read only after the lock is held: a row read while
    waiting would predate the change that held the lock.

    :raise NotFound: no such circle, or the user is not an active member
        (signed out, never joined, left, removed or banned) — the same error.
    """
    if user is None or not user.is_authenticated or not _could_be_slug(slug):
        raise NotFound()
    if for_update:
        circle_id = db.session.scalar(
            select(Circle.id).where(Circle.slug == slug).with_for_update())
        row = db.session.execute(_circle_by_id().execution_options(populate_existing=True),
                                 {"user_id": user.id, "circle_id": circle_id}).first()
    else:
        row = db.session.execute(_circle_by_slug(), {"user_id": user.id, "slug": slug}).first()
    return _active_or_404(row)


def access_circle_rows(user: User, slug: str) -> tuple["CircleRow", "MembershipRow"]:
    """As access_circle, for pages that only show: the circle and membership as
    plain rows with the same attributes (a membership's is_active too), read
    in one statement. Making them ORM objects was a seventh of a thread page.

    :raise NotFound: as access_circle.
    """
    if user is None or not user.is_authenticated or not _could_be_slug(slug):
        raise NotFound()
    row = _circle_rows_by_slug.first({"user_id": user.id, "slug": slug})
    if row is None:
        raise NotFound()
    split = len(CircleRow._fields)
    membership = MembershipRow(*row[split:])
    return _active_or_404((CircleRow(*row[:split]), membership if membership.id is not None else None))


CircleRow = namedtuple("CircleRow", Circle.__table__.columns.keys())


class MembershipRow(namedtuple("MembershipRow", Membership.__table__.columns.keys())):
    __slots__ = ()
    is_active = Membership.is_active  # the model's own rule


@prepared
def _circle_rows_by_slug():
    membership = Membership.__table__
    return (select(Circle.__table__, *(column.label(f"membership_{column.key}") for column in membership.c))
            .outerjoin(membership, and_(membership.c.circle_id == Circle.id,
                                        membership.c.user_id == bindparam("user_id")))
            .where(Circle.slug == bindparam("slug")))


def _could_be_slug(slug) -> bool:
    # A NUL can't be in a slug, and PostgreSQL can't even be asked about one.
    return bool(slug) and len(slug) <= 80 and "\x00" not in slug


def _active_or_404(row) -> tuple[Circle, Membership]:
    """(circle, membership), if the membership is active; (circle, None) and None
    (no such circle, never a member) fail alike."""
    if row is None or row[1] is None or row[1].status != "active":
        raise NotFound()
    return row[0], row[1]


def _row_in_circle(model, circle: Circle, row_id: int, for_update: bool = False):
    """The row of `model` with this id in this circle (locked, if asked).

    :raise NotFound: no such row, or it belongs to another circle.
    """
    query = select(model).where(model.id == row_id, model.circle_id == circle.id)
    if for_update:
        query = query.with_for_update(of=model).execution_options(populate_existing=True)
    row = db.session.scalar(query)
    if row is None:
        raise NotFound()
    return row


def access_listed_circle(slug: str) -> Circle:
    """A circle that anyone signed in may see listed (join policy `request`).

    :raise NotFound: no such circle, or it is invite-only.
    """
    if not _could_be_slug(slug):
        raise NotFound()
    circle = db.session.scalar(select(Circle).where(Circle.slug == slug))
    if circle is None or circle.join_policy != "request":
        raise NotFound()
    return circle


def membership_of(circle_id: int, user_id: int, for_update: bool = False) -> Membership | None:
    """The person's membership row of the circle, whatever its status, or None
    (for actions that admit, or tell someone why they can't join).

    With for_update the row stays locked until the transaction ends."""
    query = select(Membership).where(Membership.circle_id == circle_id, Membership.user_id == user_id)
    if for_update:
        query = query.with_for_update(of=Membership)
    return db.session.scalar(query)


def former_membership(user: User, slug: str) -> tuple[Circle, Membership] | None:
    """The circle and the user's membership of it if they were a member and no
    longer are (left, removed or banned), else None: for telling someone whose
    membership ended mid-sentence why their words didn't go. Never for anyone
    who was not a member, to whom the circle stays a 404."""
    if user is None or not user.is_authenticated or not _could_be_slug(slug):
        return None
    row = db.session.execute(_circle_by_slug(), {"user_id": user.id, "slug": slug}).first()
    if row is None or row[1] is None or row[1].status == "active":
        return None
    return row[0], row[1]


def ended_by_staff(membership: Membership) -> bool:
    """The membership was ended by a moderator (removed or banned), not by leaving."""
    return membership.status in ("removed", "banned")


def is_active_member(circle_id: int, user_id: int) -> bool:
    """Whether the person is an active member of the circle now (one statement)."""
    return db.session.scalar(select(Membership.id).where(
        active_membership(user_id, circle_id))) is not None


def access_member(circle: Circle, user_id: int) -> Membership:
    """Another person's membership row in a circle the actor is already in.

    :raise NotFound: they have never been a member of it.
    """
    membership = membership_of(circle.id, user_id)
    if membership is None:
        raise NotFound()
    return membership


def access_profile(viewer: User, user_id: int) -> User:
    """A person's profile, if they are an active member of a circle the viewer may read.

    :raise NotFound: no such person, or no such circle in common.
    """
    if viewer.id == user_id:
        return viewer
    theirs = aliased(Membership)
    shared = exists().where(active_membership(User.id, theirs.circle_id, theirs),
                            theirs.circle_id.in_(readable_circle_ids(viewer.id)))
    user = db.session.scalar(select(User).where(User.id == user_id, shared))
    if user is None:
        raise NotFound()
    return user


# --- Predicates ----------------------------------------------------------------

def is_staff(membership: Membership | None) -> bool:
    """Owners and moderators."""
    return bool(membership and membership.status == "active"
                and membership.role in ("owner", "moderator"))


def is_owner(membership: Membership | None) -> bool:
    return bool(membership and membership.status == "active" and membership.role == "owner")


def may_read_circle(circle: Circle, membership: Membership | None, user: User) -> bool:
    """An active member (user, whose membership it is) with nothing to do first
    (read_gate): the pledge accepted, a second factor where the circle requires one."""
    return bool(membership and membership.is_active) and read_gate(circle, membership, user) is None


def read_gate(circle: Circle, membership: Membership, user: User) -> str | None:
    """What an active member must do before seeing anything of the circle but
    its name: "second_factor" (set one up: who is reading comes before what
    they promise), "pledge" (accept it), or None.

    :param user: the member (the membership's own user; passed in, as the
        caller holds it, so that asking costs no query).
    """
    if needs_second_factor(circle, user):
        return "second_factor"
    if needs_pledge(circle, membership):
        return "pledge"
    return None


def needs_second_factor(circle: Circle, user: User) -> bool:
    """True when the circle requires two-factor sign-in and the person has no second factor."""
    return bool(circle.require_two_factor) and user.second_factor_at is None


def is_banned(membership: Membership | None) -> bool:
    return membership is not None and membership.status == "banned"


def needs_pledge(circle: Circle, membership: Membership) -> bool:
    """True when the member must accept the circle's pledge before seeing content."""
    if not circle.pledge_required:
        return False
    accepted = membership.pledge_accepted_at
    return accepted is None or accepted < circle.pledge_updated_at


def can_edit_circle(membership: Membership) -> bool:
    return is_owner(membership)


def can_invite(membership: Membership) -> bool:
    return is_staff(membership)


def can_decide_requests(membership: Membership) -> bool:
    return is_staff(membership)


def can_moderate_content(membership: Membership) -> bool:
    """Delete others' posts and messages, pin and lock threads, decide reports."""
    return is_staff(membership)


# --- Threads ----------------------------------------------------------------------

def access_thread(user: User, slug: str, thread_id: int, for_update: bool = False):
    """(circle, membership, thread) for a thread in a circle the user is in.

    :raise NotFound: no such circle or thread, the thread is in another circle,
        or the user is not an active member — one error for all.
    """
    from .threads.models import Thread

    circle, membership = access_circle(user, slug)
    return circle, membership, _row_in_circle(Thread, circle, thread_id, for_update)


def access_post(user: User, slug: str, post_id: int):
    """(circle, membership, post) for a post in a circle the user is in.

    :raise NotFound: as access_thread.
    """
    from .threads.models import Post

    circle, membership = access_circle(user, slug)
    return circle, membership, _row_in_circle(Post, circle, post_id)


def access_attachment(user: User, slug: str, public_id: str):
    """(circle, attachment) for a file in a circle whose content the user may read.

    :raise NotFound: no such circle or file, the file is another circle's, or the
        user is not an active member who may read it (the pledge accepted, a
        second factor where the circle requires one) — one error for all.
    """
    circle, _, attachment = access_file(user, slug, public_id)
    return circle, attachment


def access_file(user: User, slug: str, public_id: str, for_update: bool = False):
    """(circle, membership, attachment), as access_attachment, with the viewer's
    membership (for the rules on changing it); the file's row locked, if asked.

    :raise NotFound: as access_attachment.
    """
    from .files.models import Attachment

    circle, membership = access_circle(user, slug)
    if read_gate(circle, membership, user) is not None:
        raise NotFound()
    query = select(Attachment).where(Attachment.public_id == public_id,
                                     Attachment.circle_id == circle.id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    attachment = db.session.scalar(query)
    if attachment is None:
        raise NotFound()
    return circle, membership, attachment


def can_remove_file(membership: Membership, attachment) -> bool:
    """The sharer removes their own file; owners and moderators anyone's shared one."""
    if not membership.is_active:
        return False
    return attachment.uploader_id == membership.user_id or (
        attachment.attached and can_moderate_content(membership))


def can_reply(membership: Membership, thread) -> bool:
    """Members reply to open threads; staff may still add to a locked one."""
    return membership.is_active and (not thread.locked or is_staff(membership))


def can_edit_post(membership: Membership, post) -> bool:
    return membership.is_active and post.author_id == membership.user_id and not post.removed


def can_delete_post(membership: Membership, post) -> bool:
    return (membership.is_active and not post.removed
            and (post.author_id == membership.user_id or can_moderate_content(membership)))


def can_report(membership: Membership, author_id: int | None) -> bool:
    return membership.is_active and author_id != membership.user_id


def can_read_audit(circle: Circle, membership: Membership) -> bool:
    return is_staff(membership) or (membership.is_active and circle.audit_visible_to_members)


def can_moderate_member(actor: Membership, target: Membership) -> bool:
    """Remove or ban: staff acting on someone of lower rank, never themselves."""
    return (is_staff(actor) and actor.user_id != target.user_id
            and RANK[actor.role] > RANK[target.role])


def can_end_membership(actor: Membership, target: Membership, status: str) -> bool:
    """Remove an active member, or ban anyone not banned yet: staff above them."""
    return can_moderate_member(actor, target) and (
        target.is_active or (status == "banned" and not is_banned(target)))


def can_unban(actor: Membership, target: Membership) -> bool:
    return is_staff(actor) and target.status == "banned"


def can_change_role(actor: Membership, target: Membership, new_role: str) -> bool:
    """Owners promote and demote; the last-owner rule is checked by the action."""
    return (is_owner(actor) and target.status == "active" and new_role in RANK
            and new_role != target.role)


def can_transfer_ownership(actor: Membership, target: Membership) -> bool:
    return is_owner(actor) and target.status == "active" and target.user_id != actor.user_id


def can_leave(membership: Membership, owner_count: int) -> bool:
    """Anyone may leave, except the last owner (they must hand over first)."""
    return membership.is_active and not (membership.role == "owner" and owner_count <= 1)


def can_request_to_join(circle: Circle, membership: Membership | None,
                        request: JoinRequest | None) -> bool:
    if circle.join_policy != "request":
        return False
    if membership is not None and membership.status in ("active", "banned"):
        return False
    return request is None or request.status != "pending"


def is_site_admin(user: User) -> bool:
    """A site administrator's account, second factor or not (the admin pages
    tell one without a factor to set it up; to anyone else they are a 404)."""
    return bool(user and user.is_authenticated and user.is_site_admin)


def can_administer_site(user: User) -> bool:
    """Use the admin pages and their actions: a site admin with a second factor."""
    return is_site_admin(user) and user.second_factor_at is not None


def access_account(admin: User, user_id: int, not_yourself: str) -> User:
    """Another person's account, for a site admin to act on (suspend, reset a factor).

    :raise Forbidden: not a site admin with a second factor, or their own account
        (`not_yourself` says why not).
    :raise NotFound: no such account.
    """
    require(can_administer_site(admin), "Only site admins with a second factor can do that.")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    require(user.id != admin.id, not_yourself)
    return user


# --- Meetings ----------------------------------------------------------------------

def access_meeting(user: User, slug: str, meeting_id: int, for_update: bool = False):
    """(circle, membership, meeting) for a meeting in a circle the user is in.

    With for_update the meeting's row stays locked until the transaction ends.

    :raise NotFound: no such circle or meeting, the meeting is in another
        circle, or the user is not an active member — one error for all.
    """
    from .meetings.models import Meeting

    circle, membership = access_circle(user, slug)
    return circle, membership, _row_in_circle(Meeting, circle, meeting_id, for_update)


def access_occurrence(user: User, slug: str, occurrence_id: int, for_update: bool = False):
    """(circle, membership, occurrence) for one date of a meeting in the user's circle.

    With for_update the date's row stays locked until the transaction ends: the
    lock every RSVP for that date queues on, so seats are given one at a time.

    :raise NotFound: as access_meeting.
    """
    from .meetings.models import MeetingOccurrence

    circle, membership = access_circle(user, slug)
    return circle, membership, _row_in_circle(MeetingOccurrence, circle, occurrence_id, for_update)


def access_poll(user: User, slug: str, poll_id: int, for_update: bool = False):
    """(circle, membership, poll) for a date poll in a circle the user is in.

    :raise NotFound: as access_meeting.
    """
    from .meetings.models import DatePoll

    circle, membership = access_circle(user, slug)
    return circle, membership, _row_in_circle(DatePoll, circle, poll_id, for_update)


def can_propose_meeting(membership: Membership) -> bool:
    """Any member proposes meetings, date polls and visits."""
    return membership.is_active


def can_manage_meeting(membership: Membership, meeting) -> bool:
    """Edit, reschedule, move, cancel or delete: the organiser, and the circle's staff."""
    return membership.is_active and (meeting.organiser_id == membership.user_id
                                     or is_staff(membership))


def can_rsvp(membership: Membership, occurrence, now=None) -> bool:
    """Members answer for dates that are neither cancelled nor under way."""
    from .timeutil import utcnow

    return (membership.is_active and not occurrence.is_cancelled
            and occurrence.starts_at > (now or utcnow()))


def can_manage_poll(membership: Membership, poll) -> bool:
    """Pick the slot, or close the poll: its organiser, and the circle's staff."""
    return membership.is_active and (poll.organiser_id == membership.user_id
                                     or is_staff(membership))


def can_vote(membership: Membership, poll) -> bool:
    return membership.is_active and poll.status == "open"


def can_withdraw_host_offer(membership: Membership, offer) -> bool:
    return (membership.is_active and offer.withdrawn_at is None and offer.meeting_id is None
            and (offer.user_id == membership.user_id or is_staff(membership)))


# --- Chat --------------------------------------------------------------------------

def access_chat_message(user: User, message_id: int):
    """(circle, membership, message) for a chat message in a circle the user is in.

    One query whether or not the message exists, so timing tells nothing either.

    :raise NotFound: no such message, or the user is not an active member of its
        circle — one error for both.
    """
    from .chat.models import ChatMessage

    if user is None or not user.is_authenticated:
        raise NotFound()
    row = db.session.execute(
        select(ChatMessage, Membership)
        .outerjoin(Membership, and_(Membership.circle_id == ChatMessage.circle_id,
                                    Membership.user_id == user.id))
        .where(ChatMessage.id == message_id)).first()
    if row is None or row.Membership is None or row.Membership.status != "active":
        raise NotFound()
    return row.Membership.circle, row.Membership, row.ChatMessage


def can_edit_message(membership: Membership, message) -> bool:
    """Authors edit their own messages, while they are members and it isn't deleted."""
    return membership.is_active and message.author_id == membership.user_id and not message.removed


def can_delete_message(membership: Membership, message) -> bool:
    """Authors delete their own messages; owners and moderators delete anyone's."""
    return (membership.is_active and not message.removed
            and (message.author_id == membership.user_id or can_moderate_content(membership)))


def can_report_message(membership: Membership, message) -> bool:
    """Members report others' messages (not their own, not deleted ones)."""
    return membership.is_active and not message.removed and message.author_id != membership.user_id


# --- Direct messages ---------------------------------------------------------------
# A conversation is read by its members, past or present, and by no one else:
# not a site admin, not a moderator of a circle its people share. Writing to it
# needs more: every other current member must still share an active circle
# with the sender, and no block stands between them either way.

CANT_MESSAGE = "You can't message this person."
ONLY_CIRCLE_MATES = "You can only message people who share a circle with you."


def shares_a_circle(user_id, other_id):
    """Clause: both are active members of at least one same circle."""
    theirs = aliased(Membership)
    return exists().where(active_membership(other_id, theirs.circle_id, theirs),
                          theirs.circle_id.in_(active_circle_ids(user_id)))


def blocked_by(blocker_id, blocked_id):
    """Clause: blocker has blocked blocked (both columns or values)."""
    return exists().where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)


def circle_mates(user_id: int):
    """A select of the people (User) who share an active circle with the user,
    oneself left out: the people one may pick for a conversation."""
    return select(User).where(User.id != user_id, shares_a_circle(user_id, User.id))


def message_facts(user_id: int, other_ids) -> dict[int, dict]:
    """{other id: {name, mate, blocked, blocked_me}} for each of these people
    who exists, in one statement: whether they share an active circle with the
    user, whether the user blocked them, whether they blocked the user."""
    ids = [i for i in other_ids if i != user_id]
    if not ids:
        return {}
    rows = db.session.execute(
        select(User.id, User.display_name, shares_a_circle(user_id, User.id).label("mate"),
               blocked_by(user_id, User.id).label("blocked"),
               blocked_by(User.id, user_id).label("blocked_me"))
        .where(User.id.in_(ids)))
    return {row.id: {"name": row.display_name, "mate": bool(row.mate),
                     "blocked": bool(row.blocked), "blocked_me": bool(row.blocked_me)}
            for row in rows}


def _refusal(facts: dict, group: bool) -> str | None:
    """Why one person can't be written to, by the facts message_facts gives.
    A block by them reads exactly as "can't message": nothing tells it apart."""
    if facts["blocked"]:
        return f"You've blocked {facts['name']}: unblock them first to message them."
    if facts["blocked_me"]:
        return f"You can't message {facts['name']}." if group else CANT_MESSAGE
    return None  # not sharing a circle: the caller has the words that fit


def start_refusal(other_ids: list[int], facts: dict[int, dict]) -> str | None:
    """Why a conversation with these other people can't be started, or None.

    :param other_ids: the people picked, oneself not among them, each once.
    :param facts: message_facts(actor, other_ids).
    """
    if not MIN_PEOPLE - 1 <= len(other_ids) <= MAX_PEOPLE - 1:
        return (f"A conversation has {MIN_PEOPLE} to {MAX_PEOPLE} people, you included: "
                f"pick 1 to {MAX_PEOPLE - 1} people.")
    # Someone who doesn't exist and someone who shares no circle read the same.
    if any(i not in facts or not facts[i]["mate"] for i in other_ids):
        return ONLY_CIRCLE_MATES
    group = len(other_ids) > 1
    for i in other_ids:
        refusal = _refusal(facts[i], group)
        if refusal:
            return refusal
    return None


def send_refusal(member, others, facts: dict[int, dict]) -> str | None:
    """Why the member can't write to the conversation now, or None.

    :param member: the sender's ConversationMember.
    :param others: the other current members (ConversationMember).
    :param facts: message_facts(sender, their ids).
    """
    if member is None or not member.is_current:
        return "You left this conversation, so you can't write to it."
    if not others:
        return "Everyone else has left this conversation."
    group = len(others) > 1
    for other in others:
        fact = facts[other.user_id]
        refusal = _refusal(fact, group)
        if refusal:
            return refusal
        if not fact["mate"]:
            return (f"{fact['name']} no longer shares a circle with you, so messages can't be "
                    "sent here. What was said stays readable.")
    return None


def readable_message(left_at, message=DirectMessage):
    """Clause: a message of a conversation its member may read: every one while
    they are in it; once they left, those written before they left.

    :param left_at: the member's left_at: a column (ConversationMember.left_at,
        or an alias's) or the value itself (None: still in it).
    """
    if left_at is None:
        return message.created_at.is_not(None)  # every message
    if isinstance(left_at, datetime):
        return message.created_at <= left_at
    return or_(left_at.is_(None), message.created_at <= left_at)


def access_conversation(user: User, conversation_id, for_update: bool = False):
    """(conversation, the user's ConversationMember) for a conversation the user
    is or was in. With for_update the conversation's row stays locked until
    the transaction ends (sending numbers messages one at a time).

    :raise NotFound: no such conversation, or the user was never in it — the
        same error, whoever asks (a site admin, a moderator of a shared circle).
    """
    if (user is None or not user.is_authenticated or not isinstance(conversation_id, int)
            or isinstance(conversation_id, bool) or not 0 < conversation_id < 2**31):
        raise NotFound()
    query = (select(Conversation, ConversationMember)
             .outerjoin(ConversationMember, and_(ConversationMember.conversation_id == Conversation.id,
                                                 ConversationMember.user_id == user.id))
             .where(Conversation.id == conversation_id).options(lazyload(ConversationMember.user)))
    if for_update:
        query = query.with_for_update(of=Conversation).execution_options(populate_existing=True)
    row = db.session.execute(query).first()
    if row is None or row.ConversationMember is None:
        raise NotFound()
    return row.Conversation, row.ConversationMember


def can_leave_conversation(member, people: int) -> bool:
    """A current member leaves a group conversation (of 3 or more); two people
    who no longer want to talk mute or block instead."""
    return member.is_current and people > MIN_PEOPLE


def access_blockable(user: User, other_id) -> User:
    """Someone the user may block: a circle-mate, or someone they share a conversation with.

    :raise NotFound: no such person, oneself, or a stranger — the same error.
    """
    if not isinstance(other_id, int) or other_id == user.id or not 0 < other_id < 2**31:
        raise NotFound()
    mine, theirs = aliased(ConversationMember), aliased(ConversationMember)
    together = exists().where(mine.user_id == user.id, theirs.user_id == User.id,
                              theirs.conversation_id == mine.conversation_id)
    other = db.session.scalar(select(User).where(
        User.id == other_id, or_(shares_a_circle(user.id, User.id), together)))
    if other is None:
        raise NotFound()
    return other
