"""What every button of the app does: plain values in (strings, numbers, file paths), plain values out.

``ui.py`` only wires components to these methods; here the engine is called and its results turned into what the
components show. Nothing here holds per-user state: the model choice arrives with every call, and what a session
remembers (its last translation, its attention maps, the extra revisions it loaded) travels in ``gr.State``.

Gradio builds the public API from these signatures: the parameter names of ``translate``, ``compare`` and
``attention`` ARE the API's parameter names, so they are part of the contract (see README "API").

Errors: an ``InputError``/``HubError`` (empty text, over a limit, unknown language or revision, Hub down) becomes a
``gr.Error`` with the engine's message, shown to that visitor only; the server keeps serving everyone else.
Messages are HTML-escaped because Gradio renders error messages (and Markdown) as HTML, and they may quote what a
visitor typed.
"""

from __future__ import annotations

import difflib
import functools
import html
import logging
import re
from typing import Any, Callable, Sequence

import gradio as gr

from .view_store import AttentionView, ViewStore
from .engine import Engine
from .errors import InputError, UserFacingError
from .files import (FileError, new_result_path, read_scoring_rows, read_upload, write_table,
                    write_translation)
from .hub import Revisions
from .plots import attention_figure
from .progress import VisitorGone, chunk_reporter, reporter, stop_if_gone
from .results import BASE, Comparison, ModelRef, Translation
from .scoring import corpus_scores, sentence_scores
from .segment import join_text, split_text

logger = logging.getLogger(__name__)

Choice = tuple[str, str]
"""A dropdown choice: (what the visitor sees, the value the handler receives)."""

BASE_CHOICE: Choice = ("base: NLLB-200 without adapter", BASE)
MEAN = "mean"
"""Layer/head dropdown value for "average over all of them"."""
DIFF_COLOURS = {"only left": "#fca5a5", "only right": "#86efac"}


def user_errors(fn: Callable) -> Callable:
    """Turn the engine's user-facing errors into ``gr.Error`` (a message for this visitor; no traceback in logs)."""

    @functools.wraps(fn)  # keeps the signature: Gradio reads parameter names and gr.Progress defaults from it
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except VisitorGone:
            logger.info("%s stopped: the visitor has gone", fn.__name__)
            raise gr.Error("Cancelled.", print_exception=False) from None
        except UserFacingError as error:
            raise gr.Error(html.escape(str(error), quote=False), print_exception=False) from None
        except Exception:
            logger.exception("Unexpected error in %s", fn.__name__)
            raise gr.Error("Something went wrong on the server (it has been logged). Please try again.",
                           print_exception=False) from None

    return wrapper


class Handlers:
    """The app's event handlers over one shared ``Engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.views = ViewStore(engine.settings.attention_views)
        """The Attention tab's maps, server-side and bounded; a session's ``gr.State`` holds only its key."""

    # -- Translate ----------------------------------------------------------------------------------------------------

    @user_errors
    def translate(self, text: str, src_lang: str, tgt_lang: str, model: str = BASE,
                  num_beams: int | None = None, max_new_tokens: int | None = None,
                  progress: gr.Progress = gr.Progress()) -> tuple[str, Translation]:
        """Translate ``text`` with ``model`` ("base", a revision, or owner/name@revision); keeps paragraphs.

        Returns the translation and the ``Translation`` (kept in the session's state, shown by ``translation_info``).
        """
        result = self.engine.translate(
            text, src_lang, tgt_lang, model=_model(model), num_beams=_int(num_beams, "Beam size"),
            max_new_tokens=_int(max_new_tokens, "Max new tokens"), progress=reporter(progress, "Translating"),
        )
        return result.text, result

    def translation_info(self, result: Translation | None) -> str:
        """One line under the output: which model and commit answered, how much and how fast."""
        if result is None:
            return ""
        return (f"Translated by {code(result.model.label)} · {len(result.sentences)} sentence(s) · "
                f"{result.new_tokens} tokens · {result.seconds:.2f} s · beam {result.num_beams}")

    @user_errors
    def translate_file(self, file: str | None, src_lang: str, tgt_lang: str, model: str = BASE,
                       num_beams: int | None = None, max_new_tokens: int | None = None,
                       progress: gr.Progress = gr.Progress()) -> tuple[str, str]:
        """Translate an uploaded .txt (as one text) or .csv/.tsv (row by row); returns (result file, message)."""
        if not file:
            raise InputError("Upload a .txt, .csv or .tsv file first.")
        upload = read_upload(file, self.settings.max_file_bytes, self.settings.max_rows)
        model = _model(model)
        options = dict(model=model, num_beams=_int(num_beams, "Beam size"),
                       max_new_tokens=_int(max_new_tokens, "Max new tokens"))
        if upload.kind == "txt":
            result = self.engine.translate(upload.texts[0], src_lang, tgt_lang,
                                           progress=reporter(progress, "Translating"), **options)
            translations, label = [result.text], result.model.label
        else:
            def run(text, report):
                return self.engine.translate(text, src_lang, tgt_lang, progress=report, **options)

            (translations,), (label,) = self._rows(upload.texts, run, progress)
        path = write_translation(upload, translations, _language_code(tgt_lang))
        what = "the text" if upload.kind == "txt" else f"{len(upload.texts)} rows"
        return str(path), f"Translated {what} of {escape(upload.name)} with {code(label)}. Download it below."

    # -- Compare ------------------------------------------------------------------------------------------------------

    @user_errors
    def compare(self, text: str, src_lang: str, tgt_lang: str, left: str = BASE, right: str = BASE,
                reference: str | None = None, num_beams: int | None = None, max_new_tokens: int | None = None,
                progress: gr.Progress = gr.Progress()) -> tuple[str, str, str, Comparison]:
        """The same ``text`` through models ``left`` and ``right`` (in one batch); with a ``reference``, their
        chrF++ and BLEU. Returns (left translation, right translation, summary table, the ``Comparison``)."""
        if reference and len(reference) > self.settings.max_chars:
            raise InputError(f"The reference has {len(reference):,} characters; the limit is "
                             f"{self.settings.max_chars:,} (NLLB_MAX_CHARS), as for the text.")
        result = self.engine.compare(
            text, src_lang, tgt_lang, left=_model(left), right=_model(right), num_beams=_int(num_beams, "Beam size"),
            max_new_tokens=_int(max_new_tokens, "Max new tokens"),
            progress=reporter(progress, "Translating with both models"),
        )
        return result.left.text, result.right.text, comparison_summary(result, reference), result

    def differences(self, result: Comparison | None) -> list[tuple[str, str | None]]:
        """Word-level differences between the two sides, for ``gr.HighlightedText``."""
        if result is None:
            return []
        return word_diff(result.left.text, result.right.text)

    @user_errors
    def compare_file(self, file: str | None, src_lang: str, tgt_lang: str, left: str = BASE, right: str = BASE,
                     num_beams: int | None = None, max_new_tokens: int | None = None,
                     progress: gr.Progress = gr.Progress()) -> tuple[str, dict[str, list], str]:
        """Score both models on an uploaded ``source<TAB>reference`` file.

        Returns (summary with corpus chrF++/BLEU per model, per-sentence table as ``{"headers", "data"}`` for
        ``gr.Dataframe``, the same table as a CSV path).
        """
        if not file:
            raise InputError("Upload a .tsv file with source<TAB>reference on each line first.")
        rows = read_scoring_rows(file, self.settings.max_file_bytes, self.settings.max_rows)
        options = dict(left=_model(left), right=_model(right), num_beams=_int(num_beams, "Beam size"),
                       max_new_tokens=_int(max_new_tokens, "Max new tokens"))

        def run(text, report):
            return self.engine.compare(text, src_lang, tgt_lang, progress=report, **options)

        (lefts, rights), labels = self._rows([row.source for row in rows], run, progress)
        table = []
        for i, (row, left_text, right_text) in enumerate(zip(rows, lefts, rights), start=1):
            scores = [None] * 4
            if row.reference is not None:
                (lb, lc) = sentence_scores(left_text, row.reference)
                (rb, rc) = sentence_scores(right_text, row.reference)
                scores = [round(lc, 2), round(rc, 2), round(lb, 2), round(rb, 2)]
            table.append([i, row.source, row.reference or "", left_text, right_text, *scores])
        header = ["#", "source", "reference", f"left: {labels[0]}", f"right: {labels[1]}",
                  "left chrF++", "right chrF++", "left BLEU", "right BLEU"]
        path = write_table(new_result_path("comparison.csv"), table, header)
        scored = [i for i, row in enumerate(rows) if row.reference is not None]
        summary = f"Translated {len(rows)} lines with both models."
        if scored:
            refs = [rows[i].reference for i in scored]
            left_scores = corpus_scores([lefts[i] for i in scored], refs)
            right_scores = corpus_scores([rights[i] for i in scored], refs)
            summary = (
                f"Corpus scores over the {len(scored)} of {len(rows)} lines that have a reference:\n\n"
                "| model | chrF++ | BLEU |\n|---|---:|---:|\n"
                f"| left: {code(labels[0])} | {left_scores.chrf:.2f} | {left_scores.bleu:.2f} |\n"
                f"| right: {code(labels[1])} | {right_scores.chrf:.2f} | {right_scores.bleu:.2f} |\n\n"
                f"<small>sacreBLEU {escape(left_scores.chrf_signature)} · {escape(left_scores.bleu_signature)}</small>"
            )
        else:
            summary += " No line had a reference (source<TAB>reference), so nothing was scored."
        return summary, {"headers": header, "data": table}, str(path)

    # -- Attention ----------------------------------------------------------------------------------------------------

    @user_errors
    def attention(self, text: str, src_lang: str, tgt_lang: str, model: str = BASE,
                  translation: str | None = None) -> tuple[str, Any, str]:
        """Attention maps of ``model`` for ``text`` and its translation (the model's own greedy one, or
        ``translation`` when given). Returns (the translation, the mean cross-attention heatmap, the view's key)."""
        model = _model(model)
        also = [] if _is_base(model) else [BASE]
        maps = self.engine.attention(text, src_lang, tgt_lang, model=model, translation=translation or None,
                                     also=also)
        view = AttentionView(maps[0], maps[0].minus(maps[1]) if also else None)
        return maps[0].target_text, attention_figure(view.maps, "cross"), self.views.put(view)

    def attention_controls(self, key: str | None, kind: str, layer: str, head: str):
        """Layer and head choices for this kind of map (the selection is kept when this map has it, else "mean").

        Separate from ``attention_views`` so that redrawing never rewrites a dropdown the visitor just changed.
        """
        view = self.views.get(key)
        if view is None:
            return gr.update(), gr.update()
        layers, heads = view.maps.weights(kind).shape[:2]
        layer_i, head_i = _index(layer, layers), _index(head, heads)
        layer_choices = [("mean over layers", MEAN)] + [(f"layer {i + 1}", str(i)) for i in range(layers)]
        head_choices = [("mean over heads", MEAN)] + [(f"head {i + 1}", str(i)) for i in range(heads)]
        return (gr.update(choices=layer_choices, value=MEAN if layer_i is None else str(layer_i)),
                gr.update(choices=head_choices, value=MEAN if head_i is None else str(head_i)))

    def attention_views(self, key: str | None, kind: str, layer: str, head: str):
        """The heatmap and the "LoRA minus base" heatmap for the chosen kind, layer and head (``"mean"`` averages).

        Returns (heatmap, difference heatmap update, caption).
        """
        view = self.views.get(key)
        if view is None:
            expired = ("This view is no longer kept (the Space keeps the last "
                       f"{self.views.capacity} attention views): press Show attention again." if key else "")
            return None, gr.update(visible=False), expired
        layers, heads = view.maps.weights(kind).shape[:2]
        layer_i, head_i = _index(layer, layers), _index(head, heads)
        figure = attention_figure(view.maps, kind, layer_i, head_i)
        if view.difference is not None:
            difference = gr.update(value=attention_figure(view.difference, kind, layer_i, head_i, difference_of=BASE),
                                   visible=True)
        else:
            difference = gr.update(value=None, visible=False)
        caption = (
            f"{code(view.maps.source_text)} → {code(view.maps.target_text)} by {code(view.maps.model.label)}. "
            "Rows are the positions that attend, columns what they attend to; each row sums to 1. "
            "Grey ⟨…⟩ labels are language tags and end-of-sentence; ·piece continues the previous word."
        )
        if view.difference is not None:
            caption += " The second map is the adapter's weights minus the base model's on the same pair (red: more)."
        return figure, difference, caption

    def reuse_translation(self, last: Translation | None) -> tuple[str, str, str]:
        """The last translation of this session as an attention pair: (source sentence, its translation, model)."""
        if last is None or not last.sentences:
            raise gr.Error("Translate something in the Translate tab first.", print_exception=False)
        pair = last.sentences[0]
        if len(last.sentences) > 1:
            gr.Info("The attention view takes one sentence: using the first one of the last translation.")
        return pair.source, pair.target, model_value(last.model)

    # -- Adapters and revisions ---------------------------------------------------------------------------------------

    def status(self, chosen: ModelRef | None = None) -> str:
        """Which base model, device/dtype and configured adapter commit are live, for the top of the page, and the
        revision this visitor picked (``chosen``). Other visitors' choices are never named, only counted: their
        repos and branch names may be private."""
        status = self.engine.status()
        if not status.loaded:
            return f"Base model {code(status.base_model)} is not loaded yet."
        line = f"**Base model** {code(status.base_model)} on **{escape(status.device)}** ({escape(status.dtype)})"
        if status.default_adapter is not None:
            ref = status.default_adapter
            line += f" · **Live adapter** {code(f'{ref.repo}@{ref.revision}')} at commit {code((ref.sha or '')[:7])}"
        elif not self.settings.adapter_repo:
            line += " · no adapter configured (NLLB_ADAPTER_REPO): serving the base model"
        if chosen is not None and not chosen.is_base and chosen != status.default_adapter:
            line += f" · **Your choice** {code(chosen.label)}"
        if status.adapters:
            line += f" · {len(status.adapters)} adapter revision(s) ready on this server"
        if self.engine.adapter_error:
            line += f"\n\n⚠️ {escape(self.engine.adapter_error)} The base model is served meanwhile."
        return line

    def initial_choices(self) -> list[Choice]:
        """Model choices before the Hub is asked: base and the configured revision."""
        default = self.default_model()
        return [BASE_CHOICE] + ([] if default == BASE else [(self._configured_label(), default)])

    def default_model(self) -> str:
        """The model the Translate tab starts on: the configured adapter revision when it loaded, else base."""
        if self.settings.adapter_repo and not self.engine.adapter_error:
            return f"{self.settings.adapter_repo}@{self.settings.adapter_revision}"
        return BASE

    @user_errors
    def list_revisions(self, repo: str = "") -> tuple[list[list[str]], Any, str]:
        """Branches, tags and recent commits of ``repo`` (default: the configured one).

        Returns (table rows, revision dropdown update, message).
        """
        return self._list_revisions(repo)

    def _list_revisions(self, repo: str) -> tuple[list[list[str]], Any, str]:
        revisions = self.engine.list_revisions(repo)
        choices = revision_choices(revisions)
        table = [[ref.kind, ref.name, ref.sha[:7], "", ""] for ref in (*revisions.branches, *revisions.tags)]
        table += [["commit", commit.sha[:7], commit.sha[:7], commit.date[:16].replace("T", " "), commit.title]
                  for commit in revisions.commits]
        message = (f"{code(revisions.repo_id)}: {len(revisions.branches)} branch(es), {len(revisions.tags)} tag(s), "
                   f"{len(revisions.commits)} recent commit(s). Pick one to load it.")
        return table, gr.update(choices=choices, value=None), message

    def page_load(self, choices: list[Choice]):
        """At page load: the status and the configured repo's revisions, offered in every model picker.

        Returns (status, table, revision dropdown update, message, choices state, then one update per picker).
        """
        table, revision_update, message = [], gr.update(), ""
        known = list(choices or self.initial_choices())
        if self.settings.adapter_repo:
            try:
                table, revision_update, message = self._list_revisions("")
                known = merge_choices(known, revision_update["choices"])
                if not self.engine.adapter_error:
                    message += "\n\n" + adapter_summary(*self.engine.describe(self.default_model()))
            except UserFacingError as error:
                message = f"Could not list the revisions of {code(self.settings.adapter_repo)}: {escape(str(error))}"
        pickers = [gr.update(choices=known) for _ in range(4)]  # one each: Gradio consumes an update while applying it
        return self.status(), table, revision_update, message, known, *pickers

    @user_errors
    def use_revision(self, spec: str, choices: list[Choice]):
        """Load the picked revision (cached by commit) and select it in every tab's model picker.

        Returns (status, message, choices state, then updates for Translate, Compare left, Compare right, Attention).
        """
        if not spec:
            raise InputError("Pick a revision first.")
        ref, plan = self.engine.describe(spec)
        known = merge_choices(list(choices or self.initial_choices()), [(ref.label, spec)])
        message = f"Loaded {code(ref.label)}; it is now selected in every tab.\n\n{adapter_summary(ref, plan)}"
        # One update object per output: Gradio consumes an update dict while applying it.
        return (self.status(ref), message, known, gr.update(choices=known, value=spec), gr.update(choices=known),
                gr.update(choices=known, value=spec), gr.update(choices=known, value=spec))

    def _configured_label(self) -> str:
        return f"{self.settings.adapter_revision} (configured)"

    # -- internals ----------------------------------------------------------------------------------------------------

    def _rows(self, texts: Sequence[str], run: Callable, progress: gr.Progress):
        """Translate many short texts in few engine calls: rows are joined one per line into chunks that fit the
        request limits, so their sentences share generate batches (one call per row would run batches of one).

        ``run(text, report)`` returns a ``Translation`` or a ``Comparison``. Returns (per model: one output per text
        in order, "" for empty ones; per model: its label).
        """
        chunks = self._chunks(texts)
        outputs: list[list[str]] | None = None
        labels: list[str] = []
        for number, chunk in enumerate(chunks):
            stop_if_gone()
            report = chunk_reporter(progress, number, len(chunks))
            result = run("\n".join(texts[i] for i in chunk), report)
            translations = [result] if isinstance(result, Translation) else [result.left, result.right]
            if outputs is None:
                outputs = [[""] * len(texts) for _ in translations]
                labels = [t.model.label for t in translations]
            for model_index, translation in enumerate(translations):
                pairs = list(translation.sentences)
                for i in chunk:
                    segmented = split_text(texts[i], max_chars=self.settings.max_sentence_chars)
                    own, pairs = pairs[:len(segmented.pieces)], pairs[len(segmented.pieces):]
                    if tuple(p.source for p in own) != segmented.pieces:  # the engine split differently: be exact
                        raise RuntimeError("Row boundaries were lost while translating a file.")
                    outputs[model_index][i] = join_text(segmented, [p.target for p in own])
        if outputs is None:
            raise FileError("Every row is empty: there is nothing to translate.")
        return outputs, labels

    def _chunks(self, texts: Sequence[str]) -> list[list[int]]:
        """Indexes of non-empty ``texts`` grouped so each group, joined by newlines, fits one request's limits."""
        limit_chars, limit_pieces = self.settings.max_chars, self.settings.max_sentences
        chunks: list[list[int]] = []
        chars = pieces = total = 0
        for i, text in enumerate(texts):
            if not text:
                continue
            count = len(split_text(text, max_chars=self.settings.max_sentence_chars).pieces)
            if len(text) > limit_chars or count > limit_pieces:
                raise FileError(
                    f"Row {i + 1} has {len(text):,} characters in {count} sentences; one row may have at most "
                    f"{limit_chars:,} characters (NLLB_MAX_CHARS) and {limit_pieces} sentences (NLLB_MAX_SENTENCES)."
                )
            total += count
            if total > self.settings.max_job_sentences:
                # The whole file is one visitor's job: its budget is the file's, not each row's.
                raise FileError(
                    f"The file holds more than {self.settings.max_job_sentences:,} sentences (row {i + 1} goes over); "
                    "one file may hold at most that many (NLLB_MAX_JOB_SENTENCES). Split it into smaller files."
                )
            if chunks and chars + 1 + len(text) <= limit_chars and pieces + count <= limit_pieces:
                chunks[-1].append(i)
                chars, pieces = chars + 1 + len(text), pieces + count
            else:
                chunks.append([i])
                chars, pieces = len(text), count
        return chunks


# -- pure helpers (tested directly) ----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Text that Gradio will render as HTML/Markdown, made literal: ``<script>`` shows as ``<script>``."""
    escaped = html.escape(text, quote=False)
    # Markdown would still act on these; backslash-escaping them keeps the visitor's text verbatim.
    return re.sub(r"([\\`*_\[\]#|~])", r"\\\1", escaped)


def code(text: str) -> str:
    """Inline code for Markdown that stays literal whatever ``text`` holds (backticks included)."""
    return f"<code>{escape(text)}</code>"


def model_value(ref: ModelRef) -> str:
    """What a model picker sends for ``ref``: "base" or repo@revision."""
    return BASE if ref.is_base else f"{ref.repo}@{ref.revision}"


def revision_choices(revisions: Revisions) -> list[Choice]:
    """Dropdown choices for a repo's branches, tags and commits.

    Values are always ``repo@revision``, never a bare revision: they mean the same model whichever repo is
    configured, and a branch name with a slash (``exp/run-1``) can never read as another repo's ``owner/name``.
    """
    repo = revisions.repo_id
    choices = [(f"{ref.name} · {ref.kind} · {ref.sha[:7]}", f"{repo}@{ref.name}")
               for ref in (*revisions.branches, *revisions.tags)]
    choices += [(f"{c.sha[:7]} · commit · {c.title[:48]}", f"{repo}@{c.sha}") for c in revisions.commits]
    return choices


def merge_choices(known: Sequence[Choice], new: Sequence[Choice]) -> list[Choice]:
    """``known`` plus the choices of ``new`` whose value is not offered yet (order kept, no duplicates)."""
    merged = [tuple(choice) for choice in known]
    values = {value for _, value in merged}
    for label, value in new:
        if value not in values:
            merged.append((label, value))
            values.add(value)
    return merged


def word_diff(left: str, right: str) -> list[tuple[str, str | None]]:
    """``left`` and ``right`` as one sequence of words, marked "only left"/"only right" where they differ.

    Whitespace (line breaks included) is kept as its own unmarked tokens so the layout survives.
    """
    a, b = re.findall(r"\s+|\S+", left), re.findall(r"\s+|\S+", right)
    out: list[tuple[str, str | None]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("".join(a[i1:i2]), None))
            continue
        if i2 > i1:
            out.append(("".join(a[i1:i2]), "only left"))
        if j2 > j1:
            out.append(("".join(b[j1:j2]), "only right"))
    return out


def comparison_summary(result: Comparison, reference: str | None = None) -> str:
    """A small table: each side's model, time and (with a reference) chrF++ and BLEU."""
    left, right = result.left, result.right
    rows = [
        "| | left | right |", "|---|---|---|",
        f"| model | {code(left.model.label)} | {code(right.model.label)} |",
        f"| time | {left.seconds:.2f} s | {right.seconds:.2f} s |",
        f"| tokens generated | {left.new_tokens} | {right.new_tokens} |",
    ]
    if reference and reference.strip():
        (lb, lc) = sentence_scores(left.text, reference.strip())
        (rb, rc) = sentence_scores(right.text, reference.strip())
        rows += [f"| chrF++ | {lc:.2f} | {rc:.2f} |", f"| BLEU | {lb:.2f} | {rb:.2f} |"]
    note = (f"Both models ran in one batch (one generate call), so they share its {result.seconds:.2f} s."
            if result.batched else f"The models ran one after the other ({result.seconds:.2f} s in all).")
    if not (reference and reference.strip()):
        note += " Add a reference translation to see chrF++ and BLEU."
    return "\n".join(rows) + "\n\n" + note


def _model(spec: str | None) -> str:
    return (spec or "").strip() or BASE


def adapter_summary(ref: ModelRef, plan) -> str:
    """A few lines on what an adapter is: layers adapted, rank, alpha, parameters, base, commit, warnings."""
    if plan is None:
        return "The base model, without adapter."
    lines = [
        f"**{code(ref.label)}** adapts {', '.join(code(p) for p in plan.projections)} in {len(plan.modules)} layers "
        f"· rank {plan.r}, alpha {plan.alpha:g}{' (rsLoRA)' if plan.use_rslora else ''} · "
        f"{plan.parameters:,} trainable parameters · trained on {code(plan.base_model or 'an unnamed base')} · "
        f"commit {code((ref.sha or '')[:7])}"
    ]
    lines += [f"⚠️ {escape(warning)}" for warning in plan.warnings]
    return "\n\n".join(lines)


def _is_base(spec: str) -> bool:
    return spec.strip().lower() == BASE


def _int(value: float | int | str | None, what: str) -> int | None:
    """Sliders and API callers send floats or nothing; the engine takes ints or None (= its default)."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
        if number != int(number):
            raise ValueError
        return int(number)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{what} must be a whole number (got {str(value)[:40]!r}).") from None


def _index(value: str | None, size: int) -> int | None:
    """A layer/head dropdown value as an index, ``None`` for the mean (or for an index this map does not have)."""
    if value in (None, "", MEAN):
        return None
    index = int(value)
    return index if 0 <= index < size else None


def _language_code(value: str) -> str:
    from .languages import UnknownLanguageError, resolve_language

    try:
        return resolve_language(value)
    except UnknownLanguageError:
        return "translation"
