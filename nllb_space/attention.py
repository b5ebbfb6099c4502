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

import numpy as np

from .results import ModelRef


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
