"""What one request may ask for, checked before any work is spent on it.

Every limit is a setting (settings.py), and every refusal an ``InputError`` that names the limit and its setting,
so a visitor knows what to change and the owner which knob it is. The checks run in the main process, before the
Hub or the model is touched.
"""

from __future__ import annotations

from typing import Sequence

from ..errors import InputError
from ..hub.model_choice import MAX_NAME_CHARS
from ..model.slot import Decoding
from ..settings import Settings
from ..text.languages import UnknownLanguageError, language_label, resolve_language
from ..text.segment import Segmented

Label = str | tuple[str, str]
"""What a message calls the checked parameter: ``("The text", "El texto")``, or an English label alone, which the
Spanish message then quotes as it is."""


def _label(what: Label) -> tuple[str, str]:
    return (what, what) if isinstance(what, str) else what


def bounded(what: Label, value: str, limit: int, setting: str = "") -> None:
    """Refuse a text parameter over ``limit`` characters."""
    if isinstance(value, str) and len(value) > limit:
        english, spanish = _label(what)
        end = f" ({setting})." if setting else "."
        raise InputError(f"{english} has {len(value):,} characters; the limit is {limit:,}" + end,
                         es=f"{spanish} tiene {len(value):,} caracteres; el límite es {limit:,}" + end)


def valid_unicode(value: str, what: Label) -> None:
    """Refuse text that is not valid Unicode (lone surrogates, which some clipboards and clients send)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        english, spanish = _label(what)
        raise InputError(
            f"{english} holds a character that is not valid Unicode at position {error.start} (a lone surrogate); "
            "paste it again as plain text.",
            es=f"{spanish} contiene un carácter que no es Unicode válido en la posición {error.start} (un surrogate "
               "aislado); vuelve a pegarlo como texto sin formato.",
        ) from None


def languages(settings: Settings, src_lang: str | None, tgt_lang: str | None) -> tuple[str, str]:
    """The request's languages as FLORES-200 codes (the settings' defaults when not given)."""
    for name in (src_lang, tgt_lang):
        bounded(("A language name", "Un nombre de idioma"), name or "", MAX_NAME_CHARS)
    try:
        src = resolve_language(src_lang or settings.src_lang)
        tgt = resolve_language(tgt_lang or settings.tgt_lang)
    except UnknownLanguageError as error:
        raise InputError(str(error), es=error.es) from None
    if src == tgt:
        raise InputError(f"Source and target are both {language_label(src)}; pick a different target language.",
                         es=f"El origen y el destino son el mismo idioma, {language_label(src, 'es')}; elige otro "
                            "idioma de destino.")
    return src, tgt


MAX_ADAPTER_SCALE = 2.0
"""The strongest adapter strength a request may ask for (twice the update as trained)."""


def decoding(settings: Settings, num_beams: int | None, max_new_tokens: int | None,
             adapter_scale: float | None = None) -> Decoding:
    """The request's decoding options, defaults filled in and each within its limit."""
    beams = settings.num_beams if num_beams is None else int(num_beams)
    length = settings.max_new_tokens if max_new_tokens is None else int(max_new_tokens)
    if not 1 <= beams <= settings.max_beams:
        raise InputError(f"Beam size must be between 1 and {settings.max_beams} (NLLB_MAX_BEAMS); got {beams}.",
                         es=f"El tamaño del haz debe estar entre 1 y {settings.max_beams} (NLLB_MAX_BEAMS); se "
                            f"recibió {beams}.")
    if not 1 <= length <= settings.max_new_tokens:
        raise InputError(
            f"Max length must be between 1 and {settings.max_new_tokens} tokens (NLLB_MAX_NEW_TOKENS); got {length}.",
            es=f"La longitud máxima debe estar entre 1 y {settings.max_new_tokens} tokens (NLLB_MAX_NEW_TOKENS); se "
               f"recibió {length}.",
        )
    scale = 1.0 if adapter_scale is None else float(adapter_scale)
    if not 0.0 <= scale <= MAX_ADAPTER_SCALE:  # also refuses NaN
        raise InputError(f"Adapter strength must be between 0 (the base model) and {MAX_ADAPTER_SCALE:g}; got {scale}.",
                         es=f"La fuerza del adaptador debe estar entre 0 (el modelo base) y {MAX_ADAPTER_SCALE:g}; se "
                            f"recibió {scale}.")
    return Decoding(beams, length, scale)


def sentence_count(settings: Settings, segmented: Segmented) -> None:
    """One text's sentences within ``NLLB_MAX_SENTENCES``."""
    if len(segmented.pieces) > settings.max_sentences:
        raise InputError(
            f"The text has {len(segmented.pieces)} sentences; the limit is {settings.max_sentences} "
            "(NLLB_MAX_SENTENCES). Split it into smaller parts.",
            es=f"El texto tiene {len(segmented.pieces)} oraciones; el límite es {settings.max_sentences} "
               "(NLLB_MAX_SENTENCES). Divídelo en partes más pequeñas.",
        )


def text_before_splitting(settings: Settings, text: str) -> None:
    """What is checked before a text is even split into sentences."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("Enter some text to translate.", es="Escribe algún texto para traducir.")
    valid_unicode(text, ("The text", "El texto"))
    if len(text) > settings.max_chars:
        raise InputError(
            f"The text has {len(text):,} characters; the limit is {settings.max_chars:,} (NLLB_MAX_CHARS). "
            "Split it into smaller parts.",
            es=f"El texto tiene {len(text):,} caracteres; el límite es {settings.max_chars:,} (NLLB_MAX_CHARS). "
               "Divídelo en partes más pequeñas.",
        )


def job_rows(settings: Settings, texts: Sequence[str], segmented: Sequence[Segmented]) -> None:
    """Many rows as one visitor's job (a file): each row within ``NLLB_MAX_CHARS``, all within
    ``NLLB_MAX_JOB_SENTENCES`` together, since the whole file is one visitor's work."""
    total = 0
    for number, (text, pieces) in enumerate(zip(texts, segmented), start=1):
        valid_unicode(text, (f"Row {number}", f"La fila {number}"))
        if len(text) > settings.max_chars:
            raise InputError(
                f"Row {number} has {len(text):,} characters; one row may have at most {settings.max_chars:,} "
                "(NLLB_MAX_CHARS).",
                es=f"La fila {number} tiene {len(text):,} caracteres; una fila puede tener como máximo "
                   f"{settings.max_chars:,} (NLLB_MAX_CHARS).",
            )
        total += len(pieces.pieces)
        if total > settings.max_job_sentences:
            raise InputError(
                f"The file holds more than {settings.max_job_sentences:,} sentences (row {number} goes over); one file "
                "may hold at most that many (NLLB_MAX_JOB_SENTENCES). Split it into smaller files.",
                es=f"El archivo contiene más de {settings.max_job_sentences:,} oraciones (la fila {number} supera "
                   "el límite); un archivo puede contener como máximo esa cantidad (NLLB_MAX_JOB_SENTENCES). "
                   "Divídelo en archivos más pequeños.",
            )
    if total == 0:
        raise InputError("Every row is empty: there is nothing to translate.",
                         es="Todas las filas están vacías: no hay nada que traducir.")
