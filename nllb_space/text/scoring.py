"""BLEU and chrF++ with sacreBLEU, the way FLORES-200 results are reported.

sacreBLEU is called directly rather than through ``evaluate.load("sacrebleu")``: that call downloads the metric's
script from the Hub at run time, which fails offline, and adds nothing over the library it wraps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Scores:
    """Corpus-level scores of hypotheses against one reference each (0-100, higher is better)."""

    bleu: float
    chrf: float
    """chrF++ (character n-grams plus word bigrams)."""
    bleu_signature: str
    chrf_signature: str
    sentences: int


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> Scores:
    """sacreBLEU BLEU and chrF++ of ``hypotheses`` against ``references`` (same length, aligned)."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} translations but {len(references)} references: they must align.")
    bleu, chrf = BLEU(), CHRF(word_order=2)
    refs = [list(references)]
    return Scores(
        bleu=bleu.corpus_score(list(hypotheses), refs).score,
        chrf=chrf.corpus_score(list(hypotheses), refs).score,
        bleu_signature=str(bleu.get_signature()),
        chrf_signature=str(chrf.get_signature()),
        sentences=len(hypotheses),
    )


def sentence_scores(hypothesis: str, reference: str) -> tuple[float, float]:
    """(BLEU, chrF++) of one sentence; BLEU uses sacreBLEU's effective-order smoothing for single sentences."""
    from sacrebleu.metrics import BLEU, CHRF

    bleu = BLEU(effective_order=True).sentence_score(hypothesis, [reference]).score
    chrf = CHRF(word_order=2).sentence_score(hypothesis, [reference]).score
    return bleu, chrf


@dataclass(frozen=True)
class LineScores:
    """chrF++ and BLEU of both sides on one line."""

    left_chrf: float
    right_chrf: float
    left_bleu: float
    right_bleu: float


@dataclass(frozen=True)
class SideBySide:
    """Two models' translations of the same lines, scored on the lines that have a reference."""

    lines: tuple[LineScores | None, ...]
    """Per line, in order; ``None`` where the line has no reference."""
    left: Scores | None
    """Corpus scores of the left side over the scored lines (``None`` when no line has a reference)."""
    right: Scores | None


def side_by_side(lefts: Sequence[str], rights: Sequence[str], references: Sequence[str | None]) -> SideBySide:
    """Score two aligned lists of translations against ``references`` (``None`` or ``""``: not scored)."""
    lines: list[LineScores | None] = []
    for left, right, reference in zip(lefts, rights, references, strict=True):
        if not reference:
            lines.append(None)
            continue
        (lb, lc), (rb, rc) = sentence_scores(left, reference), sentence_scores(right, reference)
        lines.append(LineScores(lc, rc, lb, rb))
    scored = [i for i, reference in enumerate(references) if reference]
    if not scored:
        return SideBySide(tuple(lines), None, None)
    refs = [references[i] for i in scored]
    return SideBySide(
        tuple(lines),
        corpus_scores([lefts[i] for i in scored], refs),
        corpus_scores([rights[i] for i in scored], refs),
    )
