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
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import gradio as gr

from .. import visitors
from ..errors import InputError, UserFacingError
from ..results import BASE
from .i18n import TEXTS, visitor_language
from .job_progress import VisitorGone
from .messages import MESSAGES, both, say

logger = logging.getLogger(__name__)

MEAN = "mean"
"""Layer/head dropdown value for "average over all of them"."""


def mean_choice(what: str, language: str) -> list[tuple[str, str]]:
    """The layer (``what="layers"``) or head (``"heads"``) picker's first choice, "mean over layers", in
    ``language``."""
    return [(say(f"mean_{what}", language), MEAN)]


def _request_of(signature: inspect.Signature, args: tuple, kwargs: dict):
    """The handler's ``request`` argument (``None`` for a handler without one)."""
    try:
        return signature.bind_partial(*args, **kwargs).arguments.get("request")
    except TypeError:
        return None


def user_errors(fn: Callable) -> Callable:
    """Turn the engine's user-facing errors into ``gr.Error`` (a message for this visitor; no traceback in logs), and
    serve the call as its visitor (``visitors.current``: the model gate and the Hub threads share by it)."""
    signature = inspect.signature(fn)

    def language_of(args: tuple, kwargs: dict) -> str:
        """The visitor's language, from the handler's ``request`` argument (English for a handler without one)."""
        return visitor_language(_request_of(signature, args, kwargs))

    @contextlib.contextmanager
    def as_messages(args: tuple, kwargs: dict):
        try:
            _bounded_fields(args, kwargs)
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
            key = visitors.of_request(_request_of(signature, args, kwargs))
            with as_messages(args, kwargs):
                yield from _as_visitor(key, fn(*args, **kwargs))

        return stream

    @functools.wraps(fn)  # keeps the signature: Gradio reads parameter names, gr.Request and gr.Progress from it
    def wrapper(*args, **kwargs):
        with as_messages(args, kwargs), visitors.visiting(visitors.of_request(_request_of(signature, args, kwargs))):
            return fn(*args, **kwargs)

    return wrapper


def _bounded_fields(args: tuple, kwargs: dict) -> None:
    """Refuse any text field of an event longer than ``NLLB_MAX_CHARS`` (the longest text any field takes), before
    the handler spends anything on it: private events, which a client can call too, are bounded like the API's."""
    settings = getattr(args[0], "settings", None) if args else None
    if settings is None:
        return
    for value in (*args[1:], *kwargs.values()):
        if isinstance(value, str) and len(value) > settings.max_chars:
            raise InputError(**both("field_too_long", chars=f"{len(value):,}", limit=f"{settings.max_chars:,}"))


def _as_visitor(key: str, steps: Iterator) -> Iterator:
    """``steps`` with ``visitors.current`` set to ``key`` during each step: Gradio runs each step of a streaming
    handler on a worker thread of its own, in a fresh copy of the context, so the key is set anew each time."""
    while True:
        with visitors.visiting(key):
            try:
                item = next(steps)
            except StopIteration:
                return
        yield item


def model_work(fn: Callable) -> Callable:
    """Count the call against its visitor's requests in progress (``NLLB_VISITOR_REQUESTS``): one visitor's many tabs
    are refused at once beyond that, instead of holding every request slot while strangers wait. Goes under
    :func:`user_errors`, which turns the refusal into the visitor's message; the handler's class holds the count
    (``self.in_progress``)."""
    signature = inspect.signature(fn)

    def admitted(args: tuple, kwargs: dict) -> tuple[visitors.InProgress, str]:
        counts, key = args[0].in_progress, visitors.of_request(_request_of(signature, args, kwargs))
        if not counts.enter(key):
            raise InputError(MESSAGES["busy_visitor"][0].format(limit=counts.limit),
                             es=MESSAGES["busy_visitor"][1].format(limit=counts.limit))
        return counts, key

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            counts, key = admitted(args, kwargs)
            try:
                yield from fn(*args, **kwargs)
            finally:
                counts.leave(key)

        return stream

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        counts, key = admitted(args, kwargs)
        try:
            return fn(*args, **kwargs)
        finally:
            counts.leave(key)

    return wrapper


def model_spec(value: str | None) -> str:
    """A model picker's value as the engine takes it (empty means the base model)."""
    if value is not None and not isinstance(value, str):  # an API caller's 7 or ["main"]
        raise InputError(**both("model_not_text", got=type(value).__name__))
    return (value or "").strip() or BASE


def uploaded_path(file: object, missing: str = "upload_first") -> str:
    """The path of a file this Space's upload box stored, for reading. Gradio hands handlers such paths, under its
    upload folder or the temp folder; a path a client made up (``/etc/passwd``, ``../x``) is refused, with the message
    ``missing`` names when there is no file at all."""
    if not file:
        raise InputError(**both(missing))
    if not isinstance(file, str):
        raise InputError(**both("upload_forged"))
    from gradio.utils import get_upload_folder

    path = Path(file).resolve()
    roots = {Path(tempfile.gettempdir()).resolve(), Path(get_upload_folder()).resolve()}
    if not any(root in path.parents for root in roots):
        raise InputError(**both("upload_forged"))
    return str(path)


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
    try:
        index = int(str(value)[:8])
    except ValueError:  # a forged event's "abc": the mean, as for an index the map lacks
        return None
    return index if 0 <= index < size else None


def language_code(value: str) -> str:
    """The FLORES-200 code of a language name, for a file name (``translation`` when it is not one)."""
    from ..text.languages import UnknownLanguageError, resolve_language

    try:
        return resolve_language(value)
    except UnknownLanguageError:
        return "translation"
