"""A gate that lets at most N callers through at once, sharing its slots fairly between visitors.

The engine takes the gate for each batch it runs, so a long text or file lets other requests in between its
batches. Who goes next when a slot frees:

- among visitors, the one served least recently (a newcomer, never served, goes first): one visitor's many requests
  or long job queue behind each other, not in front of a stranger's one sentence;
- within one visitor, first come first served;
- with several slots (ZeroGPU), one visitor holds at most all but one of them, so one is always there for others.

``threading.Semaphore`` is not enough for that: a thread that releases and at once acquires again can jump ahead of
the threads already waiting, and it knows nothing of visitors. Here a released slot is handed straight to the chosen
waiter. (Neither the standard library nor a well-kept package offers such a hand-over semaphore for threads, hence
these few lines.) The visitor is :data:`nllb_space.visitors.current` unless given.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict, deque

from .. import visitors

SERVED_REMEMBERED = 4096
"""Visitors whose last turn is remembered (the oldest forgotten first): enough to order every waiting visitor."""


class FairGate:
    """``with gate:`` waits for one of ``slots`` places: least recently served visitor first, each visitor's own
    callers in arrival order."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"a gate needs at least one slot (got {slots})")
        self.slots = slots
        self._free = slots
        self._waiting: dict[str, deque[threading.Event]] = {}
        self._holding: dict[str, int] = {}  # visitor -> slots it holds now
        self._per_visitor = max(1, slots - 1)
        self._served: OrderedDict[str, int] = OrderedDict()  # visitor -> the turn it last got
        self._turns = itertools.count()
        self._lock = threading.Lock()

    def acquire(self, visitor: str | None = None) -> None:
        visitor = visitors.current.get() if visitor is None else visitor
        with self._lock:
            # A slot stays free while someone waits only when every waiter already holds its share.
            if self._free and self._holding.get(visitor, 0) < self._per_visitor:
                self._free -= 1
                self._take(visitor)
                return
            turn = threading.Event()
            self._waiting.setdefault(visitor, deque()).append(turn)
        turn.wait()  # a releasing thread handed a slot straight to us

    def release(self, visitor: str | None = None) -> None:
        """Give back a slot ``visitor`` (default: ``visitors.current``) held, to the next waiter who may have it."""
        visitor = visitors.current.get() if visitor is None else visitor
        with self._lock:
            held = self._holding.get(visitor, 0) - 1
            if held > 0:
                self._holding[visitor] = held
            else:
                self._holding.pop(visitor, None)
            self._free += 1
            while self._free:
                eligible = [v for v in self._waiting if self._holding.get(v, 0) < self._per_visitor]
                if not eligible:
                    return
                chosen = min(eligible, key=lambda v: self._served.get(v, -1))
                queue = self._waiting[chosen]
                turn = queue.popleft()
                if not queue:
                    del self._waiting[chosen]
                self._free -= 1
                self._take(chosen)
                turn.set()

    def _take(self, visitor: str) -> None:
        self._holding[visitor] = self._holding.get(visitor, 0) + 1
        self._note_served(visitor)

    def _note_served(self, visitor: str) -> None:
        self._served[visitor] = next(self._turns)
        self._served.move_to_end(visitor)
        while len(self._served) > SERVED_REMEMBERED:
            self._served.popitem(last=False)

    def __enter__(self) -> "FairGate":
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
