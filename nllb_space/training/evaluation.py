"""Scoring a model on the evaluation pairs through the app's own translation path, then sacreBLEU BLEU and chrF++.

The trainer does not keep a generate loop of its own: it puts the model it holds into a ``ModelSlot`` (model/slot.py)
and
runs the pairs through ``Pipeline`` (model/pipeline.py), as the Space does. So sources are split into sentences and into
parts that fit ``NLLB_MAX_INPUT_TOKENS`` instead of being cut off, encoded ``[src_lang] tokens </s>`` by hand,
batched longest first, generated with the target tag forced, in int8 and with the cut output layer when asked, and
put back together the same way. The app's defaults (settings.py) decide the splitting; ``--eval-batch-size`` is the
batch size.

The base model and the adapter are scored with the same :class:`Decoding` on the same pairs, so the difference is
the adapter's doing. The base model is the PEFT model with its adapter switched off (``disable_adapter()``, as
the app serves ``base``), not a second copy in memory.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Sequence

from ..model.adapter_check import AdapterFiles
from ..model.loading import LoadedBase
from ..model.pipeline import Pipeline, Splitting
from ..model.slot import Decoding, ModelSlot, SlotLimits
from ..results import BASE_MODEL
from ..settings import Settings
from ..text.scoring import Scores, corpus_scores
from .pairs import SOURCE, TARGET

logger = logging.getLogger(__name__)

BASE_NAME = BASE_MODEL.adapter_name
"""The row name that runs the base model (the app's own)."""


@dataclass
class Scorer:
    """The app's translation path around a model the trainer holds."""

    slot: ModelSlot
    pipeline: Pipeline
    decoding: Decoding
    autocast_dtype: Any = None
    """``torch.bfloat16``/``float16`` to score a float32 model under autocast on CUDA (mixed-precision training)."""

    @classmethod
    def around(cls, model, tokenizer, decoding: Decoding, batch_size: int, restrict_vocab: bool = False,
               autocast_dtype=None) -> "Scorer":
        """A scorer for ``model``; a ``PeftModel``'s own adapters are served under their PEFT names."""
        parameter = next(model.parameters())
        base = LoadedBase(model=model, tokenizer=tokenizer, device=str(parameter.device),
                          dtype=str(parameter.dtype).removeprefix("torch."))
        adapters = list(getattr(model, "peft_config", {}) or {})
        slot = ModelSlot(base, SlotLimits(batch_size, max(2, len(adapters) + 1), restrict_vocab))
        for name in adapters:
            slot.adopt(name)
        app = Settings()
        pipeline = Pipeline(tokenizer, Splitting(app.max_sentence_chars, app.max_input_tokens, batch_size)
                            .for_decoding(decoding.num_beams, base.device))
        return cls(slot, pipeline, decoding, autocast_dtype)

    def translate(self, sources: Sequence[str], src_lang: str, tgt_lang: str, name: str = BASE_NAME,
                  adapter: AdapterFiles | None = None, progress: bool = False) -> list[str]:
        """Translations of ``sources`` in order, by the model ``name`` (``adapter`` brings its files if new)."""
        import torch
        from tqdm.auto import tqdm

        adapters = (adapter,) if adapter else ()

        def run(ids, names):
            return self.slot.generate(ids, names, tgt_lang, self.decoding, adapters)

        model = self.slot.base.model
        device = torch.device(self.slot.base.device)
        autocast = (torch.autocast(device.type, dtype=self.autocast_dtype)
                    if self.autocast_dtype is not None and device.type == "cuda" else contextlib.nullcontext())
        bar = tqdm(desc="translating", unit="rows", disable=not progress, leave=False)

        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        was_training = model.training
        model.eval()
        try:
            with autocast:
                texts = [self.pipeline.segment(source) for source in sources]
                outputs = self.pipeline.translate(texts, src_lang, [name], run, advance)[0]
        finally:
            bar.close()
            self.slot.base.model.train(was_training)
        return [output.text for output in outputs]

    def score(self, pairs, src_lang: str, tgt_lang: str, name: str = BASE_NAME, adapter: AdapterFiles | None = None,
              progress: bool = False) -> tuple[Scores, list[str]]:
        """Corpus BLEU and chrF++ of model ``name`` on ``pairs`` (a dataset with source/target columns), and its
        translations."""
        hypotheses = self.translate(list(pairs[SOURCE]), src_lang, tgt_lang, name, adapter, progress)
        scores = corpus_scores(hypotheses, list(pairs[TARGET]))
        logger.info("%s: BLEU %.2f, chrF++ %.2f on %d sentences", "base" if name == BASE_NAME else name,
                    scores.bleu, scores.chrf, scores.sentences)
        return scores, hypotheses


def scores_text(base: Scores, lora: Scores | None) -> str:
    """A small plain-text table for the terminal: BLEU and chrF++ of the base model, the adapter and the change."""
    rows = [("base", f"{base.bleu:.2f}", f"{base.chrf:.2f}")]
    if lora is not None:
        rows.append(("lora", f"{lora.bleu:.2f}", f"{lora.chrf:.2f}"))
        rows.append(("change", f"{lora.bleu - base.bleu:+.2f}", f"{lora.chrf - base.chrf:+.2f}"))
    lines = [f"{'model':<8}{'BLEU':>8}{'chrF++':>9}"] + [f"{m:<8}{b:>8}{c:>9}" for m, b, c in rows]
    lines.append(f"({base.sentences} sentences; BLEU {base.bleu_signature}; chrF++ {base.chrf_signature})")
    return "\n".join(lines)
