"""A gate that lets at most N callers through at once, strictly in arrival order.

The engine takes the gate for each batch it runs, so a long text or file lets other requests in between its
batches. ``threading.Semaphore`` is not enough for that: a thread that releases and at once acquires again can
jump ahead of the threads already waiting, so a job of many batches would keep a one-sentence request waiting until
it is done. Here a released slot is handed to the longest waiter. (Neither the standard library nor a well-kept
package offers a FIFO hand-over semaphore for threads, hence these few lines.)
"""

from __future__ import annotations

import threading
from collections import deque


class FairGate:
    """``with gate:`` waits for one of ``slots`` places, first come first served."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"a gate needs at least one slot (got {slots})")
        self.slots = slots
        self._free = slots
        self._waiting: deque[threading.Event] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = threading.Event()
            self._waiting.append(turn)
        turn.wait()  # the releasing thread handed its slot straight to us

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._free += 1

    def __enter__(self) -> "FairGate":
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
