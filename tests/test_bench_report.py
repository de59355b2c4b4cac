"""bench/: how the thread page's p99 budget is measured and judged (no servers: the
load generator and the servers are stood in for)."""
import importlib
import re
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench():
    """bench/run.py and bench/report.py as the bench imports them (bench/ on the path)."""
    path, modules = list(sys.path), set(sys.modules)
    sys.path.insert(0, str(BENCH))
    try:
        run = importlib.import_module("run")
        yield run, importlib.import_module("report")
    finally:
        # bench/ holds modules named like others (profile, report, dataset): gone again.
        sys.path[:] = path
        for name in ("run", "report", "dataset", "sockets", "databases"):
            if name not in modules:
                sys.modules.pop(name, None)


def page(p99: float) -> dict:
    return {"rps": 1000.0, "p50_ms": 6.0, "p99_ms": p99, "bytes": 1, "queries": 5, "ratio": 0.13}


def result(small_p99: float, big_p99: float, turns: dict | None = None, one_ratio: float = 0.13) -> dict:
    runs = {label: {"posts": posts, "ceiling_rps": 9000.0, "rss_mb": {"peak": 100.0},
                    "pages": {"thread": page(p99), "thread_last": page(p99)}}
            for label, posts, p99 in (("sqlite_10k", 10_000, small_p99), ("sqlite_1m", 10**6, big_p99))}
    runs["sqlite_1m"]["pages"]["thread"]["ratio"] = one_ratio
    out = {"runs": runs, "pages": runs["sqlite_1m"]["pages"], "scale": "full", "rss_mb": 100.0}
    if turns:
        out["alternating"] = turns
    return out


def alternating(small: dict[str, list[float]], big: dict[str, list[float]],
                ratios: tuple[float, ...] = (0.13, 0.13, 0.13)) -> dict:
    p99 = {}
    for name in small:
        s, b = sorted(small[name])[len(small[name]) // 2], sorted(big[name])[len(big[name]) // 2]
        p99[name] = {"small_p99_ms": small[name], "big_p99_ms": big[name],
                     "small_median_ms": s, "big_median_ms": b, "ratio": round(b / s, 2)}
    return {"rounds": len(ratios), "seconds": 5, "p99": p99,
            "throughput": {"hello_rps": [], "thread_rps": [], "ratios": list(ratios),
                           "median_ratio": sorted(ratios)[len(ratios) // 2]}}


def budget(report, result: dict, name: str) -> dict:
    [found] = [b for b in report.budgets(result) if b["budget"].startswith(name)]
    return found


def test_one_unlucky_window_does_not_decide_the_p99_budget(bench):
    _, report = bench
    windows = alternating({"thread": [11.0, 12.0, 40.0], "thread_last": [10.0, 11.0, 12.0]},
                   {"thread": [34.0, 12.5, 13.0], "thread_last": [11.0, 12.0, 13.0]})
    judged = budget(report, result(11.6, 34.4, windows), "Thread page p99")
    assert judged["ok"]
    assert "first page 13.0 ms vs 12.0 ms = 1.08×" in judged["measured"]
    assert "median p99 of 3 alternating 5-s windows" in judged["measured"]


def test_a_page_slower_at_scale_in_most_windows_misses_the_budget(bench):
    _, report = bench
    windows = alternating({"thread": [11.0, 12.0, 13.0], "thread_last": [10.0, 11.0, 12.0]},
                   {"thread": [12.0, 13.0, 14.0], "thread_last": [25.0, 9.0, 30.0]})
    judged = budget(report, result(11.0, 12.0, windows), "Thread page p99")
    assert not judged["ok"]
    assert "last page 25.0 ms vs 11.0 ms = 2.27×" in judged["measured"]


def test_without_alternating_windows_the_budget_reads_each_runs_one_window(bench):
    _, report = bench
    judged = budget(report, result(11.6, 34.4), "Thread page p99")
    assert not judged["ok"]
    assert judged["measured"] == "34.4 ms vs 11.6 ms = 2.97× (one window each)"


def test_the_table_and_the_markdown_show_every_window(bench, tmp_path):
    _, report = bench
    data = result(11.0, 12.0, alternating({"thread": [11.0, 12.0, 40.0]}, {"thread": [34.0, 12.5, 13.0]},
                                          (0.131, 0.09, 0.125)))
    data.update(budgets=report.budgets(data), chat={},
                machine={"cpus": 2, "cpu": "x", "memory_gb": 24, "os": "Linux", "python": "3.11",
                         "wrk": "-t1 -c8"}, server="python app.py", when="today")
    table = report.table(data)
    assert "10k: 11.0 12.0 40.0 → median 12.0" in table
    assert "1M:  13.1% 9.0% 12.5% → median 12.5%" in table
    report.write_markdown(data, tmp_path / "performance.md")
    markdown = (tmp_path / "performance.md").read_text()
    assert "| p99 ms, first page | 11.0 12.0 40.0 → median 12.0 | 34.0 12.5 13.0 → median 13.0 | 1.08× |" \
        in markdown
    assert "| first page's req/s over hello-world's |  | 13.1% 9.0% 12.5% → median 12.5% |  |" in markdown


CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 167
model name\t: Intel(R) Xeon(R) Processor
stepping\t: 1
cache size\t: 491520 KB

processor\t: 1
model name\t: Another CPU
"""


def test_the_host_is_named_by_family_model_and_cache(bench, tmp_path):
    """A virtual machine's model name alone does not tell kinds of host apart (finding 48)."""
    run, report = bench
    assert run.cpu_of(CPUINFO) == ("Intel(R) Xeon(R) Processor",
                                   "cpu family 6, model 167, stepping 1, cache size 491520 KB")
    assert run.cpu_of("model name\t: AMD EPYC\n") == ("AMD EPYC", "")
    assert run.cpu_of("") == ("", "")
    data = result(11.0, 12.0)
    data.update(budgets=report.budgets(data), chat={}, server="python app.py", when="today",
                machine={"cpus": 2, "cpu": "Intel(R) Xeon(R) Processor", "cpu_id": "cpu family 6, model 167",
                         "memory_gb": 24, "os": "Linux", "python": "3.11", "wrk": "-t1 -c8"})
    report.write_markdown(data, tmp_path / "performance.md")
    assert "on 2 cores (Intel(R) Xeon(R) Processor; cpu family 6, model 167), 24 GB" \
        in (tmp_path / "performance.md").read_text()

def test_the_throughput_budget_reads_the_median_round(bench):
    _, report = bench
    windows = alternating({"thread": [10.0]}, {"thread": [10.0]}, (0.205, 0.09, 0.211))
    judged = budget(report, result(10.0, 10.0, windows, one_ratio=0.183), "Signed-in thread page")
    assert judged["ok"] and judged["target"] == "≥ 20%"
    assert judged["measured"] == ("20.5% (median of 3 rounds of alternating 5-s windows; "
                                  "18.3% in the page's one window)")
    windows = alternating({"thread": [10.0]}, {"thread": [10.0]}, (0.205, 0.09, 0.199))
    assert not budget(report, result(10.0, 10.0, windows, one_ratio=0.21), "Signed-in thread page")["ok"]
    assert not budget(report, result(10.0, 10.0, one_ratio=0.183), "Signed-in thread page")["ok"]
    # With the pages read in turns, the bell's poll says how far any page could go.
    data = result(10.0, 10.0, windows, one_ratio=0.21)
    data["shares"] = {"1m": {"rounds": 5, "seconds": 3, "pages": {
        "thread": {"median": 0.2, "rounds": [0.2]}, "bell_poll": {"median": 0.224, "rounds": [0.224]}}}}
    assert budget(report, data, "Signed-in thread page")["measured"].endswith(
        "21.0% in the page's one window; the bell's poll 22.4%)")


class FakeServer:
    """A server that was started, and is on `started` until stopped."""

    def __init__(self, url: str, started: list):
        self.url, self.started = url, started
        started.append(url)

    def stop(self):
        self.started.remove(self.url)


def fake_servers(run, monkeypatch, started: list, fake_wrk):
    """bench/run.py's app servers, sign-in and wrk faked; a world of bench pages to load."""
    monkeypatch.setattr(run, "app_server", lambda url, logdir, name, workers: FakeServer(url, started))
    monkeypatch.setattr(run, "sign_in", lambda base: "session=x")
    monkeypatch.setattr(run, "wrk", fake_wrk)
    return run.dataset.World(scale="x", user_id=1, circle_slug="c", big_thread_id=1,
                             big_thread_last_page=100, chat_circle_slug="c", oldest_chat_id=1,
                             feed_token="f", search_query="q", posts=10)


def test_the_servers_take_turns_and_the_budgets_read_medians(bench, monkeypatch, tmp_path):
    run, _ = bench
    started, measured = [], []

    # Per server, the windows in the order it gets them: (p99, req/s).
    figures = {"http://hello": iter([(1.0, 9000.0), (1.0, 5000.0), (1.0, 10000.0)]),
               "http://small": iter([(10.0, 0), (10.0, 0), (30.0, 0), (10.0, 0), (11.0, 0), (10.0, 0)]),
               "http://big": iter([(12.0, 1170.0), (10.0, 0), (12.0, 500.0), (10.0, 0), (90.0, 1400.0),
                                   (10.0, 0)])}

    def fake_wrk(url, seconds, cookie=None):
        base = "http://" + url.split("/")[2]
        if seconds == 2:  # the warm-up
            return {}
        measured.append(base)
        p99, rps = next(figures[base])
        return {"p99_ms": p99, "rps": rps}

    monkeypatch.setattr(run, "Server", lambda name, cmd, env, logdir: FakeServer("http://hello", started))
    world = fake_servers(run, monkeypatch, started, fake_wrk)
    workers = type("OneProcess", (), {"count": 1})()
    out = run.alternating(("http://small", world), ("http://big", world), tmp_path, workers, 3, 5)
    assert started == []  # every server stopped
    hello, small, big = "http://hello", "http://small", "http://big"
    assert measured == [hello, small, small, big, big,
                        big, big, small, small, hello,
                        hello, small, small, big, big]
    first = out["p99"]["thread"]
    assert first["small_p99_ms"] == [10.0, 30.0, 11.0] and first["small_median_ms"] == 11.0
    assert first["big_p99_ms"] == [12.0, 12.0, 90.0] and first["big_median_ms"] == 12.0
    assert first["ratio"] == 1.09
    assert out["p99"]["thread_last"]["small_p99_ms"] == [10.0, 10.0, 10.0]
    assert out["throughput"]["ratios"] == [0.13, 0.1, 0.14]
    assert out["throughput"]["median_ratio"] == 0.13


# --- Files: the same statements with few files and with many ---------------------------------

def constant(**pairs: tuple[int, int]) -> dict:
    return {name: {"few": {"queries": few, "files": 0}, "many": {"queries": many, "files": 30}}
            for name, (few, many) in pairs.items()}


def test_a_page_whose_statements_grow_with_its_files_misses_the_budget(bench):
    _, report = bench
    data = result(10.0, 10.0)
    data["files_constant"] = constant(thread=(7, 7), files=(6, 6))
    judged = budget(report, data, "SQL statements with few and many files")
    assert judged["ok"]
    assert judged["measured"] == "Thread page 7 / 7; Files, first page 6 / 6 (few files / many)"
    data["files_constant"] = constant(thread=(7, 8), files=(6, 6))
    assert not budget(report, data, "SQL statements with few and many files")["ok"]
    data["files_constant"] = constant(thread=(9, 9))
    assert not budget(report, data, "SQL statements with few and many files")["ok"]


def test_the_table_and_the_markdown_show_few_and_many_files(bench, tmp_path):
    _, report = bench
    data = result(10.0, 10.0)
    data["files_constant"] = constant(meeting=(7, 7))
    data.update(budgets=report.budgets(data), chat={},
                machine={"cpus": 2, "cpu": "x", "memory_gb": 24, "os": "Linux", "python": "3.11",
                         "wrk": "-t1 -c8"}, server="python app.py", when="today")
    assert "Meeting" in report.table(data) and "7 (30 files)" in report.table(data)
    report.write_markdown(data, tmp_path / "performance.md")
    assert "| Meeting | 7 (0 files) | 7 (30 files) |" in (tmp_path / "performance.md").read_text()


@pytest.fixture(scope="module")
def quick_dataset(bench, tmp_path_factory):
    """The quick dataset (10,000 posts), built as the bench builds it: through the
    migrations and dataset.py's bulk inserts (about 2 s)."""
    run, _ = bench
    from databases import migrated_app

    url = f"sqlite:///{tmp_path_factory.mktemp('bench') / 'quick.sqlite3'}"
    world = run.dataset.build(migrated_app(url, RATELIMIT_STORAGE_URI="memory://"),
                              run.dataset.SCALES["quick"])
    return url, world


def test_the_pages_with_files_send_the_same_few_statements_with_few_and_many_files(bench, quick_dataset):
    run, report = bench
    url, world = quick_dataset
    counts, constant, _ = run.count_queries(url, world, run.pages(world))
    # The bench's own pages show files: it measures them with files.
    for name in ("thread", "thread_last", "meeting", "files", "files_images", "files_search",
                 "chat_history"):
        assert counts[name]["files"] > 0, name
        assert counts[name]["queries"] <= report.MAX_QUERIES, (name, counts[name])
    assert set(constant) == {"thread", "meeting", "files", "chat_history"}
    for name, pair in constant.items():
        assert pair["few"]["files"] <= 1 and pair["many"]["files"] >= 10, (name, pair)
        assert pair["few"]["queries"] == pair["many"]["queries"] <= report.MAX_QUERIES, (name, pair)


# --- Direct messages: the same statements for short and long conversations --------------------

def test_a_messages_page_whose_statements_grow_misses_the_budget(bench):
    _, report = bench
    data = result(10.0, 10.0)
    data["messages_constant"] = constant(messages=(6, 6), conversation=(7, 7))
    judged = budget(report, data, "SQL statements with short and long conversations")
    assert judged["ok"]
    assert judged["measured"] == ("Messages page 6 (5 conversations) / 6 (50 conversations); "
                                  "Conversation page 7 (5 messages) / 7 (600 messages)")
    data["messages_constant"] = constant(messages=(6, 7))
    assert not budget(report, data, "SQL statements with short and long conversations")["ok"]
    data["messages_constant"] = constant(conversation=(9, 9))
    assert not budget(report, data, "SQL statements with short and long conversations")["ok"]
    data.update(budgets=report.budgets(data), chat={},
                machine={"cpus": 2, "cpu": "x", "memory_gb": 24, "os": "Linux", "python": "3.11",
                         "wrk": "-t1 -c8"}, server="python app.py", when="today")
    assert "Conversation page" in report.table(data)


def test_the_messages_pages_send_the_same_few_statements_short_and_long(bench, quick_dataset):
    run, report = bench
    url, world = quick_dataset
    counts, _, messages = run.count_queries(url, world, run.pages(world))
    for name in ("messages", "conversation"):
        assert counts[name]["queries"] <= report.MAX_QUERIES, (name, counts[name])
    assert set(messages) == {"messages", "conversation", "conversation_history"}
    assert [messages["conversation_history"][side]["messages"] for side in ("few", "many")] == [5, 50]
    for name, pair in messages.items():
        assert pair["few"]["queries"] == pair["many"]["queries"] <= report.MAX_QUERIES, (name, pair)
    # The places really are short and long: 5 and 50 listed, 5 and 50 messages shown.
    counter = run.InProcess(url)

    def count(path: str, pattern: str) -> int:
        return len(re.findall(pattern, counter._request(path).get_data(as_text=True)))

    try:
        few, many = run.message_places(world)["messages"]
        assert (count(few, '<li class="conversation'), count(many, '<li class="conversation')) == (5, 50)
        short, long = run.message_places(world)["conversation"]
        assert (count(short, '<li class="chat-msg[" ]'), count(long, '<li class="chat-msg[" ]')) == (5, 50)
    finally:
        counter.close()


def test_the_directory_search_finds_people_in_few_statements(bench, quick_dataset):
    """The bench's directory pages list people (so they measure real work), each
    within the statement budget; run.py compares their counts at 400 and 20,000 people."""
    run, report = bench
    url, world = quick_dataset
    pages = run.pages(world)
    counter = run.InProcess(url)
    try:
        for name in ("directory", "directory_search"):
            counted = counter.page(pages[name])
            assert counted["queries"] <= report.MAX_QUERIES, (name, counted)
            html = counter._request(pages[name]).get_data(as_text=True)
            assert html.count('class="person"') >= 5, (name, html.count('class="person"'))
    finally:
        counter.close()


# --- Issue 26: every main page, and PostgreSQL against SQLite -------------------------------------

def test_the_slowest_main_page_decides_and_postgresql_is_read_against_sqlite_page_by_page(bench):
    _, report = bench

    def run(ratios: dict) -> dict:
        return {"posts": 10_000, "ceiling_rps": 9000.0, "rss_mb": {"peak": 100.0},
                "pages": {name: {**page(10.0), "ratio": ratio} for name, ratio in ratios.items()}}

    sqlite = {"thread": 0.14, "dashboard": 0.11, "search": 0.10}
    data = {"runs": {"sqlite_10k": run(sqlite), "postgresql_10k": run({"thread": 0.10, "dashboard": 0.07,
                                                                       "search": 0.06})},
            "pages": run(sqlite)["pages"], "scale": "quick", "rss_mb": 100.0}
    every = budget(report, data, "Every main page vs hello-world (SQLite)")
    assert every["ok"] and every["measured"] == "lowest 10.0% (Search)"
    postgres = budget(report, data, "PostgreSQL vs SQLite, each main page (10k)")
    assert postgres["ok"] and postgres["measured"] == "lowest 0.60× (Search)"
    data["runs"]["postgresql_10k"]["pages"]["dashboard"]["ratio"] = 0.06
    postgres = budget(report, data, "PostgreSQL vs SQLite, each main page (10k)")
    assert not postgres["ok"] and postgres["measured"] == "lowest 0.55× (Dashboard)"
    data["runs"]["sqlite_10k"]["pages"]["search"]["ratio"] = 0.09
    assert not budget(report, data, "Every main page vs hello-world (SQLite)")["ok"]



def test_postgresql_against_sqlite_reads_the_median_of_rounds_in_turns(bench, tmp_path):
    """Where both databases were measured in turns, the budget takes each page's
    median round, with its spread: one unlucky window does not decide it."""
    _, report = bench
    sqlite = {"thread": 0.14, "dashboard": 0.11}
    runs = {"posts": 10_000, "ceiling_rps": 9000.0, "rss_mb": {"peak": 100.0},
            "pages": {name: {**page(10.0), "ratio": ratio} for name, ratio in sqlite.items()}}
    data = {"runs": {"sqlite_1m": runs, "postgresql_1m": runs}, "pages": runs["pages"], "scale": "full",
            "rss_mb": 100.0, "versus": {"1m": {"rounds": 5, "seconds": 3, "pages": {
                "thread": {"median": 0.66, "rounds": [0.7, 0.66, 0.41, 0.69, 0.6]},
                "dashboard": {"median": 0.62, "rounds": [0.62, 0.64, 0.6, 0.63, 0.61]}}}}}
    postgres = budget(report, data, "PostgreSQL vs SQLite, each main page (1m)")
    assert postgres["ok"] and postgres["target"] == "≥ 0.6× (median of rounds)"
    assert postgres["measured"] == "lowest 0.62× (Dashboard; rounds 0.60–0.64×, 5 rounds in turns)"
    data["versus"]["1m"]["pages"]["thread"]["median"] = 0.58
    postgres = budget(report, data, "PostgreSQL vs SQLite, each main page (1m)")
    assert not postgres["ok"]
    assert postgres["measured"].startswith("lowest 0.58× (Thread, first page (of 2,000 posts); "
                                           "rounds 0.41–0.70×")
    data.update(budgets=report.budgets(data), server="gunicorn", when="today",
                machine={"cpus": 2, "cpu": "x", "memory_gb": 24, "os": "Linux", "python": "3.11",
                         "wrk": "-t1 -c8"})
    assert "Dashboard" in report.table(data) and "(rounds 0.62 0.64 0.60 0.63 0.61)" in report.table(data)
    report.write_markdown(data, tmp_path / "performance.md")
    markdown = (tmp_path / "performance.md").read_text()
    assert "## PostgreSQL against SQLite, in turns (1m)" in markdown
    assert "| Dashboard | 0.62× | 0.62 0.64 0.60 0.63 0.61 |" in markdown


def test_a_postgresql_miss_is_not_printed_as_its_target(bench):
    """Session 33's run 3: a median of 0.599 missed 0.6 but read "0.60×" beside [MISSED]."""
    _, report = bench
    runs = {"posts": 10_000, "ceiling_rps": 9000.0, "rss_mb": {"peak": 100.0},
            "pages": {"thread": {**page(10.0), "ratio": 0.2}}}

    def measured(median: float) -> dict:
        data = {"runs": {"sqlite_1m": runs, "postgresql_1m": runs}, "pages": runs["pages"],
                "scale": "full", "rss_mb": 100.0, "versus": {"1m": {"rounds": 5, "seconds": 3, "pages": {
                    "thread": {"median": median, "rounds": [0.69, 0.66, 0.59, 0.53, median]}}}}}
        return budget(report, data, "PostgreSQL vs SQLite, each main page (1m)")

    missed = measured(0.5996)
    assert not missed["ok"] and missed["measured"].startswith("lowest 0.599× (Thread")
    met = measured(0.6)
    assert met["ok"] and met["measured"].startswith("lowest 0.60× (Thread")
    assert measured(0.58)["measured"].startswith("lowest 0.58× (Thread")


def test_postgresql_and_sqlite_take_turns_page_by_page(bench, monkeypatch, tmp_path):
    """Both servers up; each round one window of each, the first alternating (ABBA)."""
    run, report = bench
    started, measured = [], []

    rps = {"http://lite": iter([100.0, 100.0, 100.0, 100.0] * len(report.MAIN_PAGES)),
           "http://pg": iter([70.0, 50.0, 65.0, 80.0] * len(report.MAIN_PAGES))}

    def fake_wrk(url, seconds, cookie=None):
        base = "http://" + url.split("/")[2]
        if seconds == 1:  # the warm-up
            return {}
        measured.append(base)
        return {"rps": next(rps[base])}

    world = fake_servers(run, monkeypatch, started, fake_wrk)
    out = run.versus(("http://lite", world), ("http://pg", world), tmp_path, None, 4, 3)
    assert started == []  # both stopped
    assert measured[:8] == ["http://lite", "http://pg", "http://pg", "http://lite"] * 2
    assert set(out["pages"]) == set(report.MAIN_PAGES)
    assert out["pages"]["thread"] == {"median": 0.675, "rounds": [0.7, 0.5, 0.65, 0.8]}


def test_the_chat_budget_reads_the_median_of_rounds_in_turns_with_its_spread(bench):
    _, report = bench
    data = result(10.0, 10.0)
    data["chat"] = {"receivers_200": {"p50_ms": 5.0, "p99_ms": 30.0, "per_s": 1000, "lost": 0,
                                      "ratio_p99": 3.3},
                    "ceiling_200": {"p50_ms": 4.0, "p99_ms": 9.0, "per_s": 2000, "lost": 0},
                    "alternating": {"receivers": 200, "rounds": 5, "ratios": [1.2, 3.4, 1.5, 1.7, 1.4],
                                    "median_ratio": 1.5}, "database": "sqlite"}
    judged = budget(report, data, "Chat message to 200 receivers")
    assert judged["ok"]  # one bad round (3.4×), and the one window's 3.3×, don't decide it
    assert judged["measured"] == "1.50× (rounds 1.20–3.40×, 5 rounds in turns)"
    data["chat"]["alternating"].update(ratios=[2.2, 2.4, 1.9, 2.1, 2.6], median_ratio=2.2)
    assert not budget(report, data, "Chat message to 200 receivers")["ok"]
    del data["chat"]["alternating"]
    assert not budget(report, data, "Chat message to 200 receivers")["ok"]  # one window: 3.3× > 2×
    data["budgets"] = report.budgets(data)
    assert "Chat fan-out" in report.table(data)


def test_every_main_page_is_read_against_hello_world_by_the_median_of_rounds(bench, tmp_path):
    """Where each main page was measured against hello-world in turns, the budget
    takes each page's median round, with its spread, not the page's one window."""
    _, report = bench
    one = {"posts": 10**6, "ceiling_rps": 9000.0, "rss_mb": {"peak": 100.0},
           "pages": {"thread": {**page(10.0), "ratio": 0.05}, "dashboard": {**page(10.0), "ratio": 0.04}}}
    data = {"runs": {"sqlite_1m": one}, "pages": one["pages"], "scale": "full", "rss_mb": 100.0,
            "shares": {"1m": {"rounds": 5, "seconds": 3, "pages": {
                "thread": {"median": 0.15, "rounds": [0.15, 0.16, 0.05, 0.15, 0.14]},
                "dashboard": {"median": 0.104, "rounds": [0.104, 0.11, 0.1, 0.09, 0.12]}}}}}
    every = budget(report, data, "Every main page vs hello-world (SQLite)")
    assert every["ok"] and every["target"] == "≥ 10% (median of rounds)"
    assert every["measured"] == "lowest 10.4% (Dashboard; rounds 9.0%–12.0%, 5 rounds in turns)"
    data["shares"]["1m"]["pages"]["thread"]["median"] = 0.095
    every = budget(report, data, "Every main page vs hello-world (SQLite)")
    assert not every["ok"] and every["measured"].startswith("lowest 9.5% (Thread, first page")
    data.update(budgets=report.budgets(data), server="gunicorn", when="today",
                machine={"cpus": 2, "cpu": "x", "memory_gb": 24, "os": "Linux", "python": "3.11",
                         "wrk": "-t1 -c8"})
    assert "(rounds 10.4% 11.0% 10.0% 9.0% 12.0%)" in report.table(data)
    # The bell's poll is shown beside the pages, and never decides the budget.
    data["shares"]["1m"]["pages"]["bell_poll"] = {"median": 0.02, "rounds": [0.02] * 5}
    every = budget(report, data, "Every main page vs hello-world (SQLite)")
    assert every["measured"].startswith("lowest 9.5% (Thread, first page")
    assert every["measured"].endswith("; the bell's poll, the least a signed-in request does, 2.0%")
    report.write_markdown(data, tmp_path / "performance.md")
    markdown = (tmp_path / "performance.md").read_text()
    assert "## Each main page against hello-world, in turns (1m)" in markdown
    assert "| Dashboard | 10.4% | 10.4% 11.0% 10.0% 9.0% 12.0% |" in markdown


def test_each_main_page_and_hello_world_take_turns(bench, monkeypatch, tmp_path):
    """Hello-world and the app up side by side; per page and round, one window of each, ABBA."""
    run, report = bench
    started, measured = [], []
    names = report.MAIN_PAGES + (report.FLOOR,)
    rps = {"http://hello": iter([1000.0] * 4 * len(names)),
           "http://app": iter([100.0, 120.0, 90.0, 110.0] * len(report.MAIN_PAGES)
                              + [200.0, 210.0, 190.0, 200.0])}

    def fake_wrk(url, seconds, cookie=None):
        base = "http://" + url.split("/")[2]
        if seconds == 1:  # the warm-up
            return {}
        measured.append((base, url.split("/", 3)[3]))
        return {"rps": next(rps[base])}

    world = fake_servers(run, monkeypatch, started, fake_wrk)
    monkeypatch.setattr(run, "hello_server",
                        lambda name, logdir, workers: FakeServer("http://hello", started))
    out = run.shares(("http://app", world), tmp_path, None, 4, 3)
    assert started == []  # both stopped
    assert [base for base, _ in measured[:8]] == ["http://hello", "http://app", "http://app",
                                                  "http://hello"] * 2
    assert measured[0] == ("http://hello", "") and measured[1] == ("http://app", "")  # the dashboard
    assert set(out["pages"]) == {*report.MAIN_PAGES, "bell_poll"}
    assert out["pages"]["thread"] == {"median": 0.105, "rounds": [0.1, 0.12, 0.09, 0.11]}
    # The bell's poll, read last and alike: the least a signed-in request does.
    assert measured[-1] == ("http://hello", "") and measured[-2] == ("http://app", "notifications/unread")
    assert out["pages"]["bell_poll"] == {"median": 0.2, "rounds": [0.2, 0.21, 0.19, 0.2]}
