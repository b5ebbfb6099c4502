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
from .i18n import visitor_language
from .messages import both, say
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
                  progress: gr.Progress = gr.Progress(), request: gr.Request = None) -> Translated:
        """Translate ``text`` with ``model`` ("base", a revision, or owner/name@revision); keeps paragraphs.
        ``adapter_scale``: 0 is the base model, 1 the adapter as trained, up to 2."""
        result = self.engine.translate(
            text, src_lang, tgt_lang, model=model_spec(model), **_decoding(num_beams, max_new_tokens),
            progress=reporter(progress, say("translating", visitor_language(request))),
            adapter_scale=number(adapter_scale, "strength"),
        )
        return Translated(result.text, result)

    def translation_info(self, result: Translation | None, request: gr.Request = None) -> str:
        """One line under the output: which model and commit answered, how much and how fast."""
        if result is None:
            return ""
        language = visitor_language(request)
        strength = (say("strength_note", language, scale=f"{result.adapter_scale:g}")
                    if not result.model.is_base and result.adapter_scale != 1.0 else "")
        line = say("translated_by", language, label=code(result.model.label), sentences=len(result.sentences),
                   tokens=result.new_tokens, seconds=f"{result.seconds:.2f}", beams=result.num_beams) + strength
        if result.stopped_at_limit:
            line += say("stopped_at_limit", language, stopped=result.stopped_at_limit,
                        sentences=len(result.sentences), limit=result.max_new_tokens)
        return line

    @user_errors
    def translate_file(self, file: str | None, src_lang: str, tgt_lang: str, model: str = BASE,
                       num_beams: int | None = None, max_new_tokens: int | None = None,
                       progress: gr.Progress = gr.Progress(), request: gr.Request = None) -> FileTranslated:
        """Translate an uploaded .txt (as one text) or .csv/.tsv (row by row, each row in its own layout)."""
        language = visitor_language(request)
        if not file:
            raise InputError(**both("upload_first"))
        upload = read_upload(file, self.settings.max_file_bytes, self.settings.max_rows)
        options = _decoding(num_beams, max_new_tokens)
        if upload.kind == "txt":
            result = self.engine.translate(upload.texts[0], src_lang, tgt_lang, model=model_spec(model),
                                           progress=reporter(progress, say("translating", language)), **options)
            translations, label = [result.text], result.model.label
        else:
            rows = self.engine.translate_many(upload.texts, src_lang, tgt_lang, models=[model_spec(model)],
                                              progress=reporter(progress, say("translating_rows", language)),
                                              **options)
            translations, label = rows.outputs[0], rows.models[0].label
        path = write_translation(upload, translations, language_code(tgt_lang))
        what = say("file_text", language) if upload.kind == "txt" else say("file_rows", language,
                                                                             rows=len(upload.texts))
        return FileTranslated(str(path), say("file_translated", language, what=what, name=escape(upload.name),
                                             label=code(label)))

    @user_errors
    def compare(self, text: str, src_lang: str, tgt_lang: str, left: str = BASE, right: str = BASE,
                reference: str | None = None, num_beams: int | None = None, max_new_tokens: int | None = None,
                progress: gr.Progress = gr.Progress(), request: gr.Request = None) -> Compared:
        """The same ``text`` through models ``left`` and ``right`` (in one batch); with a ``reference``, their
        chrF++ and BLEU."""
        language = visitor_language(request)
        if reference and len(reference) > self.settings.max_chars:
            raise InputError(**both("reference_too_long", chars=f"{len(reference):,}",
                                    limit=f"{self.settings.max_chars:,}"))
        result = self.engine.compare(
            text, src_lang, tgt_lang, left=model_spec(left), right=model_spec(right),
            **_decoding(num_beams, max_new_tokens), progress=reporter(progress, say("translating_both", language)),
        )
        return Compared(result.left.text, result.right.text, comparison_summary(result, reference, language), result)

    def same_model_note(self, left: str, right: str, request: gr.Request = None) -> str:
        """Said as soon as both pickers name the same model, before anything runs."""
        if model_spec(left) != model_spec(right):
            return ""
        return say("same_model", visitor_language(request), model=code(model_spec(left)))

    def differences(self, result: Comparison | None) -> list[tuple[str, str | None]]:
        """Word-level differences between the two sides, for ``gr.HighlightedText``."""
        if result is None:
            return []
        return word_diff(result.left.text, result.right.text)

    @user_errors
    def compare_file(self, file: str | None, src_lang: str, tgt_lang: str, left: str = BASE, right: str = BASE,
                     num_beams: int | None = None, max_new_tokens: int | None = None,
                     progress: gr.Progress = gr.Progress(), request: gr.Request = None) -> FileScored:
        """Score both models on an uploaded ``source<TAB>reference`` file."""
        language = visitor_language(request)
        if not file:
            raise InputError(**both("upload_scoring_first"))
        rows = read_scoring_rows(file, self.settings.max_file_bytes, self.settings.max_rows)
        done = self.engine.translate_many(
            [row.source for row in rows], src_lang, tgt_lang, models=[model_spec(left), model_spec(right)],
            **_decoding(num_beams, max_new_tokens), progress=reporter(progress, say("translating_lines", language)),
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
            summary = say("nothing_scored", language, rows=len(rows))
        else:
            left_word, right_word = say("left", language), say("right", language)
            summary = (
                say("corpus_scores", language, scored=scored, rows=len(rows)) + "\n\n"
                f"| {say('model', language)} | chrF++ | BLEU |\n|---|---:|---:|\n"
                f"| {left_word}: {code(labels[0])} | {scores.left.chrf:.2f} | {scores.left.bleu:.2f} |\n"
                f"| {right_word}: {code(labels[1])} | {scores.right.chrf:.2f} | {scores.right.bleu:.2f} |\n\n"
                f"<small>sacreBLEU {escape(scores.left.chrf_signature)} · "
                f"{escape(scores.left.bleu_signature)}</small>"
            )
        return FileScored(summary, {"headers": header, "data": table}, str(path))


def _decoding(num_beams: float | int | str | None, max_new_tokens: float | int | str | None) -> dict:
    """The decoding options as the engine takes them (None: its default)."""
    return dict(num_beams=whole_number(num_beams, "beams"),
                max_new_tokens=whole_number(max_new_tokens, "max_new_tokens"))

