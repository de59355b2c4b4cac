"""Demo data: one programme cohort in Berkshire, built through the actions.

Each area adds its part here, so `make run` always shows a lived-in product.
Idempotent: a second run finds the cohort and adds nothing.
"""
from sqlalchemy import select

from .accounts import actions as accounts
from .accounts.models import User
from .circles import actions as circles
from .circles.models import Circle
from .extensions import db
from .moderation import actions as moderation

DEMO_PASSWORD = "circles-demo-2025"  # nosec B105  # the demo's published password (README)
DEMO_DOMAIN = "demo.alumni-circles.test"

# (name, organisation, job title, sector, location)
COHORT = [
    ("Dr Amara Okafor", "Berkshire Healthcare NHS Foundation Trust", "Consultant Child Psychiatrist",
     "public", "Reading"),
    ("Helen Marsh", "Kennet Valley GP Practice", "Practice Manager", "public", "Newbury"),
    ("Gareth Lloyd", "HMP Thameside Reading", "Prison Governor", "public", "Reading"),
    ("Priya Raman", "Thames Valley Radio", "Station Director", "private", "Slough"),
    ("Tom Whitaker", "Berkshire Food Network", "Charity Director", "non_profit", "Bracknell"),
    ("Siobhan Kelly", "Royal County Bank", "Regional Head of Operations", "private", "Maidenhead"),
    ("Marcus Bell", "Wokingham Borough Council", "Director of Children's Services", "public", "Wokingham"),
    ("Fatima Hussain", "Reading Refugee Support", "Chief Executive", "non_profit", "Reading"),
    ("James Fairbairn", "Thames Valley Police", "Superintendent", "public", "Windsor"),
    ("Chloe Adeyemi", "Greenshoots Housing Association", "Head of Tenancy Services", "non_profit", "Slough"),
    ("Oliver Grant", "Grant & Partners Engineering", "Managing Director", "private", "Newbury"),
    ("Rachel Stone", "Berkshire Leadership Programme", "Programme Lead", "non_profit", "Reading"),
]
# Alumni of another year who have asked to join the Berkshire circle.
REQUESTERS = [
    ("Daniel Price", "Oxford University Hospitals", "Head of Nursing", "public", "Oxford",
     "I was on the 2024 programme with Rachel and would love to join your conversations."),
    ("Grace Osei", "Swindon Youth Trust", "Operations Director", "non_profit", "Swindon",
     "Gareth suggested I ask — I'm working on prison leavers' housing."),
]
OWNER, MODERATOR = "Rachel Stone", "Dr Amara Okafor"
CIRCLE_NAME = "Berkshire Leaders 2025"


def demo_email(name: str) -> str:
    return accounts.handle_base(name.replace("Dr ", "")).replace("_", ".") + "@" + DEMO_DOMAIN


def _user(name: str) -> User:
    return db.session.scalar(select(User).where(User.email == demo_email(name)))


def _register(name, org, title, sector, location) -> User:
    return accounts.register_user(
        demo_email(name), DEMO_PASSWORD, display_name=name, organisation=org,
        job_title=title, sector=sector, location=location, timezone="Europe/London")


def seed() -> tuple[list[tuple[User, str]], bool, list[str]]:
    """Create the demo if missing. Returns ([(user, note)], created?, extra lines to print)."""
    created = _user(COHORT[0][0]) is None
    extra: list[str] = []
    if created:
        extra = _seed_people_and_circle()
    people = []
    for name, org, title, *_ in COHORT + [r[:5] for r in REQUESTERS]:
        user = _user(name)
        note = f"{title}, {org}"
        if name == OWNER:
            note += " — owns the Berkshire circle; site admin"
        elif name == MODERATOR:
            note += " — moderator"
        elif name in {r[0] for r in REQUESTERS}:
            note += " — has asked to join"
        people.append((user, note))
    return people, created, extra


def _seed_people_and_circle() -> list[str]:
    for row in COHORT:
        _register(*row)
    accounts.make_site_admin(demo_email(OWNER))
    owner = _user(OWNER)
    circle = circles.create_circle(
        owner, name=CIRCLE_NAME, cohort="Berkshire 2025", join_policy="request",
        description="Our cohort of the Berkshire cross-sector leadership programme. "
                    "Ten days together; now a place to keep talking frankly between meetups.")
    circles.update_circle(owner, circle.slug, name=circle.name, cohort=circle.cohort,
                          description=circle.description, join_policy="request",
                          pledge_required=True, pledge_text=circle.pledge_text,
                          audit_visible_to_members=True)
    _, token = moderation.create_invitation(owner, circle.slug, days=14, max_uses=30,
                                            note="for the whole cohort")
    for name, *_ in COHORT:
        if name != OWNER:
            member = _user(name)
            circles.accept_invitation(member, token)
            circles.accept_pledge(member, circle.slug)
    moderation.change_role(owner, circle.slug, _user(MODERATOR).id, "moderator")
    _, spare = moderation.create_invitation(owner, circle.slug, days=14, max_uses=5,
                                            note="for late joiners")
    for name, org, title, sector, location, message in REQUESTERS:
        requester = _register(name, org, title, sector, location)
        circles.request_to_join(requester, circle.slug, message)
    people = {name: _user(name) for name, *_ in COHORT}
    for area_seed in _area_seeders():
        area_seed(circle, people)
    return [f"Invite link for the Berkshire circle (shown once): /invite/{spare}"]


def _area_seeders():
    """Each area's demo, in the order a circle's life would build it."""
    from .chat.demo import seed_demo as chat
    from .meetings.demo import seed_demo as meetings
    from .messages.demo import seed_demo as messages
    from .threads.demo import seed_demo as threads

    return [threads, meetings, chat, messages]


def demo_circle() -> Circle | None:
    return db.session.scalar(select(Circle).where(Circle.name == CIRCLE_NAME))
