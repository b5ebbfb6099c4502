"""The one path from texts to translations, for the app and for the trainer's scores alike.

    texts -> sentences (text/segment.py) -> parts that fit NLLB_MAX_INPUT_TOKENS -> ``[src_lang] ids </s>``
          -> batches of similar length, each row through its own model -> token ids -> text in the input's layout

The model call is a parameter: the app passes its GPU call (model/worker.py, a forked worker on ZeroGPU), the trainer
the model slot in its own process. Everything before and after that call lives here, so the numbers in a model card are
the numbers of what the Space answers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Generator, Sequence

from ..results import SentencePair
from ..text.segment import Segmented, join_text, split_text

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

    def for_decoding(self, num_beams: int, device: str) -> "Splitting":
        """This splitting for a request decoding with ``num_beams`` on ``device``.

        On a CPU one model call holds its copy of the model until its last step, and costs about its rows times their
        beams; so a call there carries at most ``batch_size`` rows *counting their beams*, and a visitor's wide beams
        make their own batches shorter instead of everyone's wait longer. On a GPU extra rows come nearly free, and
        on ZeroGPU fewer, fuller calls spend less of the visitor's quota: there a call carries ``batch_size`` rows
        with all their beams. The app and the trainer's scores batch alike (int8 results depend on batch-mates)."""
        if device != "cpu":
            return self
        return replace(self, batch_size=max(1, self.batch_size // max(1, num_beams)))


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
        steps = self.translate_steps(texts, src_lang, names, run, progress, max_new_tokens, partial=False)
        while True:
            try:
                next(steps)
            except StopIteration as finished:
                return finished.value

    def translate_steps(
        self, texts: Sequence[Segmented], src_lang: str, names: Sequence[str], run: RunBatch,
        progress: Progress | None = None, max_new_tokens: int | None = None, partial: bool = True,
    ) -> Generator[list[list[str]] | None, None, list[list[TextOutput]]]:
        """:meth:`translate`, yielding after each batch every text as far as it is translated (``texts[model]
        [text]``, a sentence not done yet shown as ``…``), so a long text can be shown as it arrives. The outputs are
        the generator's return value. With ``partial=False`` it yields ``None`` instead: nothing is put together
        for a caller that only wants the end."""
        parts_per_piece = [[self.fit_window(piece) for piece in text.pieces] for text in texts]
        flat = [part for text in parts_per_piece for parts in text for part in parts]
        encoded = self.encode(flat, src_lang) if flat else []
        rows = [(tuple(ids), name) for name in names for ids in encoded]
        decoded: list[str | None] = [None] * len(rows)
        lengths: list[int] = [0] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i][0]))
        size = self.splitting.batch_size
        for start in range(0, len(order), size):
            chunk = order[start:start + size]
            generated = run(tuple(rows[i][0] for i in chunk), tuple(rows[i][1] for i in chunk))
            for i, text in zip(chunk, self.tokenizer.batch_decode([list(ids) for ids in generated],
                                                                  skip_special_tokens=True)):
                decoded[i] = text.strip()
            for i, ids in zip(chunk, generated):
                lengths[i] = len(ids)
            if progress:
                progress(min(start + size, len(order)), len(order))
            if start + size < len(order):
                yield [[output.text for output in per_model]
                       for per_model in self._assemble(texts, parts_per_piece, names, decoded, lengths, None)
                       ] if partial else None
        return self._assemble(texts, parts_per_piece, names, decoded, lengths, max_new_tokens)

    @staticmethod
    def _assemble(texts: Sequence[Segmented], parts_per_piece: list[list[list[str]]], names: Sequence[str],
                  decoded: Sequence[str | None], lengths: Sequence[int],
                  max_new_tokens: int | None) -> list[list[TextOutput]]:
        """Rows (in ``translate_steps``' order) put back into texts, per model; a sentence with a part not decoded
        yet reads ``…``."""
        rows = iter(zip(decoded, lengths))
        outputs = []
        for _ in names:
            per_text = []
            for text, parts_per_sentence in zip(texts, parts_per_piece):
                joined, count, stopped = [], 0, 0
                for parts in parts_per_sentence:
                    done = [next(rows) for _ in parts]
                    pending = any(part is None for part, _ in done)
                    joined.append("…" if pending else " ".join(part for part, _ in done))
                    count += sum(length for _, length in done)
                    # The forced language tag is one of the max_new_tokens: a part that got all the others never
                    # reached </s>.
                    stopped += bool(max_new_tokens) and max(length for _, length in done) >= max_new_tokens - 1
                per_text.append(TextOutput(
                    text=join_text(text, joined),
                    sentences=tuple(SentencePair(s, t) for s, t in zip(text.pieces, joined)),
                    new_tokens=count, stopped_at_limit=stopped,
                ))
            outputs.append(per_text)
        return outputs
