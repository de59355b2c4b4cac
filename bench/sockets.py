"""Chat history over the socket: "load older" round trips, as a member scrolls up.

Client processes (garbage collector off) each hold a few WebSockets with one
request in flight on each, in a single-threaded selector loop, so the server,
not the client, sets the pace; latency is time.monotonic() from send to ack.
"""
import gc
import json
import selectors
import subprocess
import sys
import time

from chat_fanout import RawSocket, percentile

PROCESSES, PER_PROCESS = 2, 4   # 8 in flight, like wrk's 8 connections


def _request(world: dict) -> dict:
    return {"circle": world["chat_circle_slug"], "before_id": world["oldest_chat_id"]}


def client(url: str, cookie: str, agent: str, world: dict, seconds: float) -> None:
    """One client process: PER_PROCESS sockets, each asking again as soon as answered."""
    gc.disable()
    request = _request(world)
    socks = [RawSocket(url, cookie, headers=[f"User-Agent: {agent}"]) for _ in range(PER_PROCESS)]
    for sock in socks:
        assert sock.call("join", {"circle": request["circle"]}).get("ok")
    selector = selectors.DefaultSelector()
    sent = {}
    for sock in socks:
        selector.register(sock.fileno(), selectors.EVENT_READ, sock)
        sent[sock] = (sock.emit("load_older", request), time.monotonic())
    latencies, failures, size, end = [], 0, 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in selector.select(timeout=1):
            sock = key.data
            got = sock.read()
            if not got or got[0] != "ack" or got[2][0] != sent[sock][0]:
                continue
            latencies.append(got[1] - sent[sock][1])
            answer = got[2][1]
            if not answer.get("ok") or not answer.get("messages"):
                failures += 1
            size = len(json.dumps(answer))
            sent[sock] = (sock.emit("load_older", request), time.monotonic())
    for sock in socks:
        sock.close()
    print(json.dumps({"latencies": latencies, "failures": failures, "bytes": size}))


def load_history(url: str, cookie: str, world, seconds: float, agent: str) -> dict:
    """requests/s and p50/p99 of "load older" against a running app."""
    procs = [subprocess.Popen([sys.executable, __file__, url, cookie, agent,
                               json.dumps(world.as_dict()), str(seconds)],
                              stdout=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    latencies, failures, size = [], 0, 0
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 60)
        assert proc.returncode == 0, "a chat history client failed"
        got = json.loads(out)
        latencies += got["latencies"]
        failures += got["failures"]
        size = got["bytes"]
    return {"rps": round(len(latencies) / seconds, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 99) * 1000, 2),
            "bytes": size, "failures": failures}


def _counted(app, http_client, statements: list, place: dict, event: str, request: dict
             ) -> tuple[int, dict]:
    """SQL statements of one `event` call in-process, on a socket that joined
    `place` and made the call once already (a warm-up); and its answer."""
    from community.extensions import socketio

    io = socketio.test_client(app, namespace="/chat", flask_test_client=http_client)
    assert io.emit("join", place, namespace="/chat", callback=True)["ok"]
    io.emit(event, request, namespace="/chat", callback=True)
    statements.clear()
    answer = io.emit(event, request, namespace="/chat", callback=True)
    assert answer["ok"] and answer["messages"], answer
    count = len(statements)
    io.disconnect(namespace="/chat")
    return count, answer


def count_history_queries(app, http_client, slug: str, before_id: int, statements: list) -> tuple[int, dict]:
    """SQL statements of one "load older" call (after a warm-up), in-process, and its answer."""
    return _counted(app, http_client, statements, {"circle": slug}, "load_older",
                    {"circle": slug, "before_id": before_id})


def count_conversation_join(app, http_client, conversation_id: int, statements: list) -> tuple[int, dict]:
    """SQL statements of opening a conversation over the socket (a join answers
    its newest messages), after a warm-up, in-process; and its answer."""
    place = {"conversation": conversation_id}
    return _counted(app, http_client, statements, place, "join", place)


if __name__ == "__main__":
    client(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), float(sys.argv[5]))
