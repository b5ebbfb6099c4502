"""Who a request is from, as far as sharing the Space fairly goes: one key per visitor, hard to multiply.

A Gradio session hash is free to mint (every page load makes one), so a share keyed on it is no share at all: one
visitor with eight tabs took all eight request slots. The key here is the client's address. On Spaces the app sits
behind Hugging Face's proxy, so the connection's address is the proxy's and the client's arrives in
``X-Forwarded-For``; a proxy *appends* the address it saw to whatever the client sent, so only the **last** entry
is one the client did not write. The header is read only when the connection comes from a private or loopback
address (a proxy beside the app, as on Spaces); a client that reaches the app straight from the internet would
otherwise mint a visitor per request by writing the header itself. (ZeroGPU's ``X-IP-Token`` also names the visitor, but it is a JWT this app cannot
verify, so it is not used for this.) Off Spaces, without the header, the connection's address is the key.

The key of the request being served travels in a context variable (:data:`current`), so the layers below the
handlers (the model gate, the Hub-call threads) can share by visitor without every call passing it on.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import threading
from typing import Iterator, Mapping

ANONYMOUS = "-"
"""The key of work no visitor asked for (start-up, the janitor) or of a request without any address."""

current: contextvars.ContextVar[str] = contextvars.ContextVar("nllb_space_visitor", default=ANONYMOUS)
"""The visitor whose request this thread is serving now."""


def visitor_of(headers: Mapping[str, str] | None, client_host: str | None) -> str:
    """The visitor key of a request: the last ``X-Forwarded-For`` address when a proxy beside the app sent it, else
    the connection's address."""
    forwarded = ""
    if headers is not None and _behind_a_proxy(client_host):
        forwarded = headers.get("x-forwarded-for") or headers.get("X-Forwarded-For") or ""
    last = forwarded.rsplit(",", 1)[-1].strip()
    return (last or (client_host or "").strip() or ANONYMOUS)[:64]


def _behind_a_proxy(client_host: str | None) -> bool:
    """Whether the connection comes from an address that is not on the public internet (private, loopback, shared):
    a proxy's, never an internet client's."""
    try:
        address = ipaddress.ip_address((client_host or "").strip())
    except ValueError:
        return False
    return not address.is_global


def of_request(request) -> str:
    """The visitor key of a ``gr.Request`` (or ``None``: no visitor)."""
    if request is None:
        return ANONYMOUS
    client = getattr(request, "client", None)
    return visitor_of(getattr(request, "headers", None), getattr(client, "host", None))


@contextlib.contextmanager
def visiting(key: str) -> Iterator[None]:
    """Serve ``key``'s request within: :data:`current` is ``key`` (in this thread's context only)."""
    token = current.set(key)
    try:
        yield
    finally:
        current.reset(token)


class InProgress:
    """Requests each visitor has in progress, at most ``limit`` at once: the one beyond is refused at once, so one
    visitor's tabs cannot hold every request slot while strangers wait behind them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, key: str) -> bool:
        """Count one more request of ``key``; ``False`` (and nothing counted) when it already has ``limit``."""
        with self._lock:
            if self._counts.get(key, 0) >= self.limit:
                return False
            self._counts[key] = self._counts.get(key, 0) + 1
            return True

    def leave(self, key: str) -> None:
        with self._lock:
            left = self._counts.get(key, 0) - 1
            if left > 0:
                self._counts[key] = left
            else:
                self._counts.pop(key, None)
