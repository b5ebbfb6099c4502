"""Greedy and beam decoding for NLLB in a loop of our own, with the output layer cut to the kept tokens.

Why not ``generate``: it is general, and on a CPU its generality costs a share of every token. Profiled on the
600M shape (int8, 24 tokens, ``bench/run.py --profile``), about 15% of a greedy translation went to work around the
model: logits processors that rebuild a 256k-entry mask each step (``isin``, ``arange``, ``where``), a full step to
produce the forced language tag, a full-width logits copy, beam search over the full vocabulary, and the
cross-attention cache copied for every beam each step although a row's beams share it. Here:

- the forced language tag costs no output layer (``generate`` computes, then masks, a full-width logits row);
- the output layer computes only the rows a target keeps (model/vocab.py), and beam search ranks those columns;
- ``min_new_tokens`` is one ``-inf`` on ``</s>``;
- only the self-attention cache is reordered between beams.

The search itself is ``generate``'s, step for step (``tests/test_decoding.py`` checks the tokens against
``generate`` with and without beams, adapters and the cut): beams ranked by summed log-probabilities, a finished
beam scored by its length to the power ``length_penalty``, and a row done once no running beam can beat its worst
finished one (``early_stopping=False``, the checkpoint's default). A checkpoint whose generation config asks for
more (repetition penalties, n-gram bans, sampling) is decoded by ``generate`` instead (:func:`supported`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

# What the loop applies of a generation config; any other setting that differs from GenerationConfig's default
# sends the checkpoint to generate.
_APPLIED = {"bos_token_id", "decoder_start_token_id", "eos_token_id", "pad_token_id", "max_length", "max_new_tokens",
            "min_new_tokens", "num_beams", "length_penalty", "forced_bos_token_id", "do_sample",
            "transformers_version", "_from_model_config", "use_cache", "early_stopping"}


def supported(generation_config) -> bool:
    """Whether the loop decodes as ``generate`` would with this config (else the caller uses ``generate``)."""
    from transformers import GenerationConfig

    defaults = GenerationConfig().to_dict()
    differing = {key for key, value in generation_config.to_dict().items() if defaults.get(key, value) != value}
    if generation_config.early_stopping not in (False, None) or generation_config.do_sample:
        return False
    eos = generation_config.eos_token_id
    return not differing - _APPLIED and not isinstance(eos, list)


@dataclass(frozen=True)
class Search:
    """One call's decoding, counted as ``generate`` counts it."""

    num_beams: int
    max_new_tokens: int
    """Tokens after the decoder start, the forced language tag included."""
    min_new_tokens: int
    """``</s>`` is banned until this many tokens (the tag included) are out: the checkpoint's generation config."""
    length_penalty: float
    eos: int
    pad: int


class OutputRows:
    """Logits for the kept tokens only: ``module(hidden)`` gives one column per id of ``ids`` (all when ``None``)."""

    def __init__(self, module, ids: torch.Tensor | None, eos: int) -> None:
        self.module = module
        self.ids = ids
        found = (ids == eos).nonzero() if ids is not None else None
        self.eos_column = eos if ids is None else int(found[0, 0]) if len(found) else None

    def tokens(self, columns: torch.Tensor) -> torch.Tensor:
        return columns if self.ids is None else self.ids[columns]


def decode(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, prefix: Sequence[int], search: Search,
           head: OutputRows) -> list[list[int]]:
    """Generated tokens per row after ``prefix`` (``[decoder_start, tgt_lang]``), up to and without ``</s>``.

    ``model`` is the transformers model itself (inside PEFT's wrapper, whose routing the caller has set up).
    """
    encoder_states = model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    if search.num_beams == 1:
        return _greedy(model, encoder_states, attention_mask, prefix, search, head)
    return _beam(model, encoder_states, attention_mask, prefix, search, head)


def _step(model, tokens, encoder_states, attention_mask, cache, head: OutputRows) -> torch.Tensor:
    """float32 logits (rows x kept tokens) for the position after ``tokens``; ``cache`` grows by them."""
    decoder = model.get_decoder()
    # Positional: transformers 5 renamed past_key_values to cache; the place is the same in both.
    hidden = decoder(tokens, None, encoder_states, attention_mask, cache, use_cache=True).last_hidden_state
    return head.module(hidden[:, -1]).float()


def _started_cache(model, rows: int, encoder_states, attention_mask, prefix) -> EncoderDecoderCache:
    """The cache after the decoder read every token of ``prefix`` but the last, one position at a time.

    Token by token as ``generate`` does: on int8 each call quantizes its activations with one scale, so reading
    two positions in one call would round differently and could move a near-tie.
    """
    cache = EncoderDecoderCache(DynamicCache(config=model.config), DynamicCache(config=model.config))
    decoder = model.get_decoder()
    for token in prefix[:-1]:
        tokens = torch.full((rows, 1), token, device=encoder_states.device)
        decoder(tokens, None, encoder_states, attention_mask, cache, use_cache=True)
    return cache


def _ban_early_eos(scores: torch.Tensor, produced: int, search: Search, head: OutputRows) -> None:
    if produced < search.min_new_tokens and head.eos_column is not None:
        scores[:, head.eos_column] = float("-inf")


def _greedy(model, encoder_states, attention_mask, prefix, search: Search, head: OutputRows) -> list[list[int]]:
    rows = encoder_states.shape[0]
    device = encoder_states.device
    cache = _started_cache(model, rows, encoder_states, attention_mask, prefix)
    tokens = torch.full((rows, 1), prefix[-1], device=device)
    alive = torch.ones(rows, dtype=torch.bool, device=device)
    out: list[torch.Tensor] = []
    for step in range(search.max_new_tokens - (len(prefix) - 1)):
        logits = _step(model, tokens, encoder_states, attention_mask, cache, head)
        _ban_early_eos(logits, len(prefix) - 1 + step, search, head)
        chosen = torch.where(alive, head.tokens(logits.argmax(-1)), search.pad)
        out.append(chosen)
        alive &= chosen != search.eos
        if not bool(alive.any()):
            break
        tokens = chosen[:, None]
    generated = torch.stack(out, 1).tolist() if out else [[] for _ in range(rows)]
    return [row[:row.index(search.eos)] if search.eos in row else row for row in generated]


def _beam(model, encoder_states, attention_mask, prefix, search: Search, head: OutputRows) -> list[list[int]]:
    rows, beams = encoder_states.shape[0], search.num_beams
    device = encoder_states.device
    # A row's beams read the same source: its encoder states and cross-attention cache are shared, never reordered.
    encoder_states = encoder_states.repeat_interleave(beams, 0)
    attention_mask = attention_mask.repeat_interleave(beams, 0)
    cache = _started_cache(model, rows * beams, encoder_states, attention_mask, prefix)
    tokens = torch.full((rows * beams, 1), prefix[-1], device=device)
    running = torch.zeros(rows, beams, device=device)
    running[:, 1:] = -1e9  # all beams start identical: only the first may spread
    sequences = torch.empty(rows, beams, 0, dtype=torch.long, device=device)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(rows)]
    open_rows = [True] * rows
    offsets = torch.arange(rows, device=device)[:, None] * beams
    for step in range(search.max_new_tokens - (len(prefix) - 1)):
        produced = len(prefix) - 1 + step
        scores = torch.log_softmax(_step(model, tokens, encoder_states, attention_mask, cache, head), -1)
        _ban_early_eos(scores, produced, search, head)
        width = scores.shape[-1]
        totals = (scores.view(rows, beams, width) + running[:, :, None]).view(rows, -1)
        top_scores, top_index = totals.topk(2 * beams, dim=-1)
        source_beam = top_index // width
        token = head.tokens(top_index % width)
        length = produced + 1
        hits = (token == search.eos) | (length >= search.max_new_tokens)
        # The best candidates that did not finish run on; finished ones fill in only when too few did not.
        keep = (top_scores - hits.float() * 1e9).topk(beams, dim=-1)
        running = keep.values
        chosen_beam = source_beam.gather(1, keep.indices)
        chosen_token = token.gather(1, keep.indices)
        candidates = torch.cat([sequences.gather(1, source_beam[:, :, None].expand(-1, -1, sequences.shape[2])),
                                token[:, :, None]], 2)
        _collect_finished(finished, open_rows, candidates[:, :beams].tolist(), hits[:, :beams].tolist(),
                          (top_scores[:, :beams] / length ** search.length_penalty).tolist(), beams)
        sequences = candidates.gather(1, keep.indices[:, :, None].expand(-1, -1, candidates.shape[2]))
        cache.self_attention_cache.reorder_cache((chosen_beam + offsets).flatten())
        best_running = (running[:, 0] / length ** search.length_penalty).tolist()
        for row in range(rows):
            full = len(finished[row]) == beams
            if open_rows[row] and full and best_running[row] <= min(score for score, _ in finished[row]):
                open_rows[row] = False
        if not any(open_rows) or bool(hits.all()):
            break
        tokens = chosen_token.flatten()[:, None]
    best = [max(found, key=lambda item: item[0])[1] if found else [] for found in finished]
    return [row[:row.index(search.eos)] if search.eos in row else row for row in best]


def _collect_finished(finished, open_rows, candidates, hits, scores, beams: int) -> None:
    """Add this step's finished candidates among each open row's top ``beams``, keeping the ``beams`` best."""
    for row, (row_candidates, row_hits, row_scores) in enumerate(zip(candidates, hits, scores)):
        if not open_rows[row]:
            continue
        for sequence, hit, score in zip(row_candidates, row_hits, row_scores):
            if hit:
                finished[row].append((score, sequence))
        finished[row].sort(key=lambda item: -item[0])
        del finished[row][beams:]
