"""The soak (issue 19): the real servers, PostgreSQL and Redis, members chatting and
browsing, and one fault after another; then what the members noticed.

Two gunicorn instances (deploy/'s layout, one gevent worker each) share a fresh
PostgreSQL database (through a proxy that can cut it off) and a Redis server of
the test's own. Six members chat (three on each
server, each sending twice a second) and four browse and reply, while the test:

1. kills a worker (SIGKILL; gunicorn starts another),
2. stops Redis and starts it again,
3. pauses Redis (SIGSTOP) and resumes it,
4. restarts one server gracefully (SIGTERM, then starts it again),
5. cuts the database off for a few seconds.

After each, it measures how long until a message sent then reaches every
member, and pages answer. At the end it asserts: every stored message reached
every member once and in order, every acknowledged message and reply is stored
once, no request was cut by the graceful restart, no 500 while only Redis was
away. SOAK_ROUNDS repeats the faults (1 in CI; `make soak` runs 5, prints the
report and keeps it in bench/results/soak.json); the figures are quoted in docs/operations.md.
"""
import gc
import json
import os
import statistics
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.database_proxy import TcpProxy
from tests.redis_server import OwnRedis
from tests.soak import Browser, ChatMember, Fault, page_answers, sign_in, wait_until_delivered
from tests.soak_site import Site, seed

pytestmark = [
    pytest.mark.soak, pytest.mark.postgres,
    # When a server drops a connection (a killed worker, a drain), python-socketio's
    # client and requests' pool leave that socket to the garbage collector: theirs,
    # not the app's, and not something a member notices.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

ROUNDS = int(os.environ.get("SOAK_ROUNDS", "1"))
STEADY = float(os.environ.get("SOAK_STEADY_SECONDS", "3"))   # load between faults
OUTAGE = float(os.environ.get("SOAK_OUTAGE_SECONDS", "3"))   # Redis or the database away
RECOVERY_BUDGET = 15.0  # seconds after a fault ends for a message to reach everyone again
REPORT = os.environ.get("SOAK_REPORT")  # a path: the report as JSON, for docs/operations.md


@pytest.fixture
def world(postgres_url, own_redis, tmp_path):
    redis = own_redis
    target = make_url(postgres_url)
    proxy = TcpProxy((target.host or "127.0.0.1", target.port or 5432))
    through_proxy = target.set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False)
    people = seed(postgres_url)
    site = Site(tmp_path, database_url=through_proxy, redis_url=redis.url)
    try:
        site.start()
        yield {"site": site, "redis": redis, "proxy": proxy, "people": people,
               "database_url": postgres_url}
    finally:
        site.stop()
        proxy.close()
        print(site.logs())


def test_members_notice_nothing_lost_through_every_fault(world):
    site, redis, proxy, people = world["site"], world["redis"], world["proxy"], world["people"]
    slug = people["slug"]
    members = [ChatMember(f"m{n}", site.urls[n % 2], sign_in(site.urls[n % 2], email), slug,
                          send_every=0.5).start()
               for n, email in enumerate(people["chatters"])]
    browsers = [Browser(f"b{n}", site.urls[n % 2], email, slug, people["thread"]).start()
                for n, email in enumerate(people["browsers"])]
    faults: list[Fault] = []
    try:
        assert wait_until_delivered(members, members[0]) is not None, "chat never worked"
        for _ in range(ROUNDS):
            time.sleep(STEADY)
            faults.append(inject("worker killed", lambda: site.kill_worker(0), members, site))
            time.sleep(STEADY)
            faults.append(inject("Redis restarted", lambda: restart(redis), members, site))
            time.sleep(STEADY)
            faults.append(inject("Redis hung", lambda: hang(redis), members, site))
            time.sleep(STEADY)
            faults.append(inject("graceful restart", lambda: site.restart(1), members, site))
            time.sleep(STEADY)
            faults.append(inject("database stopped", lambda: cut_off(proxy), members, site))
        time.sleep(STEADY)
    finally:
        for browser in browsers:
            browser.stop()
        for member in members:
            member.stopping.set()
    for member in members:
        member.wanted.set()
        member.thread.join(timeout=10)
    # Only once nobody is sending: a message stored after a member's fill would
    # count as lost to them (it was, under load, when each filled as it stopped).
    for member in members:
        member.fill()  # what a page does when it reconnects: everything up to now
        member.stop()

    gc.collect()  # those dropped sockets: collected here, where their warnings are ignored
    report = tally(world["database_url"], slug, people["thread"], members, browsers, faults)
    print(json.dumps(report, indent=2))
    if REPORT:
        with open(REPORT, "w") as out:
            json.dump(report, out, indent=2)
    for fault in report["faults"]:
        assert fault["recovered_in"] is not None, f"no recovery after {fault['name']}"
        assert fault["recovered_in"] < RECOVERY_BUDGET, fault
    chat = report["chat"]
    assert chat["stored"] > 0 and chat["acknowledged"] > 0
    assert chat["lost"] == {} and chat["out_of_order"] == []
    assert chat["stored_twice"] == [] and chat["acknowledged_not_stored"] == []
    replies = report["replies"]
    assert replies["acknowledged_not_stored"] == [] and replies["stored_twice"] == []
    for fault in report["faults"]:
        answers = fault["answers"]
        if fault["name"] in ("graceful restart", "Redis restarted", "Redis hung"):
            assert not answers.get("cut") and not answers.get("timeout"), fault
    assert report["answers"].get("500", 0) == 0, report["answers"]
    assert report["answers"].get("signed out", 0) == 0, report["answers"]


# --- Faults ------------------------------------------------------------------------------

def inject(name: str, fault, members: list[ChatMember], site: Site) -> Fault:
    """Run a fault (which returns when it is over) and time the recovery from its end."""
    record = Fault(name, started=time.monotonic())
    fault()
    record.ended = time.monotonic()
    delivered = wait_until_delivered(members, members[len(members) // 2], timeout=30)
    pages = max((page_answers(url) or float("inf")) for url in site.urls)
    if delivered is not None and pages != float("inf"):
        record.recovered_in = time.monotonic() - record.ended
    return record


def restart(redis: OwnRedis) -> None:
    redis.kill()
    time.sleep(OUTAGE)
    redis.start()


def hang(redis: OwnRedis) -> None:
    redis.pause()
    time.sleep(OUTAGE)
    redis.resume()


def cut_off(proxy: TcpProxy) -> None:
    proxy.down()
    time.sleep(OUTAGE)
    proxy.up()


# --- The report ----------------------------------------------------------------------------

def tally(database_url: str, slug: str, thread_id: int, members, browsers, faults) -> dict:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(text(
            "SELECT m.seq, m.id, m.source, m.client_id FROM chat_messages m "
            "JOIN circles c ON c.id = m.circle_id WHERE c.slug = :slug ORDER BY m.seq"),
            {"slug": slug}).all()
        replies = Counter(conn.execute(text(
            "SELECT source FROM posts WHERE thread_id = :thread"), {"thread": thread_id}).scalars())
    engine.dispose()
    expected = [(row.seq, row.id) for row in stored]
    lost, out_of_order = {}, []
    for member in members:
        shown = [(seq, message["id"]) for seq, message in sorted(member.shown.items())]
        missing = sorted(set(expected) - set(shown))
        if missing:
            lost[member.name] = missing[:20]
        if [seq for seq, _ in shown] != list(range(1, len(shown) + 1)):
            out_of_order.append(member.name)
    bodies = Counter(row.source for row in stored)
    stored_ids = {row.id for row in stored}
    acknowledged = {cid: mid for member in members for cid, mid in member.acknowledged.items()}
    answers = Counter(answer.outcome for browser in browsers for answer in browser.answers)
    acknowledged_replies = [text_ for browser in browsers
                            for text_, ok in browser.replies_stored.items() if ok]
    return {
        "chat": {
            "members": len(members),
            "stored": len(stored),
            "acknowledged": len(acknowledged),
            "unacknowledged_at_end": sum(len(member.outbox) for member in members),
            "lost": lost,
            "out_of_order": out_of_order,
            "stored_twice": sorted(body for body, n in bodies.items() if n > 1),
            "acknowledged_not_stored": sorted(cid for cid, mid in acknowledged.items()
                                              if mid not in stored_ids),
            "deliveries_repeated_and_dropped": sum(member.repeats for member in members),
            "refusals": dict(Counter(r for member in members for r in member.refusals)),
        },
        "replies": {
            "acknowledged": len(acknowledged_replies),
            "acknowledged_not_stored": [t for t in acknowledged_replies if replies[t] == 0],
            "stored_twice": sorted(t for t, n in replies.items() if n > 1),
        },
        "answers": dict(answers),
        # Anything a reader would notice, with seconds since the first fault began.
        "problems": [(round(answer.at - faults[0].started, 1), answer.method, answer.path,
                      answer.outcome)
                     for browser in browsers for answer in browser.answers
                     if answer.outcome in ("500", "cut", "timeout", "signed out")][:20],
        "recovery_seconds": recovery_summary(faults),
        "faults": [{"name": fault.name,
                    "seconds": round(fault.ended - fault.started, 1),
                    "recovered_in": None if fault.recovered_in is None
                    else round(fault.recovered_in, 2),
                    "answers": during(browsers, fault)} for fault in faults],
    }


def recovery_summary(faults) -> dict[str, dict]:
    """Per kind of fault: how many, and the median and slowest recovery, in seconds."""
    by_name: dict[str, list[float]] = {}
    for fault in faults:
        by_name.setdefault(fault.name, []).append(fault.recovered_in)
    return {name: {"times": len(times),
                   "median": None if None in times else round(statistics.median(times), 2),
                   "slowest": None if None in times else round(max(times), 2)}
            for name, times in by_name.items()}


def during(browsers, fault: Fault) -> dict[str, int]:
    """Outcomes of the requests started while the fault lasted or recovery ran."""
    until = fault.ended + (fault.recovered_in or 30)
    return dict(Counter(answer.outcome for browser in browsers for answer in browser.answers
                        if fault.started <= answer.at <= until))
