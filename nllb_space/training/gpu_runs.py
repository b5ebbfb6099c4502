"""A page run on ZeroGPU: inside one ``@spaces.GPU`` call, on the visitor's own quota, streaming as it trains.

``spaces`` runs a generator function in its forked GPU worker and forwards each value it yields to the main process
(spaces 0.51, ``zero/wrappers.py: generator_function_wrapper``), so the loss curve updates while the GPU trains and
the adapter comes back by value at the end (training/page_runs.py). Off ZeroGPU ``spaces.GPU`` returns the function
unchanged and the same generator runs in-process.
"""

from __future__ import annotations

import math
from typing import Iterator

import spaces  # first: on ZeroGPU it must patch torch before anything initialises CUDA

from ..model.worker import GPU_SECONDS_MAX
from .page_runs import PageRun, stream_run

GPU_SECONDS_FIXED = 30
"""Asked on top of the steps: loading a trainable copy of the base, and scoring base and adapter on held-out pairs."""
GPU_SECONDS_PER_STEP = 0.4
"""Asked per optimizer step of a page run's batch (NLLB-600M, LoRA, bf16), with headroom."""


def run_seconds(run: PageRun) -> int:
    """GPU seconds asked of ZeroGPU for ``run`` (it is charged this times the GPU's duration factor)."""
    return math.ceil(GPU_SECONDS_FIXED + GPU_SECONDS_PER_STEP * run.steps)


def most_steps() -> int:
    """The most steps one call can train: a longer run would ask for more than a logged-out visitor's daily quota."""
    return int((GPU_SECONDS_MAX - GPU_SECONDS_FIXED) / GPU_SECONDS_PER_STEP)


@spaces.GPU(duration=lambda run: min(GPU_SECONDS_MAX, run_seconds(run)))
def train_on_gpu(run: PageRun) -> Iterator:
    """:func:`~.page_runs.stream_run` of ``run`` in a ZeroGPU worker; stops when the caller closes it."""
    yield from stream_run(run)
