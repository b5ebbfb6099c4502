"""How results read on the page: Markdown that stays literal, word differences, tables and short summaries.

Pure functions of plain values (no engine, no Gradio state), so each is tested on its own. Everything a visitor
typed passes through :func:`escape` or :func:`code` before it reaches Markdown: Gradio renders Markdown and error
messages as HTML.
"""

from __future__ import annotations

import difflib
import html
import re
from typing import Sequence

from .hub import Revisions
from .messages import say
from .results import BASE, Comparison, ModelRef
from .scoring import sentence_scores

Choice = tuple[str, str]
"""A dropdown choice: (what the visitor sees, the value the handler receives)."""

BASE_CHOICE: Choice = ("base: NLLB-200 without adapter", BASE)
DIFF_COLOURS = {"only left": "#fca5a5", "only right": "#86efac"}


def escape(text: str) -> str:
    """Text that Gradio will render as HTML/Markdown, made literal: ``<script>`` shows as ``<script>``."""
    escaped = html.escape(text, quote=False)
    # Markdown would still act on these; backslash-escaping them keeps the visitor's text verbatim.
    return re.sub(r"([\\`*_\[\]#|~])", r"\\\1", escaped)


def code(text: str) -> str:
    """Inline code for Markdown that stays literal whatever ``text`` holds (backticks included)."""
    return f"<code>{escape(text)}</code>"


def adapter_summary(ref: ModelRef, plan, language: str = "en") -> str:
    """A few lines on what an adapter is: layers adapted, rank, alpha, parameters, base, commit, warnings."""
    if plan is None:
        return say("base_summary", language)
    lines = [say(
        "adapter_summary", language, label=code(ref.label), projections=", ".join(code(p) for p in plan.projections),
        layers=len(plan.modules), r=plan.r, alpha=f"{plan.alpha:g}", rs=" (rsLoRA)" if plan.use_rslora else "",
        parameters=f"{plan.parameters:,}", base=code(plan.base_model or say("unnamed_base", language)),
        sha=code((ref.sha or "")[:7]),
    )]
    notes = plan.warnings_es if language == "es" and plan.warnings_es else plan.warnings
    lines += [f"⚠️ {escape(warning)}" for warning in notes]
    return "\n\n".join(lines)


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


def comparison_summary(result: Comparison, reference: str | None = None, language: str = "en") -> str:
    """A small table: each side's model, time and (with a reference) chrF++ and BLEU."""
    left, right = result.left, result.right
    rows = [
        f"| | {say('left', language)} | {say('right', language)} |", "|---|---|---|",
        f"| {say('model', language)} | {code(left.model.label)} | {code(right.model.label)} |",
        f"| {say('summary_time', language)} | {left.seconds:.2f} s | {right.seconds:.2f} s |",
        f"| {say('summary_tokens', language)} | {left.new_tokens} | {right.new_tokens} |",
    ]
    if reference and reference.strip():
        (lb, lc) = sentence_scores(left.text, reference.strip())
        (rb, rc) = sentence_scores(right.text, reference.strip())
        rows += [f"| chrF++ | {lc:.2f} | {rc:.2f} |", f"| BLEU | {lb:.2f} | {rb:.2f} |"]
    note = say("one_batch" if result.batched else "one_after_other", language, seconds=f"{result.seconds:.2f}")
    if not (reference and reference.strip()):
        note += say("add_reference", language)
    return "\n".join(rows) + "\n\n" + note
