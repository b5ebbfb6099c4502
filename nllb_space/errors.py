"""Errors whose message is meant for the person using the app (UI, API or CLI).

Every message says what went wrong and what to do about it; none ever contains a token.

Each one is written in English and, for the visitors of the Spanish interface, in Spanish (``es=``), side by side
where it is raised, as the page's texts sit side by side in ``i18n.TEXTS``. ``str(error)`` is the English text: it is
what the API, the trainer's console and the logs read. The UI picks the visitor's language with :meth:`in_language`.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """Base of every error the UI shows as a message rather than a traceback."""

    def __init__(self, message: str, *, es: str | None = None) -> None:
        super().__init__(message)
        # An attribute, not an argument: Exception pickles ``args`` and ``__dict__``, so the Spanish text survives a
        # trip through a ZeroGPU worker or a thread pool.
        self.es = es

    def in_language(self, language: str) -> str:
        """The message in ``language`` ("en" or "es"); English where no Spanish text was given."""
        if language == "es" and self.es:
            return self.es
        return str(self)


class InputError(UserFacingError, ValueError):
    """The request itself cannot be served: empty text, over a limit, an unknown language or model choice."""


class ModelLoadError(UserFacingError, RuntimeError):
    """The base model or tokenizer could not be loaded."""


class AdapterError(UserFacingError, ValueError):
    """A LoRA adapter cannot be used with the loaded base model (wrong base, targets, shapes or file format)."""
