"""Serving the app on loopback for tests and benchmarks: a free port, and a demo launched without blocking."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_local(demo, **options) -> str:
    """Launch ``demo`` on 127.0.0.1 in the background and return its URL (``demo.close()`` stops it)."""
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True, **options)
    return demo.local_url


def visitor_client(url: str, visitor: int):
    """A ``gradio_client.Client`` that arrives as visitor number ``visitor``, the way Spaces' proxy reports a client
    (``X-Forwarded-For``): on loopback every client has one address, and the app shares by address
    (nllb_space/visitors.py). The address is only a header; nothing is sent to it."""
    from gradio_client import Client

    return Client(url, headers={"X-Forwarded-For": f"198.18.{visitor // 256}.{visitor % 256}"}, verbose=False)
