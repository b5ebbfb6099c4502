"""A request's progress bar, and the end of its work when the visitor who sent it has gone.

The engine calls ``progress(done, total)`` after each batch. Here that callback also asks Gradio whether the
request is still wanted, and the next batch boundary stops a job nobody waits for any more instead of spending the
model on an answer nobody reads (and writing a result file nobody downloads). Gradio says so in two ways:

- the visitor closes the tab: the event stream drops, and Gradio marks the request's event not alive, where it
  stays among the queue's active jobs until the handler returns;
- the page's Stop button or a client's ``Job.cancel()`` (``POST /gradio_api/cancel``): Gradio cancels the asyncio task
  that awaits the handler. The handler's thread cannot be interrupted and runs on, but the task's ``finally`` has
  already taken the event out of the active jobs (gradio/queueing.py, ``process_events``). An event the queue started
  is among its active jobs for as long as its task lives, so one that is no longer there was cancelled.
"""

from __future__ import annotations

import logging
from typing import Callable

import gradio as gr

logger = logging.getLogger(__name__)


class VisitorGone(Exception):
    """The visitor closed the page or cancelled the request: its remaining work is dropped."""


def stop_if_gone() -> None:
    """Raise :class:`VisitorGone` once this request's event is no longer alive (the tab was closed) or no longer among
    the queue's active jobs at all (it was cancelled).

    Gradio has no public call for it; the ``spaces`` package reads the same state (``zero/gradio.py``). A call outside
    the queue (no event id: a direct call, a batch function, a test) is never stopped.
    """
    from gradio.context import LocalContext

    queue = getattr(LocalContext.blocks.get(None), "_queue", None)
    event_id = LocalContext.event_id.get(None)
    if queue is None or event_id is None:
        return
    for job in list(queue.active_jobs):  # a copy: the event loop's thread replaces entries as jobs start and end
        for event in job or ():
            if event._id == event_id:
                if event.alive:
                    return
                raise VisitorGone(event_id)
    raise VisitorGone(event_id)


def reporter(progress: gr.Progress, desc: str) -> Callable[[int, int], None]:
    """The engine's ``progress(done, total)`` callback, forwarded to Gradio's progress bar."""

    def report(done: int, total: int) -> None:
        stop_if_gone()
        progress((done, total), desc=desc, unit="sentences")

    return report
