"""Which hardware the app runs on, as far as serving differs: ZeroGPU, a dedicated GPU, or a CPU."""

from __future__ import annotations

ZERO_GPU_CONCURRENCY = 4
"""Model requests served at once on ZeroGPU when ``NLLB_CONCURRENCY=0``: each call runs in its own worker with a
GPU of its own, and ZeroGPU queues whatever goes beyond the GPUs it grants the Space."""


def on_zero_gpu() -> bool:
    """True on ZeroGPU hardware (the ``spaces`` package's own test: ``SPACES_ZERO_GPU``)."""
    from spaces.config import Config

    return Config.zero_gpu


CPU_LANES = 2
"""Model requests served at once on a CPU when ``NLLB_CONCURRENCY=0``: one copy of the model each
(service/model_copies.py). A CPU call holds its copy until its last decoding step, so with one copy a newcomer waited
for another visitor's batch (3.8x its time alone in bench/abuse.py on the 600M shape); with two it shares the cores
instead (1.2x), for ~3 GB more resident memory."""


def model_concurrency(setting: int, on_cpu: bool = False) -> int:
    """``NLLB_CONCURRENCY`` resolved: as set, or for ``0`` ZeroGPU's width, :data:`CPU_LANES` on a CPU, or 1 on a
    dedicated GPU (one model, which serves rows of several requests' batches quickly one after the other)."""
    if setting:
        return setting
    if on_zero_gpu():
        return ZERO_GPU_CONCURRENCY
    return CPU_LANES if on_cpu else 1


def cpu_threads(setting: int, copies: int) -> int:
    """``NLLB_CPU_THREADS`` resolved: as set, or for ``0`` the usable cores shared out among ``copies`` model copies.

    Why not torch's default (every core per call): decoding runs hundreds of small operations per token (a LoRA
    matrix, a layer norm, a beam's few rows), and a second thread must be woken for each of them. On a 2-vCPU machine
    (``OMP_WAIT_POLICY=PASSIVE``, as app.py sets) one LoRA matmul on 4 rows took 88 us with two threads against 7 us
    with one, and a whole translation with the 600M shape was faster on one thread: greedy 0.84 s against 1.13 s,
    beam 4 1.02 s against 2.02 s. Two copies each on their own core also serve two visitors without contention.
    """
    import os

    if setting:
        return setting
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, copies))


def use_threads(threads: int, device: str) -> None:
    """On a CPU, this model call's torch threads (``NLLB_CPU_THREADS`` resolved; 0 leaves torch's own). Set per call,
    on the calling thread: torch's OpenMP thread count is read per thread, and the page calls from threads of its
    own."""
    if threads and device == "cpu":
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


REQUESTS_IN_PROGRESS = 8
"""Requests the app works on at once (Gradio's concurrency for them). Each checks its input and fetches its
adapters in parallel with the others; only its model calls wait for one of ``model_concurrency`` model slots, so a
slow Hub download never holds up a visitor who needs nothing from the Hub."""
