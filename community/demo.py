"""Demo data: one programme cohort in Berkshire, built through the actions.

Each area adds its part here, so `make run` always shows a lived-in product.
Idempotent: a second run finds the cohort and adds nothing.
"""
from sqlalchemy import select

from .accounts import actions as accounts
from .accounts.models import User
from .extensions import db

DEMO_PASSWORD = "circles-demo-2025"
DEMO_DOMAIN = "demo.alumni-circles.test"

# (name, organisation, job title, sector, location)
COHORT = [
    ("Dr Amara Okafor", "Berkshire Healthcare NHS Foundation Trust", "Consultant Child Psychiatrist", "public", "Reading"),
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


def demo_email(name: str) -> str:
    return accounts.handle_base(name.replace("Dr ", "")).replace("_", ".") + "@" + DEMO_DOMAIN


def seed() -> tuple[list[tuple[User, str]], bool]:
    """Create the demo cohort if missing. Returns ([(user, role note)], created?)."""
    first = db.session.scalar(select(User).where(User.email == demo_email(COHORT[0][0])))
    created = first is None
    if created:
        for name, org, title, sector, location in COHORT:
            accounts.register_user(
                demo_email(name), DEMO_PASSWORD, display_name=name, organisation=org,
                job_title=title, sector=sector, location=location, timezone="Europe/London",
            )
        accounts.make_site_admin(demo_email("Rachel Stone"))
    people = []
    for name, org, title, *_ in COHORT:
        user = db.session.scalar(select(User).where(User.email == demo_email(name)))
        note = f"{title}, {org}"
        if user.is_site_admin:
            note += " (site admin)"
        people.append((user, note))
    return people, created
