"""The open-file limit: how many connections a process can hold.

Every connection is a file descriptor, and a WebSocket from simple-websocket
takes two (the connection and the copy of it the WebSocket runs on). Under
systemd's default soft limit of 1,024 one process held about 500 live sockets;
the next handshakes failed with 500s and the log filled with EMFILE. The soft
limit may be raised by the process itself up to the hard limit (systemd's
default hard limit is 524,288; deploy/'s unit sets LimitNOFILE=65536), so the
server does that at start-up and says how many sockets it can hold.
"""
import logging
import resource

log = logging.getLogger(__name__)

# Descriptors kept for everything that is not a client connection: the
# listener, database and Redis connections, log files, the template and static
# files being read, the worker's heartbeat file.
RESERVE = 64
PER_SOCKET = 2  # simple-websocket: the connection plus the WebSocket's copy of it
NR_OPEN = 1 << 20


def raise_open_files_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (children inherit
    it); return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # No soft limit may pass the kernel's fs.nr_open (1,048,576 by default).
    target = NR_OPEN if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as error:  # a sandbox may forbid it: keep what there is
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, error)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def socket_capacity(limit: int) -> int:
    """About how many live sockets a process with that open-file limit can hold."""
    return max((limit - RESERVE) // PER_SOCKET, 0)


def raise_and_describe() -> tuple[int, str]:
    """Raise the limit; return the socket capacity and a line for the log saying so."""
    limit = raise_open_files_limit()
    capacity = socket_capacity(limit)
    return capacity, (f"open files: limit {limit}, room for about {capacity} live sockets per process"
                      f" ({PER_SOCKET} descriptors each, {RESERVE} kept for the rest)")
