"""LoRA layers computed without PEFT's per-call bookkeeping, for a batch whose rows all use one adapter (or none).

PEFT's ``lora.Linear.forward`` checks its arguments, walks the active adapters, casts dtypes and calls four modules
for every adapted projection at every step; an NLLB decoding step passes through 72 of them (self- and cross-
attention in 12 decoder layers). Profiled on the 600M shape (int8, one thread), that bookkeeping made a translation
with an adapter 13% slower than the base alone, most of it Python around two tiny matrix products. Inside
:func:`plain_lora` each layer instead computes exactly PEFT's expression, ``base(x) + lora_B(lora_A(x)) * scaling``,
with the same operations in the same order, so the numbers are the same to the last bit (tests/test_decoding.py).

What is left out is only what cannot apply to an inference call of one adapter: dropout (the model is in eval
mode), other active adapters, merged weights and LoRA variants such as DoRA (refused when an adapter is checked;
a layer that has one keeps PEFT's forward). Mixed batches (Compare) keep PEFT's per-row routing.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch.nn import functional


@contextlib.contextmanager
def plain_lora(model, name: str | None) -> Iterator[None]:
    """Within it, every LoRA layer of ``model`` adds adapter ``name``'s update to its base output (``None``: the base
    output alone), reading ``scaling[name]`` at each call so that an adapter strength set around it applies."""
    from peft.tuners.lora import Linear

    swapped = []
    for module in model.modules():
        if type(module) is not Linear or module.training or module.merged or name in module.lora_variant:
            continue
        module.forward = _forward(module, name if name in module.lora_A else None)
        swapped.append(module)
    try:
        yield
    finally:
        for module in swapped:
            del module.forward  # the class's forward (PEFT's) again


def _forward(module, name: str | None):
    base = module.base_layer
    if name is None:
        return base.__call__  # a bound method: a module assigned to ``forward`` would become a submodule instead
    lora_a, lora_b, scaling = module.lora_A[name], module.lora_B[name], module.scaling

    def forward(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        result = base(x, *args, **kwargs)
        update = functional.linear(functional.linear(x.to(lora_a.weight.dtype), lora_a.weight, lora_a.bias),
                                   lora_b.weight, lora_b.bias)
        return (result + update * scaling[name]).to(result.dtype)

    return forward
