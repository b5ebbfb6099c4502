"""What every handler shares: visitors' values made into engine arguments, engine errors made into messages.

Errors: an ``InputError``/``HubError`` (empty text, over a limit, unknown language or revision, Hub down) becomes a
``gr.Error`` with the engine's message, shown to that visitor only; the server keeps serving everyone else.
Messages are HTML-escaped because Gradio renders error messages (and Markdown) as HTML, and they may quote what a
visitor typed. They are in the visitor's language: a handler that takes ``request: gr.Request`` (Gradio fills it in,
and leaves it out of the API) gets its errors in the language its visitor's browser asks for.
"""

from __future__ import annotations

import contextlib
import functools
import html
import inspect
import logging
from typing import Callable

import gradio as gr

from .errors import InputError, UserFacingError
from .i18n import TEXTS, visitor_language
from .messages import MESSAGES, say
from .progress import VisitorGone
from .results import BASE

logger = logging.getLogger(__name__)

MEAN = "mean"
"""Layer/head dropdown value for "average over all of them"."""


def user_errors(fn: Callable) -> Callable:
    """Turn the engine's user-facing errors into ``gr.Error`` (a message for this visitor; no traceback in logs)."""
    signature = inspect.signature(fn)

    def language_of(args: tuple, kwargs: dict) -> str:
        """The visitor's language, from the handler's ``request`` argument (English for a handler without one)."""
        try:
            request = signature.bind_partial(*args, **kwargs).arguments.get("request")
        except TypeError:
            request = None
        return visitor_language(request)

    @contextlib.contextmanager
    def as_messages(args: tuple, kwargs: dict):
        try:
            yield
        except gr.Error:
            raise
        except VisitorGone:
            logger.info("%s stopped: the visitor has gone", fn.__name__)
            raise gr.Error(say("cancelled", language_of(args, kwargs)), print_exception=False) from None
        except UserFacingError as error:
            message = error.in_language(language_of(args, kwargs))
            raise gr.Error(html.escape(message, quote=False), print_exception=False) from None
        except Exception:
            logger.exception("Unexpected error in %s", fn.__name__)
            raise gr.Error(say("server_error", language_of(args, kwargs)), print_exception=False) from None

    if inspect.isgeneratorfunction(fn):  # a handler that streams: its errors arise while it is iterated
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            with as_messages(args, kwargs):
                yield from fn(*args, **kwargs)

        return stream

    @functools.wraps(fn)  # keeps the signature: Gradio reads parameter names, gr.Request and gr.Progress from it
    def wrapper(*args, **kwargs):
        with as_messages(args, kwargs):
            return fn(*args, **kwargs)

    return wrapper


def model_spec(value: str | None) -> str:
    """A model picker's value as the engine takes it (empty means the base model)."""
    return (value or "").strip() or BASE


def whole_number(value: float | int | str | None, what: str) -> int | None:
    """Sliders and API callers send floats or nothing; the engine takes ints or None (= its default).

    ``what`` names the field by its key in ``i18n.TEXTS`` (its label on the page), for the message."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
        if number != int(number):
            raise ValueError
        return int(number)
    except (TypeError, ValueError, OverflowError):
        raise _not_a_number("whole_number", value, what) from None


def decoding_options(num_beams: float | int | str | None, max_new_tokens: float | int | str | None) -> dict:
    """The page's decoding options as the engine takes them (None: its default)."""
    return dict(num_beams=whole_number(num_beams, "beams"),
                max_new_tokens=whole_number(max_new_tokens, "max_new_tokens"))


def number(value: float | int | str | None, what: str) -> float | None:
    """A slider's or API caller's number as a float (None = the engine's default); ``what`` as for whole_number."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise _not_a_number("number", value, what) from None


def _not_a_number(key: str, value: object, what: str) -> InputError:
    english, spanish = TEXTS[what]
    got = repr(str(value)[:40])
    return InputError(MESSAGES[key][0].format(what=english, value=got),
                      es=MESSAGES[key][1].format(what=spanish, value=got))


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
