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
