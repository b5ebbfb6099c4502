"""What one request may ask for, checked before any work is spent on it.

Every limit is a setting (settings.py), and every refusal an ``InputError`` that names the limit and its setting,
so a visitor knows what to change and the owner which knob it is. The checks run in the main process, before the
Hub or the model is touched.
"""

from __future__ import annotations

from typing import Sequence

from .choice import MAX_NAME_CHARS
from .errors import InputError
from .languages import UnknownLanguageError, language_name, resolve_language
from .segment import Segmented
from .settings import Settings
from .slot import Decoding


def bounded(what: str, value: str, limit: int, setting: str = "") -> None:
    """Refuse a text parameter over ``limit`` characters."""
    if isinstance(value, str) and len(value) > limit:
        raise InputError(
            f"{what} has {len(value):,} characters; the limit is {limit:,}" + (f" ({setting})." if setting else ".")
        )


def valid_unicode(value: str, what: str) -> None:
    """Refuse text that is not valid Unicode (lone surrogates, which some clipboards and clients send)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputError(
            f"{what} holds a character that is not valid Unicode at position {error.start} (a lone surrogate); "
            "paste it again as plain text."
        ) from None


def languages(settings: Settings, src_lang: str | None, tgt_lang: str | None) -> tuple[str, str]:
    """The request's languages as FLORES-200 codes (the settings' defaults when not given)."""
    for name in (src_lang, tgt_lang):
        bounded("A language name", name or "", MAX_NAME_CHARS)
    try:
        src = resolve_language(src_lang or settings.src_lang)
        tgt = resolve_language(tgt_lang or settings.tgt_lang)
    except UnknownLanguageError as error:
        raise InputError(str(error)) from None
    if src == tgt:
        raise InputError(f"Source and target are both {language_name(src)} ({src}); pick a different target language.")
    return src, tgt


MAX_ADAPTER_SCALE = 2.0
"""The strongest adapter strength a request may ask for (twice the update as trained)."""


def decoding(settings: Settings, num_beams: int | None, max_new_tokens: int | None,
             adapter_scale: float | None = None) -> Decoding:
    """The request's decoding options, defaults filled in and each within its limit."""
    beams = settings.num_beams if num_beams is None else int(num_beams)
    length = settings.max_new_tokens if max_new_tokens is None else int(max_new_tokens)
    if not 1 <= beams <= settings.max_beams:
        raise InputError(f"Beam size must be between 1 and {settings.max_beams} (NLLB_MAX_BEAMS); got {beams}.")
    if not 1 <= length <= settings.max_new_tokens:
        raise InputError(
            f"Max length must be between 1 and {settings.max_new_tokens} tokens (NLLB_MAX_NEW_TOKENS); got {length}."
        )
    scale = 1.0 if adapter_scale is None else float(adapter_scale)
    if not 0.0 <= scale <= MAX_ADAPTER_SCALE:  # also refuses NaN
        raise InputError(f"Adapter strength must be between 0 (the base model) and {MAX_ADAPTER_SCALE:g}; got {scale}.")
    return Decoding(beams, length, scale)


def sentence_count(settings: Settings, segmented: Segmented) -> None:
    """One text's sentences within ``NLLB_MAX_SENTENCES``."""
    if len(segmented.pieces) > settings.max_sentences:
        raise InputError(
            f"The text has {len(segmented.pieces)} sentences; the limit is {settings.max_sentences} "
            "(NLLB_MAX_SENTENCES). Split it into smaller parts."
        )


def text_before_splitting(settings: Settings, text: str) -> None:
    """What is checked before a text is even split into sentences."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("Enter some text to translate.")
    valid_unicode(text, "The text")
    if len(text) > settings.max_chars:
        raise InputError(
            f"The text has {len(text):,} characters; the limit is {settings.max_chars:,} (NLLB_MAX_CHARS). "
            "Split it into smaller parts."
        )


def job_rows(settings: Settings, texts: Sequence[str], segmented: Sequence[Segmented]) -> None:
    """Many rows as one visitor's job (a file): each row within ``NLLB_MAX_CHARS``, all within
    ``NLLB_MAX_JOB_SENTENCES`` together, since the whole file is one visitor's work."""
    total = 0
    for number, (text, pieces) in enumerate(zip(texts, segmented), start=1):
        valid_unicode(text, f"Row {number}")
        if len(text) > settings.max_chars:
            raise InputError(
                f"Row {number} has {len(text):,} characters; one row may have at most {settings.max_chars:,} "
                "(NLLB_MAX_CHARS)."
            )
        total += len(pieces.pieces)
        if total > settings.max_job_sentences:
            raise InputError(
                f"The file holds more than {settings.max_job_sentences:,} sentences (row {number} goes over); one file "
                "may hold at most that many (NLLB_MAX_JOB_SENTENCES). Split it into smaller files."
            )
    if total == 0:
        raise InputError("Every row is empty: there is nothing to translate.")
