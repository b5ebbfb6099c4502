"""Errors whose message is meant for the person using the app (UI, API or CLI).

Every message says what went wrong and what to do about it; none ever contains a token.
"""


class UserFacingError(Exception):
    """Base of every error the UI shows as a message rather than a traceback."""


class InputError(UserFacingError, ValueError):
    """The request itself cannot be served: empty text, over a limit, an unknown language or model choice."""


class ModelLoadError(UserFacingError, RuntimeError):
    """The base model or tokenizer could not be loaded."""


class AdapterError(UserFacingError, ValueError):
    """A LoRA adapter cannot be used with the loaded base model (wrong base, targets, shapes or file format)."""
