"""The Translate and Compare tabs: what their buttons do, and what each returns, by name.

Each handler returns a ``NamedTuple`` whose fields name the components it fills; ``ui.py`` wires the outputs by
those names (``outputs_for``), so a handler and the page can't disagree on the order. The engine does the work
(batching, splitting, rejoining rows); scoring is ``scoring.py``'s; here results become what the page shows.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from .errors import InputError
from .files import new_result_path, read_scoring_rows, read_upload, write_table, write_translation
from .formatting import code, comparison_summary, escape, word_diff
from .handler_inputs import language_code, model_spec, number, user_errors, whole_number
from .progress import reporter
from .results import BASE, Comparison, Translation
from .scoring import side_by_side


class Translated(NamedTuple):
    output: str
    """The translation."""
    last_translation: Translation
    """Kept in the session's state: ``translation_info`` and the Attention tab read it."""


class FileTranslated(NamedTuple):
    file_result: str
    """The translated file's path."""
    file_message: str


class Compared(NamedTuple):
    left_output: str
    right_output: str
    compare_summary: str
    """Times, tokens and (with a reference) scores of both sides, as Markdown."""
    last_comparison: Comparison


class FileScored(NamedTuple):
    batch_summary: str
    """Corpus chrF++ and BLEU of both sides, as Markdown."""
    batch_table: dict[str, list]
    """The per-sentence table as ``{"headers", "data"}`` for ``gr.Dataframe``."""
    batch_csv: str
    """The same table as a CSV file's path."""


class TranslateHandlers:
    """The Translate and Compare tabs (mixed into ``Handlers``, which holds ``engine`` and ``settings``)."""

    @user_errors
    def translate(self, text: str, src_lang: str, tgt_lang: str, model: str = BASE,
                  num_beams: int | None = None, max_new_tokens: int | None = None, adapter_scale: float = 1.0,
                  progress: gr.Progress = gr.Progress()) -> Translated:
        """Translate ``text`` with ``model`` ("base", a revision, or owner/name@revision); keeps paragraphs.
        ``adapter_scale``: 0 is the base model, 1 the adapter as trained, up to 2."""
        result = self.engine.translate(
            text, src_lang, tgt_lang, model=model_spec(model), num_beams=whole_number(num_beams, "Beam size"),
            max_new_tokens=whole_number(max_new_tokens, "Max new tokens"), progress=reporter(progress, "Translating"),
            adapter_scale=number(adapter_scale, "Adapter strength"),
        )
        return Translated(result.text, result)

    def translation_info(self, result: Translation | None) -> str:
        """One line under the output: which model and commit answered, how much and how fast."""
        if result is None:
            return ""
        strength = (f" · adapter strength {result.adapter_scale:g}"
                    if not result.model.is_base and result.adapter_scale != 1.0 else "")
        line = (f"Translated by {code(result.model.label)} · {len(result.sentences)} sentence(s) · "
                f"{result.new_tokens} tokens · {result.seconds:.2f} s · beam {result.num_beams}{strength}")
        if result.stopped_at_limit:
            line += (f"\n\n⚠️ {result.stopped_at_limit} of {len(result.sentences)} sentence(s) stopped at the "
                     f"{result.max_new_tokens}-token limit, so they may be cut off: raise *Max new tokens per "
                     "sentence* in the decoding options.")
        return line

    @user_errors
    def translate_file(self, file: str | None, src_lang: str, tgt_lang: str, model: str = BASE,
                       num_beams: int | None = None, max_new_tokens: int | None = None,
                       progress: gr.Progress = gr.Progress()) -> FileTranslated:
        """Translate an uploaded .txt (as one text) or .csv/.tsv (row by row, each row in its own layout)."""
        if not file:
            raise InputError("Upload a .txt, .csv or .tsv file first.")
        upload = read_upload(file, self.settings.max_file_bytes, self.settings.max_rows)
        options = dict(num_beams=whole_number(num_beams, "Beam size"),
                       max_new_tokens=whole_number(max_new_tokens, "Max new tokens"))
        if upload.kind == "txt":
            result = self.engine.translate(upload.texts[0], src_lang, tgt_lang, model=model_spec(model),
                                           progress=reporter(progress, "Translating"), **options)
            translations, label = [result.text], result.model.label
        else:
            rows = self.engine.translate_many(upload.texts, src_lang, tgt_lang, models=[model_spec(model)],
                                              progress=reporter(progress, "Translating the rows"), **options)
            translations, label = rows.outputs[0], rows.models[0].label
        path = write_translation(upload, translations, language_code(tgt_lang))
        what = "the text" if upload.kind == "txt" else f"{len(upload.texts)} rows"
        return FileTranslated(str(path), f"Translated {what} of {escape(upload.name)} with {code(label)}. "
                                         "Download it below.")

    @user_errors
    def compare(self, text: str, src_lang: str, tgt_lang: str, left: str = BASE, right: str = BASE,
                reference: str | None = None, num_beams: int | None = None, max_new_tokens: int | None = None,
                progress: gr.Progress = gr.Progress()) -> Compared:
        """The same ``text`` through models ``left`` and ``right`` (in one batch); with a ``reference``, their
        chrF++ and BLEU."""
        if reference and len(reference) > self.settings.max_chars:
            raise InputError(f"The reference has {len(reference):,} characters; the limit is "
                             f"{self.settings.max_chars:,} (NLLB_MAX_CHARS), as for the text.")
        result = self.engine.compare(
            text, src_lang, tgt_lang, left=model_spec(left), right=model_spec(right),
            num_beams=whole_number(num_beams, "Beam size"),
            max_new_tokens=whole_number(max_new_tokens, "Max new tokens"),
            progress=reporter(progress, "Translating with both models"),
        )
        return Compared(result.left.text, result.right.text, comparison_summary(result, reference), result)

    def same_model_note(self, left: str, right: str) -> str:
        """Said as soon as both pickers name the same model, before anything runs."""
        if model_spec(left) != model_spec(right):
            return ""
        return (f"ℹ️ Both sides are {code(model_spec(left))}: the two translations will be the same. Pick another "
                "model on one side to see what it changes.")

    def differences(self, result: Comparison | None) -> list[tuple[str, str | None]]:
        """Word-level differences between the two sides, for ``gr.HighlightedText``."""
        if result is None:
            return []
        return word_diff(result.left.text, result.right.text)

    @user_errors
    def compare_file(self, file: str | None, src_lang: str, tgt_lang: str, left: str = BASE, right: str = BASE,
                     num_beams: int | None = None, max_new_tokens: int | None = None,
                     progress: gr.Progress = gr.Progress()) -> FileScored:
        """Score both models on an uploaded ``source<TAB>reference`` file."""
        if not file:
            raise InputError("Upload a .tsv file with source<TAB>reference on each line first.")
        rows = read_scoring_rows(file, self.settings.max_file_bytes, self.settings.max_rows)
        done = self.engine.translate_many(
            [row.source for row in rows], src_lang, tgt_lang, models=[model_spec(left), model_spec(right)],
            num_beams=whole_number(num_beams, "Beam size"),
            max_new_tokens=whole_number(max_new_tokens, "Max new tokens"),
            progress=reporter(progress, "Translating the lines with both models"),
        )
        (lefts, rights), labels = done.outputs, [ref.label for ref in done.models]
        scores = side_by_side(lefts, rights, [row.reference for row in rows])
        table: list[list[Any]] = []
        for i, (row, left_text, right_text, line) in enumerate(zip(rows, lefts, rights, scores.lines), start=1):
            numbers = ([round(line.left_chrf, 2), round(line.right_chrf, 2), round(line.left_bleu, 2),
                        round(line.right_bleu, 2)] if line else [None] * 4)
            table.append([i, row.source, row.reference or "", left_text, right_text, *numbers])
        header = ["#", "source", "reference", f"left: {labels[0]}", f"right: {labels[1]}",
                  "left chrF++", "right chrF++", "left BLEU", "right BLEU"]
        path = write_table(new_result_path("comparison.csv"), table, header)
        scored = sum(line is not None for line in scores.lines)
        if scores.left is None:
            summary = (f"Translated {len(rows)} lines with both models. No line had a reference "
                       "(source<TAB>reference), so nothing was scored.")
        else:
            summary = (
                f"Corpus scores over the {scored} of {len(rows)} lines that have a reference:\n\n"
                "| model | chrF++ | BLEU |\n|---|---:|---:|\n"
                f"| left: {code(labels[0])} | {scores.left.chrf:.2f} | {scores.left.bleu:.2f} |\n"
                f"| right: {code(labels[1])} | {scores.right.chrf:.2f} | {scores.right.bleu:.2f} |\n\n"
                f"<small>sacreBLEU {escape(scores.left.chrf_signature)} · "
                f"{escape(scores.left.bleu_signature)}</small>"
            )
        return FileScored(summary, {"headers": header, "data": table}, str(path))
