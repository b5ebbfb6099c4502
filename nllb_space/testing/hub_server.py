"""How the Hub emulator is served: a ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread, the request handler
that logs each request, applies injected faults and hands the rest to the emulator's routing, and the fault
injection itself.

- :class:`_Serving`: the mixin of :class:`~nllb_space.testing.hub_emulator.HubEmulator` with ``url``, ``start`` /
  ``stop``, ``fail`` / ``clear_faults``;
- :class:`_Server` / :class:`_Handler`: the stdlib server and handler, tuned for a loopback test server.
"""

from __future__ import annotations

import logging
import re
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .hub_protocol import _error_response, _HttpError, _json_response, _Response

# Named for the entry module, as before the emulator was split, so log settings aimed at it still apply.
logger = logging.getLogger("nllb_space.testing.hub_emulator")


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    status: int
    remaining: int
    delay_s: float
    method: str | None


class _Serving:
    """Lifecycle and fault injection of the emulator."""

    # Set by HubEmulator.__init__; declared here for readers and type checkers.
    _faults: list[_Fault]
    _lock: threading.RLock
    _server: ThreadingHTTPServer | None
    _thread: threading.Thread | None
    _url: str | None

    @property
    def url(self) -> str:
        """Base url, e.g. ``http://127.0.0.1:54321`` (what ``HF_ENDPOINT`` must be set to)."""
        if self._url is None:
            raise RuntimeError("HubEmulator is not started: call start() first")
        return self._url

    def start(self) -> str:
        """Start serving in a daemon thread; returns the base url. Idempotent."""
        if self._server is not None:
            return self.url
        handler = type("_BoundHandler", (_Handler,), {"emulator": self})
        server = _Server(("127.0.0.1", 0), handler)
        self._server = server
        self._url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="hub-emulator", daemon=True
        )
        self._thread.start()
        logger.debug("Hub emulator listening on %s", self._url)
        return self._url

    def stop(self) -> None:
        """Stop serving (requests still sleeping in an injected delay are abandoned)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def fail(
        self, path_regex: str, status: int = 503, times: int = 1, delay_s: float = 0.0, method: str | None = None
    ) -> None:
        """Make the next ``times`` requests whose path matches ``path_regex`` fail.

        The regex is searched in the raw path (``exp%2Frun-1``) and in the decoded one (``exp/run-1``), query excluded.
        Each such request first sleeps ``delay_s`` seconds, then gets ``status`` with a JSON error body;
        ``status=0`` means "just delay, then answer normally" (to provoke client timeouts) and ``status=-1`` closes
        the connection without answering (a connection error for the client). ``method`` restricts the fault to one
        HTTP method. Faults are consumed in the order they were registered.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(
                _Fault(re.compile(path_regex), status, times, delay_s, method.upper() if method else None)
            )

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        decoded = unquote(path)
        with self._lock:
            for fault in self._faults:
                if fault.method not in (None, method):
                    continue
                if fault.pattern.search(path) or fault.pattern.search(decoded):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for requests sleeping in an injected delay

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can stall without a network.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("hub emulator: error while handling a request from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client pools connections
    server_version = "HubEmulator/2.4"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; no 40 ms delayed-ACK stalls
    emulator: Any
    """The ``HubEmulator`` (hub_emulator.py) this handler serves: that module builds the server, so it is not
    imported here."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        logger.debug("hub emulator: " + format, *args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        em = self.emulator
        split = urlsplit(self.path)
        body = self._read_body()
        with em._lock:
            em.requests.append((method, split.path))
        fault = em._take_fault(method, split.path)
        if fault is not None:
            if fault.delay_s > 0:
                time.sleep(fault.delay_s)
            if fault.status < 0:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault.status > 0:
                self._write(
                    method,
                    _json_response({"error": f"Injected fault: {fault.status}"}, fault.status,
                                   {"X-Error-Message": f"Injected fault: {fault.status}"}),
                )
                return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = em._route(method, split.path, parse_qs(split.query), headers, body)
        except _HttpError as err:
            response = _error_response(err)
        except Exception as exc:  # a bug in the emulator: answer 500 and say so in the test log
            logger.exception("hub emulator crashed on %s %s", method, self.path)
            response = _error_response(_HttpError(500, f"Hub emulator error: {exc!r}"))
        self._write(method, response)

    def _write(self, method: str, response: _Response) -> None:
        try:
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if method != "HEAD" and response.body:
                self.wfile.write(response.body)
        except OSError:  # the client gave up (e.g. its timeout fired during an injected delay)
            self.close_connection = True
