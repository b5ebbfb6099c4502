"""Attaching a checked LoRA adapter to the shared model, and taking it off again when anything fails half-way.

PEFT attaches with a config and a state dict; here the config is built from the adapter's checked plan
(model/adapter_check.py), never from the config as published, and a failure leaves the model exactly as it was: PEFT
wraps the base's layers in place for the first adapter, so undoing it means unwrapping them and removing its config.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Iterator

from ..errors import AdapterError

if TYPE_CHECKING:  # pragma: no cover
    from .adapter_check import AdapterFiles
    from .loading import LoadedBase


def attach(base: "LoadedBase", files: "AdapterFiles") -> None:
    """Attach ``files`` to ``base.model`` under ``files.name`` by its plan (``base.model`` becomes a PeftModel)."""
    from peft import LoraConfig, PeftModel, TaskType, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    plan = files.plan
    config = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM, r=plan.r, lora_alpha=plan.alpha, use_rslora=plan.use_rslora,
        target_modules=list(plan.modules), lora_dropout=0.0, bias="none", init_lora_weights=False,
        inference_mode=True,
    )
    original = base.model
    try:
        state = load_file(os.path.join(files.folder, "adapter_model.safetensors"))
        if isinstance(base.model, PeftModel):
            base.model.add_adapter(files.name, config)
        else:
            base.model = get_peft_model(base.model, config, adapter_name=files.name)
        loaded = set_peft_model_state_dict(base.model, state, adapter_name=files.name)
        missing = [key for key in loaded.missing_keys if f".{files.name}." in key]
        if loaded.unexpected_keys or missing:
            count = len(loaded.unexpected_keys) + len(missing)
            # Rolled back and framed below like PEFT's own failures (an AdapterError is a ValueError).
            raise AdapterError(f"{count} LoRA tensors did not line up", es=f"{count} tensores LoRA no encajaron")
    except (RuntimeError, ValueError, KeyError, OSError) as error:
        _roll_back(base, files.name, original)
        reason = str(error).splitlines()[0]
        # PEFT's and torch's words have no Spanish version: they keep their English inside a Spanish frame.
        raise AdapterError(f"PEFT could not load this adapter: {reason}",
                           es=f"PEFT no pudo cargar este adaptador: {getattr(error, 'es', None) or reason}") from None
    base.model.to(base.device).eval()


def _roll_back(base: "LoadedBase", name: str, original) -> None:
    """Undo a failed attach: the model, its layers and its memory as they were before it."""
    from peft import PeftModel

    model = base.model
    if isinstance(original, PeftModel):
        if name in model.peft_config:
            model.delete_adapter(name)
        return
    # The first adapter: PEFT wrapped the base's layers in place and noted its config on the base. Undo both.
    strip_lora(model.get_base_model() if isinstance(model, PeftModel) else model)
    vars(original).pop("peft_config", None)
    base.model = original


def strip_lora(model) -> None:
    """Replace every LoRA-wrapped layer of ``model`` by the layer it wraps."""
    from peft.tuners.lora import LoraLayer

    for path, module in list(model.named_modules()):
        if isinstance(module, LoraLayer):
            parent, _, child = path.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, child, module.get_base_layer())


@contextlib.contextmanager
def hooks_removed_on_error(model) -> Iterator[None]:
    """PEFT's per-row routing registers forward pre-hooks and removes them only when the call succeeds; after a
    failure they would route every later call of every visitor. Remove any hook the failed call left behind."""
    before = {module: set(module._forward_pre_hooks) for module in model.modules()}
    try:
        yield
    except BaseException:
        for module in model.modules():
            for key in set(module._forward_pre_hooks) - before.get(module, set()):
                del module._forward_pre_hooks[key]
                module._forward_pre_hooks_with_kwargs.pop(key, None)
        raise
