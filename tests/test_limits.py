"""community/limits.py: a server raises its own soft open-file limit at start-up."""
import resource
import subprocess
import sys
from pathlib import Path

from community.limits import PER_SOCKET, RESERVE, socket_capacity

ROOT = Path(__file__).resolve().parent.parent


def lowered(soft: int):
    def lower():
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return lower


def test_the_soft_limit_is_raised_to_the_hard_limit():
    """As under systemd's default (soft 1,024): the process lifts itself to its hard limit."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    code = ("import resource; from community.limits import raise_and_describe;"
            "capacity, line = raise_and_describe(); print(resource.getrlimit(resource.RLIMIT_NOFILE)[0]);"
            "print(capacity); print(line)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True, preexec_fn=lowered(1024))
    soft, capacity, line = done.stdout.splitlines()
    assert hard > 1024 and int(soft) == hard
    assert int(capacity) == (hard - RESERVE) // PER_SOCKET
    assert line.startswith(f"open files: limit {hard}, room for about {capacity} live sockets")


def test_capacity_counts_two_descriptors_per_socket():
    # simple-websocket holds the connection and a copy of it: 1,024 gave about 500 sockets.
    assert socket_capacity(1024) == 480
    assert socket_capacity(65536) == 32736
    assert socket_capacity(10) == 0
