"""The engine internals the benchmark reaches into, in one place: the loaded base model, and attaching an adapter
revision without a visitor's request.

The public API (``translate``, ``compare``, ``attention``, ``attached``) cannot say which dtype was loaded, hand out
the model for forward hooks, or load a revision from a folder other than the configured one. When the engine's
internals are renamed, this file is the one to follow them.
"""

from __future__ import annotations

from typing import Any, Callable


def loaded_base(engine) -> Any:
    """``engine._base``: the engine's loaded base (``.model``, ``.tokenizer``, ``.dtype``); ``None`` before ``load``."""
    return engine._base


def output_layers(engine) -> list[Any]:
    """The modules that compute the logits of the engine's first model copy: the model's ``lm_head`` and, with
    ``NLLB_RESTRICT_VOCAB``, the cut layers built so far (``ModelSlot._heads``), which the decoding loop calls
    instead of ``lm_head``."""
    from nllb_space.model import worker

    model = engine._base.model
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return [inner.lm_head, *(head.rows for head in worker.slot(engine._slot)._heads.values())]


def adapter_attacher(engine) -> Callable[[Any], None]:
    """A function that checks a ``FetchedAdapter`` as ``use_model`` does and attaches it as a call does.

    The registry reads no local folder but the configured one (visitors must not read the server's disk), so the
    bench hands each extra folder over as fetched; attaching happens on entering the slot's ``_using`` with nothing
    to run inside it.
    """
    from nllb_space.model import worker

    slot = worker.slot(engine._slot)

    def attach(fetched: Any) -> None:
        _, files = engine._registry.ready(fetched, engine._shapes)
        with slot._lock, slot._using([files], [files.name]):
            pass

    return attach
