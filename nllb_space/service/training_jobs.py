"""Training runs started from the page: what a visitor may ask for, where the run goes, and what it leaves.

- **Limits**, checked before anything starts: training on at all (``NLLB_ALLOW_TRAINING``), the most pairs and steps
  (``NLLB_TRAIN_MAX_PAIRS``, ``NLLB_TRAIN_MAX_STEPS``), one run per visitor and ``NLLB_TRAIN_RUNS`` in all; a run
  beyond them is refused at once, with the limit's name.
- **Where it runs.** On ZeroGPU, in a ``@spaces.GPU`` call on the visitor's own quota (training/gpu_runs.py). On a
  CPU, in a separate process started fresh (``spawn``) at the lowest priority: the served model is int8, which
  cannot backpropagate, so the run loads its own float32 copy (a 3.7 GB peak for NLLB-600M while it runs), never
  takes the serving lock, and the operating system gives translation the CPU first. Either way the training code is
  the command line's (training/page_runs.py), and the shared base is never touched.
- **What it leaves**: the adapter's files come back by value and are kept by their hash for this visitor only
  (service/trained_adapters.py). A stopped or failed run leaves nothing: its output folder was temporary, and
  nothing was attached anywhere.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import InputError
from ..hub.ids import is_repo_id, not_a_repo_id
from ..hub.model_choice import TRAINED_REPO, spec_of
from ..settings import Settings
from ..training.page_runs import PageRun, RunFailed, RunFinished, stream_run
from ..training.pairs import DataError, load_table
from ..training.publish import publish_folder
from .trained_adapters import TrainedAdapter, TrainedAdapters

logger = logging.getLogger(__name__)

MIN_PAIRS = 4
"""Fewer pairs teach nothing, and leave none to hold out for the before/after scores."""
HEARTBEAT_S = 1.0
"""How often a run says it is still going while nothing happens (loading, scoring): a page reader checks then
whether its visitor is still there."""
CHILD_WAIT_S = 30.0
"""How long a stopped training process gets to end on its own before it is killed."""


@dataclass(frozen=True)
class Trained:
    """The last event of a run that finished: the visitor's new adapter."""

    spec: str
    """What a model picker sends for it: ``trained@<sha>``."""
    adapter: TrainedAdapter
    report: dict
    """The run's ``metrics.json``: base and adapter scores on the held-out pairs, and how it was trained."""


def write_pasted(text: str, folder: Path) -> Path:
    """Pasted ``source<TAB>target`` lines as a TSV the trainer reads; an ``InputError`` naming the first bad line."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        if line.count("\t") != 1 or not all(part.strip() for part in line.split("\t")):
            raise InputError(
                f"Line {number} of the pasted pairs is not 'Spanish<TAB>Italian' (one TAB between two sentences): "
                f"{line[:80]!r}.",
                es=f"La línea {number} de los pares pegados no es 'español<TAB>italiano' (un TAB entre dos "
                   f"oraciones): {line[:80]!r}.")
    path = folder / "pasted.tsv"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


class TrainingJobs:
    """The page's training runs over one base model, on this server."""

    def __init__(self, settings: Settings, store: TrainedAdapters, on_gpu: bool) -> None:
        self.settings = settings
        self.store = store
        self.on_gpu = on_gpu
        """On ZeroGPU: runs go to a ``@spaces.GPU`` call; else to a training process of their own."""
        self._running: dict[str, threading.Event] = {}
        """Each visitor's run going now, by the event that stops it."""
        self._lock = threading.Lock()

    def count_pairs(self, path: Path) -> int:
        """The pairs in a training file, read as the trainer reads it; an ``InputError`` saying why it cannot be."""
        try:
            pairs = load_table(path, self.settings.src_lang, self.settings.tgt_lang)
        except DataError as error:
            raise InputError(str(error), es=f"No se pueden leer los pares: {error}") from None
        count, limit = len(pairs), self.settings.train_max_pairs
        if count > limit:
            raise InputError(f"{count:,} training pairs; the limit is {limit:,} (NLLB_TRAIN_MAX_PAIRS).",
                             es=f"{count:,} pares de entrenamiento; el límite es {limit:,} (NLLB_TRAIN_MAX_PAIRS).")
        if count < MIN_PAIRS:
            raise InputError(f"{count} training pair(s): give at least {MIN_PAIRS}.",
                             es=f"{count} par(es) de entrenamiento: da al menos {MIN_PAIRS}.")
        return count

    def check(self, run: PageRun) -> None:
        """Refuse a run the Space's limits do not allow, before anything starts."""
        if not self.settings.allow_training:
            raise InputError("Training is turned off on this Space (NLLB_ALLOW_TRAINING=false).",
                             es="El entrenamiento está desactivado en este Space (NLLB_ALLOW_TRAINING=false).")
        most = self.settings.train_max_steps
        if self.on_gpu:
            from ..training.gpu_runs import most_steps

            most = min(most, most_steps())
        if not 1 <= run.steps <= most:
            raise InputError(f"{run.steps} steps: choose 1 to {most} (NLLB_TRAIN_MAX_STEPS, and one GPU call).",
                             es=f"{run.steps} pasos: elige de 1 a {most} (NLLB_TRAIN_MAX_STEPS, y una llamada a la "
                                "GPU).")
        self.count_pairs(Path(run.train_file))

    def run(self, run: PageRun, visitor: str) -> Iterator:
        """Train ``run`` for ``visitor``, yielding its events (``None`` now and then while nothing happens); the last
        is :class:`Trained` or ``RunFailed``. Closing the generator stops the run, and so does :meth:`stop`.

        The run is driven by a thread of its own, not by whoever reads its events: a page that is closed, or whose
        request Gradio cancelled, stops reading, and the run must still stop (here, or through :meth:`stop`)."""
        self.check(run)
        stop = threading.Event()
        with self._lock:
            if visitor in self._running:
                raise InputError("You are already training an adapter: wait for it, or stop it.",
                                 es="Ya estás entrenando un adaptador: espera a que termine, o detenlo.")
            if len(self._running) >= self.settings.train_runs:
                raise InputError(f"{len(self._running)} adapter(s) are being trained on this Space now, the most at "
                                 "once (NLLB_TRAIN_RUNS): try again in a minute.",
                                 es=f"Ahora se entrenan {len(self._running)} adaptador(es) en este Space, el máximo "
                                    "a la vez (NLLB_TRAIN_RUNS): vuelve a intentarlo en un minuto.")
            self._running[visitor] = stop
        events: queue.Queue = queue.Queue()
        pump = threading.Thread(target=self._pump, args=(run, visitor, stop, events.put), daemon=True,
                                name=f"training run of {visitor}")
        pump.start()
        try:
            while True:
                try:
                    event = events.get(timeout=HEARTBEAT_S)
                except queue.Empty:
                    yield None
                    continue
                yield event
                if isinstance(event, (Trained, RunFailed)):
                    return
        finally:
            stop.set()
            pump.join()

    def stop(self, visitor: str) -> bool:
        """Stop ``visitor``'s run, if one is going (the Stop button; the page closed); whether one was."""
        with self._lock:  # the same lock the run takes to keep its adapter: a stopped run never keeps one
            stop = self._running.get(visitor)
            if stop is not None:
                stop.set()
        return stop is not None

    def _pump(self, run: PageRun, visitor: str, stop: threading.Event, put) -> None:
        """Drive the run to its end, or to ``stop``; hand each event on; keep the adapter if it finished."""
        events = self._on_gpu_events(run) if self.on_gpu else _in_a_process(run)
        try:
            for event in events:
                if stop.is_set():
                    put(RunFailed("stopped", stopped=True))
                    return
                if isinstance(event, RunFinished):
                    with self._lock:
                        if stop.is_set():
                            put(RunFailed("stopped", stopped=True))
                            return
                        # Kept from here on: Stop now finds no run, and says so instead of "nothing was kept".
                        self._running.pop(visitor, None)
                    adapter = self.store.add(event.files, visitor)
                    put(Trained(spec_of(TRAINED_REPO, adapter.sha), adapter, json.loads(event.files["metrics.json"])))
                    return
                if event is not None:
                    put(event)
                if isinstance(event, RunFailed):
                    return
            put(RunFailed("the run ended without an adapter"))
        except Exception as error:  # noqa: BLE001 - the page says it; the log keeps the traceback
            logger.exception("training run of %s failed", visitor)
            put(RunFailed(str(error) or type(error).__name__))
        finally:
            events.close()  # stops the training process (or the GPU call) if it still runs
            with self._lock:
                self._running.pop(visitor, None)

    @staticmethod
    def publish(folder: Path, repo_id: str, *, branch: str, tag: str | None, token: str):
        """Push a trained adapter's folder to ``repo_id`` with ``token`` (a visitor's own, never the owner's: with
        none, huggingface_hub would fall back to the Space's ``HF_TOKEN``)."""
        if not token:
            raise InputError("A push needs the visitor's own token.", es="Una subida necesita el token del visitante.")
        if not is_repo_id(repo_id):
            raise InputError(not_a_repo_id(repo_id), es=not_a_repo_id(repo_id, "es"))
        try:
            return publish_folder(folder, repo_id, branch=branch, tag=tag, token=token)
        except DataError as error:
            raise InputError(str(error), es=f"No hay nada que publicar: {error}") from None

    @staticmethod
    def _on_gpu_events(run: PageRun) -> Iterator:
        from ..training.gpu_runs import train_on_gpu

        return train_on_gpu(run)


def _in_a_process(run: PageRun) -> Iterator:
    """:func:`stream_run` in a fresh low-priority process; its events come back through a queue."""
    context = multiprocessing.get_context("spawn")  # a fork would copy the served model and Gradio's threads
    events, stop = context.Queue(), context.Event()
    child = context.Process(target=_child, args=(run, events, stop), name="nllb-space-training", daemon=True)
    child.start()
    try:
        while True:
            try:
                event = events.get(timeout=HEARTBEAT_S)
            except queue.Empty:
                if not child.is_alive():
                    yield RunFailed(f"the training process ended (exit code {child.exitcode})")
                    return
                yield None  # still going: the caller may stop here
                continue
            yield event
            if isinstance(event, (RunFinished, RunFailed)):
                return
    finally:
        stop.set()
        child.join(CHILD_WAIT_S)
        if child.is_alive():
            child.kill()
            child.join()


def _child(run: PageRun, events, stop) -> None:
    """The training process: lowest priority, then the run, each event sent back as it happens."""
    try:
        os.nice(19)
    except OSError:  # not allowed here: the run still works, at the same priority as the app
        logger.warning("could not lower the training process's priority")
    for event in stream_run(run, stop):
        events.put(event)
