"""Which hardware the app runs on, as far as serving differs: ZeroGPU, a dedicated GPU, or a CPU."""

from __future__ import annotations

ZERO_GPU_CONCURRENCY = 4
"""Model requests served at once on ZeroGPU when ``NLLB_CONCURRENCY=0``: each call runs in its own worker with a
GPU of its own, and ZeroGPU queues whatever goes beyond the GPUs it grants the Space."""


def on_zero_gpu() -> bool:
    """True on ZeroGPU hardware (the ``spaces`` package's own test: ``SPACES_ZERO_GPU``)."""
    from spaces.config import Config

    return Config.zero_gpu


def model_concurrency(setting: int) -> int:
    """``NLLB_CONCURRENCY`` resolved: as set, or for ``0`` 1 (one model in one process) or ZeroGPU's width."""
    if setting:
        return setting
    return ZERO_GPU_CONCURRENCY if on_zero_gpu() else 1


REQUESTS_IN_PROGRESS = 8
"""Requests the app works on at once (Gradio's concurrency for them). Each checks its input and fetches its
adapters in parallel with the others; only its model calls wait for one of ``model_concurrency`` model slots, so a
slow Hub download never holds up a visitor who needs nothing from the Hub."""
