"""One process's model: the base, the LoRA adapters attached to it in THIS process, and the batched model calls.

Adapters are PEFT *named adapters* on one ``PeftModel`` (no second copy of the base), keyed by a name made of the
repo and the commit sha, attached from a folder the caller brings and evicted least-recently-used. Nothing here
talks to the Hub: on ZeroGPU this runs in a forked worker that must not depend on what the main process did.

Every model call restores the model whatever happens inside it: the output layer is swapped back, adapters that
were turned off are turned on again, a request's adapter strength is reset to the trained one, and an adapter that
failed half-way through attaching is removed (model/peft_attach.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterator, Sequence

from ..results import BASE_MODEL
from .adapter_check import AdapterFiles
from .attention import stack_attentions
from .hardware import use_threads
from .loading import LoadedBase
from .peft_attach import attach, hooks_removed_on_error

logger = logging.getLogger(__name__)

RESTRICTED_HEADS_KEPT = 2
"""Cut output layers kept at once with NLLB_RESTRICT_VOCAB, one per script set (each up to ~260 MB in int8, four
times that in float32)."""


@dataclass(frozen=True)
class Decoding:
    """Decoding options of one request, already checked against the settings' limits."""

    num_beams: int
    max_new_tokens: int
    adapter_scale: float = 1.0
    """How strongly adapter rows apply their LoRA update: 0 is the base model, 1 the adapter as trained."""


@dataclass(frozen=True)
class SlotLimits:
    """The settings a model slot needs (plain values, so a forked worker holds them too)."""

    batch_size: int
    """Rows per ``generate`` call (``NLLB_BATCH_SIZE``)."""
    adapter_cache_size: int
    """Adapters kept attached in this process (``NLLB_ADAPTER_CACHE_SIZE``)."""
    restrict_vocab: bool
    """Cut the output layer to the target's script (``NLLB_RESTRICT_VOCAB``, model/vocab.py)."""
    cpu_threads: int = 0
    """torch threads per call on a CPU (``NLLB_CPU_THREADS`` resolved, model/hardware.py); 0 leaves torch's own."""


class ModelSlot:
    """The model of one process and the adapters attached to it there."""

    def __init__(self, base: LoadedBase, limits: SlotLimits) -> None:
        self.base = base
        self.limits = limits
        self._lock = threading.RLock()
        self._attached: OrderedDict[str, str] = OrderedDict()
        """Adapter name -> the folder it was attached from, least recently used first."""
        self._heads: dict[tuple[str, ...], object] = {}

    def reset_lock(self) -> None:
        """A new lock, for a forked child (the parent's may have been held by a thread the child lacks)."""
        self._lock = threading.RLock()

    def adopt(self, name: str) -> None:
        """Serve the adapter already on the model under ``name`` (the trainer's own, trained in this process)."""
        self._attached[name] = ""

    def attached(self) -> tuple[str, ...]:
        """Adapter names attached in this process, least recently used first."""
        return tuple(self._attached)

    def folders(self) -> tuple[str, ...]:
        """The folders the attached adapters came from."""
        return tuple(self._attached.values())

    # -- the calls ---------------------------------------------------------------------------------------------------

    def generate(
        self, ids: Sequence[Sequence[int]], names: Sequence[str], tgt_lang: str, decoding: Decoding,
        adapters: Sequence[AdapterFiles],
    ) -> list[list[int]]:
        """Generated token ids per row (no start token, language tag, ``</s>`` or padding)."""
        with self._lock, self._using(adapters, names), self._scaled(names, decoding.adapter_scale):
            use_threads(self.limits.cpu_threads, self.base.device)
            return self._generate(ids, names, tgt_lang, decoding)

    def token_probabilities(
        self, source_ids: Sequence[int], target_ids: Sequence[int] | None, names: Sequence[str], tgt_lang: str,
        max_new_tokens: int, top_k: int, adapters: Sequence[AdapterFiles],
    ) -> tuple[list[int], list[list[float]], list[list[list[tuple[int, float]]]]]:
        """``(target ids, per model the probability of each target token then </s>, per model and position the
        top_k (id, probability))``, every model teacher-forced on the same target (``names[-1]`` translates
        greedily first when there is none)."""
        import torch

        with self._lock, self._using(adapters, names):
            use_threads(self.limits.cpu_threads, self.base.device)
            if target_ids is None:
                target_ids = self._generate([source_ids], names[-1:], tgt_lang, Decoding(1, max_new_tokens))[0]
            tokenizer, n, device = self.base.tokenizer, len(names), self.base.device
            lang_id = tokenizer.convert_tokens_to_ids(tgt_lang)
            decoder_ids = [self.base.model.config.decoder_start_token_id, lang_id, *target_ids]
            wanted = torch.tensor([*target_ids, tokenizer.eos_token_id], device=device)
            with self._output_layer(self._restricted_head(tgt_lang)), self._routing(names) as extra, \
                    torch.inference_mode():
                logits = self.base.model(
                    input_ids=torch.tensor([list(source_ids)] * n, device=device),
                    attention_mask=torch.ones(n, len(source_ids), dtype=torch.long, device=device),
                    decoder_input_ids=torch.tensor([decoder_ids] * n, device=device), **extra,
                ).logits
            # Position i reads the tokens up to i and predicts token i + 1: the first predicts the language tag.
            probabilities = logits[:, 1:, :].float().softmax(-1)
            chosen = probabilities.gather(-1, wanted.expand(n, -1).unsqueeze(-1)).squeeze(-1)
            top = probabilities.topk(top_k, dim=-1)
            return (list(target_ids), chosen.tolist(),
                    [[list(zip(ids, ps)) for ids, ps in zip(row_ids, row_ps)]
                     for row_ids, row_ps in zip(top.indices.tolist(), top.values.tolist())])

    def attention(
        self, source_ids: Sequence[int], target_ids: Sequence[int] | None, names: Sequence[str], tgt_lang: str,
        max_new_tokens: int, adapters: Sequence[AdapterFiles],
    ) -> tuple[list[int], list[int], list[tuple]]:
        """``(target ids, decoder input ids, per model (encoder, decoder, cross))`` for one sentence pair."""
        with self._lock, self._using(adapters, names):
            use_threads(self.limits.cpu_threads, self.base.device)
            if target_ids is None:
                target_ids = self._generate([source_ids], names[:1], tgt_lang, Decoding(1, max_new_tokens))[0]
            lang_id = self.base.tokenizer.convert_tokens_to_ids(tgt_lang)
            decoder_ids = [self.base.model.config.decoder_start_token_id, lang_id, *target_ids]
            return list(target_ids), decoder_ids, self._forward_attention(list(source_ids), decoder_ids, names)

    def _generate(
        self, ids: Sequence[Sequence[int]], names: Sequence[str], tgt_lang: str, decoding: Decoding
    ) -> list[list[int]]:
        """Token ids per row, decoded by model/decoding.py (``generate`` for a checkpoint asking for more than it
        applies), without taking the lock or touching adapters: the caller holds both."""
        import torch

        from .decoding import OutputRows, Search, decode, supported

        base = self.base
        tokenizer = base.tokenizer
        config = base.model.generation_config
        lean = supported(config)
        search = Search(decoding.num_beams, decoding.max_new_tokens, config.min_new_tokens or 0,
                        1.0 if config.length_penalty is None else config.length_penalty, tokenizer.eos_token_id,
                        tokenizer.pad_token_id)
        prefix = [base.model.config.decoder_start_token_id, tokenizer.convert_tokens_to_ids(tgt_lang)]
        head = self._restricted_head(tgt_lang)
        rows_out = (OutputRows(head.rows, head.ids, search.eos) if head is not None
                    else OutputRows(self._inner_model().lm_head, None, search.eos))
        outputs: list[list[int]] = []
        size = self.limits.batch_size
        for start in range(0, len(ids), size):
            rows = [list(row) for row in ids[start:start + size]]
            batch = tokenizer.pad({"input_ids": rows}, return_tensors="pt")
            input_ids, mask = batch["input_ids"].to(base.device), batch["attention_mask"].to(base.device)
            with self._routing(names[start:start + size], decoding.num_beams, lean) as extra, torch.inference_mode():
                if lean:
                    outputs += decode(self._inner_model(), input_ids, mask, prefix, search, rows_out)
                    continue
                with self._output_layer(head):
                    generated = base.model.generate(
                        input_ids=input_ids, attention_mask=mask, forced_bos_token_id=prefix[1],
                        num_beams=decoding.num_beams, max_new_tokens=decoding.max_new_tokens, do_sample=False,
                        **extra)
            # generate returns [decoder_start, tgt_lang, tokens..., </s>, pad...]; keep only the tokens.
            for sequence in generated.tolist():
                tokens = sequence[2:]
                outputs.append(tokens[:tokens.index(search.eos)] if search.eos in tokens else tokens)
        return outputs

    # -- adapters ----------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _using(self, adapters: Sequence[AdapterFiles], names: Sequence[str]) -> Iterator[None]:
        """Attach what this process lacks of ``adapters``, check every row's adapter is here, and trim afterwards.

        The call's own adapters are pinned while it runs, so a call needing more adapters than the cache holds
        still works; the cache is trimmed back to its size once the call is done.
        """
        pinned = {files.name for files in adapters}
        for files in adapters:
            if files.name in self._attached:
                self._attached.move_to_end(files.name)
            else:
                self._attach(files, pinned)
        missing = sorted(set(names) - {BASE_MODEL.adapter_name} - set(self._attached))
        if missing:
            # Never answer with the base model for an adapter this process does not hold.
            raise RuntimeError(f"Adapter(s) {', '.join(missing)} are not attached here and the call has no files.")
        try:
            yield
        finally:
            self._evict(pinned=set())

    def _attach(self, files: AdapterFiles, pinned: set[str]) -> None:
        attach(self.base, files)
        self._attached[files.name] = files.folder
        logger.info("Attached adapter %s in process %d", files.name, os.getpid())
        self._evict(pinned)

    def _evict(self, pinned: set[str]) -> None:
        while len(self._attached) > self.limits.adapter_cache_size:
            victim = next((name for name in self._attached if name not in pinned), None)
            if victim is None:
                return
            del self._attached[victim]
            self.base.model.delete_adapter(victim)
            logger.info("Evicted adapter %s (cache size %d)", victim, self.limits.adapter_cache_size)

    @contextlib.contextmanager
    def _scaled(self, names: Sequence[str], scale: float) -> Iterator[None]:
        """Adapter rows apply ``scale`` times their update inside the block (PEFT's per-layer ``scaling``); the
        exact values are put back after, so the next call, whoever sends it, gets the adapter as trained."""
        if scale == 1.0 or not self._is_peft():
            yield
            return
        from peft.tuners.lora import LoraLayer

        wanted = set(names) - {BASE_MODEL.adapter_name}
        saved = [(module, name, module.scaling[name]) for module in self.base.model.modules()
                 if isinstance(module, LoraLayer) for name in wanted if name in module.scaling]
        try:
            for module, name, value in saved:
                module.scaling[name] = value * scale
            yield
        finally:
            for module, name, value in saved:
                module.scaling[name] = value

    @contextlib.contextmanager
    def _routing(self, names: Sequence[str], num_beams: int = 1, hooks: bool = False
                 ) -> Iterator[dict[str, object]]:
        """Set the model up for one batch whose row ``i`` uses adapter ``names[i]``; yields extra model kwargs.

        A mixed batch needs PEFT's per-row routing: ``adapter_names`` for a call through PEFT's wrapper, or, with
        ``hooks``, PEFT's routing hooks set up here for calls to the inner model's parts (model/decoding.py; the
        decoder's rows are repeated once per beam, the encoder's are not). When every row uses the same adapter,
        the plain active adapter (or PEFT's ``disable_adapter`` for the base) does the same maths without the
        per-row indexing and hooks, which measured 13% faster per generated token on the 600M shape, and each LoRA
        layer then runs without PEFT's per-call bookkeeping (model/lora_forward.py).
        """
        from .lora_forward import plain_lora
        from .quantization import row_groups

        model = self.base.model
        distinct = set(names)
        if not self._is_peft():
            yield {}
        elif len(distinct) > 1:
            with hooks_removed_on_error(model), row_groups(names):
                if hooks:
                    # PEFT's own generate enters this context; the decoding loop calls the model's parts itself.
                    with model._enable_peft_forward_hooks(adapter_names=list(names), num_beams=num_beams):
                        yield {}
                else:
                    yield {"adapter_names": list(names)}
        elif distinct == {BASE_MODEL.adapter_name}:
            with model.disable_adapter(), plain_lora(model, None):
                yield {}
        else:
            name = next(iter(distinct))
            if model.active_adapter != name:  # the trainer's adapter is active already, and must stay trainable
                model.set_adapter(name, inference_mode=True)
            with plain_lora(model, name):
                yield {}

    def _is_peft(self) -> bool:
        from peft import PeftModel

        return isinstance(self.base.model, PeftModel)

    def _inner_model(self):
        """The transformers model itself, inside PEFT's wrapper when an adapter is loaded."""
        return self.base.model.get_base_model() if self._is_peft() else self.base.model

    # -- the output layer and the attention pass --------------------------------------------------------------------

    def _forward_attention(self, source_ids: list[int], decoder_ids: list[int], names: Sequence[str]) -> list[tuple]:
        """One eager teacher-forced forward for every model in ``names`` (one batch row each)."""
        import torch
        from torch import nn

        inner = self._inner_model()
        n, device = len(names), self.base.device
        previous = inner.config._attn_implementation
        inner.set_attn_implementation("eager")
        try:
            # Only the attention weights are wanted: skip the 256k-row output layer (a sixth of the pass's time).
            with self._output_layer(nn.Identity()), self._routing(names) as extra, torch.inference_mode():
                out = self.base.model(
                    input_ids=torch.tensor([source_ids] * n, device=device),
                    attention_mask=torch.ones(n, len(source_ids), dtype=torch.long, device=device),
                    decoder_input_ids=torch.tensor([decoder_ids] * n, device=device),
                    output_attentions=True,
                    **extra,
                )
        finally:
            inner.set_attn_implementation(previous)
        s, t = len(source_ids), len(decoder_ids)
        return [
            (
                stack_attentions(out.encoder_attentions, row, s, s),
                stack_attentions(out.decoder_attentions, row, t, t),
                stack_attentions(out.cross_attentions, row, t, s),
            )
            for row in range(n)
        ]

    @contextlib.contextmanager
    def _output_layer(self, head) -> Iterator[None]:
        """Run the model with ``head`` as its output layer inside the block; ``None`` keeps the full one."""
        if head is None:
            yield
            return
        inner = self._inner_model()
        full, inner.lm_head = inner.lm_head, head
        try:
            yield
        finally:
            inner.lm_head = full

    def _restricted_head(self, tgt: str):
        """With ``NLLB_RESTRICT_VOCAB``, the output layer cut to ``tgt``'s scripts (model/vocab.py), built on first use;
        ``None`` when the setting is off or the script unknown."""
        if not self.limits.restrict_vocab:
            return None
        from .vocab import RestrictedHead, kept_vocabulary, scripts_for

        scripts = scripts_for(tgt)
        if scripts is None:
            return None
        if scripts not in self._heads:
            full = self._inner_model().lm_head
            kept = kept_vocabulary(self.base.tokenizer, tgt, full.out_features)
            logger.info("Output layer for %s cut to %d of %d tokens (scripts %s)", tgt, len(kept.ids), kept.total,
                        ", ".join(kept.scripts))
            # A few scripts at most: each cut is a copy of a large share of the output matrix.
            while len(self._heads) >= RESTRICTED_HEADS_KEPT:
                self._heads.pop(next(iter(self._heads)))
            self._heads[scripts] = RestrictedHead(full, kept)
        return self._heads[scripts]
