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

from ..hub.revisions import Revisions, RunScores
from ..results import BASE, ModelRef
from .messages import say

Choice = tuple[str, str]
"""A dropdown choice: (what the visitor sees, the value the handler receives)."""



def base_choice(language: str = "en") -> Choice:
    """The model pickers' entry for the base model, in ``language``."""
    return (say("base_choice", language), BASE)


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


LABEL_CHARS = 48
"""The longest commit title a revision's label quotes; a longer one is shortened by whole words (:func:`shorten`)."""
_PAIRS = ("()", "[]", "{}")


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` in at most ``limit`` characters, cut between whole words and never inside a parenthesis, then "…".

    A title like ``LoRA r=16: BLEU 23.4 (base 20.1), chrF++ 50.2 (base 48.0)`` reads ``LoRA r=16: BLEU 23.4
    (base 20.1), chrF++ 50.2…``, not ``... chrF++ 50.2 (ba``. A first word longer than ``limit`` is kept whole.
    """
    words = text.split()
    if len(" ".join(words)) <= limit:
        return " ".join(words)
    kept: list[str] = []
    for word in words:
        if len(" ".join([*kept, word])) + 1 > limit:  # + 1: the ellipsis
            break
        kept.append(word)
    while kept and any(" ".join(kept).count(a) > " ".join(kept).count(b) for a, b in _PAIRS):
        kept.pop()  # back to before the parenthesis that would stay open
    return (" ".join(kept) or words[0]).rstrip(",;:·-–— ") + "…"


def run_scores_label(scores: RunScores | None, language: str = "en") -> str:
    """`` · chrF++ 43.3 (base 40.0)`` for a revision whose metrics.json scored its adapter; else empty."""
    if scores is None or scores.lora_chrf is None:
        return ""
    return say("label_scores", language, lora=f"{scores.lora_chrf:.1f}", base=f"{scores.base_chrf:.1f}")


def revision_choices(revisions: Revisions, language: str = "en") -> list[Choice]:
    """Dropdown choices for a repo's branches, tags and commits, with the scores their metrics.json gives.

    Values are always ``repo@revision``, never a bare revision: they mean the same model whichever repo is
    configured, and a branch name with a slash (``exp/run-1``) can never read as another repo's ``owner/name``.
    """
    repo, scores = revisions.repo_id, revisions.scores
    choices = [(f"{ref.name} · {say('kind_' + ref.kind, language)} · {ref.sha[:7]}"
                + run_scores_label(scores.get(ref.sha), language), f"{repo}@{ref.name}")
               for ref in (*revisions.branches, *revisions.tags)]
    choices += [(f"{c.sha[:7]} · {say('kind_commit', language)} · {shorten(c.title)}"
                 + run_scores_label(scores.get(c.sha), language), f"{repo}@{c.sha}") for c in revisions.commits]
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
