"""int8 serving on CPU that keeps LoRA adapters hot-swappable.

Decoding NLLB on a CPU is memory-bound: every generated token reads the decoder's and the output layer's weights
(~440M numbers), so storing them as int8 instead of float32 reads 4x fewer bytes per token.

``torch.ao.quantization.quantize_dynamic`` would do that, but it replaces each ``nn.Linear`` with a module PEFT
cannot attach LoRA to, so adapters could no longer be loaded at run time. ``Int8Linear`` instead *is* an
``nn.Linear`` to PEFT (same class hierarchy, ``in_features``/``out_features``) while its forward runs PyTorch's
dynamic-int8 kernel (fbgemm/onednn: int8 weights, activations quantized per call). PEFT wraps it like any Linear and
adds the float32 LoRA update ``B(A(x))`` on top, so base and adapter still run in one mixed batch. What changes
numerically: each frozen weight is rounded to 256 levels per output row (per-channel scales).

Why this kernel, which runs on PyTorch's quantized tensors: PyTorch has deprecated the ``torch.ao.quantization``
flows (``quantize_dynamic`` and the rest) in favour of torchao, and the quantized tensors under them have no future
either, so the maintained candidates were timed beside it on NLLB's shapes (``python bench/matmul_roofs.py``,
README "Speed"). At the 1 to 8 rows a decoding step multiplies, this fbgemm kernel was the fastest int8 kernel on
every matrix: PyTorch's oneDNN int8 op (``torch.ops.onednn.qlinear_pointwise``, plain int8 tensors, the kernel
torchao's x86 lowering targets) took 1.2-2.2x its time, torchao's eager int8 dynamic-activation config 1.8-4.6x,
and bfloat16 1.1-5.6x; with oneDNN a whole 600M translation took 1.6x as long. It stays while the pinned torch ships
it; the oneDNN op is the way out once it does not (matmul_roofs.py holds that kernel, checked against float32).

The kernel quantizes its input with one scale for the whole call. In a mixed batch (Compare: base and adapter rows)
an adapter's rows could then set the base rows' scale, and a wild one turned the base column into noise. Within
:func:`row_groups` each model's rows are quantized on their own, so one model's rows never change another's.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import warnings
from typing import Iterator, Sequence

import torch
from torch import nn

logger = logging.getLogger(__name__)

_GROUPS: contextvars.ContextVar[tuple[int, tuple[torch.Tensor, ...]] | None] = contextvars.ContextVar(
    "int8_row_groups", default=None)
"""(batch rows, each model's row indices) of the mixed batch being run, or ``None``."""


@contextlib.contextmanager
def row_groups(names: Sequence[str]) -> Iterator[None]:
    """Within it, every :class:`Int8Linear` quantizes the rows of each distinct model of ``names`` (one name per batch
    row; ``generate`` repeats each row once per beam, contiguously) with a scale of their own."""
    distinct = dict.fromkeys(names)
    if len(distinct) < 2:
        yield
        return
    groups = tuple(torch.tensor([i for i, name in enumerate(names) if name == model]) for model in distinct)
    token = _GROUPS.set((len(names), groups))
    try:
        yield
    finally:
        _GROUPS.reset(token)


class Int8Linear(nn.Linear):
    """A frozen ``nn.Linear`` stored as per-channel int8 and run with PyTorch's dynamic-quantized kernel."""

    def __init__(self, linear: nn.Linear) -> None:
        # nn.Linear.__init__ would allocate a float weight; only the module bookkeeping is wanted.
        nn.Module.__init__(self)
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        weight = linear.weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        with warnings.catch_warnings():
            # Some torch versions warn that quantized tensors are deprecated (the pinned 2.11 does not); see the
            # module docstring for why this kernel stays.
            warnings.simplefilter("ignore", UserWarning)
            qweight = torch.quantize_per_channel(
                weight, scales, torch.zeros_like(scales, dtype=torch.long), axis=0, dtype=torch.qint8
            )
        self._pack(qweight, None if linear.bias is None else linear.bias.detach().float())

    def _pack(self, qweight: torch.Tensor, bias: torch.Tensor | None) -> None:
        self._packed = torch.ops.quantized.linear_prepack(qweight, bias)
        self._bias = bias

    def select_rows(self, rows: torch.Tensor) -> "Int8Linear":
        """A new ``Int8Linear`` computing only output ``rows`` of this one, with the very same int8 values."""
        qweight = self.weight
        # Advanced indexing is not implemented for per-channel quantized tensors; rebuild from the raw parts.
        picked = torch._make_per_channel_quantized_tensor(
            qweight.int_repr()[rows], qweight.q_per_channel_scales()[rows],
            qweight.q_per_channel_zero_points()[rows], 0,
        )
        selected = Int8Linear.__new__(Int8Linear)
        nn.Module.__init__(selected)
        selected.in_features, selected.out_features = self.in_features, len(rows)
        selected._pack(picked, None if self._bias is None else self._bias[rows])
        return selected

    @property
    def weight(self) -> torch.Tensor:  # type: ignore[override]
        """The int8 weight (a quantized tensor): PEFT reads its device and sees a non-float dtype."""
        return torch.ops.quantized.linear_unpack(self._packed)[0]

    @property
    def bias(self) -> torch.Tensor | None:  # type: ignore[override]
        return self._bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grouped = _GROUPS.get()
        if grouped is None or x.dim() < 2 or x.shape[0] % grouped[0]:
            return self._run(x)
        rows, groups = grouped
        beams = x.shape[0] // rows
        out = x.new_empty(*x.shape[:-1], self.out_features)
        for group in groups:
            picked = (group[:, None] * beams + torch.arange(beams)).flatten().to(x.device)
            out[picked] = self._run(x[picked])
        return out

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        """The kernel over all of ``x``: one activation scale for the call."""
        shape = x.shape
        out = torch.ops.quantized.linear_dynamic(x.reshape(-1, shape[-1]).float(), self._packed, True)
        return out.reshape(*shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, dtype=int8"


def quantize_int8(model: nn.Module) -> int:
    """Replace every ``nn.Linear`` of ``model`` (LoRA layers excepted) with ``Int8Linear``, in place.

    Returns how many layers were replaced. Embeddings stay float32: a lookup reads one row, not the matrix. The
    output projection ``lm_head`` shares its matrix with the embeddings in NLLB; it gets an int8 copy of its own.
    """
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if type(module) is nn.Linear and ".lora_" not in name
    ]
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, Int8Linear(module))
    # The tie between lm_head and the embeddings is now broken on purpose; don't let a later tie_weights() restore it.
    if hasattr(model, "config"):
        model.config.tie_word_embeddings = False
    logger.info("Quantized %d linear layers to int8", len(targets))
    return len(targets)
