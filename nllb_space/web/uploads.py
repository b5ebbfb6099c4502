"""Uploads bounded: disk per visitor and in all, and an upload no request used removed within minutes.

Gradio stores each upload (``POST /gradio_api/upload``) in its upload folder (``GRADIO_TEMP_DIR``), in a folder named
by the file's sha256, and keeps it until its ``delete_cache`` sweep (``NLLB_FILE_TTL``). Left at that, the disk is
bounded only by upload rate × TTL: one client once stored 300 files of 999 kB in 2.3 s. So:

- :class:`UploadGuard`, an ASGI middleware in front of Gradio's routes, admits an upload only while its visitor's
  uploads (``NLLB_VISITOR_UPLOAD_MB``) and everyone's (``NLLB_UPLOAD_DISK_MB``) have room for its
  ``Content-Length``, which bounds what the server reads of the body. Otherwise it answers 413 with a message that
  names the setting, before Gradio reads a byte. A visitor is a client address (visitors.py), not a session.
- What Gradio stored is then charged at its size on disk (at least one 4 kB block a file); a request whose files would
  still go over (a thousand tiny files in one body) has them removed and is refused the same way.
- Requests that name an upload (``/queue/join``, ``/call``, ``/run``: a file input carries its path, whose folder is
  the content's sha256) mark it used. :meth:`UploadBudget.sweep` (the janitor, every :data:`SWEEP_INTERVAL_S`)
  removes an upload no request used after ``NLLB_UPLOAD_UNUSED_TTL``, and any upload after ``NLLB_FILE_TTL``.

Wiring (app.py)::

    uploads = UploadBudget.for_settings(settings)
    start_janitor(uploads.sweep, SWEEP_INTERVAL_S)
    demo.launch(..., app_kwargs=uploads.app_kwargs())
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..settings import Settings
from ..visitors import visitor_of

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 60.0
"""How often unused and expired uploads are removed."""
BLOCK_BYTES = 4096
"""The least a stored file is charged: a file takes at least one block (and an inode) whatever its length."""
MULTIPART_SLACK_BYTES = 4096
"""A request's ``Content-Length`` counts the multipart boundaries and headers around its files too (a few hundred
bytes a file): a body this much over the room left is still let in, so a file of exactly ``NLLB_MAX_FILE_BYTES``
fits a visitor's empty budget. What is stored is then held to the budget exactly."""
SCANNED_BODY_BYTES = 8_000_000
"""Request bodies up to this size are read for the uploads they use; a larger one is passed on unread."""
_SHA256 = re.compile(rb"[0-9a-f]{64}")
_USING = ("/queue/join", "/call/", "/run/", "/api/")
"""Where, under ``/gradio_api``, a request can name an upload as the input of an event."""


@dataclass
class _Stored:
    visitor: str
    charged: int
    stored_at: float
    used: bool = False


class UploadBudget:
    """What each visitor has uploaded and is still on disk (and uploads under way), against two budgets.

    Thread-safe: the middleware runs on the event loop, the sweep on the janitor's thread.
    """

    def __init__(self, visitor_bytes: int, total_bytes: int, unused_s: float, kept_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.visitor_bytes, self.total_bytes = visitor_bytes, total_bytes
        self.unused_s, self.kept_s = unused_s, kept_s
        self._clock = clock
        self._lock = threading.Lock()
        self._files: dict[str, _Stored] = {}
        self._by_sha: dict[str, set[str]] = {}
        self._per_visitor: dict[str, int] = {}  # charged bytes on disk plus bytes reserved for uploads under way
        self._total = 0

    @classmethod
    def for_settings(cls, settings: Settings) -> "UploadBudget":
        return cls(int(settings.visitor_upload_mb * 1_000_000), int(settings.upload_disk_mb * 1_000_000),
                   settings.upload_unused_s, settings.file_ttl_s)

    def app_kwargs(self) -> dict:
        """``demo.launch(app_kwargs=...)``: Gradio's FastAPI app with :class:`UploadGuard` in front of its routes."""
        from starlette.middleware import Middleware

        return {"middleware": [Middleware(UploadGuard, budget=self)]}

    # -- accounting --------------------------------------------------------------------------------------------------

    def usage(self, visitor: str | None = None) -> int:
        """Bytes charged to ``visitor`` (``None``: to everyone), uploads under way included."""
        with self._lock:
            return self._total if visitor is None else self._per_visitor.get(visitor, 0)

    def reserve(self, visitor: str, length: int, language: str = "en") -> str | None:
        """Reserve ``length`` bytes for an upload of ``visitor``; the refusal message (nothing reserved) if it would
        go over the visitor's or everyone's budget."""
        with self._lock:
            mine = self._per_visitor.get(visitor, 0)
            if mine + length - MULTIPART_SLACK_BYTES > self.visitor_bytes:
                return _refusal("visitor", mine, self.visitor_bytes, self.unused_s, language)
            if self._total + length - MULTIPART_SLACK_BYTES > self.total_bytes:
                return _refusal("total", self._total, self.total_bytes, self.unused_s, language)
            self._charge(visitor, length)
            return None

    def settle(self, visitor: str, length: int, paths: Iterable[str], language: str = "en") -> str | None:
        """The upload of ``visitor`` that reserved ``length`` bytes ended, having stored ``paths``: charge them at their
        size on disk instead. If they go over a budget after all, they are removed and the refusal is returned."""
        paths = [str(path) for path in paths]
        fresh = [path for path in paths if path not in self._files]
        sizes = {path: max(_size(path, length // max(len(paths), 1)), BLOCK_BYTES) for path in fresh}
        with self._lock:
            self._charge(visitor, -length)
            fresh = [path for path in fresh if path not in self._files]  # another request may have stored one meanwhile
            incoming = sum(sizes[path] for path in fresh)
            mine = self._per_visitor.get(visitor, 0)
            if mine + incoming > self.visitor_bytes:
                refusal = _refusal("visitor", mine, self.visitor_bytes, self.unused_s, language)
            elif self._total + incoming > self.total_bytes:
                refusal = _refusal("total", self._total, self.total_bytes, self.unused_s, language)
            else:
                now = self._clock()
                for path in fresh:
                    self._files[path] = _Stored(visitor, sizes[path], now)
                    self._by_sha.setdefault(Path(path).parent.name, set()).add(path)
                    self._charge(visitor, sizes[path])
                return None
        for path in fresh:
            _remove(path)
        return refusal

    def use(self, body: bytes) -> int:
        """Mark used every upload a request body names (by the sha256 folder in its path); returns how many."""
        marked = 0
        with self._lock:
            for sha in set(_SHA256.findall(body)):
                for path in self._by_sha.get(sha.decode(), ()):
                    entry = self._files[path]
                    marked += not entry.used
                    entry.used = True
        return marked

    def sweep(self, now: float | None = None) -> int:
        """Remove the uploads no request used within ``unused_s`` and every upload older than ``kept_s``, and forget
        those already gone (Gradio's own clean-up); returns how many files were removed."""
        now = self._clock() if now is None else now
        with self._lock:
            records = list(self._files.items())
        removed = 0
        for path, entry in records:
            age = now - entry.stored_at
            expired = age > self.kept_s or (not entry.used and age > self.unused_s)
            if expired:
                removed += _remove(path)
            if expired or not os.path.exists(path):
                self._forget(path)
        if removed:
            logger.info("Removed %d upload(s) no request used within %.0f s or older than %.0f s",
                        removed, self.unused_s, self.kept_s)
        return removed

    def _forget(self, path: str) -> None:
        with self._lock:
            entry = self._files.pop(path, None)
            if entry is None:
                return
            self._charge(entry.visitor, -entry.charged)
            same = self._by_sha.get(Path(path).parent.name)
            if same is not None:
                same.discard(path)
                if not same:
                    del self._by_sha[Path(path).parent.name]

    def _charge(self, visitor: str, nbytes: int) -> None:
        """Add ``nbytes`` (negative: release) to ``visitor`` and the total; call with the lock held."""
        left = self._per_visitor.get(visitor, 0) + nbytes
        if left > 0:
            self._per_visitor[visitor] = left
        else:
            self._per_visitor.pop(visitor, None)
        self._total += nbytes


class UploadGuard:
    """ASGI middleware: :class:`UploadBudget` applied to Gradio's upload route, and uploads marked used by the
    requests that name them. Every other request passes untouched."""

    def __init__(self, app, budget: UploadBudget) -> None:
        self.app, self.budget = app, budget

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" and scope.get("method") == "POST" else ""
        if "/gradio_api/" not in path:
            await self.app(scope, receive, send)
        elif path.rstrip("/").endswith("/gradio_api/upload"):
            await self._upload(scope, receive, send)
        elif any(part in path.split("/gradio_api", 1)[1] for part in _USING):
            await self._using(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _upload(self, scope, receive, send) -> None:
        from starlette.requests import Request

        from .i18n import visitor_language

        request = Request(scope)
        language = visitor_language(request)
        visitor = visitor_of(request.headers, request.client.host if request.client else None)
        try:
            length = int(request.headers.get("content-length", ""))
        except ValueError:
            await _answer(send, 411, _LENGTH_REQUIRED[language == "es"])
            return
        refusal = self.budget.reserve(visitor, length, language)
        if refusal:
            logger.info("Upload of %d bytes refused: %s", length, refusal)
            await _answer(send, 413, refusal)
            return
        messages: list[dict] = []

        async def held(message: dict) -> None:  # Gradio's answer, held until its files are charged
            messages.append(message)

        paths: list[str] = []
        try:
            await self.app(scope, receive, held)
            start = next((m for m in messages if m["type"] == "http.response.start"), None)
            if start is not None and start["status"] == 200:
                body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
                paths = [str(p) for p in json.loads(body)]
        finally:
            refusal = self.budget.settle(visitor, length, paths, language)
        if refusal:
            logger.info("Upload of %d file(s) refused once stored: %s", len(paths), refusal)
            await _answer(send, 413, refusal)
            return
        for message in messages:
            await send(message)

    async def _using(self, scope, receive, send) -> None:
        length = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if not length.isdigit() or int(length) > SCANNED_BODY_BYTES:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left before sending its request
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        self.budget.use(body)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


_LENGTH_REQUIRED = (
    "An upload must say its size (Content-Length); send the file as a plain multipart form.",
    "Una subida debe indicar su tamaño (Content-Length); envía el archivo como un formulario multipart normal.",
)


def _refusal(whose: str, used_bytes: int, budget_bytes: int, unused_s: float, language: str) -> str:
    minutes = max(1, round(unused_s / 60))
    used, budget = _mb(used_bytes), _mb(budget_bytes)
    if whose == "visitor":
        if language == "es":
            return (f"Tus archivos subidos ocupan {used} de los {budget} que cada visitante "
                    f"puede tener en este Space (NLLB_VISITOR_UPLOAD_MB). Un archivo que ninguna petición usa se borra "
                    f"a los {minutes} min; inténtalo de nuevo más tarde.")
        return (f"Your uploads take {used} of the {budget} each visitor may keep on this "
                f"Space (NLLB_VISITOR_UPLOAD_MB). An upload no request uses is removed after {minutes} min; try "
                "again later.")
    if language == "es":
        return (f"Los archivos subidos ocupan ya los {budget} que este Space les da (NLLB_UPLOAD_DISK_MB). "
                f"Un archivo que ninguna petición usa se borra a los {minutes} min; inténtalo de nuevo más tarde.")
    return (f"Uploads already take the {budget} this Space gives them (NLLB_UPLOAD_DISK_MB). An upload no "
            f"request uses is removed after {minutes} min; try again later.")


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:,.1f} MB" if nbytes >= 100_000 else f"{nbytes / 1e3:,.1f} kB"


async def _answer(send, status: int, text: str) -> None:
    body = text.encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _size(path: str, fallback: int) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # Gradio moves a file it could not rename in a background task, after its answer
        return fallback


def _remove(path: str) -> int:
    """Remove an upload and its sha256 folder once empty; 1 if the file was there."""
    try:
        os.remove(path)
    except FileNotFoundError:
        return 0
    except OSError:
        logger.warning("Could not remove upload %s", path, exc_info=True)
        return 0
    try:
        os.rmdir(Path(path).parent)
    except OSError:  # another name for the same content is still there
        pass
    return 1
