"""Blocking calls with a deadline, on a small fixed set of threads.

huggingface_hub's HTTP client waits forever on a Hub that accepts a connection and never answers, and several of
its calls (listing refs or commits) take no timeout. Each Hub call therefore runs on one of :data:`THREADS` threads
and the caller waits at most its deadline. A thread stuck on a stalled Hub keeps its place until the call returns,
so at most :data:`THREADS` threads can ever be stuck; while all are, further calls fail at once instead of piling
up (on a stalled Hub, 45 page views once left 45 stuck threads and the whole Space stopped answering).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, TypeVar

T = TypeVar("T")

THREADS = 4
"""Calls in flight at once; a caller beyond that is refused at once (:class:`Saturated`)."""

_pool = ThreadPoolExecutor(THREADS, thread_name_prefix="hub-call")
_places = threading.BoundedSemaphore(THREADS)


class Saturated(RuntimeError):
    """Every thread is still waiting on an earlier call."""


def within(fn: Callable[[], T], seconds: float | None) -> T:
    """``fn()``, or ``TimeoutError`` after ``seconds`` (the call itself goes on, on its thread, until it returns).

    ``seconds=None`` runs ``fn`` on the caller's thread without a deadline (the owner's own long uploads).
    """
    if seconds is None:
        return fn()
    if not _places.acquire(blocking=False):
        raise Saturated(f"{THREADS} calls are still waiting for an answer")
    try:
        future = _pool.submit(fn)
    except BaseException:
        _places.release()
        raise
    future.add_done_callback(lambda _: _places.release())
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        raise TimeoutError(f"no answer within {seconds:g} s") from None
