"""Synthetic data at a named scale, for the page benchmarks.

The schema comes from the project's own migrations (`flask db upgrade`); the
rows go in by bulk inserts of the project's tables, with ids chosen here so
nothing needs reading back. One member, "the bench member", is what the load
generator signs in as: a member of a few circles, one of which holds a
2,000-post thread, with read positions, RSVPs, unread notifications and a
personal calendar feed, like a long-standing member.

Files are rows only (their bytes are never read by the pages measured): on
every 5th post of the big thread and every 5th chat message of circle 1, on
the meeting the bench opens, and, for files_constant in run.py, on places alike
but for their number of files (a thread page of posts with 3 files each beside
one with none, a meeting with 10 beside one with none, 50 chat messages with 3
each beside 50 with none, circle 1's Files page beside circle 2's single file).

Direct messages: the bench member is in DM_CONVERSATIONS conversations of two
(more than the Messages page's 50, so it has an "Older conversations" page of
a few), one of LONG_CONVERSATION messages beside one of SHORT_CONVERSATION:
run.messages_constant wants the same statements on each pair.
"""
import hashlib
import random
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import text

BIG_THREAD_POSTS = 2000
BENCH_CIRCLES = 5          # circles the bench member belongs to
BATCH = 10_000
PASSWORD = "bench-password"
FEED_TOKEN = "bench-calendar-feed-token"
FILE_QUERY = "budget"      # a word in some files' names: the Files page's search
CHAT_FEW_FILES = 51        # circle 1's chat messages before this id have no files,
CHAT_MANY_FILES = 101      # and those from CHAT_FEW_FILES to before this one have 3 each
DM_CONVERSATIONS = 55      # the bench member's: 50 on the Messages page, 5 on the older page
LONG_CONVERSATION = 600    # messages in conversation 1 (the page shows its last 50)
SHORT_CONVERSATION = 5     # messages in conversation 2
# A file's kind, its extension, whether it has a thumbnail, and a range of sizes.
FILE_KINDS = (("jpeg", "jpg", True, (200_000, 4_000_000)), ("png", "png", True, (50_000, 2_000_000)),
              ("pdf", "pdf", False, (50_000, 8_000_000)), ("docx", "docx", False, (20_000, 2_000_000)),
              ("xlsx", "xlsx", False, (10_000, 1_000_000)), ("pptx", "pptx", False, (500_000, 20_000_000)))

COMMON = "the and of to a in that is for it with as was on be at by this have from".split()
TOPICS = ("leadership trust prison radio charity psychiatry practice budget board governor "
          "volunteers funding partnership patients listeners strategy burnout wellbeing "
          "mentoring cohort retreat safeguarding commissioning staff culture change council "
          "community resilience inspection waiting list recruitment merger pilot evaluation "
          "trustees courage feedback coaching honesty silence conflict decision").split()


# The directory (/people): most people listed, with an organisation, a place, a
# sector and two or three "can help with" tags; half show their organisation to all alumni.
DIRECTORY_QUERY = "coaching"   # a tag some have: the directory's search
DIRECTORY_PLACE = "Reading"
HELP_TAGS = ("coaching", "budgets", "board recruitment", "children's services", "mental health",
             "commissioning", "fundraising", "digital", "governance", "volunteering", "estates",
             "procurement", "media", "safeguarding", "partnerships", "evaluation")
PLACES = ("Leeds", "Reading", "Slough", "Bracknell", "Newbury", "Oxford", "Swindon", "Basingstoke")
ORGANISATIONS = ("Trust", "Practice", "Radio", "Prison", "Charity", "Council", "College", "Foundation")


def _vocabulary(size: int = 3000) -> tuple[list[str], list[float]]:
    """Words with Zipf-like frequencies, as in real text: a few very common, most rare.

    So a search for two topic words matches a few hundredths of the posts, not
    most of them (as a small uniform vocabulary would make it).
    """
    rng = random.Random(3)
    syllables = ["ka", "lo", "mi", "ne", "ra", "su", "ti", "vo", "be", "do", "fi", "gu", "ha", "je"]
    words = COMMON + TOPICS
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    total, cumulative = 0.0, []
    for rank in range(1, size + 1):
        total += 1 / rank
        cumulative.append(total)
    return words, cumulative


VOCABULARY, CUMULATIVE = _vocabulary()


@dataclass(frozen=True)
class Scale:
    name: str
    circles: int
    users: int
    posts: int
    chat_messages: int
    meetings: int


SCALES = {
    "quick": Scale("quick", circles=10, users=400, posts=10_000, chat_messages=2_000, meetings=100),
    "full": Scale("full", circles=500, users=20_000, posts=1_000_000, chat_messages=200_000,
                  meetings=5_000),
}


@dataclass
class World:
    """What the load generator needs to find its way around the data."""
    scale: str
    user_id: int
    circle_slug: str
    big_thread_id: int
    big_thread_last_page: int
    chat_circle_slug: str
    oldest_chat_id: int
    feed_token: str
    search_query: str
    posts: int
    meeting_id: int = 0             # the meeting page measured: a few files
    file_query: str = FILE_QUERY
    # Places alike but for their files, none then many (run.files_constant):
    few_files_thread_id: int = 0    # posts 1-20 without files
    many_files_thread_id: int = 0   # posts 1-20 with 3 files each
    few_files_meeting_id: int = 0   # no files
    many_files_meeting_id: int = 0  # 10 files (files.actions.MAX_PER_PLACE)
    few_files_chat_before_id: int = CHAT_FEW_FILES    # "load older" from here: no files
    many_files_chat_before_id: int = CHAT_MANY_FILES  # 50 messages, 3 files each
    few_files_circle_slug: str = "circle-2"           # one file, beside circle 1's hundreds
    long_conversation_id: int = 0   # LONG_CONVERSATION messages
    short_conversation_id: int = 0  # SHORT_CONVERSATION messages
    messages_older: str = ""        # ?before= of the Messages page's second page (5 conversations)
    directory_query: str = DIRECTORY_QUERY
    directory_place: str = DIRECTORY_PLACE

    def as_dict(self) -> dict:
        return asdict(self)


def build(app, scale: Scale, seed: int = 7) -> World:
    """Fill an empty, migrated database; returns where the bench member's things are."""
    from community.extensions import db

    rng = random.Random(seed)
    with app.app_context():
        with db.engine.begin() as conn:
            # Files draw from their own generator: the rest is as it was before files.
            builder = _Builder(conn, scale, rng, db.engine.dialect.name, random.Random(seed + 1))
            world = builder.run()
        db.engine.dispose()
    return world


class _Builder:
    def __init__(self, conn, scale: Scale, rng: random.Random, dialect: str, file_rng: random.Random):
        from community import models  # noqa: F401  (every table on the metadata)
        from community.extensions import db

        self.conn, self.scale, self.rng, self.dialect = conn, scale, rng, dialect
        self.file_rng = file_rng
        self.tables = db.metadata.tables
        self.now = _now()
        self.members: dict[int, list[int]] = {}   # circle id -> member ids
        self.files: list[dict] = []               # attachment rows, inserted last
        self.places: dict[str, int] = {}          # World's fields for the places with files

    def insert(self, table: str, rows) -> int:
        """Insert an iterable of dicts in batches; returns how many."""
        count, batch = 0, []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                self.conn.execute(self.tables[table].insert(), batch)
                count += len(batch)
                batch = []
        if batch:
            self.conn.execute(self.tables[table].insert(), batch)
            count += len(batch)
        return count

    def sentence(self, words: int) -> str:
        chosen = self.rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=words)
        return " ".join(chosen).capitalize() + "."

    def run(self) -> World:
        self.users()
        self.circles()
        big_thread = self.threads_and_posts()
        oldest_chat = self.chat()
        self.meetings()
        self.insert("attachments", self.files)
        self.bench_member_extras()
        self.direct_messages()
        self._fix_sequences()
        return World(scale=self.scale.name, user_id=1, circle_slug="circle-1",
                     big_thread_id=big_thread, big_thread_last_page=-(-BIG_THREAD_POSTS // 20),
                     chat_circle_slug="circle-1", oldest_chat_id=oldest_chat,
                     feed_token=FEED_TOKEN, search_query="burnout coaching", posts=self.scale.posts,
                     **self.places)

    # --- People and circles -----------------------------------------------------

    def users(self) -> None:
        from werkzeug.security import generate_password_hash

        # One real hash for everyone: the bench member can sign in by hand too.
        hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        created = self.now - timedelta(days=800)
        self.insert("users", ({
            "id": i, "email": f"member{i}@bench.example", "display_name": f"Member {i}",
            "handle": f"member{i}", "password_hash": hashed,
            "organisation": f"Bench {ORGANISATIONS[i % len(ORGANISATIONS)]} {i % 97}",
            "job_title": "Director", "sector": ("public", "private", "non_profit")[i % 3],
            "location": PLACES[i % len(PLACES)], "bio": "",
            "timezone": "Europe/London", "is_site_admin": False, "session_token": f"tok{i}",
            "created_at": created, **self._directory_fields(i)} for i in range(1, self.scale.users + 1)))
        self.insert("profile_tags", self._help_tags())

    def _directory_fields(self, i: int) -> dict:
        """Listed but every 10th; audiences varied, so the search's clauses all do work."""
        audiences = ("circles", "alumni", "alumni", "nobody")
        fields = ("organisation", "job_title", "sector", "location", "bio", "tags", "photo", "contact")
        return {"listed_in_directory": i % 10 != 0, "open_to_contact": i % 2 == 0,
                **{f"{field}_visibility": audiences[(i + n) % len(audiences)]
                   for n, field in enumerate(fields)}}

    def _help_tags(self):
        n = 0
        for user in range(1, self.scale.users + 1):
            for position in range(2 + user % 2):
                n += 1
                tag = HELP_TAGS[(user // 2 + position * 5) % len(HELP_TAGS)]
                yield {"id": n, "user_id": user, "position": position, "name": tag, "key": tag.casefold()}

    def circles(self) -> None:
        s = self.scale
        self.insert("circles", ({
            "id": c, "slug": f"circle-{c}", "name": f"Cohort {c} circle", "description": "A bench circle.",
            "cohort": f"Cohort {c}", "join_policy": "invite_only", "pledge_required": False,
            "pledge_text": "", "pledge_updated_at": self.now, "audit_visible_to_members": False,
            "email_excerpts": False, "created_by_id": None, "created_at": self.now - timedelta(days=700)}
            for c in range(1, s.circles + 1)))
        # Everyone but the bench member in one circle, round robin; the bench
        # member (user 1) in the first BENCH_CIRCLES circles, owner of circle 1.
        for c in range(1, s.circles + 1):
            self.members[c] = []
        for u in range(2, s.users + 1):
            self.members[(u - 2) % s.circles + 1].append(u)
        for c in range(1, min(BENCH_CIRCLES, s.circles) + 1):
            self.members[c].insert(0, 1)

        def rows():
            n = 0
            for c, ids in self.members.items():
                for i, u in enumerate(ids):
                    n += 1
                    yield {"id": n, "circle_id": c, "user_id": u, "status": "active",
                           "role": "owner" if i == 0 else "member",
                           "joined_at": self.now - timedelta(days=600), "pledge_accepted_at": None}
        self.insert("memberships", rows())

    # --- Threads, posts and the search index ------------------------------------

    def threads_and_posts(self) -> int:
        """Threads of 1–40 posts in every circle, and one of 2,000 in circle 1."""
        s = self.scale
        per_circle = (s.posts - BIG_THREAD_POSTS) // s.circles
        threads, posts = [], []
        start = self.now - timedelta(days=700)
        post_id = thread_id = 0

        def add_thread(circle: int, size: int) -> int:
            nonlocal post_id, thread_id
            thread_id += 1
            authors = self.members[circle]
            at = start + timedelta(minutes=self.rng.randrange(0, 60 * 24 * 690))
            first_author = self.rng.choice(authors)
            poster = first_author
            for number in range(1, size + 1):
                post_id += 1
                poster = first_author if number == 1 else self.rng.choice(authors)
                posts.append((post_id, thread_id, circle, poster, number, at,
                              self.sentence(self.rng.randint(12, 40))))
                at += timedelta(minutes=self.rng.randrange(1, 120))
            threads.append({"id": thread_id, "circle_id": circle, "author_id": first_author,
                            "title": self.sentence(5)[:-1], "pinned": False, "locked": False,
                            "created_at": start, "post_count": size, "removed_count": 0,
                            "last_post_at": at, "last_poster_id": poster})
            return thread_id

        big = add_thread(1, BIG_THREAD_POSTS)
        for circle in range(1, s.circles + 1):
            left = per_circle
            while left > 0:
                size = min(left, self.rng.randint(1, 40))
                add_thread(circle, size)
                left -= size
        self.insert("threads", threads)
        titles = {t["id"]: t["title"] for t in threads}
        self.insert("posts", self._post_rows(posts))
        self._search_entries(posts, titles)
        self._post_files(posts, threads, big)
        return big

    def _post_files(self, posts, threads, big: int) -> None:
        """1-3 files on every 5th post of the big thread; 3 on each post of a
        thread's first page, another thread's left without; circle 2's one file."""
        from community.threads.actions import PER_PAGE

        few, many = [t["id"] for t in threads
                     if t["circle_id"] == 1 and t["id"] != big and t["post_count"] >= PER_PAGE][:2]
        self.places.update(few_files_thread_id=few, many_files_thread_id=many)
        circle_2 = next(p for p in posts if p[2] == 2)
        self.add_files(1, circle_2[2], circle_2[3], circle_2[5], post_id=circle_2[0])
        for post_id, thread_id, circle, author, number, at, _ in posts:
            if thread_id == big and number % 5 == 0:
                self.add_files(self.file_rng.randint(1, 3), circle, author, at, post_id=post_id)
            elif thread_id == many and number <= PER_PAGE:
                self.add_files(3, circle, author, at, post_id=post_id)

    def _post_rows(self, posts):
        for post_id, thread_id, circle, author, number, at, body in posts:
            yield {"id": post_id, "thread_id": thread_id, "circle_id": circle, "author_id": author,
                   "number": number, "source": body, "html": f"<p>{body}</p>", "created_at": at,
                   "edited_at": None, "deleted_at": None, "deleted_by_id": None}

    def _search_entries(self, posts, titles) -> None:
        """The search rows, then the full-text index built once (faster than row by row)."""
        rows = ({"post_id": p[0], "circle_id": p[2], "thread_id": p[1],
                 "title": titles[p[1]] if p[4] == 1 else "", "body": p[6]} for p in posts)
        if self.dialect == "sqlite":
            triggers = [r[0] for r in self.conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='search_entries'"))]
            sql = {name: self.conn.execute(text(
                "SELECT sql FROM sqlite_master WHERE name=:n"), {"n": name}).scalar() for name in triggers}
            for name in triggers:
                self.conn.execute(text(f'DROP TRIGGER "{name}"'))
            self.insert("search_entries", rows)
            from community.threads.models import SQLITE_FTS_FILL
            self.conn.execute(text(SQLITE_FTS_FILL))
            for statement in sql.values():
                self.conn.execute(text(statement))
        else:
            index = next(i for i in self.tables["search_entries"].indexes
                         if i.name == "ix_search_entries_fts")
            index.drop(self.conn)
            self.insert("search_entries", rows)
            index.create(self.conn)

    # --- Chat ---------------------------------------------------------------------

    def chat(self) -> int:
        """Chat messages spread over every circle; returns an id deep in circle 1's history.

        Circle 1's messages (ids 1..per_circle) have no files before CHAT_FEW_FILES,
        3 each up to CHAT_MANY_FILES, then 1-3 on every 5th.
        """
        s = self.scale
        per_circle = s.chat_messages // s.circles
        assert per_circle >= CHAT_MANY_FILES + 50, "circle 1's chat is too short for its files"
        start = self.now - timedelta(days=300)
        authors_1 = {}  # circle 1's messages' authors, by id

        def rows():
            n = 0
            for circle in range(1, s.circles + 1):
                authors = self.members[circle]
                for i in range(per_circle):
                    n += 1
                    body = self.sentence(self.rng.randint(3, 15))
                    at = start + timedelta(minutes=i * 30)
                    author = self.rng.choice(authors)
                    if circle == 1:
                        authors_1[n] = author
                    yield {"id": n, "circle_id": circle, "seq": i + 1, "author_id": author,
                           "client_id": f"bench-{n}", "source": body, "html": f"<p>{body}</p>",
                           "created_at": at, "edited_at": None, "deleted_at": None,
                           "deleted_by_id": None, "changed_at": at}
        self.insert("chat_messages", rows())
        for n in range(CHAT_FEW_FILES, per_circle + 1):
            many = n < CHAT_MANY_FILES
            if many or n % 5 == 0:
                count = 3 if many else self.file_rng.randint(1, 3)
                self.add_files(count, 1, authors_1[n], start + timedelta(minutes=(n - 1) * 30),
                               chat_message_id=n)
        return per_circle  # circle 1 holds ids 1..per_circle: load older before its newest

    # --- Meetings -------------------------------------------------------------------

    def meetings(self) -> None:
        s = self.scale
        per_circle = max(1, s.meetings // s.circles)
        meetings, occurrences, rsvps = [], [], []
        n = 0
        for circle in range(1, s.circles + 1):
            for i in range(per_circle):
                n += 1
                # Half past, half to come: a meeting every other week.
                starts = (self.now + timedelta(days=14 * (i - per_circle // 2), hours=1)).replace(
                    minute=0, second=0, microsecond=0)
                ends = starts + timedelta(hours=2)
                meetings.append({
                    "id": n, "circle_id": circle, "organiser_id": self.members[circle][0],
                    "uid": f"bench-{n}@alumni-circles", "title": f"Meeting {n}: " + self.sentence(3)[:-1],
                    "description_source": "Agenda.", "description_html": "<p>Agenda.</p>",
                    "timezone": "Europe/London", "starts_at": starts, "ends_at": ends, "rrule": None,
                    "location": "Leeds", "online_link": "", "capacity": None, "host_user_id": None,
                    "host_organisation": "", "sequence": 0, "cancelled_at": None, "cancel_reason": "",
                    "created_at": self.now - timedelta(days=30), "updated_at": self.now - timedelta(days=30)})
                occurrences.append({"id": n, "meeting_id": n, "circle_id": circle, "original_start": starts,
                                    "starts_at": starts, "ends_at": ends, "moved_at": None,
                                    "cancelled_at": None, "cancel_reason": ""})
                for u in self.members[circle][:8]:
                    rsvps.append({"occurrence_id": n, "user_id": u,
                                  "answer": self.rng.choice(("going", "going", "maybe", "declined")),
                                  "responded_at": self.now - timedelta(days=3), "waitlisted_at": None,
                                  "reminded_at": None})
        self.insert("meetings", meetings)
        self.insert("meeting_occurrences", occurrences)
        self.insert("meeting_rsvps", rsvps)
        # Circle 1's first three meetings to come (ids 1..per_circle): the one
        # the bench opens, with 3 files; one with none; one with 10.
        assert per_circle // 2 + 3 <= per_circle, "too few meetings in circle 1 for its files"
        shown, few, many = range(per_circle // 2 + 1, per_circle // 2 + 4)
        self.places.update(meeting_id=shown, few_files_meeting_id=few, many_files_meeting_id=many)
        organiser, created = self.members[1][0], self.now - timedelta(days=30)
        self.add_files(3, 1, organiser, created, meeting_id=shown)
        self.add_files(10, 1, organiser, created, meeting_id=many)

    # --- Files --------------------------------------------------------------------------

    def add_files(self, count: int, circle: int, uploader: int, at: datetime, **place) -> None:
        """`count` attachment rows on one place (post_id=, chat_message_id= or meeting_id=)."""
        for _ in range(count):
            n = len(self.files) + 1
            kind, extension, image, (low, high) = self.file_rng.choice(FILE_KINDS)
            key = hashlib.sha256(f"bench-file-{n}".encode()).hexdigest()
            name = f"{self.file_rng.choice(TOPICS)} {self.file_rng.choice(TOPICS)} {n}.{extension}"
            self.files.append({
                "id": n, "public_id": f"bench{n:017d}", "circle_id": circle, "uploader_id": uploader,
                "storage_key": key, "name": name, "kind": kind, "size": self.file_rng.randint(low, high),
                "thumbnail_key": hashlib.sha256(key.encode()).hexdigest() if image else None,
                "created_at": at, "post_id": None, "chat_message_id": None, "meeting_id": None, **place})

    # --- The bench member's own state -------------------------------------------------

    def bench_member_extras(self) -> None:
        threads = self.conn.execute(text(
            "SELECT id, post_count FROM threads WHERE circle_id = 1 ORDER BY id LIMIT 200")).all()
        # Read part of most threads: unread markers on the thread list.
        self.insert("thread_states", ({"user_id": 1, "thread_id": t.id,
                                       "last_read_number": max(1, t.post_count // 2),
                                       "subscription": "following"} for t in threads))
        self.insert("notifications", ({
            "user_id": 1, "kind": "mention", "circle_id": 1, "actor_id": 2,
            "text": f"Member 2 mentioned you ({i})", "url": "/c/circle-1/",
            "excerpt": None, "created_at": self.now - timedelta(hours=i),
            "read_at": None if i < 5 else self.now, "dispatched_at": self.now, "channel": "in_app",
            "digested_at": None} for i in range(30)))
        self.insert("chat_read_positions", [{"user_id": 1, "circle_id": 1, "last_read_id": 1}])
        self.insert("calendar_feeds", [{"user_id": 1, "created_at": self.now,
                                        "token_hash": hashlib.sha256(FEED_TOKEN.encode()).hexdigest()}])

    # --- Direct messages ----------------------------------------------------------------

    def direct_messages(self) -> None:
        """The bench member's conversations, each with another member: the first
        long, the second short, the rest of two messages; all unread."""
        assert self.scale.users > DM_CONVERSATIONS, "too few people for the bench member's conversations"
        start = self.now - timedelta(days=30)
        conversations, members, messages = [], [], []
        for c in range(1, DM_CONVERSATIONS + 1):
            partner = c + 1
            count = {1: LONG_CONVERSATION, 2: SHORT_CONVERSATION}.get(c, 2)
            created = start + timedelta(hours=c)
            conversations.append({"id": c, "people": f"1,{partner}", "created_by_id": 1,
                                  "created_at": created,
                                  "last_message_at": created + timedelta(minutes=count - 1)})
            members += [{"conversation_id": c, "user_id": u, "joined_at": created, "left_at": None,
                         "muted": False, "last_read_seq": 0 if u == 1 else count}
                        for u in (1, partner)]
            for i in range(count):
                body = self.sentence(self.rng.randint(3, 15))
                at = created + timedelta(minutes=i)
                messages.append({"id": len(messages) + 1, "conversation_id": c, "seq": i + 1,
                                 "author_id": partner if i % 2 == 0 else 1,
                                 "client_id": f"bench-dm-{len(messages) + 1}", "source": body,
                                 "html": f"<p>{body}</p>", "created_at": at, "edited_at": None,
                                 "deleted_at": None, "changed_at": at})
        self.insert("conversations", conversations)
        self.insert("conversation_members", members)
        self.insert("direct_messages", messages)
        # The Messages page: newest first; the second page starts after its 50th.
        newest = sorted(conversations, key=lambda r: (r["last_message_at"], r["id"]), reverse=True)
        last = newest[49]
        self.places.update(long_conversation_id=1, short_conversation_id=2,
                           messages_older=f"{last['last_message_at'].isoformat()}_{last['id']}")

    def _fix_sequences(self) -> None:
        """PostgreSQL: ids were given explicitly, so move each sequence past them."""
        if self.dialect != "postgresql":
            return
        for name, table in self.tables.items():
            if "id" in table.c and table.c.id.autoincrement and "id" in [c.name for c in table.primary_key]:
                self.conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"))


def _now():
    from community.timeutil import utcnow

    return utcnow().replace(microsecond=0)
