"""What every handler shares: visitors' values made into engine arguments, engine errors made into messages.

Errors: an ``InputError``/``HubError`` (empty text, over a limit, unknown language or revision, Hub down) becomes a
``gr.Error`` with the engine's message, shown to that visitor only; the server keeps serving everyone else.
Messages are HTML-escaped because Gradio renders error messages (and Markdown) as HTML, and they may quote what a
visitor typed.
"""

from __future__ import annotations

import functools
import html
import logging
from typing import Callable

import gradio as gr

from .errors import InputError, UserFacingError
from .progress import VisitorGone
from .results import BASE

logger = logging.getLogger(__name__)

MEAN = "mean"
"""Layer/head dropdown value for "average over all of them"."""


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


def model_spec(value: str | None) -> str:
    """A model picker's value as the engine takes it (empty means the base model)."""
    return (value or "").strip() or BASE


def whole_number(value: float | int | str | None, what: str) -> int | None:
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


def number(value: float | int | str | None, what: str) -> float | None:
    """A slider's or API caller's number as a float (None = the engine's default)."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{what} must be a number (got {str(value)[:40]!r}).") from None


def map_index(value: str | None, size: int) -> int | None:
    """A layer/head dropdown value as an index, ``None`` for the mean (or for an index this map does not have)."""
    if value in (None, "", MEAN):
        return None
    index = int(value)
    return index if 0 <= index < size else None


def language_code(value: str) -> str:
    """The FLORES-200 code of a language name, for a file name (``translation`` when it is not one)."""
    from .languages import UnknownLanguageError, resolve_language

    try:
        return resolve_language(value)
    except UnknownLanguageError:
        return "translation"
