"""The Hub emulator's wire vocabulary: the error it raises anywhere (:class:`_HttpError`), the answer its routes
return (:class:`_Response`), the JSON builders for both, and the parsing of query flags and JSON bodies.

Every other ``hub_*`` module (store, routes, server) speaks these, so they sit apart from all of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

# What the Hub puts in X-Error-Message when a request carries no (valid) credentials.
_NO_AUTH_MESSAGE = "Invalid username or password."
_BAD_TOKEN_MESSAGE = "Invalid credentials in Authorization header"


class _HttpError(Exception):
    """An error answer: status, ``X-Error-Code`` (picks the client's exception) and a message."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})


def _error_response(err: _HttpError) -> _Response:
    headers = {"X-Error-Message": err.message, **err.headers}
    if err.code:
        headers["X-Error-Code"] = err.code
    return _json_response({"error": err.message}, err.status, headers)


def _flag(query: Mapping[str, list[str]], name: str) -> bool:
    return any(v.lower() in ("1", "true", "yes") for v in query.get(name, []))


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise _HttpError(400, "Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _HttpError(400, "Body must be a JSON object")
    return data


class _Caller(str):
    """A request's credentials, ``"none"``, ``"valid"`` or ``"invalid"`` (compared as the string), with whose they
    are: ``user`` and, for a visitor signed in on a Space, the OAuth token (which writes only what it created)."""

    user: str | None
    oauth_token: str | None

    def __new__(cls, state: str, user: str | None = None, oauth_token: str | None = None) -> "_Caller":
        caller = super().__new__(cls, state)
        caller.user, caller.oauth_token = user, oauth_token
        return caller
