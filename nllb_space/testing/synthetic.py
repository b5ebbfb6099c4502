"""NLLB-shaped models with random weights, for offline tests and benchmarks.

The real NLLB-200 weights cannot be downloaded where the tests and benchmarks run, so they build a model of the same
architecture (M2M100) and a real ``NllbTokenizer`` on the fly and save them as an ordinary Hugging Face folder that
the engine loads exactly like the real checkpoint:

- ``"tiny"``: a few thousand parameters; tests train it for a few steps.
- ``"600m"``: NLLB-200-distilled-600M's exact configuration (d_model 1024, 12+12 layers, 16 heads, FFN 4096,
  vocabulary 256,206), so the compute per token matches the real model; benchmarks use it.

The tokenizer's BPE is trained with ``tokenizers`` on the sentences passed in; ``NllbTokenizer`` adds the 202
language codes and ``<mask>`` itself, after the BPE pieces, as the real tokenizer does.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyntheticShape:
    """Architecture of a synthetic NLLB-shaped model (field names follow ``M2M100Config``)."""

    d_model: int
    """Hidden size of every layer."""
    layers: int
    """Encoder layers, and the same number of decoder layers."""
    heads: int
    """Attention heads in every attention block."""
    ffn_dim: int
    """Inner size of every feed-forward block."""
    vocab_size: int | None
    """Embedding rows; ``None`` sizes it to the tokenizer (language codes included)."""
    max_position_embeddings: int
    """Positions the sinusoidal table is first built for (it grows on demand)."""


SHAPES: dict[str, SyntheticShape] = {
    "tiny": SyntheticShape(d_model=32, layers=2, heads=4, ffn_dim=64, vocab_size=None, max_position_embeddings=256),
    # The published config.json of facebook/nllb-200-distilled-600M.
    "600m": SyntheticShape(
        d_model=1024, layers=12, heads=16, ffn_dim=4096, vocab_size=256_206, max_position_embeddings=1024
    ),
}


def build_tokenizer(sentences: Iterable[str], vocab_size: int = 600, total_size: int | None = None):
    """Train a small BPE on ``sentences`` and wrap it in a real ``NllbTokenizer`` (202 language codes included).

    With ``total_size``, filler pieces pad the vocabulary so ``len(tokenizer) == total_size``: a model with NLLB's
    256,206 rows can then generate any id and still be decoded, and language codes get NLLB's own ids.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import NllbTokenizer

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    # The same pre-tokenizer NllbTokenizer uses, so the trained merges apply to what it will see.
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False
    )
    bpe.train_from_iterator(list(sentences), trainer=trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    vocab = dict(model["vocab"])
    if total_size is not None:
        added = 203  # the 202 language codes and <mask>, which NllbTokenizer appends after the BPE pieces
        for i, piece in zip(range(len(vocab), total_size - added), filler_pieces(set(vocab))):
            vocab[piece] = i
    return NllbTokenizer(vocab=vocab, merges=merges)


def filler_pieces(taken: set[str]) -> Iterable[str]:
    """Endless distinct filler pieces in the scripts of NLLB's 202 languages, each script's share of them equal to
    its share of those languages (126 of 202 write Latin, 21 Arabic, 12 Cyrillic...).

    The real vocabulary's mix of scripts is unknown here (its tokenizer cannot be downloaded); this one makes the
    output-layer cut of ``NLLB_RESTRICT_VOCAB`` keep a plausible share of rows in benchmarks, instead of all of them
    (were the fillers Latin) or none. Pieces are 1-3 letters of one script and never repeat ``taken``.
    """
    import itertools
    import unicodedata

    import regex

    from ..model.vocab import SCRIPT_ALIASES
    from ..text.languages import LANGUAGES

    counts: dict[str, int] = {}
    for code in LANGUAGES:
        iso_script = code.rpartition("_")[2]
        script = SCRIPT_ALIASES.get(iso_script, (iso_script,))[0]  # Unicode's name for it: Hans -> Hani
        counts[script] = counts.get(script, 0) + 1
    patterns = {script: regex.compile(rf"\p{{Script={script}}}") for script in counts}
    letters: dict[str, list[str]] = {script: [] for script in counts}
    for char in map(chr, range(0x20000)):
        if unicodedata.category(char).startswith("L"):
            script = next((name for name, pattern in patterns.items() if pattern.match(char)), None)
            if script and len(letters[script]) < 100:  # 100 letters make a million 3-letter pieces
                letters[script].append(char)
    # Interleave scripts in proportion: in every 202 pieces, each script's language count of them.
    schedule = [script for script, n in counts.items() for _ in range(n)]
    streams = {script: _words(pool) for script, pool in letters.items()}
    for script in itertools.cycle(schedule):
        piece = next(streams[script])
        while piece in taken:
            piece = next(streams[script])
        taken.add(piece)
        yield piece


def build_model(tokenizer, shape: SyntheticShape, seed: int = 0):
    """An ``M2M100ForConditionalGeneration`` with NLLB's special-token layout and random weights."""
    import torch
    from transformers import GenerationConfig, M2M100Config, M2M100ForConditionalGeneration

    vocab_size = shape.vocab_size or len(tokenizer)
    config = M2M100Config(
        vocab_size=vocab_size,
        d_model=shape.d_model,
        encoder_layers=shape.layers,
        decoder_layers=shape.layers,
        encoder_attention_heads=shape.heads,
        decoder_attention_heads=shape.heads,
        encoder_ffn_dim=shape.ffn_dim,
        decoder_ffn_dim=shape.ffn_dim,
        max_position_embeddings=shape.max_position_embeddings,
        activation_function="relu",
        scale_embedding=True,
        dropout=0.1,
        attention_dropout=0.1,
        # NLLB's published config has no LayerDrop; M2M100's default (0.05) can skip every LoRA layer in a step.
        encoder_layerdrop=0.0,
        decoder_layerdrop=0.0,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        max_length=200,
    )
    return model.eval()


def save_synthetic_nllb(
    folder: Path | str, sentences: Iterable[str], shape: str | SyntheticShape = "tiny", seed: int = 0
) -> Path:
    """Build a synthetic NLLB checkpoint (model + tokenizer, safetensors) in ``folder`` and return it.

    ``shape`` is a key of ``SHAPES`` or a ``SyntheticShape``.
    """
    folder = Path(folder)
    shape = SHAPES[shape] if isinstance(shape, str) else shape
    tokenizer = build_tokenizer(sentences, total_size=shape.vocab_size)
    model = build_model(tokenizer, shape, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    logger.info("Saved a synthetic NLLB model (%s) to %s", shape, folder)
    return folder


def _words(letters: list[str]) -> Iterable[str]:
    """Every 1-, 2- and 3-letter string over ``letters``, shortest first."""
    import itertools

    for length in (1, 2, 3):
        yield from ("".join(chars) for chars in itertools.product(letters, repeat=length))
