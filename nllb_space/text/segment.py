"""Text -> sentences to translate -> text again, with the original layout kept exactly.

NLLB translates one sentence well and a long paragraph badly (it was trained on sentence pairs and drops or
repeats content on long inputs), so the engine translates sentences as a batch. ``split_text`` cuts a text into
``pieces`` (stripped sentences) and a ``template`` (everything else: line breaks, blank lines, indentation, the
spaces between sentences); ``join_text`` puts translations back into that template. Splitting and joining the
pieces themselves gives back the input exactly, whatever it is.

Why a hand-written splitter: the sentence splitters on PyPI either need downloaded data (nltk's punkt) or cover a
few dozen languages (pysbd), while NLLB serves 202 languages written in 28 scripts. One rule over every script's
sentence-final punctuation covers all of them, costs no dependency, and is predictable: a visitor can see why a
text was cut where it was. The rules, in order:

1. Lines are never joined: a line break, blank line or indentation is layout, and lives in the template.
2. Within a line, a sentence ends after a run of terminators (``. ! ? …`` and ``‼ ⁇ ⁈ ⁉``) plus any closing
   quotes or brackets, when whitespace follows and the next word does not start with a lowercase letter
   (``He said "Stop!" and left.`` is one sentence).
3. Terminators that only ever end sentences in their scripts split even without a following space: CJK ``。！？｡``,
   Devanagari/Bengali danda ``। ॥``, Arabic ``؟``, Urdu ``۔``, Ethiopic ``። ፧``, Myanmar ``။``, Armenian ``։``,
   Khmer ``។ ៕``. Except a CJK quotation closed and followed directly by more text, as in Japanese
   「行こう！」と言った: the quotation is part of the sentence around it.
4. A lone ``.`` does not end a sentence after a single letter (initials "J. K. Rowling", Spanish "p. ej."), after
   an abbreviation in ``ABBREVIATIONS`` ("Sr.", "Dr.", "EE. UU."), or inside a number ("3.5", "1.000.000" — no
   whitespace follows those dots). And a "sentence" without a letter ("1.", "3.2.", "!!!") never ends: it joins
   the next one, so a numbered heading stays with its title.
5. A sentence longer than ``max_chars`` is cut at the last clause mark (``, ; :`` followed by a space, or
   ``，、；：،؛፣፤၊``) before the limit, else at the last whitespace, else hard (never inside a cluster of
   combining marks, joiners or a virama conjunct). Cuts in the first quarter of the window are used only when
   nothing later exists, so pieces stay long enough to translate. Nothing is ever dropped or truncated.

This is a heuristic: it will miss a sentence that ends in an abbreviation ("... in the U.S. Then ...") and it does
not split scripts whose sentence marks double as clause marks (Tibetan shad ``།``, Greek ``;``) or that mark no
sentence end at all (Thai, which rule 5 then cuts at spaces).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ABBREVIATIONS", "DEFAULT_MAX_CHARS", "Segmented", "join_text", "split_text"]

DEFAULT_MAX_CHARS = 400
"""Longest piece ``split_text`` returns by default. About 100 tokens of Latin-script text and under 400 of CJK
(roughly a token per character), so every piece stays well inside the 512 tokens NLLB was trained on, and beyond
the length of nearly every real sentence, so this cut is rare."""

ABBREVIATIONS: frozenset[str] = frozenset(
    {
        # English
        "mr", "mrs", "ms", "messrs", "dr", "prof", "rev", "hon", "st", "mt", "gen", "gov", "sen", "capt", "col",
        "lt", "sgt", "vs", "approx", "pp", "cf", "e.g", "i.e",
        # Spanish
        "sr", "sra", "srta", "sres", "sras", "dña", "dra", "lic", "ing", "arq", "profa", "ud", "uds", "vd", "vds",
        "av", "avda", "pág", "págs", "núm", "tel", "ee", "ej", "aprox", "gral", "p.ej",
        # Italian
        "sig", "sigg", "sig.ra", "sig.na", "dott", "dott.ssa", "prof.ssa", "avv", "geom", "egr", "gent", "spett",
        "pag", "cfr",
        # French
        "mme", "mmes", "mlle", "mlles", "pr", "ste", "env", "ex", "p.ex",
        # German
        "bzw", "ca", "nr", "hr", "fr", "str", "vgl", "ggf", "evtl", "inkl", "zzgl", "bspw", "sog", "abs", "z.b",
        "d.h", "u.a",
        # Portuguese
        "exmo", "exma", "nº", "n.º",
        # Russian
        "ул", "им", "стр", "проф", "см", "т.е", "т.д", "т.п",
    }
)
"""Words (casefolded, without their final period) after which ``.`` never ends a sentence: titles and words that
introduce a name or a number. Words that can end a sentence ("etc.", "UU." of "EE. UU.") are left out on purpose:
rule 2 already keeps them inside a sentence when a lowercase word follows. Language-agnostic and small by design:
an entry is only worth its false negatives if it rarely ends a sentence in *any* language."""

# Characters, as regex class bodies. Kept as strings so each appears once and the regexes below read as rules.
_NEEDS_SPACE_TERMINATORS = r".!?…‼⁇⁈⁉"
"""Terminators that also appear inside sentences (decimals, abbreviations, "Yahoo!"), so they need whitespace."""
_ALWAYS_TERMINATORS = "。！？｡।॥؟۔።፧။։។៕"
"""Terminators that are never used inside a sentence in their scripts, so they split even when text follows."""
_CJK_TERMINATORS = "。！？｡"
_CLOSERS = "\"'»”’)]}›」』）】〕〉》"
"""Closing quotes and brackets that belong to the sentence they follow."""
_OPENERS = "\"'«“‘„¿¡([{‹「『（【〔〈《—–-"
"""What may precede the first letter of a sentence or word: skipped when looking at that letter."""
_CLAUSE_MARKS_SPACED = ",;:"
_CLAUSE_MARKS = "，、；：،؛፣፤၊"

_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # exactly what str.splitlines() splits on

# A line's content: from its first to its last non-whitespace character, never across a line break. All the
# whitespace around it (line breaks, indentation, trailing spaces) is left to the template.
_LINE_CONTENT_RE = re.compile(rf"\S(?:[^{_LINE_BREAKS}]*\S)?")

# A candidate sentence end: a run of terminators, closing quotes/brackets, then the whitespace that follows
# (possibly none). Whether it really ends a sentence is decided in _is_sentence_end.
_TERMINATOR_RE = re.compile(
    rf"(?P<marks>[{re.escape(_NEEDS_SPACE_TERMINATORS + _ALWAYS_TERMINATORS)}]+)"
    rf"(?P<closers>[{re.escape(_CLOSERS)}]*)(?P<space>\s*)"
)
_ALWAYS_RE = re.compile(rf"[{re.escape(_ALWAYS_TERMINATORS)}]")
_CJK_RE = re.compile(rf"[{re.escape(_CJK_TERMINATORS)}]")
_LETTER_RE = re.compile(r"[^\W\d_]")
_CLAUSE_RE = re.compile(rf"[{re.escape(_CLAUSE_MARKS_SPACED)}](?=\s)|[{re.escape(_CLAUSE_MARKS)}]")
_SPACE_RE = re.compile(r"\s+")
_NON_SPACE_RE = re.compile(r"\S")

_LONGEST_ABBREVIATION = max(map(len, ABBREVIATIONS))
_VIRAMA_COMBINING_CLASS = 9  # Unicode canonical combining class shared by every script's virama (halant)


@dataclass(frozen=True)
class Segmented:
    """A text cut into sentences to translate and the layout around them.

    ``"".join(p if isinstance(p, str) else pieces[p] for p in template)`` is the original text. Literals in the
    template are whitespace only (line breaks, blank lines, indentation, the spaces between sentences); adjacent
    literals are merged, so literals and indexes alternate, and the indexes are ``0, 1, ..., len(pieces) - 1`` in
    order.
    """

    pieces: tuple[str, ...]
    """The sentences to translate, in reading order: stripped, non-empty, at most ``max_chars`` long."""
    template: tuple[str | int, ...]
    """The original layout: literal strings and ``int`` indexes into ``pieces``, in order."""


def split_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> Segmented:
    """Cut ``text`` into sentences (see the module docstring for the rules) and the layout around them.

    Empty or whitespace-only text gives no pieces; ``join_text(result, result.pieces) == text`` always holds.
    Linear in ``len(text)``: 100,000 characters of ordinary prose take a few tens of milliseconds.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1 (got {max_chars}).")
    spans: list[tuple[int, int]] = []
    for line in _LINE_CONTENT_RE.finditer(text):
        for start, end in _sentence_spans(text, line.start(), line.end()):
            if end - start > max_chars:
                spans.extend(_cut_long(text, start, end, max_chars))
            else:
                spans.append((start, end))

    # Every span starts and ends on non-whitespace and they are ordered and disjoint, so the gaps between them are
    # exactly the whitespace layout; building the template from gaps makes the round trip exact by construction.
    pieces: list[str] = []
    template: list[str | int] = []
    position = 0
    for start, end in spans:
        if start > position:
            template.append(text[position:start])
        template.append(len(pieces))
        pieces.append(text[start:end])
        position = end
    if position < len(text):
        template.append(text[position:])
    return Segmented(pieces=tuple(pieces), template=tuple(template))


def join_text(segmented: Segmented, translations: Sequence[str]) -> str:
    """Put ``translations`` (one per piece, in order) back into the layout of the text ``segmented`` came from.

    Each translation is stripped first: the layout belongs to the template, and a model that emits a stray newline
    or space must not shift it. Raises ``ValueError`` when the counts differ, which means the caller lost or
    duplicated a sentence, and ``TypeError`` for a bare string, whose characters would pass as translations.
    """
    if isinstance(translations, str):
        raise TypeError("translations must be a sequence of strings, one per piece, not a single string.")
    if len(translations) != len(segmented.pieces):
        raise ValueError(
            f"Got {len(translations)} translations for {len(segmented.pieces)} pieces; they must match one to one."
        )
    return "".join(
        part if isinstance(part, str) else translations[part].strip() for part in segmented.template
    )


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence in ``text[start:end]``, one line's content (no line breaks, stripped)."""
    spans: list[tuple[int, int]] = []
    sentence_start = start
    # Rule 4 needs "does the sentence so far contain a letter?". Searching from sentence_start at every candidate
    # would be quadratic on "1. 1. 1. ..."; remember how far the search got instead.
    searched_to = start
    has_letter = False
    for match in _TERMINATOR_RE.finditer(text, start, end):
        next_start = match.end()
        if next_start >= end:  # the line ends here: its last sentence is closed below
            break
        if not has_letter:
            has_letter = _LETTER_RE.search(text, searched_to, match.start()) is not None
            searched_to = match.start()
            if not has_letter:  # "1.", "3.2.", "!!!": a list number or noise; keep it with what follows
                continue
        if not _is_sentence_end(text, sentence_start, match, end):
            continue
        spans.append((sentence_start, match.end("closers")))
        sentence_start = searched_to = next_start
        has_letter = False
    spans.append((sentence_start, end))
    return spans


def _is_sentence_end(text: str, sentence_start: int, match: re.Match[str], line_end: int) -> bool:
    """Whether the terminator run ``match`` ends the sentence begun at ``sentence_start`` by rules 2-4 (the caller
    has already checked that the sentence has a letter)."""
    marks, closers, space = match.group("marks", "closers", "space")
    if marks.isascii() or not _ALWAYS_RE.search(marks):  # only terminators that need whitespace (rule 2)
        if not space:  # "3.5", "a.C.", "Yahoo!Mail"
            return False
        first = _first_char(text, match.end(), line_end)
        if first is not None and _is_lowercase(first):
            return False
        if marks == "." and not closers:
            return not _is_abbreviation(text, sentence_start, match.start())
        return True
    # Rule 3, with its exception: a CJK quotation closed and followed directly by text ("「行こう！」と") is
    # embedded in the sentence around it.
    return not (closers and not space and _CJK_RE.search(marks))


def _first_char(text: str, position: int, end: int) -> str | None:
    """The first character of the word at ``position``, past opening quotes, brackets and dashes; None if there is
    none before ``end``."""
    while position < end and text[position] in _OPENERS:
        position += 1
    return text[position] if position < end else None


def _is_lowercase(char: str) -> bool:
    """Lowercase in a script where case marks sentence starts: Latin, Greek, Cyrillic, Armenian, Vietnamese.
    Georgian Mkhedruli is "lowercase" to Unicode (since Mtavruli capitals were encoded) yet starts sentences, so
    a plain ``str.islower`` would glue every Georgian sentence to the next."""
    code = ord(char)
    return char.islower() and (code < 0x0590 or 0x1E00 <= code < 0x2000)


def _is_abbreviation(text: str, sentence_start: int, period: int) -> bool:
    """Whether the word before the ``.`` at ``period`` is a single letter or one of ``ABBREVIATIONS`` (rule 4)."""
    word_start = period
    # Abbreviations are short: look back no further than the longest one (plus an opening quote or bracket).
    limit = max(sentence_start, period - _LONGEST_ABBREVIATION - 2)
    while word_start > limit and not text[word_start - 1].isspace():
        word_start -= 1
    if word_start == limit and limit > sentence_start and not text[limit - 1].isspace():
        return False  # a longer word than any abbreviation
    word = text[word_start:period].lstrip(_OPENERS)
    if len(word) == 1:
        return word.isupper() or word.islower()  # an initial; caseless scripts don't abbreviate this way
    return word.casefold() in ABBREVIATIONS


def _cut_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Spans of at most ``max_chars`` covering the sentence ``text[start:end]`` (rule 5); only whitespace between
    them is left out, and it goes to the template."""
    spans: list[tuple[int, int]] = []
    while end - start > max_chars:
        limit = start + max_chars
        # A cut leaving less than a quarter of the window is a last resort: it would make a fragment too short
        # to translate well, followed by a near-limit piece.
        floor = start + max(1, max_chars // 4)
        # Clause-mark cuts fall just after the mark; whitespace cuts just before the whitespace. Both are searched
        # in the window text[start+1 : limit+1], so a space right after the limit still counts.
        clause_cuts = [m.end() for m in _CLAUSE_RE.finditer(text, start + 1, limit + 1) if m.end() <= limit]
        space_cuts = [m.start() for m in _SPACE_RE.finditer(text, start + 1, limit + 1)]
        cut = next(
            (
                cuts[-1]
                for cuts in (
                    [c for c in clause_cuts if c >= floor],
                    [c for c in space_cuts if c >= floor],
                    clause_cuts,
                    space_cuts,
                )
                if cuts
            ),
            None,
        )
        if cut is None:
            cut = _hard_cut(text, start, limit)
        spans.append((start, cut))
        # The remainder starts at the next non-space character; there is one, since text[end - 1] is not a space.
        next_char = _NON_SPACE_RE.search(text, cut, end)
        assert next_char is not None
        start = next_char.start()
    spans.append((start, end))
    return spans


def _hard_cut(text: str, start: int, limit: int) -> int:
    """Cut at ``limit``, or a little before it so as not to split a cluster (a Devanagari vowel sign alone is not
    text). The window ``text[start:limit + 1]`` has no whitespace."""
    cut = limit
    while cut > start + 1 and _inside_cluster(text, cut):
        cut -= 1
    # A window that is one endless cluster (not text anyone writes) is cut at the limit: progress beats purity.
    return limit if _inside_cluster(text, cut) else cut


def _inside_cluster(text: str, position: int) -> bool:
    """Whether cutting before ``text[position]`` would split what a reader sees as one character: the character is a
    combining mark (category M*: a vowel sign, an accent, a variation selector) or a zero-width joiner, or the one
    before it is a joiner or a virama (which fuses two consonants into one conjunct in Indic scripts)."""
    char, previous = text[position], text[position - 1]
    return (
        unicodedata.category(char)[0] == "M"
        or char == "\u200d"
        or previous == "\u200d"
        or unicodedata.combining(previous) == _VIRAMA_COMBINING_CLASS
    )
