"""Output layer cut to the tokens a target language can be written with (``NLLB_RESTRICT_VOCAB``).

Every generated token multiplies the hidden state by NLLB's whole 256,206 x 1024 output matrix: in int8 on a CPU
that is 262 MB read per token, more than the 12 decoder layers together. Italian is written in the Latin script, so
tokens made of Cyrillic, Arabic or Han characters can never be a right Italian output token. With the setting on,
the engine computes logits only for the tokens whose characters belong to

- the target language's script (the ISO 15924 half of its FLORES code: ``ita_Latn`` -> Latin),
- the Latin script (names, units, URLs and code are written in it in every language's text),
- Unicode's ``Common`` and ``Inherited`` scripts (digits, punctuation, symbols, emoji, combining accents),

plus the special tokens (the language codes among them). Every other token gets a logit of ``-inf``, exactly as
if generate's ``bad_words_ids`` had banned it: greedy decoding gives the full layer's output whenever the full layer
picks a kept token. Beam search ranks beams by log-probabilities normalised over the kept tokens, a hair higher
than over all of them (by the probability the dropped tokens had), which can reorder beams in a near-tie.

Script membership comes from the ``regex`` package's Unicode script property (``\\p{Script=Latn}``), which
transformers already depends on; no language data ships with the app. What it changes: a Latin-script target can no
longer copy a word in another script (a Cyrillic name, a Greek letter) into its output. Measure it on real weights
with ``train/run.py --eval-only --eval-dtype int8 --restrict-vocab`` against the same without the flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import regex
import torch
from torch import nn

ALWAYS_SCRIPTS = ("Latn", "Zyyy", "Zinh")
"""Kept for every target: Latin, Common (digits, punctuation, symbols, emoji) and Inherited (combining marks)."""

SCRIPT_ALIASES: dict[str, tuple[str, ...]] = {
    # FLORES codes use ISO 15924 codes Unicode's script property has no value for: their scripts' union.
    "Hans": ("Hani",),
    "Hant": ("Hani",),
    "Jpan": ("Hani", "Hira", "Kana"),
    "Kore": ("Hang", "Hani"),
}


@dataclass(frozen=True)
class KeptVocabulary:
    """Which output tokens a target language keeps."""

    scripts: tuple[str, ...]
    """Unicode script codes whose tokens are kept."""
    ids: tuple[int, ...]
    """Kept token ids, ascending."""
    total: int
    """Rows of the full output layer."""


def scripts_for(lang_code: str) -> tuple[str, ...] | None:
    """Unicode scripts kept for ``lang_code`` (``ita_Latn`` -> Latin, Common, Inherited), ``None`` if unknown."""
    script = lang_code.rpartition("_")[2]
    wanted = SCRIPT_ALIASES.get(script, (script,))
    for name in wanted:
        try:
            regex.compile(rf"\p{{Script={name}}}")
        except regex.error:
            return None
    return tuple(dict.fromkeys((*ALWAYS_SCRIPTS, *wanted)))


@lru_cache(maxsize=32)
def _pattern(scripts: tuple[str, ...]) -> regex.Pattern:
    return regex.compile("[" + "".join(rf"\p{{Script={name}}}" for name in scripts) + "]*")


def kept_vocabulary(tokenizer, lang_code: str, rows: int) -> KeptVocabulary | None:
    """The tokens of ``tokenizer`` that ``lang_code``'s output may use, or ``None`` for a script we can't tell.

    Special tokens (language codes included) are always kept, so one cut serves every language of a script.
    """
    scripts = scripts_for(lang_code)
    if scripts is None:
        return None
    pattern = _pattern(scripts)
    pieces = tokenizer.convert_ids_to_tokens(list(range(min(rows, len(tokenizer)))))
    kept = {token_id for token_id, piece in enumerate(pieces) if piece is not None and pattern.fullmatch(piece)}
    kept |= {i for i in tokenizer.all_special_ids if 0 <= i < rows}
    return KeptVocabulary(scripts=scripts, ids=tuple(sorted(kept)), total=rows)


class RestrictedHead(nn.Module):
    """An output layer that computes logits for the kept rows only and gives every other token ``-inf``.

    The logits keep their full width, so generate, beam search and the tokenizer see the usual vocabulary.
    """

    def __init__(self, head: nn.Linear, kept: KeptVocabulary) -> None:
        super().__init__()
        from .quantization import Int8Linear

        ids = torch.tensor(kept.ids, dtype=torch.long, device=head.weight.device)
        if isinstance(head, Int8Linear):
            self.rows: nn.Module = head.select_rows(ids.cpu())
        else:
            rows = nn.Linear(head.in_features, len(kept.ids), bias=head.bias is not None,
                             device=head.weight.device, dtype=head.weight.dtype)
            rows.weight = nn.Parameter(head.weight.detach()[ids].clone(), requires_grad=False)
            if head.bias is not None:
                rows.bias = nn.Parameter(head.bias.detach()[ids].clone(), requires_grad=False)
            self.rows = rows
        self.register_buffer("ids", ids, persistent=False)
        self.out_features = head.out_features

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        kept = self.rows(hidden)
        logits = kept.new_full((*hidden.shape[:-1], self.out_features), float("-inf"))
        logits[..., self.ids] = kept
        return logits
