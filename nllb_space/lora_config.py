"""The LoRA configuration for training, and the table of the base model's linear layers that adapters must fit.

NLLB (M2M100) names its attention output projection ``out_proj``; PEFT only *warns* about a target name that
matches nothing when other names match, so a copied ``o_proj`` would silently train q/k/v only. Every *training*
target must therefore match at least one ``nn.Linear``, or we fail naming the modules that exist. Adapters someone
else trained are checked by their tensors instead (model/adapter_check.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping

from .errors import AdapterError

logger = logging.getLogger(__name__)

DEFAULT_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "out_proj")
"""Every attention projection of NLLB: encoder self-, decoder self- and cross-attention all use these names."""


class TargetModuleError(AdapterError):
    """A requested LoRA target name matches no linear layer of the model."""


@dataclass(frozen=True)
class LoraSettings:
    """Hyper-parameters of a LoRA adapter for NLLB (defaults suit NLLB-600M)."""

    r: int = 16
    """Rank of the low-rank update ``B @ A``."""
    alpha: int = 32
    """Scaling numerator: the update is multiplied by ``alpha / r``."""
    dropout: float = 0.05
    """Dropout on the LoRA input during training."""
    targets: tuple[str, ...] = DEFAULT_TARGETS
    """Names of the ``nn.Linear`` modules that get an adapter (matched against the last part of module names)."""

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"--lora-r must be at least 1 (got {self.r}).")
        if self.alpha <= 0:
            raise ValueError(f"--lora-alpha must be positive (got {self.alpha}).")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--lora-dropout must be in [0, 1) (got {self.dropout}).")
        if not self.targets:
            raise ValueError("--lora-targets needs at least one module name.")

    def to_peft_config(self, model=None):
        """A ``peft.LoraConfig`` for sequence-to-sequence LM; with ``model``, first check every target exists."""
        from peft import LoraConfig, TaskType

        if model is not None:
            check_target_modules(model, self.targets)
        return LoraConfig(
            task_type=TaskType.SEQ_2_SEQ_LM,
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=list(self.targets),
        )


LinearShapes = Mapping[str, tuple[int, int]]
"""Every ``nn.Linear`` of a model by module path (no PEFT prefixes): ``(in_features, out_features)``."""


def linear_shapes(model) -> dict[str, tuple[int, int]]:
    """The model's linear layers by path, as the base had them (PEFT's wrapper prefixes and ``base_layer`` removed).

    A plain table rather than the live model, so an adapter can be checked in the main process while another
    thread or process attaches adapters to the model.
    """
    import torch

    found: dict[str, tuple[int, int]] = {}
    for path, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or ".lora_" in path:
            continue
        path = path.removeprefix("base_model.model.").replace(".base_layer", "")
        found.setdefault(path, (module.in_features, module.out_features))
    return found


def _shapes(model_or_shapes) -> LinearShapes:
    return linear_shapes(model_or_shapes) if hasattr(model_or_shapes, "named_modules") else model_or_shapes


def linear_module_names(model_or_shapes) -> dict[str, list[str]]:
    """Short names (last path part) of the model's ``nn.Linear`` layers -> their full paths."""
    found: dict[str, list[str]] = {}
    for path in _shapes(model_or_shapes):
        found.setdefault(path.rsplit(".", 1)[-1], []).append(path)
    return found


def check_target_modules(model_or_shapes, targets: tuple[str, ...] | list[str]) -> None:
    """Raise ``TargetModuleError`` unless every target name matches at least one linear layer of the model."""
    available = linear_module_names(model_or_shapes)
    missing = [t for t in targets if t not in available]
    if missing:
        wanted, names = ", ".join(missing), ", ".join(sorted(available))
        raise TargetModuleError(
            f"LoRA target module(s) {wanted} match no linear layer of this model. "
            f"Its linear layers are named: {names}. "
            "(NLLB's attention output projection is 'out_proj', not 'o_proj'.)",
            es=f"Los módulos objetivo de LoRA {wanted} no coinciden con ninguna capa lineal de este modelo. "
               f"Sus capas lineales se llaman: {names}. "
               "(La proyección de salida de la atención de NLLB es 'out_proj', no 'o_proj'.)",
        )
