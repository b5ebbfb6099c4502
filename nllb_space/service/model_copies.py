"""The model copies a process serves from, handed out with the fair gate's slots.

On ZeroGPU every model call runs in a GPU worker of its own, so the gate's slots all name one model (one key). On a
CPU a model call holds its model until its last decoding step, and the longest a visitor waits is another visitor's
batch; so there the app loads ``NLLB_CONCURRENCY`` copies (lanes; two by default), and since one visitor holds at
most all but one of the gate's slots (service/fair_gate.py), a newcomer always finds a lane of its own: it shares the
cores with the busy visitor instead of waiting for them.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from .fair_gate import FairGate


class Lanes:
    """``with lanes.take() as key:`` waits for a gate slot, then names the model copy to run on."""

    def __init__(self, gate: FairGate, first: str) -> None:
        self.gate = gate
        self.keys = [first]
        """Every lane's slot key (``worker.install``), the first one first."""
        self._free = [first]
        self._lock = threading.Lock()

    def add(self, key: str) -> None:
        """One more model copy, installed under ``key``."""
        with self._lock:
            self.keys.append(key)
            self._free.append(key)

    @contextlib.contextmanager
    def take(self) -> Iterator[str]:
        with self.gate:
            if len(self.keys) == 1:  # one model for every slot (ZeroGPU's workers, or one lane on a CPU)
                yield self.keys[0]
                return
            with self._lock:  # the gate has as many slots as there are lanes: one is free; the first lanes first
                key = next(key for key in self.keys if key in self._free)
                self._free.remove(key)
            try:
                yield key
            finally:
                with self._lock:
                    self._free.append(key)
