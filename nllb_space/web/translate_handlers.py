"""The Translate and Compare tabs: what their buttons do, and what each returns, by name.

Each handler returns a ``NamedTuple`` whose fields name the components it fills; ``web/page.py`` wires the outputs by
those names (``outputs_for``), so a handler and the page can't disagree on the order. The engine does the work
(batching, splitting, rejoining rows); scoring is ``text/scoring.py``'s; here results become what the page shows.
"""

from __future__ import annotations

from typing import Any, Iterator, NamedTuple

import gradio as gr

from ..errors import InputError
from ..hub.model_choice import MAX_NAME_CHARS
from ..results import BASE, Translation
from ..service.files import new_result_path, read_scoring_rows, read_upload, write_table, write_translation
from ..service.request_limits import languages, valid_unicode
from ..text.scoring import side_by_side
from .compare_table import ScoredComparison, rows_html, score_comparison, summary_markdown
from .handler_inputs import decoding_options, language_code, model_spec, model_work, number, uploaded_path, user_errors
from .i18n import visitor_language
from .job_progress import reporter
from .markdown import code, escape
from .messages import both, say


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
    compare_scores: dict
    """Both sides' models, times, tokens and (with a reference) chrF++/BLEU, whole and per sentence: plain JSON."""
    last_comparison: ScoredComparison
    """Kept in the session's state (not part of the API): ``compare_views`` draws the page from it."""


class CompareViews(NamedTuple):
    compare_summary: str
    """The scores table, with a "right − left" column, as Markdown."""
    compare_rows: str
    """One row per sentence, differences marked, as HTML."""


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
    @model_work
    def translate(self, text: str, src_lang: str, tgt_lang: str, model: str = BASE,
                  num_beams: int | None = None, max_new_tokens: int | None = None, adapter_scale: float = 1.0,
                  progress: gr.Progress = gr.Progress(), request: gr.Request = None) -> Iterator[Translated]:
        """Translate a text with NLLB-200, as it is or with a LoRA adapter; paragraphs and line breaks are kept.

        Args:
            text: the text to translate (several sentences and paragraphs are fine).
            src_lang: the text's language: a FLORES-200 code such as spa_Latn, or a name such as Spanish or español.
            tgt_lang: the language to translate into, e.g. ita_Latn or Italian.
            model: 'base', or an adapter: a branch, tag or commit of the Space's adapter repo, or owner/name@revision.
            num_beams: beam size; 1 is greedy decoding (fastest).
            max_new_tokens: the most tokens written for one sentence.
            adapter_scale: how strongly the adapter applies: 0 is the base model, 1 the adapter as trained, up to 2.

        Returns:
            The translation.
        """
        steps = self.engine.translate_stream(
            text, src_lang, tgt_lang, model=model_spec(model), **decoding_options(num_beams, max_new_tokens),
            progress=reporter(progress, say("translating", visitor_language(request))),
            adapter_scale=number(adapter_scale, "strength"),
        )
        for step in steps:  # a long text arrives batch by batch; the session keeps only the finished translation
            yield Translated(step.text, step) if isinstance(step, Translation) else Translated(step, gr.skip())

    def translate_text(self, *args: Any, **kwargs: Any) -> Translated:
        """:meth:`translate`'s last answer, the whole translation (for callers that need no stream)."""
        *_, last = self.translate(*args, **kwargs)
        return last

    def check_languages(self, src_lang: str, tgt_lang: str, request: gr.Request = None) -> str:
        """Said as soon as a language field loses focus: what is wrong with the languages, before anything runs."""
        try:
            languages(self.settings, src_lang, tgt_lang)
        except InputError as error:
            return "⚠️ " + escape(error.in_language(visitor_language(request)))
        return ""

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
    @model_work
    def translate_file(self, file: str | None, src_lang: str, tgt_lang: str, model: str = BASE,
                       num_beams: int | None = None, max_new_tokens: int | None = None,
                       progress: gr.Progress = gr.Progress(), request: gr.Request = None) -> FileTranslated:
        """Translate an uploaded .txt (as one text) or .csv/.tsv (row by row, each row in its own layout)."""
        language = visitor_language(request)
        upload = read_upload(uploaded_path(file), self.settings.max_file_bytes, self.settings.max_rows)
        options = decoding_options(num_beams, max_new_tokens)
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
    @model_work
    def compare(self, text: str, src_lang: str, tgt_lang: str, left: str = BASE, right: str = BASE,
                reference: str | None = None, num_beams: int | None = None, max_new_tokens: int | None = None,
                progress: gr.Progress = gr.Progress(), request: gr.Request = None) -> Compared:
        """Translate one text with two models side by side (base vs an adapter, or two revisions) and score both.

        Args:
            text: the text to translate.
            src_lang: the text's language: a FLORES-200 code such as spa_Latn, or a name such as Spanish.
            tgt_lang: the language to translate into, e.g. ita_Latn.
            left: the first model: 'base', a revision of the Space's adapter repo, or owner/name@revision.
            right: the second model, written the same way.
            reference: optional, a correct translation; gives each side's chrF++ and BLEU, per sentence too.
            num_beams: beam size; 1 is greedy decoding.
            max_new_tokens: the most tokens written for one sentence.

        Returns:
            The left translation, the right translation, and the scores as a dict: each side's model, commit, seconds,
            new_tokens, chrf and bleu; right_minus_left; better; and one entry per sentence.
        """
        language = visitor_language(request)
        if reference and len(reference) > self.settings.max_chars:
            raise InputError(**both("reference_too_long", chars=f"{len(reference):,}",
                                    limit=f"{self.settings.max_chars:,}"))
        if reference:  # before both translations run, not after
            valid_unicode(reference, ("The reference", "La referencia"))
        result = self.engine.compare(
            text, src_lang, tgt_lang, left=model_spec(left), right=model_spec(right),
            **decoding_options(num_beams, max_new_tokens),
            progress=reporter(progress, say("translating_both", language)),
        )
        scored = score_comparison(result, reference)
        return Compared(result.left.text, result.right.text, scored.data, scored)

    def compare_views(self, last: ScoredComparison | None, request: gr.Request = None) -> CompareViews:
        """The last comparison as the page shows it: the scores table and one row per sentence."""
        if last is None:
            return CompareViews("", "")
        language = visitor_language(request)
        return CompareViews(summary_markdown(last, language), rows_html(last, language))

    def same_model_note(self, left: str, right: str, request: gr.Request = None) -> str:
        """Said as soon as both pickers name the same model, before anything runs (never echoing more than a model
        choice may hold: the Compare button says what is wrong with a longer one)."""
        if not all(isinstance(side, str) and len(side) <= MAX_NAME_CHARS for side in (left, right)):
            return ""
        if model_spec(left) != model_spec(right):
            return ""
        return say("same_model", visitor_language(request), model=code(model_spec(left)))

    @user_errors
    @model_work
    def compare_file(self, file: str | None, src_lang: str, tgt_lang: str, left: str = BASE, right: str = BASE,
                     num_beams: int | None = None, max_new_tokens: int | None = None,
                     progress: gr.Progress = gr.Progress(), request: gr.Request = None) -> FileScored:
        """Score both models on an uploaded ``source<TAB>reference`` file."""
        language = visitor_language(request)
        rows = read_scoring_rows(uploaded_path(file, "upload_scoring_first"), self.settings.max_file_bytes,
                                 self.settings.max_rows)
        done = self.engine.translate_many(
            [row.source for row in rows], src_lang, tgt_lang, models=[model_spec(left), model_spec(right)],
            **decoding_options(num_beams, max_new_tokens),
            progress=reporter(progress, say("translating_lines", language)),
        )
        (lefts, rights), labels = done.outputs, [ref.label for ref in done.models]
        scores = side_by_side(lefts, rights, [row.reference for row in rows])
        # Scores first, so they are in view beside the line number; sorting by "right − left chrF++" puts the lines
        # where the two models differ most at the top or bottom.
        table: list[list[Any]] = []
        for i, (row, left_text, right_text, line) in enumerate(zip(rows, lefts, rights, scores.lines), start=1):
            numbers = ([round(line.right_chrf - line.left_chrf, 2), round(line.left_chrf, 2),
                        round(line.right_chrf, 2), round(line.left_bleu, 2), round(line.right_bleu, 2)]
                       if line else [None] * 5)
            table.append([i, *numbers, row.source, row.reference or "", left_text, right_text])
        header = ["#", "right − left chrF++", "left chrF++", "right chrF++", "left BLEU", "right BLEU", "source",
                  "reference", f"left: {labels[0]}", f"right: {labels[1]}"]
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
                f"| {right_word}: {code(labels[1])} | {scores.right.chrf:.2f} | {scores.right.bleu:.2f} |\n"
                f"| {say('right_minus_left', language)} | {scores.right.chrf - scores.left.chrf:+.2f} | "
                f"{scores.right.bleu - scores.left.bleu:+.2f} |\n\n"
                + say("signatures", language, chrf=code(scores.left.chrf_signature),
                      bleu=code(scores.left.bleu_signature))
            )
        return FileScored(summary, {"headers": header, "data": table}, str(path))
