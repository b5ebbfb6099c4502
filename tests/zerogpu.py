"""ZeroGPU's own worker machinery (spaces 0.51, ``spaces/zero/wrappers.py``), run offline on the CPU.

``regular_function_wrapper`` is what ``@spaces.GPU`` puts around a function on ZeroGPU. For every call it asks the
device API for a GPU (``client.schedule``); when the answer says ``idle`` and the worker that served the last call
is alive, the call goes to that same worker, otherwise a worker process is forked from the main one. The call's
arguments are pickled into the worker and its result back; an exception other than ``gr.Error`` reaches the caller
as ``gr.Error`` with the exception's class name only.

All of that runs here for real. Only what needs the platform is replaced: the device API (``client.schedule``,
``allow``, ``release``), scripted by :class:`Scheduler`, and ``spaces.zero.torch`` (packing weights onto the GPU),
which cannot even be imported with a CPU-only torch and becomes a no-op.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Callable, Iterable


def _no_cuda_packing() -> None:
    """Put a no-op ``spaces.zero.torch`` in place (its real import reads ``torch.version.cuda``, None here)."""
    if "spaces.zero.torch" in sys.modules:
        return
    stub = types.ModuleType("spaces.zero.torch")
    for name in ("enter_mode", "patch", "unpatch", "init", "move"):
        setattr(stub, name, lambda *args, **kwargs: None)
    stub.pack = stub.size = lambda *args, **kwargs: 0
    stub.is_in_bad_fork = lambda: False
    sys.modules["spaces.zero.torch"] = stub
    import spaces.zero

    spaces.zero.torch = stub


@dataclass
class Scheduler:
    """Answers ``client.schedule`` as the device API would: ``idle`` per call from ``idle`` (cycled)."""

    idle: Iterable[bool]
    durations: list[float] = field(default_factory=list)
    """Seconds each call asked for (what ``@spaces.GPU(duration=...)`` computed from its arguments)."""

    def __post_init__(self) -> None:
        self._flags = itertools.cycle(list(self.idle))
        self._count = itertools.count()

    def schedule(self, task_id, request=None, duration=None, gpu_size=None):
        from spaces.zero.api import ScheduleResponse

        self.durations.append(duration.total_seconds() if duration is not None else 60.0)
        n = next(self._count)
        return ScheduleResponse(idle=next(self._flags), nvidiaIndex=0, nvidiaUUID="GPU-0", allowToken=f"t{n}")


@dataclass
class ZeroGpu:
    """Wraps functions the way ``@spaces.GPU`` does on ZeroGPU, and records which process ran each call."""

    scheduler: Scheduler
    pids: list[int] = field(default_factory=list)
    """The process that ran each call, in call order."""

    def wrap(self, task: Callable, duration: Callable | int | None = None) -> Callable:
        """``task`` as ``@spaces.GPU(duration=duration)`` makes it on ZeroGPU."""
        from spaces.zero.wrappers import regular_function_wrapper

        def traced(*args, **kwargs):  # runs in the worker; returns its pid with the result
            return os.getpid(), task(*args, **kwargs)

        decorated = regular_function_wrapper(traced, duration, None)

        def call(*args, **kwargs):
            pid, result = decorated(*args, **kwargs)
            self.pids.append(pid)
            return result

        return call

    def wrap_generator(self, task: Callable, duration: Callable | int | None = None) -> Callable:
        """A generator function as ``@spaces.GPU(duration=duration)`` makes it on ZeroGPU: each value it yields in
        the worker reaches the caller as it is yielded (``generator_function_wrapper``)."""
        from spaces.zero.wrappers import generator_function_wrapper

        def traced(*args, **kwargs):
            for value in task(*args, **kwargs):
                yield os.getpid(), value

        decorated = generator_function_wrapper(traced, duration, None)

        def call(*args, **kwargs):
            for pid, value in decorated(*args, **kwargs):
                if not self.pids or self.pids[-1] != pid:
                    self.pids.append(pid)
                yield value

        return call

    @property
    def fresh_workers(self) -> int:
        return len(set(self.pids))

    @property
    def reused_calls(self) -> int:
        return len(self.pids) - self.fresh_workers


def install(monkeypatch, idle: Iterable[bool]) -> ZeroGpu:
    """Replace the device API for this test; returns the :class:`ZeroGpu` to wrap GPU functions with."""
    _no_cuda_packing()
    from spaces.zero import client

    scheduler = Scheduler(idle)
    monkeypatch.setattr(client, "schedule", scheduler.schedule)
    monkeypatch.setattr(client, "allow", lambda *args, **kwargs: None)
    monkeypatch.setattr(client, "release", lambda *args, **kwargs: None)
    monkeypatch.setattr(client, "get_duration_seconds", lambda duration, size: 60)
    return ZeroGpu(scheduler)


def stop_workers(before: set[int]) -> None:
    """End the worker processes forked since ``before`` (pids), as the platform does when a Space idles."""
    for child in multiprocessing.active_children():
        if child.pid not in before:
            child.terminate()
            child.join(timeout=5)

