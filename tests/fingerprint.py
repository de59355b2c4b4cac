"""What is stored, as something to compare: before and after a request that
must change nothing, and checks that what is stored still hangs together.

Call these inside an app context.
"""
import hashlib

from sqlalchemy import inspect, text

from community.extensions import db


def snapshot() -> dict[str, str]:
    """A fingerprint of every row of every table."""
    prints = {}
    for table in sorted(inspect(db.engine).get_table_names()):
        if table.startswith("search_fts"):
            continue  # FTS5's shadow tables mirror search_entries, which is compared
        rows = db.session.execute(text(f'SELECT * FROM "{table}" ORDER BY 1')).all()
        prints[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
    db.session.commit()
    return prints


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


# Each query lists rows that break a rule the actions keep; none may come back.
# A row here after a request means the request half-wrote something.
CONSISTENCY = {
    "a thread's post count is its number of posts":
        "SELECT t.id FROM threads t WHERE t.post_count != "
        "(SELECT count(*) FROM posts p WHERE p.thread_id = t.id)",
    "posts of a thread are numbered 1..n":
        "SELECT t.id FROM threads t WHERE t.post_count > 0 AND "
        "(SELECT max(number) FROM posts p WHERE p.thread_id = t.id) != t.post_count",
    "every thread has its opening post":
        "SELECT t.id FROM threads t WHERE NOT EXISTS "
        "(SELECT 1 FROM posts p WHERE p.thread_id = t.id AND p.number = 1)",
    "every circle has an active owner":
        "SELECT c.id FROM circles c WHERE NOT EXISTS (SELECT 1 FROM memberships m "
        "WHERE m.circle_id = c.id AND m.role = 'owner' AND m.status = 'active')",
    "every meeting has a date":
        "SELECT m.id FROM meetings m WHERE NOT EXISTS "
        "(SELECT 1 FROM meeting_occurrences o WHERE o.meeting_id = m.id)",
    "every date poll has at least two times":
        "SELECT d.id FROM date_polls d WHERE "
        "(SELECT count(*) FROM date_poll_options o WHERE o.poll_id = d.id) < 2",
    "a date ends after it starts":
        "SELECT id FROM meeting_occurrences WHERE ends_at <= starts_at",
    "no more people going than places":
        "SELECT o.id FROM meeting_occurrences o JOIN meetings m ON m.id = o.meeting_id "
        "WHERE m.capacity IS NOT NULL AND m.capacity < (SELECT count(*) FROM meeting_rsvps r "
        "WHERE r.occurrence_id = o.id AND r.answer = 'going')",
    "every live post is searchable":
        "SELECT p.id FROM posts p WHERE p.deleted_at IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM search_entries s WHERE s.post_id = p.id)",
}


def inconsistencies() -> list[str]:
    """Broken rules (with the offending ids), and any foreign key that points nowhere."""
    problems = []
    for rule, sql in CONSISTENCY.items():
        ids = db.session.execute(text(sql)).scalars().all()
        if ids:
            problems.append(f"{rule}: broken by {ids[:10]}")
    if db.engine.dialect.name == "sqlite":
        dangling = db.session.execute(text("PRAGMA foreign_key_check")).all()
        if dangling:
            problems.append(f"foreign keys pointing nowhere: {dangling[:10]}")
    db.session.commit()
    return problems
