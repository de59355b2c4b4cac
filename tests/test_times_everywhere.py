"""One way of writing times everywhere: a member on a 12-hour clock reads
"2:05 pm" on a thread, the meetings, the audit log, the notifications and the
chat page; one on a 24-hour clock reads "14:05". Every <time> says its moment
to machines (datetime) and in full to people (title)."""
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from community.circles import actions as circles
from community.extensions import db
from community.meetings.actions.scheduling import schedule_meeting
from community.moderation.models import AuditEvent
from community.notifications.actions import notify
from community.notifications.models import Notification
from community.threads.models import Post
from tests.factories import add_member, make_circle, make_thread, make_user

PAST = datetime(2026, 6, 1, 13, 5, tzinfo=UTC)  # 14:05 in London (BST), over a week ago


@pytest.fixture
def world(app):
    olive = make_user("Olive Owner", timezone="Europe/London", clock="24")
    circle = make_circle(olive, name="Berkshire Leaders")
    hank = add_member(circle, make_user("Hank Twelve", timezone="Europe/London", clock="12"))
    circles.update_circle(olive, circle.slug, name=circle.name, audit_visible_to_members=True)
    thread = make_thread(circle, olive, title="Winter pressures", body="Opening thoughts")
    schedule_meeting(olive, circle.slug, title="Summer meet-up", start="2027-06-01T14:05", duration=60,
                     timezone="Europe/London", location="Reading")
    for person in (olive, hank):
        notify(person.id, "mention", "You were mentioned", circle_id=circle.id)
    db.session.commit()
    db.session.execute(update(Post).where(Post.thread_id == thread.id).values(created_at=PAST))
    db.session.execute(update(AuditEvent).where(AuditEvent.circle_id == circle.id).values(created_at=PAST))
    db.session.execute(update(Notification).values(created_at=PAST))
    db.session.commit()
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.circle_id == circle.id))
    return circle, olive, hank, thread


def pages(client, circle, thread) -> dict[str, str]:
    urls = {"thread": f"/c/{circle.slug}/t/{thread.id}?page=1", "meetings": f"/c/{circle.slug}/meetings/",
            "audit log": f"/c/{circle.slug}/manage/audit", "notifications": "/notifications",
            "chat": f"/c/{circle.slug}/chat"}
    answers = {name: client.get(url) for name, url in urls.items()}
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(urls, 200)
    return {name: r.get_data(as_text=True) for name, r in answers.items()}


@pytest.mark.parametrize(("who", "shown", "not_shown", "meeting"), [
    ("hank", "1 Jun 2026, 2:05 pm", "14:05", "1 Jun 2027, 2:05 pm–3:05 pm"),
    ("olive", "1 Jun 2026, 14:05", "2:05 pm", "1 Jun 2027, 14:05–15:05"),
])
def test_each_member_reads_times_on_their_own_clock_everywhere(client, auth, world, who, shown,
                                                               not_shown, meeting):
    circle, olive, hank, thread = world
    auth.login({"hank": hank, "olive": olive}[who])
    seen = pages(client, circle, thread)
    for name in ("thread", "audit log", "notifications"):
        assert shown in seen[name], name
        assert not_shown not in seen[name], name
    assert meeting in seen["meetings"]
    assert f'data-clock="{ {"hank": "12", "olive": "24"}[who] }"' in seen["chat"]
    assert 'data-timezone="Europe/London"' in seen["chat"]
    assert "js/timefmt.js" in seen["chat"]


def test_every_time_element_has_its_moment_and_its_full_date(client, auth, world):
    circle, olive, hank, thread = world
    auth.login(hank)
    for name, page in pages(client, circle, thread).items():
        for tag in re.findall(r"<time\b[^>]*>", page):
            assert re.search(r'datetime="\d{4}-\d\d-\d\dT[^"]+"', tag), (name, tag)
            assert re.search(r'title="\w+day \d+ \w+ \d{4}, [^"]+"', tag), (name, tag)
