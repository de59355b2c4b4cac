"""The bench's table, its budgets, and docs/performance.md, all from one result dict."""
import math
from pathlib import Path

FINDINGS = Path(__file__).resolve().parent / "findings.md"
PAGE_NAMES = {
    "dashboard": "Dashboard", "circle_home": "Circle home", "thread_list": "Thread list",
    "thread": "Thread, first page (of 2,000 posts)", "thread_last": "Thread, last page",
    "meetings": "Meetings list", "meeting": "Meeting (3 files)", "ics_feed": "Personal .ics feed",
    "search": "Search", "files": "Files", "files_images": "Files, images only",
    "files_search": "Files, a name searched", "chat_history": "Chat history (socket)",
    "messages": "Messages (50 of 55 conversations)", "conversation": "Conversation (600 messages)",
    "directory": "Alumni directory", "directory_search": "Alumni directory, searched",
    "bell_poll": "The bell's poll (the least a signed-in request does)",
}
# The pages that show files, measured on places with few and many files (run.files_constant).
FILE_PAGE_NAMES = {"thread": "Thread page", "meeting": "Meeting", "files": "Files, first page",
                   "chat_history": "Chat history (socket)"}
# The direct-message pages, with little and with much on them (run.messages_constant).
MESSAGE_PAGE_NAMES = {"messages": ("Messages page", "5 conversations", "50 conversations"),
                      "conversation": ("Conversation page", "5 messages", "600 messages"),
                      "conversation_history": ("Conversation history (socket join)", "5 messages",
                                               "600 messages")}
TAIL_NAMES = {"thread": "first page", "thread_last": "last page"}  # the pages whose p99 is compared
MAX_QUERIES = 8
MIN_THREAD_SHARE = 0.20  # of hello-world's req/s: issue 26 (the budget was 12%, aiming at 20%)
MAX_TAIL_GROWTH = 1.5  # p99 at 1,000,000 posts over p99 at 10,000
# Issue 26: every main page's share of hello-world on SQLite, and PostgreSQL's
# share of hello-world as a fraction of SQLite's, page by page, same scale.
MAIN_PAGES = ("dashboard", "circle_home", "thread_list", "thread", "meetings", "meeting", "search",
              "messages", "files")
# Signed in, the user and one count read, a line of JSON: what every signed-in
# page pays before its own work, read against hello-world as the pages are.
# No page can beat it; it shows how much of a page's budget is left to the page.
FLOOR = "bell_poll"
MIN_PAGE_SHARE = 0.10
MIN_POSTGRES_OF_SQLITE = 0.6
MAX_CHAT_RATIO = 2  # issue 26: the median round's p99, app over bare


def _against(ratio: float, target: float) -> str:
    """A ratio to two places; a miss that two places would round up onto its
    target to three, rounded down: a median of 0.5994 against 0.6 reads
    "0.599", not a "0.60" beside [MISSED]."""
    if ratio < target and f"{ratio:.2f}" == f"{target:.2f}":
        return f"{math.floor(ratio * 1000) / 1000:.3f}"
    return f"{ratio:.2f}"


def budgets(result: dict) -> list[dict]:
    """Each budget of the performance issue: what it asks, what was measured, whether it holds."""
    runs, pages, chat = result["runs"], result["pages"], result.get("chat") or {}
    out = []

    def add(name, target, measured, ok):
        out.append({"budget": name, "target": target, "measured": measured, "ok": bool(ok)})

    add("Signed-in thread page vs hello-world", f"≥ {MIN_THREAD_SHARE:.0%}",
        *_throughput_budget(result))
    worst = max(pages, key=lambda n: pages[n]["queries"])
    add("SQL statements per page", f"≤ {MAX_QUERIES} on every page",
        f"at most {pages[worst]['queries']} ({PAGE_NAMES[worst]})",
        pages[worst]["queries"] <= MAX_QUERIES)
    if result.get("files_constant"):
        add("SQL statements with few and many files", f"≤ {MAX_QUERIES} and the same on both",
            *_files_budget(result["files_constant"]))
    if result.get("messages_constant"):
        add("SQL statements with short and long conversations", f"≤ {MAX_QUERIES} and the same on both",
            *_messages_budget(result["messages_constant"]))
    in_turns = result.get("shares", {})
    turns = in_turns.get("1m") or in_turns.get("10k")
    main = runs.get("sqlite_1m") or runs.get("sqlite_10k")
    if turns:
        medians = {n: figures["median"] for n, figures in turns["pages"].items() if n in MAIN_PAGES}
        low = min(medians, key=medians.get)
        spread = turns["pages"][low]["rounds"]
        floor = turns["pages"].get(FLOOR)
        add("Every main page vs hello-world (SQLite)", f"≥ {MIN_PAGE_SHARE:.0%} (median of rounds)",
            f"lowest {medians[low]:.1%} ({PAGE_NAMES[low]}; rounds {min(spread):.1%}–{max(spread):.1%}, "
            f"{turns['rounds']} rounds in turns)"
            + (f"; the bell's poll, the least a signed-in request does, {floor['median']:.1%}"
               if floor else ""), medians[low] >= MIN_PAGE_SHARE)
    elif main:
        shares = {n: main["pages"][n]["ratio"] for n in MAIN_PAGES if n in main["pages"]}
        low = min(shares, key=shares.get)
        add("Every main page vs hello-world (SQLite)", f"≥ {MIN_PAGE_SHARE:.0%}",
            f"lowest {shares[low]:.1%} ({PAGE_NAMES[low]})", shares[low] >= MIN_PAGE_SHARE)
    for scale in ("10k", "1m"):
        if scale in result.get("versus", {}):
            turns = result["versus"][scale]
            medians = {n: figures["median"] for n, figures in turns["pages"].items()}
            worst = min(medians, key=medians.get)
            spread = turns["pages"][worst]["rounds"]
            add(f"PostgreSQL vs SQLite, each main page ({scale})", f"≥ {MIN_POSTGRES_OF_SQLITE:g}× "
                "(median of rounds)", f"lowest {_against(medians[worst], MIN_POSTGRES_OF_SQLITE)}× ({PAGE_NAMES[worst]}; rounds "
                f"{min(spread):.2f}–{max(spread):.2f}×, {turns['rounds']} rounds in turns)",
                medians[worst] >= MIN_POSTGRES_OF_SQLITE)
        elif f"sqlite_{scale}" in runs and f"postgresql_{scale}" in runs:
            worst, of = postgres_of_sqlite(runs[f"sqlite_{scale}"], runs[f"postgresql_{scale}"])
            add(f"PostgreSQL vs SQLite, each main page ({scale})", f"≥ {MIN_POSTGRES_OF_SQLITE:g}×",
                f"lowest {_against(of, MIN_POSTGRES_OF_SQLITE)}× ({PAGE_NAMES[worst]})", of >= MIN_POSTGRES_OF_SQLITE)
    if "sqlite_10k" in runs and "sqlite_1m" in runs:
        small, big = runs["sqlite_10k"]["pages"], runs["sqlite_1m"]["pages"]
        differ = [n for n in small if small[n]["queries"] != big[n]["queries"]]
        add("Same statements at 10,000 and 1,000,000 posts", "identical counts",
            "identical" if not differ else "differ on " + ", ".join(differ), not differ)
        add("Thread page p99, 1,000,000 vs 10,000 posts", f"≤ {MAX_TAIL_GROWTH:g}×", *_tail_budget(result))
    if "alternating" in chat:
        turns = chat["alternating"]
        ratios = turns["ratios"]
        add(f"Chat message to {turns['receivers']} receivers, p99 vs bare Flask-SocketIO",
            f"median of rounds ≤ {MAX_CHAT_RATIO:g}× (aim 1.5×)",
            f"{turns['median_ratio']:.2f}× (rounds {min(ratios):.2f}–{max(ratios):.2f}×, "
            f"{turns['rounds']} rounds in turns)", turns["median_ratio"] <= MAX_CHAT_RATIO)
    elif "receivers_200" in chat:
        r = chat["receivers_200"]["ratio_p99"]
        add("Chat message to 200 receivers, p99 vs bare Flask-SocketIO", f"≤ {MAX_CHAT_RATIO:g}× (aim 1.5×)",
            f"{chat['receivers_200']['p99_ms']:.1f} ms vs {chat['ceiling_200']['p99_ms']:.1f} ms = {r:.2f}× "
            "(one window)", r <= MAX_CHAT_RATIO)
    if result.get("scale") == "full":
        add("Worker memory at full scale", "< 150 MB", f"{result['rss_mb']:.0f} MB peak RSS",
            result["rss_mb"] < 150)
    return out


def _in_turns_section(title: str, intro: str, turns: dict, shown, unit: str = "") -> list[str]:
    """A Markdown section of a run.in_turns comparison: each page's median and rounds."""
    return ["", f"## {title}", "", intro + " The budget takes the medians.", "",
            "| page | median | rounds |", "|---|---:|---|"] + [
        f"| {PAGE_NAMES[name]} | {shown(figures['median'])}{unit} | "
        f"{' '.join(shown(r) for r in figures['rounds'])} |" for name, figures in turns["pages"].items()]


def postgres_of_sqlite(sqlite: dict, postgres: dict) -> tuple[str, float]:
    """The main page whose share of hello-world on PostgreSQL is the smallest
    fraction of its share on SQLite (each against its own run's hello-world,
    so the two runs' minutes cancel), and that fraction."""
    fractions = {n: postgres["pages"][n]["ratio"] / sqlite["pages"][n]["ratio"]
                 for n in MAIN_PAGES if n in sqlite["pages"] and n in postgres["pages"]}
    worst = min(fractions, key=fractions.get)
    return worst, fractions[worst]


def _files_budget(constant: dict) -> tuple[str, bool]:
    """Each page that shows files, on a place with few files and on one with many:
    its statements may not exceed MAX_QUERIES nor grow with the files."""
    measured, ok = [], True
    for name, pair in constant.items():
        few, many = pair["few"]["queries"], pair["many"]["queries"]
        ok = ok and few == many and max(few, many) <= MAX_QUERIES
        measured.append(f"{FILE_PAGE_NAMES.get(name, name)} {few} / {many}")
    return "; ".join(measured) + " (few files / many)", ok


def _messages_budget(constant: dict) -> tuple[str, bool]:
    """The Messages page with 5 and 50 conversations, a conversation of 5 and of
    600 messages: statements within MAX_QUERIES and not growing with either."""
    measured, ok = [], True
    for name, pair in constant.items():
        few, many = pair["few"]["queries"], pair["many"]["queries"]
        ok = ok and few == many and max(few, many) <= MAX_QUERIES
        page, little, much = MESSAGE_PAGE_NAMES.get(name, (name, "few", "many"))
        measured.append(f"{page} {few} ({little}) / {many} ({much})")
    return "; ".join(measured), ok


def messages_rows(constant: dict) -> list[tuple[str, str, str]]:
    """A row per direct-message page: (page, statements with little, with much)."""
    rows = []
    for name, pair in constant.items():
        page, little, much = MESSAGE_PAGE_NAMES.get(name, (name, "few", "many"))
        rows.append((page, f"{pair['few']['queries']} ({little})", f"{pair['many']['queries']} ({much})"))
    return rows


def files_rows(constant: dict) -> list[tuple[str, str, str]]:
    """A row per page that shows files: (page, statements and files with few, with many)."""
    def side(counted: dict) -> str:
        return f"{counted['queries']} ({counted['files']} files)"

    return [(FILE_PAGE_NAMES.get(name, name), side(pair["few"]), side(pair["many"]))
            for name, pair in constant.items()]


def _throughput_budget(result: dict) -> tuple[str, bool]:
    """The thread page's share of hello-world: the median over the rounds of
    alternating windows (run.alternating) where the run has them, else its one window."""
    one = result["pages"]["thread"]["ratio"]
    turns = result.get("alternating")
    if not turns:
        return f"{one:.1%}", one >= MIN_THREAD_SHARE
    median = turns["throughput"]["median_ratio"]
    floor = (result.get("shares", {}).get("1m", {}).get("pages") or {}).get(FLOOR)
    return (f"{median:.1%} (median of {turns['rounds']} rounds of alternating {turns['seconds']:g}-s "
            f"windows; {one:.1%} in the page's one window"
            + (f"; the bell's poll {floor['median']:.1%}" if floor else "") + ")",
            median >= MIN_THREAD_SHARE)


def _tail_budget(result: dict) -> tuple[str, bool]:
    """What the p99 budget measured and whether it holds: the medians of the
    alternating windows (run.alternating) for each thread page where the run has
    them, else the one window each page had in its scale's run."""
    turns = result.get("alternating")
    if turns:
        worst = max(turns["p99"].values(), key=lambda page: page["ratio"])
        measured = "; ".join(
            f"{TAIL_NAMES[name]} {page['big_median_ms']:.1f} ms vs {page['small_median_ms']:.1f} ms "
            f"= {page['ratio']:.2f}×" for name, page in turns["p99"].items())
        return (f"{measured} (median p99 of {turns['rounds']} alternating {turns['seconds']:g}-s windows)",
                worst["ratio"] <= MAX_TAIL_GROWTH)
    small = result["runs"]["sqlite_10k"]["pages"]["thread"]["p99_ms"]
    big = result["runs"]["sqlite_1m"]["pages"]["thread"]["p99_ms"]
    return (f"{big:.1f} ms vs {small:.1f} ms = {big / small:.2f}× (one window each)",
            big <= MAX_TAIL_GROWTH * small)


def alternating_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """The windows of run.alternating, a row per page's p99 (name, windows at
    each scale, ratio of medians), then one of the thread page's share of hello-world."""
    turns = result.get("alternating")
    if not turns:
        return []

    def windows(values: list[float], median: float, form: str) -> str:
        return " ".join(format(v, form) for v in values) + f" → median {median:{form}}"

    rows = [(f"p99 ms, {TAIL_NAMES[name]}", windows(page["small_p99_ms"], page["small_median_ms"], ".1f"),
             windows(page["big_p99_ms"], page["big_median_ms"], ".1f"), f"{page['ratio']:.2f}×")
            for name, page in turns["p99"].items()]
    share = turns["throughput"]
    rows.append(("first page's req/s over hello-world's", "",
                 windows(share["ratios"], share["median_ratio"], ".1%"), ""))
    return rows


def table(result: dict) -> str:
    lines = []
    for label, run in result["runs"].items():
        lines.append(f"{label}: {run['posts']:,} posts; hello-world ceiling "
                     f"{run['ceiling_rps']:,.0f} req/s; app peak RSS {run['rss_mb']['peak']:.0f} MB")
        lines.append(f"  {'page':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'bytes':>8} "
                     f"{'SQL':>4} {'ratio':>7}")
        for name, p in run["pages"].items():
            lines.append(f"  {PAGE_NAMES[name]:38} {p['rps']:8.1f} {p['p50_ms']:8.2f} {p['p99_ms']:8.2f} "
                         f"{p['bytes'] or 0:8d} {p['queries']:4d} {p['ratio']:7.1%}")
        lines.append("")
    for scale, turns in (result.get("shares") or {}).items():
        lines.append(f"Each main page over hello-world ({scale}), median of {turns['rounds']} rounds "
                     "in turns:")
        lines += [f"  {PAGE_NAMES[name]:38} {figures['median']:.1%}  (rounds "
                  f"{' '.join(f'{r:.1%}' for r in figures['rounds'])})"
                  for name, figures in turns["pages"].items()]
        lines.append("")
    for scale, turns in (result.get("versus") or {}).items():
        lines.append(f"PostgreSQL against SQLite ({scale}), median of {turns['rounds']} rounds in turns:")
        lines += [f"  {PAGE_NAMES[name]:38} {figures['median']:.2f}×  (rounds "
                  f"{' '.join(f'{r:.2f}' for r in figures['rounds'])})"
                  for name, figures in turns["pages"].items()]
        lines.append("")
    chat = {k: v for k, v in (result.get("chat") or {}).items()
            if isinstance(v, dict) and k != "alternating"}
    if chat:
        lines.append(f"Chat fan-out ({result['chat'].get('database')}): delivery latency at 10 messages/s, "
                     "deliveries/s at saturation")
        for name, c in chat.items():
            extra = f"  p99 {c['ratio_p99']:.2f}x the bare server" if "ratio_p99" in c else ""
            lines.append(f"  {name:18} p50 {c['p50_ms']:7.2f} ms  p99 {c['p99_ms']:7.2f} ms  "
                         f"{c['per_s']:7d}/s  lost {c['lost']}{extra}")
        turns = result["chat"].get("alternating")
        if turns:
            lines.append(f"  in turns, {turns['receivers']} receivers: p99 app/bare by round "
                         + ", ".join(f"{r:.2f}" for r in turns["ratios"])
                         + f" (median {turns['median_ratio']:.2f}x)")
        lines.append("")
    if result.get("files_constant"):
        lines.append("SQL statements with few and with many files on the page:")
        for name, few, many in files_rows(result["files_constant"]):
            lines.append(f"  {name:38} {few:>16} {many:>18}")
        lines.append("")
    if result.get("messages_constant"):
        lines.append("SQL statements of the direct-message pages, short and long:")
        for name, few, many in messages_rows(result["messages_constant"]):
            lines.append(f"  {name:38} {few:>20} {many:>20}")
        lines.append("")
    if result.get("alternating"):
        lines.append("Thread page in alternating windows (10k: 10,000 posts, 1M: 1,000,000):")
        for name, small, big, ratio in alternating_rows(result):
            lines.append(f"  {name}")
            if small:
                lines.append(f"    10k: {small}")
            lines.append(f"    1M:  {big}" + (f"  ({ratio})" if ratio else ""))
        lines.append("")
    lines.append("Budgets:")
    for b in result["budgets"]:
        mark = "ok" if b["ok"] else "MISSED"
        lines.append(f"  [{mark}] {b['budget']}: {b['measured']} (target {b['target']})")
    return "\n".join(lines)


def write_markdown(result: dict, path: Path) -> None:
    m = result["machine"]
    # Which kind of host (finding 48); results from before it name only the model.
    cpu_id = f"; {m['cpu_id']}" if m.get("cpu_id") else ""
    parts = [
        "# Performance",
        "",
        "_Generated by `make bench` (bench/run.py) from `bench/results/latest.json`; "
        "the findings at the end come from `bench/findings.md`. Do not edit by hand._",
        "",
        f"Measured {result['when']} on {m['cpus']} cores ({m['cpu']}{cpu_id}), {m['memory_gb']} GB, "
        f"{m['os']}, Python {m['python']}. The app server, the databases, Redis and the load "
        f"generators all share those cores, so read ratios (measured in the same run) rather "
        f"than absolute figures. Load: `wrk {m['wrk']}` from loopback, signed in as a member of "
        f"five circles. Server: {result['server']}. SQL is the statements one request sends "
        f"(transaction control not counted), counted in-process on the same database.",
        "",
        "## Budgets",
        "",
        "| budget | target | measured | holds |",
        "|---|---|---|---|",
    ]
    parts += [f"| {b['budget']} | {b['target']} | {b['measured']} | {'yes' if b['ok'] else '**no**'} |"
              for b in result["budgets"]]
    for label, run in result["runs"].items():
        parts += ["", f"## {label.replace('_', ' ')}: {run['posts']:,} posts", "",
                  f"Hello-world ceiling in the same run: **{run['ceiling_rps']:,.0f} req/s**; "
                  f"app peak RSS {run['rss_mb']['peak']:.0f} MB.", "",
                  "| page | req/s | p50 ms | p99 ms | bytes | SQL | of hello-world |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        parts += [f"| {PAGE_NAMES[n]} | {p['rps']:,.0f} | {p['p50_ms']:.1f} | {p['p99_ms']:.1f} | "
                  f"{p['bytes'] or 0:,} | {p['queries']} | {p['ratio']:.1%} |"
                  for n, p in run["pages"].items()]
    if result.get("files_constant"):
        parts += ["", "## Statements with few and many files", "",
                  "Each page that shows files, on two places alike but for their files "
                  "(bench/dataset.py): SQL statements (files shown).", "",
                  "| page | few files | many files |", "|---|---:|---:|"]
        parts += [f"| {' | '.join(row)} |" for row in files_rows(result["files_constant"])]
    if result.get("messages_constant"):
        parts += ["", "## Statements with short and long conversations", "",
                  "The Messages page with 5 and with 50 conversations, a conversation of 5 and of "
                  "600 messages (bench/dataset.py): SQL statements.", "",
                  "| page | short | long |", "|---|---:|---:|"]
        parts += [f"| {' | '.join(row)} |" for row in messages_rows(result["messages_constant"])]
    if result.get("alternating"):
        turns = result["alternating"]
        parts += ["", "## The thread page in alternating windows", "",
                  f"Hello-world and the app at 10,000 and 1,000,000 posts up side by side, "
                  f"{turns['rounds']} rounds of {turns['seconds']:g}-s windows taken in turns; the "
                  "budgets above take the medians (bench/findings.md, 23).", "",
                  "| figure | at 10,000 posts | at 1,000,000 posts | ratio of medians |",
                  "|---|---|---|---:|"]
        parts += [f"| {' | '.join(row)} |" for row in alternating_rows(result)]
    for scale, turns in (result.get("shares") or {}).items():
        parts += _in_turns_section(
            f"Each main page against hello-world, in turns ({scale})",
            f"Hello-world and the app on SQLite up side by side, {turns['rounds']} rounds of "
            f"{turns['seconds']:g}-s windows of each page and of hello-world taken in turns: the "
            "page's req/s over hello-world's.", turns, lambda r: f"{r:.1%}")
    for scale, turns in (result.get("versus") or {}).items():
        parts += _in_turns_section(
            f"PostgreSQL against SQLite, in turns ({scale})",
            f"Each main page served from both databases (the same data, both servers up), "
            f"{turns['rounds']} rounds of {turns['seconds']:g}-s windows taken in turns: "
            "PostgreSQL's req/s over SQLite's.", turns, lambda r: f"{r:.2f}", "×")
    chat = {k: v for k, v in (result.get("chat") or {}).items()
            if isinstance(v, dict) and k != "alternating"}
    if chat:
        parts += ["", "## Chat fan-out", "",
                  "One sender, N receivers in one circle (bench/chat_fanout.py). Latency at 10 messages/s; "
                  "deliveries/s at saturation. `ceiling` is a bare Flask-SocketIO server on gevent whose "
                  "handler only broadcasts; `_x2` is two processes behind Redis.", "",
                  "| run | p50 ms | p99 ms | deliveries/s | p99 vs ceiling |", "|---|---:|---:|---:|---:|"]
        parts += [f"| {n} | {c['p50_ms']:.1f} | {c['p99_ms']:.1f} | {c['per_s']:,} | "
                  f"{str(c['ratio_p99']) + '×' if 'ratio_p99' in c else ''} |" for n, c in chat.items()]
    if FINDINGS.exists():
        parts += ["", FINDINGS.read_text().strip()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")
