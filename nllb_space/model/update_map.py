"""Where an adapter changed the model: the relative size of every LoRA update, from the adapter's tensors alone.

LoRA leaves each adapted weight ``W`` frozen and adds ``ΔW = s·B·A`` with ``s = alpha / r`` (``alpha / √r`` with
rsLoRA). How much a layer changed is ``‖ΔW‖ / ‖W‖`` (Frobenius norms): 0.01 means the update is 1% of the weight
it adds to. One cell per layer and module of each block, in the order a token meets them: the encoder's
self-attention (q, k, v, out) and feed-forward (fc1, fc2), then the decoder's self-attention, its cross-attention to
the encoder and its feed-forward. Every block is drawn whatever the adapter targets (PEFT's ``all-linear`` adapts
them all), and a module it leaves alone is ``None``, "not adapted", never 0. No forward pass, so the map is there as
soon as the adapter is.

``‖B·A‖`` is computed from the r×r products ``‖BA‖² = trace((BᵀB)(AAᵀ))``, never from the full matrix.
The base's norms are taken once, when the model loads (:func:`weight_norms`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .adapter_check import LORA_KEY, AdapterPlan

ATTENTION = ("q_proj", "k_proj", "v_proj", "out_proj")
"""An attention block's projections, in the map's column order: they mix the positions (each token reads others)."""
FEED_FORWARD = ("fc1", "fc2")
"""A feed-forward block's layers: fc1 widens each position's vector (1024 -> 4096 in NLLB-600M), fc2 narrows it back.
It transforms every position on its own, after attention has mixed them."""
BLOCKS = (
    ("encoder self-attention", "model.encoder.layers.{layer}.self_attn", ATTENTION),
    ("encoder feed-forward", "model.encoder.layers.{layer}", FEED_FORWARD),
    ("decoder self-attention", "model.decoder.layers.{layer}.self_attn", ATTENTION),
    ("cross-attention", "model.decoder.layers.{layer}.encoder_attn", ATTENTION),
    ("decoder feed-forward", "model.decoder.layers.{layer}", FEED_FORWARD),
)
"""Each block: its name on the page, the module path of its layer ``layer``, and the modules in it."""
_PATH = re.compile(r"^model\.(encoder|decoder)\.layers\.(\d+)\."
                   r"(?:(?:self_attn|encoder_attn)\.(?:q|k|v|out)_proj|fc1|fc2)$")


def weight_norms(model) -> dict[str, float]:
    """``‖W‖`` of every module the map draws (attention projections, fc1, fc2) of ``model``, by module path (taken
    before int8 or a device move)."""
    import torch

    norms = {}
    for path, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and _PATH.match(path):
            norms[path] = float(torch.linalg.matrix_norm(module.weight.detach().float()))
    return norms


@dataclass(frozen=True)
class UpdateMap:
    """The relative size of an adapter's update in every module the map draws, plus what it is."""

    blocks: tuple[str, ...]
    """The blocks, in the map's order (see :data:`BLOCKS`)."""
    columns: tuple[tuple[str, ...], ...]
    """Each block's modules as the map names them: ``("q", "k", "v", "out")`` or ``("fc1", "fc2")``."""
    layers: int
    relative: tuple[tuple[tuple[float | None, ...], ...], ...]
    """``relative[block][layer][i]`` = ‖ΔW‖ / ‖W‖ of module ``columns[block][i]``; ``None`` where the adapter leaves
    that module alone ("not adapted")."""
    r: int
    alpha: float
    use_rslora: bool
    scale: float
    """``alpha / r`` (``alpha / √r`` with rsLoRA): the factor in ``ΔW = scale·B·A``."""
    adapted: tuple[str, ...]
    """The projections the adapter's tensors adapt."""
    trainable: int
    """The adapter's parameters."""
    total: int
    """The base model's parameters."""
    label: str = ""
    """Which adapter revision this is, as the page names it (``repo@revision (sha)``)."""

    @property
    def projections(self) -> tuple[str, ...]:
        """Every module name the map has a column for, each once, in order: q, k, v, out, fc1, fc2."""
        return tuple(dict.fromkeys(name for columns in self.columns for name in columns))

    def largest(self) -> tuple[str, int, str, float] | None:
        """(block, layer, module, relative size) of the biggest update."""
        cells = [(value, b, layer, i) for b, rows in enumerate(self.relative) for layer, row in enumerate(rows)
                 for i, value in enumerate(row) if value is not None]
        if not cells:
            return None
        value, b, layer, i = max(cells)
        return self.blocks[b], layer, self.columns[b][i], value

    def to_json(self) -> dict:
        """Plain JSON for the API: numbers and names only. ``relative_update[block][layer][i]`` is module
        ``columns[block][i]`` of ``blocks[block]``; ``projections`` lists every column name once."""
        return {
            "adapter": self.label, "r": self.r, "alpha": self.alpha, "use_rslora": self.use_rslora, "scale": self.scale,
            "adapted": list(self.adapted), "trainable_parameters": self.trainable, "total_parameters": self.total,
            "layers": self.layers, "blocks": list(self.blocks), "columns": [list(names) for names in self.columns],
            "projections": list(self.projections),
            "relative_update": [[list(row) for row in block] for block in self.relative],
        }


def update_map(folder: str | Path, plan: AdapterPlan, norms: Mapping[str, float], total: int) -> UpdateMap:
    """The :class:`UpdateMap` of the adapter in ``folder`` (checked as ``plan``) over a base whose weight norms are
    ``norms``."""
    import torch
    from safetensors import safe_open

    scale = plan.alpha / (math.sqrt(plan.r) if plan.use_rslora else plan.r)
    layers = 1 + max((int(m[2]) for path in norms if (m := _PATH.match(path))), default=-1)
    relative = []
    # One pair in memory at a time, read straight from the file: memory stays proportional to one layer's update.
    with safe_open(str(Path(folder) / "adapter_model.safetensors"), framework="pt") as tensors:
        keys: dict[str, dict[str, str]] = {}
        for key in tensors.keys():
            if match := LORA_KEY.match(key):
                keys.setdefault(match["module"], {})[match["part"]] = key
        for _, pattern, modules in BLOCKS:
            block = []
            for layer in range(layers):
                row = []
                for module in modules:
                    path = f"{pattern.format(layer=layer)}.{module}"
                    pair = keys.get(path)
                    if pair is None or not norms.get(path):
                        row.append(None)
                        continue
                    a, b = (tensors.get_tensor(pair[part]).double() for part in "AB")
                    squared = torch.trace((b.T @ b) @ (a @ a.T)).clamp(min=0.0)
                    row.append(float(scale * squared.sqrt() / norms[path]))
                block.append(tuple(row))
            relative.append(tuple(block))
    return UpdateMap(
        blocks=tuple(name for name, _, _ in BLOCKS),
        columns=tuple(tuple(m.removesuffix("_proj") for m in modules) for _, _, modules in BLOCKS),
        layers=layers, relative=tuple(relative), r=plan.r, alpha=plan.alpha, use_rslora=plan.use_rslora,
        scale=scale, adapted=plan.projections, trainable=plan.parameters, total=total,
    )
