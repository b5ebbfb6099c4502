"""Attention maps of NLLB for one (source, translation) pair, from ONE teacher-forced forward pass.

``generate(output_attentions=True)`` returns one tensor per step (and per beam), which is awkward and costly; a
single forward pass over the finished translation gives every layer's and head's full maps at once. SDPA kernels
cannot return weights, so that pass runs with eager attention.

Axes: the source axis is the encoder input ``[src_lang, tokens..., </s>]``; the target axis is the decoder input
``[</s>, tgt_lang, tokens...]`` (row *i* of the decoder and cross maps is the step that *predicts* token *i + 1*,
which is what the model attended to while writing it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from ..results import ModelRef


@dataclass(frozen=True)
class Token:
    """One token as shown on a heatmap axis."""

    text: str
    """Readable piece: SentencePiece's ``▁`` word marker shown as a leading space."""
    special: bool
    """Language tags, ``</s>`` and padding: shown, but marked apart from text."""


@dataclass(frozen=True)
class AttentionMaps:
    """Every layer's and head's attention weights for one sentence pair through one model.

    Shapes (float32): ``encoder`` ``(layers, heads, src_len, src_len)``, ``decoder``
    ``(layers, heads, tgt_len, tgt_len)``, ``cross`` ``(layers, heads, tgt_len, src_len)``. Rows are queries,
    columns keys; each row sums to 1 (for a difference of two models' maps, to 0).
    """

    source_tokens: tuple[Token, ...]
    target_tokens: tuple[Token, ...]
    encoder: np.ndarray
    decoder: np.ndarray
    cross: np.ndarray
    model: ModelRef
    source_text: str
    target_text: str

    KINDS = ("cross", "encoder", "decoder")

    def axes(self, kind: str) -> tuple[tuple[Token, ...], tuple[Token, ...]]:
        """(row tokens, column tokens) of one kind of map."""
        return {
            "cross": (self.target_tokens, self.source_tokens),
            "encoder": (self.source_tokens, self.source_tokens),
            "decoder": (self.target_tokens, self.target_tokens),
        }[kind]

    def weights(self, kind: str) -> np.ndarray:
        if kind not in self.KINDS:
            raise ValueError(f"Unknown attention kind {kind!r}; choose one of {', '.join(self.KINDS)}.")
        return getattr(self, kind)

    def minus(self, other: "AttentionMaps") -> "AttentionMaps":
        """``self - other`` for every map; both must be over the same tokens (same sentence pair)."""
        if self.source_tokens != other.source_tokens or self.target_tokens != other.target_tokens:
            raise ValueError("Attention maps of different sentence pairs cannot be subtracted.")
        return replace(
            self, encoder=self.encoder - other.encoder, decoder=self.decoder - other.decoder,
            cross=self.cross - other.cross,
        )


@dataclass(frozen=True)
class WordAlignment:
    """How much each target word reads each source word (cross-attention, subword pieces merged into words).

    A target word's row is the mean over its pieces of the rows that *predict* them; a source word's column sums
    its pieces' columns. Language tags and ``</s>`` are left out, so a row sums to at most 1.
    """

    source_words: tuple[str, ...]
    target_words: tuple[str, ...]
    weights: np.ndarray
    """``(target words, source words)``."""

    def links(self, keep: float = 0.5, most: int = 2) -> list[tuple[int, int, float]]:
        """``(target word, source word, weight)`` for each target word's most-read source words: at most ``most``,
        each at least ``keep`` times that word's largest weight."""
        found = []
        for t, row in enumerate(self.weights):
            if not len(row) or row.max() <= 0:
                continue
            for s in np.argsort(-row)[:most]:
                if row[s] >= keep * row.max():
                    found.append((t, int(s), float(row[s])))
        return found

    def to_json(self) -> dict:
        return {"source_words": list(self.source_words), "target_words": list(self.target_words),
                "weights": np.round(self.weights, 4).tolist(), "links": self.links()}


def word_alignment(maps: "AttentionMaps", layer: int | None = None, head: int | None = None) -> WordAlignment:
    """The :class:`WordAlignment` of one pair's cross-attention (mean over layers and heads where ``None``)."""
    cross = reduce(maps.cross, layer=layer, head=head)
    source_words, source_groups = _words(maps.source_tokens, range(len(maps.source_tokens)))
    # Decoder input j is predicted by row j - 1.
    target_words, target_groups = _words(maps.target_tokens, range(len(maps.target_tokens)))
    weights = np.zeros((len(target_words), len(source_words)))
    for t, pieces in enumerate(target_groups):
        rows = cross[[j - 1 for j in pieces]]
        for s, columns in enumerate(source_groups):
            weights[t, s] = rows[:, columns].sum(axis=1).mean()
    return WordAlignment(tuple(source_words), tuple(target_words), weights)


def _words(tokens: Sequence[Token], positions) -> tuple[list[str], list[list[int]]]:
    """Words and the token positions each is made of (a piece without a leading space continues the word)."""
    words: list[str] = []
    groups: list[list[int]] = []
    previous_special = True
    for position, token in zip(positions, tokens):
        if token.special:
            previous_special = True
            continue
        if token.text.startswith(" ") or previous_special or not words:
            words.append(token.text.strip())
            groups.append([position])
        else:
            words[-1] += token.text
            groups[-1].append(position)
        previous_special = False
    return words, groups


def reduce(weights: np.ndarray, layer: int | None = None, head: int | None = None) -> np.ndarray:
    """One 2-D map from ``(layers, heads, rows, cols)``: a given layer/head, or the mean where ``None``."""
    layers, heads = weights.shape[:2]
    if layer is not None and not 0 <= layer < layers:
        raise ValueError(f"layer must be in 0..{layers - 1} (got {layer}).")
    if head is not None and not 0 <= head < heads:
        raise ValueError(f"head must be in 0..{heads - 1} (got {head}).")
    chosen = weights.mean(axis=0) if layer is None else weights[layer]
    return chosen.mean(axis=0) if head is None else chosen[head]


def readable_tokens(tokenizer, ids: list[int]) -> tuple[Token, ...]:
    """Token strings for display, special ones (language tags, ``</s>``, pad) flagged."""
    special_ids = set(tokenizer.all_special_ids)
    pieces = tokenizer.convert_ids_to_tokens(ids)
    return tuple(
        Token(text=(piece or "<unk>").replace("▁", " "), special=token_id in special_ids)
        for token_id, piece in zip(ids, pieces)
    )


def stack_attentions(layer_tensors, row: int, rows: int, cols: int) -> np.ndarray:
    """``(layers, heads, rows, cols)`` float32 for batch row ``row`` of a tuple of per-layer attention tensors.

    Sequences in a batch are padded; only the first ``rows`` queries and ``cols`` keys belong to this pair.
    """
    import torch

    stacked = torch.stack([t[row, :, :rows, :cols] for t in layer_tensors]).float()
    return stacked.cpu().numpy()
