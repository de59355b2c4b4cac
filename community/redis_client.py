"""Redis clients that give up quickly, and whether Redis answers.

Redis carries the Socket.IO queue, chat's presence and control bus, and the
rate-limit counters, but the site works without it: every caller falls back
(chat to this process, the limits to in-process counters). For that a dead or
hung Redis must be an error soon, not after redis-py's default 5 s per try.
"""
import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

# What Redis being away raises: down (refused, reset) or hung (timed out).
REDIS_DOWN = (RedisError, OSError)


def is_redis_url(url: str | None) -> bool:
    return bool(url) and url.startswith(("redis://", "rediss://", "unix://"))


def quick_options(timeout: float) -> dict:
    """Options for redis.Redis.from_url (or python-socketio's `redis_options`):
    every call answered or failed within `timeout` seconds (connecting, then
    reading), never retried there: callers fall back."""
    return {"socket_connect_timeout": timeout, "socket_timeout": timeout,
            "socket_keepalive": True, "retry": Retry(NoBackoff(), 0),
            # A PING now and then on an idle connection (a pub/sub listener's)
            # finds one that silently died.
            "health_check_interval": 15}


def quick_client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(url, **quick_options(timeout))


def answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except REDIS_DOWN:
        return False
