"""What can be reported, registered by the areas that own it.

An area registers a kind ("post", "chat_message") with three functions, so the
moderation queue can show and remove any kind without importing every area:
  load(circle, target_id) -> the object, or None if it isn't in that circle
  summary(obj) -> dict(author=User|None, html=str, url=str, removed=bool)
  remove(actor, circle, obj) -> None: remove it as a moderator (in the caller's
      transaction: change rows, don't commit)
"""
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Reportable:
    load: Callable
    summary: Callable
    remove: Callable


REPORTABLE: dict[str, Reportable] = {}


def register(kind: str, *, load: Callable, summary: Callable, remove: Callable) -> None:
    REPORTABLE[kind] = Reportable(load, summary, remove)
