"""Compare's result as a learner reads it: one row per sentence, each side's chrF++, and which side did better.

Plain functions of a ``Comparison`` (no engine, no Gradio). :func:`score_comparison` makes the numbers once, as the
plain JSON the ``/compare`` endpoint returns; the page's scores table (:func:`summary_markdown`) and its rows
(:func:`rows_html`) are drawn from that same dict, so the page and the API can't disagree.

A reference is scored sentence by sentence only when it splits into as many sentences as the source did (the same
splitter); otherwise only the whole text is scored, and the rows say why.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from ..results import Comparison, Translation
from ..text.scoring import sentence_scores
from ..text.segment import split_text
from .markdown import code, word_diff
from .messages import say


@dataclass(frozen=True)
class ScoredComparison:
    """What the session keeps of its last Compare: the result and its numbers (``data``, as the API returns it)."""

    comparison: Comparison
    data: dict[str, Any]


def score_comparison(result: Comparison, reference: str | None = None) -> ScoredComparison:
    """Both sides' scores on the whole text and per sentence, against ``reference`` when one is given."""
    reference = (reference or "").strip()
    pieces = split_text(reference).pieces if reference else ()
    aligned = len(pieces) == len(result.left.sentences) if reference else None
    sides = {name: _side(side, reference) for name, side in (("left", result.left), ("right", result.right))}
    rows = []
    for i, (left, right) in enumerate(zip(result.left.sentences, result.right.sentences)):
        row: dict[str, Any] = {"source": left.source, "left": left.target, "right": right.target,
                               "reference": pieces[i] if aligned else None}
        if aligned:
            row.update(left_chrf=_round(sentence_scores(left.target, pieces[i])[1]),
                       right_chrf=_round(sentence_scores(right.target, pieces[i])[1]))
            row["right_minus_left"] = _round(row["right_chrf"] - row["left_chrf"])
        rows.append(row)
    difference = None
    if reference:
        difference = {metric: _round(sides["right"][metric] - sides["left"][metric]) for metric in ("chrf", "bleu")}
    data = {
        **sides, "right_minus_left": difference, "better": _better(difference["chrf"]) if difference else None,
        "reference_aligned": aligned, "batched": result.batched, "seconds": round(result.seconds, 3),
        "sentences": rows,
    }
    return ScoredComparison(result, data)


def summary_markdown(scored: ScoredComparison, language: str = "en") -> str:
    """The scores table: model, time, tokens and (with a reference) chrF++ and BLEU, with a "right − left" column."""
    data, result = scored.data, scored.comparison
    left, right, difference = data["left"], data["right"], data["right_minus_left"]
    rows = [
        f"| | {say('left', language)} | {say('right', language)} | {say('right_minus_left', language)} |",
        "|---|---|---|---|",
        f"| {say('model', language)} | {code(result.left.model.label)} | {code(result.right.model.label)} | |",
        f"| {say('summary_time', language)} | {left['seconds']:.2f} s | {right['seconds']:.2f} s | |",
        f"| {say('summary_tokens', language)} | {left['new_tokens']} | {right['new_tokens']} | "
        f"{right['new_tokens'] - left['new_tokens']:+d} |",
    ]
    if difference:
        for metric, name in (("chrf", "chrF++"), ("bleu", "BLEU")):
            better = _better(difference[metric])
            cells = [_bold(left[metric], better == "left"), _bold(right[metric], better == "right")]
            rows.append(f"| {name} | {cells[0]} | {cells[1]} | {difference[metric]:+.2f} · "
                        f"{say('better_' + better, language)} |")
    note = say("one_batch" if data["batched"] else "one_after_other", language, seconds=f"{data['seconds']:.2f}")
    if not difference:
        note += say("add_reference", language)
    elif not data["reference_aligned"]:
        note += say("reference_not_aligned", language, sentences=len(data["sentences"]))
    return "\n".join(rows) + "\n\n" + note


def rows_html(scored: ScoredComparison, language: str = "en") -> str:
    """One row per sentence: source, left and right with their differing words marked, reference, chrF++ each."""
    data = scored.data
    scored_rows = bool(data["reference_aligned"])
    head = ["#", say("source", language), say("left", language), say("right", language)]
    if scored_rows:
        head += [say("reference_short", language), "chrF++ " + say("left", language),
                 "chrF++ " + say("right", language), say("right_minus_left", language)]
    lines = ['<div class="compare-rows-scroll"><table class="compare-rows">',
             "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for i, row in enumerate(data["sentences"], start=1):
        marked = word_diff(row["left"], row["right"])
        same = row["left"] == row["right"]
        cells = [str(i), html.escape(row["source"]), _marked(marked, "only left"), _marked(marked, "only right")]
        if scored_rows:
            better = _better(row["right_minus_left"])
            cells += [html.escape(row["reference"]), _cell(row["left_chrf"], better == "left"),
                      _cell(row["right_chrf"], better == "right"),
                      f'{row["right_minus_left"]:+.2f} {_arrow(better)}']
        css = ' class="same"' if same else ""
        lines.append(f"<tr{css}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    lines.append("</tbody></table></div>")
    legend = say("rows_legend", language)
    return f'<p class="compare-legend">{html.escape(legend)}</p>' + "".join(lines)


def _side(side: Translation, reference: str) -> dict[str, Any]:
    values: dict[str, Any] = {"model": side.model.label, "commit": side.model.sha, "seconds": round(side.seconds, 3),
                              "new_tokens": side.new_tokens, "chrf": None, "bleu": None}
    if reference:
        bleu, chrf = sentence_scores(side.text, reference)
        values.update(chrf=_round(chrf), bleu=_round(bleu))
    return values


def _round(value: float) -> float:
    return round(float(value), 2)


def _better(difference: float) -> str:
    """Which side scored higher; differences under 0.005 round to zero, so they are a tie."""
    if abs(difference) < 0.005:
        return "same"
    return "right" if difference > 0 else "left"


def _bold(value: float, better: bool) -> str:
    return f"**{value:.2f}**" if better else f"{value:.2f}"


def _cell(value: float, better: bool) -> str:
    return f"<b>{value:.2f}</b>" if better else f"{value:.2f}"


def _arrow(better: str) -> str:
    return {"right": "▶", "left": "◀"}.get(better, "=")


def _marked(pieces: list[tuple[str, str | None]], side: str) -> str:
    """One side of a word diff as HTML: its own words, the ones the other side lacks in <mark>."""
    other = "only right" if side == "only left" else "only left"
    css = "diff-left" if side == "only left" else "diff-right"
    return "".join(f'<mark class="{css}">{html.escape(text)}</mark>' if label == side else html.escape(text)
                   for text, label in pieces if label != other)
