"""Blocking calls with a deadline, on a small fixed set of threads.

huggingface_hub's HTTP client waits forever on a Hub that accepts a connection and never answers, and several of
its calls (listing refs or commits) take no timeout. Each Hub call therefore runs on one of :data:`THREADS` threads
and the caller waits at most its deadline. A thread stuck on a stalled Hub keeps its place until the call returns,
so at most :data:`THREADS` threads can ever be stuck; while all are busy, a further call waits at most
:data:`PLACE_WAIT_S` for one and then fails, instead of piling up (on a stalled Hub, 45 page views once left 45
stuck threads and the whole Space stopped answering).

One visitor (``visitors.current``) may hold at most :data:`PER_VISITOR` of the threads: a visitor's slow repos
once held all four, and a stranger's first request for another repo failed at once ("The Hub is not answering").
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, TypeVar

from .. import visitors

T = TypeVar("T")

THREADS = 4
"""Calls in flight at once; a caller beyond that is refused at once (:class:`Saturated`)."""

PER_VISITOR = 2
"""Calls one visitor may have in flight at once; the rest of the threads stay free for others."""
PLACE_WAIT_S = 5.0
"""How long a call waits for a thread while every one is busy: a burst of quick downloads frees one soon, and a
stalled Hub keeps the caller no longer than this."""

_pool = ThreadPoolExecutor(THREADS, thread_name_prefix="hub-call")
_places = threading.BoundedSemaphore(THREADS)
_held: dict[str, int] = {}
_held_lock = threading.Lock()


class Saturated(RuntimeError):
    """Every thread is still waiting on an earlier call."""


def within(fn: Callable[[], T], seconds: float | None) -> T:
    """``fn()``, or ``TimeoutError`` after ``seconds`` (the call itself goes on, on its thread, until it returns).

    ``seconds=None`` runs ``fn`` on the caller's thread without a deadline (the owner's own long uploads).
    """
    if seconds is None:
        return fn()
    visitor = visitors.current.get()
    with _held_lock:
        if _held.get(visitor, 0) >= PER_VISITOR:
            raise Saturated(f"{PER_VISITOR} calls of this visitor are still waiting for an answer")
        _held[visitor] = _held.get(visitor, 0) + 1
    if not _places.acquire(timeout=PLACE_WAIT_S):
        with _held_lock:
            _release_share(visitor)
        raise Saturated(f"{THREADS} calls are still waiting for an answer")

    def done(_) -> None:
        with _held_lock:
            _release_share(visitor)
        _places.release()

    try:
        future = _pool.submit(fn)
    except BaseException:
        done(None)
        raise
    future.add_done_callback(done)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        raise TimeoutError(f"no answer within {seconds:g} s") from None


def _release_share(visitor: str) -> None:
    """One call fewer of ``visitor``'s in flight (under ``_held_lock``)."""
    _held[visitor] -= 1
    if not _held[visitor]:
        del _held[visitor]
