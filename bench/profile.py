"""Profile one page in-process with pyinstrument, signed in as the bench member.

    .venv/bin/pip install pyinstrument
    .venv/bin/python bench/profile.py thread            # on the quick dataset
    .venv/bin/python bench/profile.py thread --scale full -n 300 --html /tmp/thread.html

Needs the dataset `make bench-quick` (or `make bench`) built in bench/.data/.
The request runs through the whole WSGI app, as the server runs it (minus the
network), so the profile shows where a page's time goes.
"""
import argparse
import os
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import dataset  # noqa: E402
from run import SECRET, USER_AGENT, pages, sqlite_dataset  # noqa: E402


def main() -> None:
    from pyinstrument import Profiler

    from community import create_app

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", help="one of: " + ", ".join(pages(_dummy_world())))
    parser.add_argument("--scale", default="quick", choices=dataset.SCALES)
    parser.add_argument("-n", type=int, default=200, help="requests profiled")
    parser.add_argument("--html", help="write pyinstrument's HTML report here")
    args = parser.parse_args()
    url, world = sqlite_dataset(dataset.SCALES[args.scale])
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET,
                      "SOCKETIO_ASYNC_MODE": "threading"})
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{world.user_id}:tok{world.user_id}"
        session["_fresh"] = True
    path = pages(world)[args.page]
    get = lambda: client.get(path, headers={"User-Agent": USER_AGENT})  # noqa: E731
    assert get().status_code == 200
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(args.n):
        get()
    profiler.stop()
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    show_all = bool(os.environ.get("SHOW_ALL"))
    print(profiler.output_text(unicode=True, color=False, show_all=show_all))


def _dummy_world() -> dataset.World:
    return dataset.World("quick", 1, "c", 1, 1, "c", 1, "t", "q", 0)


if __name__ == "__main__":
    main()
