"""The hooks Flask-WTF and Flask-Limiter run on every request, run only where
they can do something (bench/findings.md, 15 and 46).

Each answers as before wherever it could change an answer:

- Flask-Limiter checks app-wide limits before every request. We set none (our
  limits are on a few sign-in forms, each checked by its decorator), so that
  check is not registered at all.
- After every request it adds the rate-limit headers and makes any deduction
  a limit defers to the answer (`deduct_when`), and at the end it resets its
  record of the request. All three read that record, which only a limit's own
  check makes: a request no limit was checked on has none, and the hooks would
  make an empty one to find nothing in it. They run when the record exists.
- Flask-WTF's CSRF check looks up the view's exemptions before it looks at the
  method, then returns for a GET or HEAD. The method is looked at first here.
- Flask asks of every hook and the view, on every request, whether it is a
  coroutine function (`ensure_sync`, through `inspect`: eleven times a page).
  A function's answer doesn't change: it is remembered (`_sync_known`), for as
  long as the function lives.

Flask-Limiter 4.1 and Flask-WTF 1.3 offer no option for any of this; the hooks
they registered are found by what they are and wrapped; the app does not start
if one can't be found, so a new release is noticed, not quietly skipped.
"""
from collections.abc import Callable
from functools import partial, wraps
from weakref import WeakKeyDictionary

from flask import Flask, request
from flask.globals import request_ctx
from flask_limiter import Limiter

# Where Flask-Limiter keeps a request's record (Limiter.context) on the request context.
LIMITER_RECORD = "_limiter_request_context"


def install(app: Flask, limiter: Limiter) -> None:
    app.ensure_sync = _sync_known(app.ensure_sync)
    before = app.before_request_funcs.setdefault(None, [])
    check = limiter._check_request_limit
    if check in before and not (limiter.limit_manager.default_limits
                                or limiter.limit_manager.application_limits):
        before.remove(check)
    _wrap(before, _is_csrf_check, _unless_safe_method, "Flask-WTF's CSRF check")
    if not limiter.enabled:
        return  # RATELIMIT_ENABLED off: Flask-Limiter registered no hook
    _wrap(app.after_request_funcs.setdefault(None, []), partial(_is_limiter_hook, limiter),
          _with_limiter_record(lambda response: response), "Flask-Limiter's headers")
    _wrap(app.teardown_request_funcs.setdefault(None, []), partial(_is_limiter_hook, limiter),
          _with_limiter_record(lambda exc=None: None), "Flask-Limiter's reset")


def limiter_record_made() -> bool:
    """Whether a limit was checked on this request (Flask-Limiter made its record)."""
    return hasattr(request_ctx._get_current_object(), LIMITER_RECORD)


def _wrap(hooks: list, found: Callable[[Callable], bool], wrapper: Callable, name: str) -> None:
    matches = [index for index, hook in enumerate(hooks) if found(hook)]
    if len(matches) != 1:
        raise RuntimeError(f"community.fast.request_hooks found {len(matches)} of {name} hooks, not 1: "
                           "Flask-WTF or Flask-Limiter changed; see community/fast/request_hooks.py")
    hooks[matches[0]] = wrapper(hooks[matches[0]])


def _is_csrf_check(hook) -> bool:
    return getattr(hook, "__qualname__", "").endswith("csrf_protect") and "flask_wtf" in hook.__module__


def _is_limiter_hook(limiter: Limiter, hook) -> bool:
    bound = hook.args[0] if isinstance(hook, partial) and hook.args else getattr(hook, "__self__", None)
    return bound is limiter


def _unless_safe_method(check: Callable) -> Callable:
    @wraps(check)
    def checked():
        # Flask-WTF's own test, which it makes after the exemptions' lookups.
        if request.method not in request_ctx.app.config["WTF_CSRF_METHODS"]:
            return None
        return check()
    return checked


def _with_limiter_record(otherwise: Callable) -> Callable:
    def wrapper(hook: Callable) -> Callable:
        def hook_if_checked(*args):
            return hook(*args) if limiter_record_made() else otherwise(*args)
        hook_if_checked.__qualname__ = f"if_limit_checked({getattr(hook, '__qualname__', hook)!r})"
        return hook_if_checked
    return wrapper


def _sync_known(ensure_sync: Callable) -> Callable:
    """Flask's ensure_sync, its answer remembered for each plain (not async) function."""
    plain = WeakKeyDictionary()  # weakly: an after_this_request function lives one request

    def ensure_sync_known(func: Callable) -> Callable:
        try:
            if func in plain:
                return func
        except TypeError:  # no weak reference to it (a builtin)
            return ensure_sync(func)
        made = ensure_sync(func)
        if made is func:
            plain[func] = True
        return made
    return ensure_sync_known
