"""The one path from texts to translations, for the app and for the trainer's scores alike.

    texts -> sentences (segment.py) -> parts that fit NLLB_MAX_INPUT_TOKENS -> ``[src_lang] ids </s>``
          -> batches of similar length, each row through its own model -> token ids -> text in the input's layout

The model call is a parameter: the app passes its GPU call (worker.py, a forked worker on ZeroGPU), the trainer the
model slot in its own process. Everything before and after that call lives here, so the numbers in a model card are
the numbers of what the Space answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .results import SentencePair
from .segment import Segmented, join_text, split_text

RunBatch = Callable[[tuple[tuple[int, ...], ...], tuple[str, ...]], Sequence[Sequence[int]]]
"""One model call: ``run(ids per row, model name per row)`` -> generated token ids per row."""

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each batch; raising from it stops the job there."""


@dataclass(frozen=True)
class Splitting:
    """How texts are cut and batched before the model sees them (the app's settings of the same names)."""

    max_sentence_chars: int
    """``NLLB_MAX_SENTENCE_CHARS``: longer sentences are cut at commas or spaces."""
    max_input_tokens: int
    """``NLLB_MAX_INPUT_TOKENS``: longer parts are split further; what a visitor wrote is never cut off."""
    batch_size: int
    """``NLLB_BATCH_SIZE``: rows per model call."""

    @classmethod
    def of(cls, settings) -> "Splitting":
        """The splitting a ``Settings`` describes."""
        return cls(settings.max_sentence_chars, settings.max_input_tokens, settings.batch_size)


@dataclass(frozen=True)
class TextOutput:
    """One text translated by one model."""

    text: str
    """The translation, in the layout of the text (paragraphs, line breaks, spacing)."""
    sentences: tuple[SentencePair, ...]
    """Each sentence of the text and what it became."""
    new_tokens: int
    """Tokens generated for it (language tag and ``</s>`` excluded)."""
    stopped_at_limit: int = 0
    """Sentences whose translation used every token ``max_new_tokens`` allows: most likely cut off."""


class Pipeline:
    """Texts to token ids and back around a model call, with one tokenizer and one :class:`Splitting`."""

    def __init__(self, tokenizer, splitting: Splitting) -> None:
        self.tokenizer = tokenizer
        self.splitting = splitting

    def segment(self, text: str) -> Segmented:
        """``text`` cut into sentences, with its layout kept for reassembly."""
        return split_text(text, max_chars=self.splitting.max_sentence_chars)

    def encode(self, pieces: Sequence[str], src_lang: str) -> list[list[int]]:
        """``[src_lang] + tokens + [</s>]`` per piece.

        Built by hand because ``tokenizer.src_lang`` is shared mutable state (unsafe across threads) and
        ``tokenizer(text, src_lang=...)`` silently ignores the keyword in transformers 5.
        """
        ids = self.tokenizer(list(pieces), add_special_tokens=False)["input_ids"]
        lang_id = self.tokenizer.convert_tokens_to_ids(src_lang)
        return [[lang_id, *row, self.tokenizer.eos_token_id] for row in ids]

    def fit_window(self, piece: str) -> list[str]:
        """Split ``piece`` until each part fits ``max_input_tokens`` (never truncate what the user wrote)."""
        limit = self.splitting.max_input_tokens
        n_tokens = len(self.tokenizer(piece, add_special_tokens=False)["input_ids"])
        if n_tokens <= limit or len(piece) < 2:
            return [piece]
        max_chars = max(1, min(len(piece) - 1, len(piece) * limit // n_tokens))
        parts = split_text(piece, max_chars=max_chars).pieces
        return [part for sub in parts for part in self.fit_window(sub)]

    def translate(
        self, texts: Sequence[Segmented], src_lang: str, names: Sequence[str], run: RunBatch,
        progress: Progress | None = None, max_new_tokens: int | None = None,
    ) -> list[list[TextOutput]]:
        """Every text through every model in ``names``; returns ``outputs[model][text]``.

        With ``max_new_tokens``, a sentence whose part used all of them is counted as stopped at the limit.

        All rows of all texts and models share the batches, longest first, so padding wastes little and a mixed
        batch runs the models side by side.
        """
        parts_per_piece = [[self.fit_window(piece) for piece in text.pieces] for text in texts]
        flat = [part for text in parts_per_piece for parts in text for part in parts]
        encoded = self.encode(flat, src_lang) if flat else []
        rows = [(tuple(ids), name) for name in names for ids in encoded]
        generated = self._generate(rows, run, progress)
        decoded = iter(self.tokenizer.batch_decode(generated, skip_special_tokens=True) if rows else [])
        tokens = iter(len(ids) for ids in generated)
        outputs = []
        for _ in names:
            per_text = []
            for text, parts_per_sentence in zip(texts, parts_per_piece):
                joined, count, stopped = [], 0, 0
                for parts in parts_per_sentence:
                    joined.append(" ".join(next(decoded).strip() for _ in parts))
                    lengths = [next(tokens) for _ in parts]
                    count += sum(lengths)
                    # The forced language tag is one of the max_new_tokens: a part that got all the others never
                    # reached </s>.
                    stopped += bool(max_new_tokens) and max(lengths) >= max_new_tokens - 1
                per_text.append(TextOutput(
                    text=join_text(text, joined),
                    sentences=tuple(SentencePair(s, t) for s, t in zip(text.pieces, joined)),
                    new_tokens=count, stopped_at_limit=stopped,
                ))
            outputs.append(per_text)
        return outputs

    def _generate(
        self, rows: Sequence[tuple[tuple[int, ...], str]], run: RunBatch, progress: Progress | None
    ) -> list[list[int]]:
        """Generated ids per ``(ids, model name)`` row, one ``run`` per batch of similar lengths."""
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i][0]))
        outputs: list[list[int]] = [[] for _ in rows]
        size = self.splitting.batch_size
        for start in range(0, len(order), size):
            chunk = order[start:start + size]
            generated = run(tuple(rows[i][0] for i in chunk), tuple(rows[i][1] for i in chunk))
            for i, ids in zip(chunk, generated):
                outputs[i] = list(ids)
            if progress:
                progress(min(start + size, len(order)), len(order))
        return outputs
