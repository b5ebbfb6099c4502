"""Scoring a model on the evaluation pairs: batched generation, then sacreBLEU BLEU and chrF++.

The base model and the adapter are scored with exactly the same :class:`Decoding`, on the same pairs, so the
difference is the adapter's doing. The base model is the PEFT model with its adapter switched off
(``model.disable_adapter()``), not a second copy in memory.

Generation follows NLLB's layout: the source is ``[src_lang] tokens </s>``, the decoder starts with ``</s>`` and the
target-language tag is forced as the first generated token (``forced_bos_token_id``).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Sequence

from nllb_space.scoring import Scores, corpus_scores

from .data import SOURCE, TARGET

logger = logging.getLogger(__name__)

MAX_SOURCE_TOKENS = 512
"""Sources are cut at NLLB's training length; evaluation data is otherwise scored as given, never filtered."""


@dataclass(frozen=True)
class Decoding:
    """How evaluation translations are generated (identical for the base model and the adapter)."""

    num_beams: int = 1
    """Beam size; 1 is greedy decoding."""
    max_new_tokens: int = 256
    """Upper limit of generated tokens per sentence."""
    batch_size: int = 32
    """Sentences per ``generate`` call."""


def translate(
    model, tokenizer, sources: Sequence[str], src_lang: str, tgt_lang: str, decoding: Decoding,
    autocast_dtype=None, progress: bool = False,
) -> list[str]:
    """Translations of ``sources`` in their order; ``autocast_dtype`` (e.g. ``torch.bfloat16``) on CUDA only."""
    import torch
    from tqdm.auto import tqdm
    from transformers import GenerationConfig

    tgt_id = tokenizer.convert_tokens_to_ids(tgt_lang)
    config = GenerationConfig(
        decoder_start_token_id=model.config.decoder_start_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        forced_bos_token_id=tgt_id,
        num_beams=decoding.num_beams,
        max_new_tokens=decoding.max_new_tokens,
        do_sample=False,
    )
    device = next(model.parameters()).device
    # Setting the attribute re-templates the tokenizer ([src_lang] ... </s>); a src_lang= keyword is ignored in v5.
    tokenizer.src_lang = src_lang
    # Longest first, batched by similar length: little padding, and an out-of-memory error shows up at once.
    order = sorted(range(len(sources)), key=lambda i: -len(sources[i]))
    outputs: list[str] = [""] * len(sources)
    autocast = (
        torch.autocast(device.type, dtype=autocast_dtype)
        if autocast_dtype is not None and device.type == "cuda" else contextlib.nullcontext()
    )
    was_training = model.training
    model.eval()
    try:
        batches = range(0, len(order), decoding.batch_size)
        for start in tqdm(batches, desc="translating", disable=not progress, leave=False):
            chunk = order[start:start + decoding.batch_size]
            batch = tokenizer([sources[i] for i in chunk], return_tensors="pt", padding=True, truncation=True,
                              max_length=MAX_SOURCE_TOKENS).to(device)
            with torch.inference_mode(), autocast:
                generated = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                           generation_config=config)
            for i, text in zip(chunk, tokenizer.batch_decode(generated, skip_special_tokens=True)):
                outputs[i] = text.strip()
    finally:
        model.train(was_training)
    return outputs


def score(
    model, tokenizer, pairs, src_lang: str, tgt_lang: str, decoding: Decoding, base: bool = False,
    autocast_dtype=None, progress: bool = False,
) -> tuple[Scores, list[str]]:
    """Corpus BLEU and chrF++ of ``model`` on ``pairs`` (a dataset with source/target columns), and its outputs.

    ``base=True`` scores a PEFT model with its adapter switched off, i.e. the base model.
    """
    sources, references = list(pairs[SOURCE]), list(pairs[TARGET])
    switch_off = model.disable_adapter() if base and hasattr(model, "disable_adapter") else contextlib.nullcontext()
    with switch_off:
        hypotheses = translate(model, tokenizer, sources, src_lang, tgt_lang, decoding, autocast_dtype, progress)
    scores = corpus_scores(hypotheses, references)
    logger.info("%s: BLEU %.2f, chrF++ %.2f on %d sentences", "base" if base else "model", scores.bleu, scores.chrf,
                scores.sentences)
    return scores, hypotheses


def scores_table(base: Scores, lora: Scores | None) -> str:
    """A small plain-text table for the terminal: BLEU and chrF++ of the base model, the adapter and the change."""
    rows = [("base", f"{base.bleu:.2f}", f"{base.chrf:.2f}")]
    if lora is not None:
        rows.append(("lora", f"{lora.bleu:.2f}", f"{lora.chrf:.2f}"))
        rows.append(("change", f"{lora.bleu - base.bleu:+.2f}", f"{lora.chrf - base.chrf:+.2f}"))
    lines = [f"{'model':<8}{'BLEU':>8}{'chrF++':>9}"] + [f"{m:<8}{b:>8}{c:>9}" for m, b, c in rows]
    lines.append(f"({base.sentences} sentences; BLEU {base.bleu_signature}; chrF++ {base.chrf_signature})")
    return "\n".join(lines)
