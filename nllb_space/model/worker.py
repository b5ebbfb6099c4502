"""The model work of every request, written to be correct in whichever process runs it.

On ZeroGPU (the tier on which a free account can host a Gradio Space) each ``@spaces.GPU`` call runs in a worker
process forked from the main one, and while the GPU stays allocated the next call goes to the same worker (spaces
0.51, ``zero/wrappers.py``). A worker keeps what it attached, never sees what the main process did after the fork,
and gets its arguments and returns its results by pickle. So each call carries everything by value (token ids,
decoding options, and each adapter's name and local folder), attaches in its own process whatever adapter it
lacks, computes, and returns plain data. Hub look-ups, validation and downloads happened before, in the main
process (service/engine.py). Off ZeroGPU ``spaces.GPU`` returns the function unchanged, and the same code runs
in-process.

A visitor-facing failure (PEFT refusing an adapter) comes back as a :class:`Refused` value, not an exception: on
ZeroGPU any exception but ``gr.Error`` reaches the visitor as its class name only, and the core stays gradio-free.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import spaces  # first: on ZeroGPU it must patch torch before anything initialises CUDA

from ..errors import UserFacingError
from ..results import BASE_MODEL
from .adapter_check import AdapterFiles
from .loading import LoadedBase
from .slot import Decoding, ModelSlot, SlotLimits

logger = logging.getLogger(__name__)

__all__ = ["AdapterFiles", "AttentionCall", "AttentionOutput", "Decoding", "GenerateCall", "ModelSlot",
           "Refused", "SlotLimits", "TokenProbsCall", "TokenProbsOutput", "install", "run_attention", "run_generate",
           "run_token_probs"]

BASE_NAME = BASE_MODEL.adapter_name
"""Row name of the base model in a call (PEFT's own name for "no adapter" in mixed batches)."""

GPU_SECONDS_FIXED = 10
"""Asked of ZeroGPU per call on top of decoding: a fresh worker first copies the packed weights to its GPU."""
GPU_SECONDS_PER_STEP = 0.06
"""Asked per decoding step of one batch (NLLB-600M in bf16 on a ZeroGPU GPU, beams included), with headroom."""
ZEROGPU_DURATION_FACTOR = 1.5
"""What ``spaces`` multiplies a request by on ZeroGPU's default ``large`` GPU (half an RTX Pro 6000 Blackwell,
``duration_factor`` in its config); the visitor's quota is charged the product."""
SMALLEST_DAILY_QUOTA_S = 120
"""ZeroGPU's daily quota of a visitor who is not logged in (2 minutes): a call asking for more could never run."""
GPU_SECONDS_MAX = int(SMALLEST_DAILY_QUOTA_S / ZEROGPU_DURATION_FACTOR)
"""The most one call asks for (80 s, charged 120 s); a shorter request gets better queue priority, so none asks
for more than it needs."""


@dataclass(frozen=True)
class GenerateCall:
    """One batch to translate: row ``i`` is ``ids[i]`` (``[src_lang, tokens..., </s>]``) through ``names[i]``."""

    slot: str
    """Which installed model serves it (one per engine; tests run several in one process)."""
    ids: tuple[tuple[int, ...], ...]
    names: tuple[str, ...]
    """Adapter name per row; :data:`BASE_NAME` for the base model."""
    tgt_lang: str
    decoding: Decoding
    adapters: tuple[AdapterFiles, ...]
    """Every adapter the rows name, so a process that lacks one can attach it."""


@dataclass(frozen=True)
class AttentionCall:
    """One (source, translation) pair through each model in ``names``, one batch row each."""

    slot: str
    source_ids: tuple[int, ...]
    target_ids: tuple[int, ...] | None
    """The translation's tokens; ``None``: ``names[0]`` first translates greedily."""
    names: tuple[str, ...]
    tgt_lang: str
    max_new_tokens: int
    adapters: tuple[AdapterFiles, ...]


@dataclass(frozen=True)
class AttentionOutput:
    """The pair's target tokens and, per model, ``(encoder, decoder, cross)`` weights as in ``AttentionMaps``."""

    target_ids: tuple[int, ...]
    decoder_ids: tuple[int, ...]
    maps: tuple[tuple, ...]


@dataclass(frozen=True)
class TokenProbsCall(AttentionCall):
    """The same pair teacher-forced through each model in ``names`` (base first), for token probabilities;
    without ``target_ids``, ``names[-1]`` (the adapter) translates greedily first."""

    top_k: int = 5
    """Alternatives returned per position and model."""


@dataclass(frozen=True)
class TokenProbsOutput:
    """The pair's target tokens; per model each token's probability; per model and position the alternatives."""

    target_ids: tuple[int, ...]
    probabilities: tuple[tuple[float, ...], ...]
    top: tuple[tuple[tuple[tuple[int, float], ...], ...], ...]


@dataclass(frozen=True)
class Refused:
    """A call not run, with the message the visitor reads (for example, PEFT could not load an adapter)."""

    message: str
    es: str | None = None
    """The same message in Spanish (the error's ``es``), for visitors of the Spanish interface."""


_SLOTS: dict[str, ModelSlot] = {}
_fork_rule_registered = False


def install(key: str, base: LoadedBase, limits: SlotLimits) -> None:
    """Make ``base`` the model that calls naming ``key`` run on, in this process and every worker forked from it.

    Call it at start-up, before ``launch()``: ZeroGPU packs weights placed on ``cuda`` by then into each worker.
    """
    global _fork_rule_registered
    _SLOTS[key] = ModelSlot(base, limits)
    if base.device == "cpu" and not _fork_rule_registered:
        # GNU OpenMP is not fork-safe: a forked child that runs a parallel region on the parent's thread pool
        # hangs. One thread in every child, as PyTorch's DataLoader workers do.
        os.register_at_fork(after_in_child=_one_torch_thread)
        _fork_rule_registered = True


def slot(key: str) -> ModelSlot:
    """This process's model for ``key``."""
    try:
        return _SLOTS[key]
    except KeyError:
        raise RuntimeError(f"No model is installed under {key!r} in process {os.getpid()}.") from None


def generate_seconds(call: GenerateCall) -> int:
    """GPU seconds to ask ZeroGPU for: one batch of ``max_new_tokens`` decoding steps."""
    return min(GPU_SECONDS_MAX, math.ceil(GPU_SECONDS_FIXED + GPU_SECONDS_PER_STEP * call.decoding.max_new_tokens))


def attention_seconds(call: AttentionCall | TokenProbsCall) -> int:
    """GPU seconds for the attention pass, plus a greedy translation when the call brings none."""
    steps = 1 if call.target_ids is not None else call.max_new_tokens
    return min(GPU_SECONDS_MAX, math.ceil(GPU_SECONDS_FIXED + GPU_SECONDS_PER_STEP * steps))


@spaces.GPU(duration=generate_seconds)
def run_generate(call: GenerateCall) -> list[list[int]] | Refused:
    """Generated token ids per row (no start token, language tag, ``</s>`` or padding)."""
    target = slot(call.slot)
    try:
        return target.generate(call.ids, call.names, call.tgt_lang, call.decoding, call.adapters)
    except UserFacingError as error:
        return Refused(str(error), error.es)


@spaces.GPU(duration=attention_seconds)
def run_attention(call: AttentionCall) -> AttentionOutput | Refused:
    """One eager teacher-forced pass over the pair for each model (after a greedy translation if needed)."""
    target = slot(call.slot)
    try:
        target_ids, decoder_ids, maps = target.attention(
            call.source_ids, call.target_ids, call.names, call.tgt_lang, call.max_new_tokens, call.adapters
        )
    except UserFacingError as error:
        return Refused(str(error), error.es)
    return AttentionOutput(tuple(target_ids), tuple(decoder_ids), tuple(maps))


@spaces.GPU(duration=attention_seconds)
def run_token_probs(call: TokenProbsCall) -> TokenProbsOutput | Refused:
    """One teacher-forced pass over the pair for each model (after a greedy translation if needed)."""
    target = slot(call.slot)
    try:
        target_ids, probabilities, top = target.token_probabilities(
            call.source_ids, call.target_ids, call.names, call.tgt_lang, call.max_new_tokens, call.top_k,
            call.adapters,
        )
    except UserFacingError as error:
        return Refused(str(error), error.es)
    return TokenProbsOutput(tuple(target_ids), tuple(tuple(row) for row in probabilities),
                            tuple(tuple(tuple(step) for step in row) for row in top))


def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


def _fresh_locks() -> None:
    for each in _SLOTS.values():
        each.reset_lock()


# A forked child has only the forking thread: a slot lock another thread held at that moment would stay held.
os.register_at_fork(after_in_child=_fresh_locks)
