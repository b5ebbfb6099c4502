"""A request's progress bar, and the end of its work when the visitor who sent it has gone.

The engine calls ``progress(done, total)`` after each batch. Here that callback also asks Gradio whether the
request is still wanted: when the visitor closes the tab (or a client cancels), Gradio marks the request's event
not alive, and the next batch boundary stops the job instead of spending the model on an answer nobody reads.
"""

from __future__ import annotations

import logging
from typing import Callable

import gradio as gr

logger = logging.getLogger(__name__)


class VisitorGone(Exception):
    """The visitor closed the page or cancelled the request: its remaining work is dropped."""


def stop_if_gone() -> None:
    """Raise :class:`VisitorGone` once Gradio has marked this request's event as no longer alive.

    Gradio has no public call for it; the ``spaces`` package reads the same state (``zero/gradio.py``).
    """
    from gradio.context import LocalContext

    queue = getattr(LocalContext.blocks.get(None), "_queue", None)
    event_id = LocalContext.event_id.get(None)
    if queue is None or event_id is None:
        return
    for job in queue.active_jobs:
        for event in job or ():
            if event._id == event_id and not event.alive:
                raise VisitorGone(event_id)


def reporter(progress: gr.Progress, desc: str) -> Callable[[int, int], None]:
    """The engine's ``progress(done, total)`` callback, forwarded to Gradio's progress bar."""

    def report(done: int, total: int) -> None:
        stop_if_gone()
        progress((done, total), desc=desc, unit="sentences")

    return report
