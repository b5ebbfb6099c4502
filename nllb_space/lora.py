"""The LoRA configuration shared by training and loading, and the checks that an adapter fits the model.

NLLB (M2M100) names its attention output projection ``out_proj``; PEFT only *warns* about a target name that
matches nothing when other names match, so a copied ``o_proj`` would silently train q/k/v only. Every target name
must therefore match at least one ``nn.Linear``, or we fail naming the modules that exist.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .errors import AdapterError

logger = logging.getLogger(__name__)

DEFAULT_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "out_proj")
"""Every attention projection of NLLB: encoder self-, decoder self- and cross-attention all use these names."""

# PEFT saves LoRA weights as "<module path>.lora_A.weight" / ".lora_B.weight" under this prefix.
_LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<part>[AB])(?:\.[^.]+)?\.weight$")


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
        raise TargetModuleError(
            f"LoRA target module(s) {', '.join(missing)} match no linear layer of this model. "
            f"Its linear layers are named: {', '.join(sorted(available))}. "
            "(NLLB's attention output projection is 'out_proj', not 'o_proj'.)"
        )


def check_adapter_fits(folder: Path, model_or_shapes, base_model_id: str) -> dict:
    """Check that the LoRA adapter in ``folder`` can be applied to the model (or its ``linear_shapes``); return
    its adapter config.

    Refuses (``AdapterError``, saying why): no ``adapter_config.json``; a non-LoRA PEFT method; only pickle weights
    (``adapter_model.bin``: loading pickles runs arbitrary code); a different base model; target names the model
    lacks; tensors for modules the model lacks or of the wrong shape.
    """
    from safetensors import safe_open

    folder = Path(folder)
    config_path = folder / "adapter_config.json"
    if not config_path.is_file():
        raise AdapterError(f"{folder.name} holds no adapter_config.json: it is not a PEFT adapter.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AdapterError(f"adapter_config.json is not valid JSON ({error}).") from None
    if not isinstance(config, dict) or config.get("peft_type", "").upper() != "LORA":
        raise AdapterError(
            f"This adapter uses PEFT method {config.get('peft_type') if isinstance(config, dict) else None!r}; "
            "only LoRA adapters are supported."
        )
    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        if (folder / "adapter_model.bin").is_file():
            raise AdapterError(
                "This adapter ships only adapter_model.bin, a pickle file that can run code when loaded; "
                "only safetensors adapters are accepted. Re-save it with save_pretrained(safe_serialization=True)."
            )
        raise AdapterError("This adapter has no adapter_model.safetensors file.")

    _check_base_model(config.get("base_model_name_or_path"), base_model_id)
    targets = config.get("target_modules") or []
    if isinstance(targets, str):
        # PEFT stores a regex target as one string; the tensors below are the real test of fit.
        targets = []
    shapes = _shapes(model_or_shapes)
    check_target_modules(shapes, list(targets))

    try:
        with safe_open(str(weights), framework="pt") as tensors:
            for key in tensors.keys():
                _check_tensor(key, tuple(tensors.get_slice(key).get_shape()), shapes)
    except AdapterError:
        raise
    except Exception as error:  # a corrupt or truncated file: safetensors raises several types
        raise AdapterError(f"adapter_model.safetensors cannot be read ({error}).") from None
    return config


def _check_base_model(adapter_base: str | None, base_model_id: str) -> None:
    """Refuse an adapter trained on another Hub model; local paths can't be compared by name, shapes decide."""
    if not adapter_base:
        return
    is_hub_id = lambda name: bool(re.fullmatch(r"[\w.-]+/[\w.-]+", name)) and not Path(name).exists()  # noqa: E731
    if is_hub_id(adapter_base) and is_hub_id(base_model_id) and adapter_base.lower() != base_model_id.lower():
        raise AdapterError(
            f"This adapter was trained on {adapter_base}, but the app serves {base_model_id}; "
            "an adapter only works on the base model it was trained on."
        )
    if adapter_base.rstrip("/").rsplit("/", 1)[-1] != base_model_id.rstrip("/").rsplit("/", 1)[-1]:
        logger.warning("Adapter base %s differs by name from %s; its tensor shapes fit.", adapter_base, base_model_id)


def _check_tensor(key: str, shape: tuple[int, ...], shapes: LinearShapes) -> None:
    match = _LORA_KEY.match(key)
    if match is None:
        return
    path = match["module"]
    if path not in shapes:
        raise AdapterError(
            f"The adapter has weights for '{path}', which this base model does not have: "
            "it was trained on a different architecture."
        )
    in_features, out_features = shapes[path]
    # lora_A: (r, in_features); lora_B: (out_features, r).
    expected_dim, index = (in_features, 1) if match["part"] == "A" else (out_features, 0)
    if len(shape) != 2 or shape[index] != expected_dim:
        raise AdapterError(
            f"The adapter's tensor {key} has shape {list(shape)}, which does not fit '{path}' "
            f"({in_features} -> {out_features}): it was trained on a different base model."
        )
