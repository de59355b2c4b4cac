"""A crowded demo circle, for the phone-width test: long names and organisations,
many members, a date poll with many options and voters, several invite links with
long emails, a banned member, a report and 60-odd chat messages. Built through the
actions, on top of `flask seed-demo`.

Run as `python -m tests.e2e.crowd` with DATABASE_URL pointing at the demo's database.
"""
import json
import uuid
from datetime import timedelta

from sqlalchemy import select

from community import create_app
from community.accounts import actions as accounts
from community.accounts.models import User
from community.chat import actions as chat
from community.chat.models import ChatMessage
from community.circles import actions as circles
from community.database import lock_at_begin_for_this_command
from community.demo import DEMO_PASSWORD, OWNER, demo_circle, demo_email
from community.extensions import db
from community.meetings.actions import polls, visits
from community.moderation import actions as moderation
from community.threads import actions as threads
from community.timeutil import utcnow

# Long, unbreakable words are the point: a name must never be split mid-word.
SURNAMES = ["Featherstonehaugh-Wolstenholme", "Abernethy-Kaczmarczyk", "Venkataraghavan",
            "Oyelaran-Adebayo", "Montgomery-Cholmondeley", "Papadopoulou-Christodoulou",
            "Wojciechowska", "Szczepańska-Brzęczyszczykiewicz", "Ramaswamy-Iyengar",
            "Heathcote-Drummond-Willoughby", "Nwachukwu-Ogbonnaya", "Fitzgerald-Mountbatten"]
FIRST = ["Alexandra", "Maximilian", "Bartholomew", "Evangelina", "Christopher", "Guinevere",
         "Konstantinos", "Oluwaseun", "Jacqueline", "Sebastianus", "Anastasiya", "Theophilus"]
ORGANISATIONS = ["Buckinghamshire, Oxfordshire and Berkshire West Integrated Care Board",
                 "Royal Berkshire Hospital NHS Foundation Trust Paediatric Neurodevelopmental Service",
                 "Thames Valley Partnership for Community Safety and Rehabilitation",
                 "Wokingham and West Berkshire Citizens Advice Bureau Consortium"]
CROWD = [(f"{FIRST[i]} {SURNAMES[i]}", ORGANISATIONS[i % len(ORGANISATIONS)]) for i in range(12)]
LONG_EMAILS = ["bartholomew.featherstonehaugh-wolstenholme@berkshirewestintegratedcareboard.nhs.uk",
               "evangelina.papadopoulou-christodoulou@thamesvalleypartnership.org.uk",
               "k.venkataraghavan.programme-office@royalberkshirehospitalfoundationtrust.nhs.uk"]


def _person(name: str, organisation: str) -> User:
    email = name.lower().replace(" ", ".").replace("ń", "n").replace("ę", "e") + "@crowd.example.org"
    user = db.session.scalar(select(User).where(User.email == email))
    return user or accounts.register_user(
        email, DEMO_PASSWORD, display_name=name, organisation=organisation,
        job_title="Associate Director of Strategic Transformation and Partnerships",
        sector="public", location="Maidenhead and Windsor", timezone="Europe/London")


def seed() -> None:
    circle = demo_circle()
    owner = db.session.scalar(select(User).where(User.email == demo_email(OWNER)))
    slug = circle.slug
    if db.session.scalar(select(User).where(User.email.like("%@crowd.example.org"))):
        return
    _, token = moderation.create_invitation(owner, slug, days=30, max_uses=40,
                                            note="Second cohort of the programme, joining late")
    for email in LONG_EMAILS:
        moderation.create_invitation(owner, slug, days=7, max_uses=1, email=email,
                                     note="Personal invitation from the programme office")
    crowd = [_person(name, org) for name, org in CROWD]
    for person in crowd[:-2]:
        circles.accept_invitation(person, token)
        circles.accept_pledge(person, slug)
    # One more asks to join; another is banned.
    circles.request_to_join(crowd[-2], slug, "I was on the Oxfordshire programme in 2023 with "
                                             "Rachel; I lead the partnership's rehabilitation work.")
    circles.request_to_join(crowd[-1], slug, "Please let me in.")
    moderation.approve_request(owner, slug, _pending(circle, crowd[-1]))
    moderation.ban_member(owner, slug, crowd[-1].id)

    thread = threads.start_thread(
        crowd[0], slug, "Interdepartmentalcollaboration across organisational boundaries: "
                        "what actually works when budgets are cut?",
        "A link that never breaks: https://example.org/" + "a-very-long-path-segment-" * 6)
    threads.post_reply(crowd[1], slug, thread.id, "Agree with @" + crowd[0].handle + ".")
    threads.report_post(crowd[2], slug, _first_post(thread), "Off-topic for the circle.")

    organiser = crowd[0]
    start = utcnow().date() + timedelta(days=40)
    poll = polls.create_poll(
        organiser, slug, title="Away day for the whole cohort — which date suits you best?",
        description="Eight candidate dates; tell us all the ones that work.",
        timezone="Europe/London", duration=360,
        location="Englefield House and Estate Conference Centre, Theale, Reading",
        options=[(start + timedelta(days=3 * i)).strftime("%Y-%m-%dT09:30") for i in range(8)])
    answers = ["yes", "maybe", "no", "yes", "yes", "no", "maybe", "yes"]
    options = polls.poll_options(poll)
    for n, person in enumerate(crowd[:8]):
        polls.vote(person, slug, poll.id,
                   {o.id: answers[(i + n) % len(answers)] for i, o in enumerate(options)})

    visits.offer_to_host(crowd[3], slug, organisation=crowd[3].organisation,
                         note="Come and see the new neurodevelopmental assessment pathway.")

    # Chat: enough messages for the page to be longer than a phone's screen.
    now = utcnow()
    for i in range(36):
        author = crowd[i % 8]
        payload, _ = chat.send_message(
            author, slug, f"Message {i}: Interdepartmental thoughts on the away day from "
                          f"{author.display_name}.", f"crowd-{uuid.uuid4().hex}")
        message = db.session.get(ChatMessage, payload["id"])
        message.created_at = now - timedelta(minutes=40 - i)
        db.session.commit()


def _pending(circle, user):
    from community.circles.models import JoinRequest

    return db.session.scalar(select(JoinRequest.id).where(
        JoinRequest.circle_id == circle.id, JoinRequest.user_id == user.id,
        JoinRequest.status == "pending"))


def _first_post(thread):
    from community.threads.models import Post

    return db.session.scalar(select(Post.id).where(Post.thread_id == thread.id).order_by(Post.id))


def ids() -> dict[str, int]:
    """The ids the page list needs: the crowd's thread, post, poll, a meeting and its date."""
    from community.meetings.models import DatePoll, Meeting, MeetingOccurrence
    from community.threads.models import Post, Thread

    circle = demo_circle()
    thread = db.session.scalar(select(Thread).where(
        Thread.circle_id == circle.id, Thread.title.like("Interdepartmental%")))
    meeting = db.session.scalar(select(Meeting).where(
        Meeting.circle_id == circle.id, Meeting.title == "Monthly meetup"))
    return {
        "thread": thread.id,
        "post": db.session.scalar(select(Post.id).where(Post.thread_id == thread.id).order_by(Post.id)),
        "poll": db.session.scalar(select(DatePoll.id).where(
            DatePoll.circle_id == circle.id, DatePoll.title.like("Away day%"))),
        "meeting": meeting.id,
        "date": db.session.scalar(select(MeetingOccurrence.id).where(
            MeetingOccurrence.meeting_id == meeting.id).order_by(MeetingOccurrence.starts_at)),
        "person": db.session.scalar(select(User.id).where(User.display_name == CROWD[0][0])),
        "conversation": _demo_conversation("Helen Marsh", "Rachel Stone"),
    }


def _demo_conversation(*names) -> int:
    """The demo's direct conversation between exactly these people."""
    from community.messages.models import Conversation, people_key

    ids = db.session.scalars(select(User.id).where(
        User.email.in_([demo_email(name) for name in names]))).all()
    return db.session.scalar(select(Conversation.id).where(Conversation.people == people_key(ids)))


if __name__ == "__main__":
    app = create_app()
    with app.app_context():
        lock_at_begin_for_this_command()
        seed()
        print(json.dumps(ids()))
