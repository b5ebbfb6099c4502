"""A training run the Train tab starts: the learner's settings written as the command line's flags, run by the same
:func:`~.runs.train`, streamed as events while it runs, and handed back by value.

There is no second training loop. :meth:`PageRun.flags` is what ``python train/run.py`` would be given for the same
pairs and settings, :func:`~.config.parse_flags` reads them as the command line does, and ``train()`` does the rest:
the pair checks, the LoRA configuration, ``Seq2SeqTrainer``, and the base-vs-LoRA scores on held-out pairs. So with
the same pairs, settings, seed and device, the tab and the command line give the same adapter tensors (a test checks).

:func:`stream_run` runs ``train()`` on a thread and yields what the page draws: a :class:`Phase` when the run moves on,
a :class:`StepLogged` per optimizer step, and at the end :class:`RunFinished` with the adapter's files as bytes (its
config and its tensors, by value: the caller may be another process) or :class:`RunFailed`. The output folder is a
temporary one, so a stopped or failed run leaves nothing on disk.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Protocol

from ..lora_config import DEFAULT_TARGETS
from .config import parse_flags

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "metrics.json", "README.md")
"""What a finished run hands back: the adapter as PEFT saves it, its scores and its model card."""


@dataclass(frozen=True)
class PageRun:
    """What the Train tab asks for. The defaults are the tab's on a GPU (:func:`defaults` has the CPU's)."""

    train_file: str
    """The training pairs: a ``.tsv``/``.csv``/``.jsonl`` the command line's ``--train-file`` reads."""
    base_model: str
    """Hub id or local folder of the base (the Space's ``NLLB_BASE_MODEL``)."""
    eval_file: str | None = None
    """Held-out pairs for the before/after scores; without them, ``eval_share`` of the training pairs."""
    base_revision: str = "main"
    src_lang: str = "spa_Latn"
    tgt_lang: str = "ita_Latn"
    r: int = 8
    """LoRA rank: each adapted matrix learns an update B·A of rank ``r``."""
    alpha: int = 16
    """The update is scaled by alpha / r."""
    targets: tuple[str, ...] = DEFAULT_TARGETS
    """The modules LoRA adapts: attention projections, and fc1/fc2 as an option."""
    learning_rate: float = 1e-3
    """Ten times the command line's default: a few dozen pairs must change the model in about a minute."""
    steps: int = 80
    batch_size: int = 8
    seed: int = 42
    eval_share: float = 0.2
    max_eval_pairs: int = 8
    eval_max_new_tokens: int = 64

    def flags(self, output_dir: str) -> list[str]:
        """The ``python train/run.py`` flags of this run, writing to ``output_dir``."""
        held_out = ["--eval-file", self.eval_file] if self.eval_file else ["--eval-share", str(self.eval_share)]
        return [
            "--base-model", self.base_model, "--base-revision", self.base_revision,
            "--src-lang", self.src_lang, "--tgt-lang", self.tgt_lang,
            "--train-file", self.train_file, *held_out, "--max-eval-pairs", str(self.max_eval_pairs),
            "--lora-r", str(self.r), "--lora-alpha", str(self.alpha), "--lora-targets", ",".join(self.targets),
            "--learning-rate", repr(self.learning_rate), "--max-steps", str(self.steps),
            "--batch-size", str(self.batch_size), "--seed", str(self.seed), "--warmup", "0",
            # A loss point per step for the live curve; no eval loss or checkpoints: nothing to resume on a page.
            "--logging-steps", "1", "--eval-strategy", "no", "--load-best-model-at-end", "false",
            "--eval-beams", "1", "--eval-max-new-tokens", str(self.eval_max_new_tokens),
            "--report-to", "none", "--disable-tqdm", "true",
            "--output-dir", output_dir, "--overwrite",
        ]


def defaults(on_gpu: bool) -> dict[str, int | float]:
    """The tab's default steps and batch on this hardware: on a CPU a step of NLLB-600M takes seconds, not tenths."""
    return {"steps": 80, "batch_size": 8} if on_gpu else {"steps": 30, "batch_size": 4}


@dataclass(frozen=True)
class Phase:
    """The run moved on: ``scoring_base``, ``training`` or ``scoring_adapter``."""

    name: str


@dataclass(frozen=True)
class StepLogged:
    """One optimizer step done, with its training loss."""

    step: int
    max_steps: int
    loss: float
    elapsed_s: float
    """Seconds since training (not scoring) began."""

    @property
    def remaining_s(self) -> float:
        """Time left for the steps still to run, at the pace so far."""
        return self.elapsed_s / self.step * (self.max_steps - self.step) if self.step else 0.0


@dataclass(frozen=True)
class RunFinished:
    """The adapter, by value: each file of :data:`ADAPTER_FILES` as bytes."""

    files: dict[str, bytes] = field(repr=False)


@dataclass(frozen=True)
class RunFailed:
    """The run ended without an adapter: stopped by the learner, or failed with ``message``."""

    message: str
    stopped: bool = False


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


class RunStopped(Exception):
    """Raised inside the Trainer's loop when the learner stops the run: no adapter is saved or scored."""


def _callback(put, stop: StopSignal):
    """A ``TrainerCallback`` that reports each step and ends the run at the first step after ``stop`` is set."""
    from transformers import TrainerCallback

    class PageEvents(TrainerCallback):
        started = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            self.started = time.monotonic()
            put(Phase("training"))

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                put(StepLogged(state.global_step, state.max_steps, float(logs["loss"]),
                               time.monotonic() - self.started))

        def on_step_end(self, args, state, control, **kwargs):
            if stop.is_set():
                raise RunStopped

        def on_train_end(self, args, state, control, **kwargs):
            if stop.is_set():
                raise RunStopped
            put(Phase("scoring_adapter"))

    return PageEvents()


def stream_run(run: PageRun, stop: StopSignal | None = None) -> Iterator[Phase | StepLogged | RunFinished | RunFailed]:
    """Run ``run`` through :func:`~.runs.train` and yield its events; the last is :class:`RunFinished` or
    :class:`RunFailed`. Closing the generator stops the run at its next step."""
    from .runs import train

    stop = stop if stop is not None else threading.Event()
    events: queue.Queue = queue.Queue()
    with tempfile.TemporaryDirectory(prefix="nllb-space-train-") as out:

        def work() -> None:
            try:
                config = parse_flags(run.flags(out))
                events.put(Phase("scoring_base"))
                code = train(config, callbacks=[_callback(events.put, stop)])
                folder = Path(out)
                if code != 0 or not all((folder / name).is_file() for name in ADAPTER_FILES):
                    events.put(RunFailed(f"training ended with status {code} and no adapter"))
                else:
                    events.put(RunFinished({name: (folder / name).read_bytes() for name in ADAPTER_FILES}))
            except RunStopped:
                events.put(RunFailed("stopped", stopped=True))
            except Exception as error:  # noqa: BLE001 - every failure ends the stream with its message
                events.put(RunFailed(str(error) or type(error).__name__))

        worker = threading.Thread(target=work, name="page-run", daemon=True)
        worker.start()
        try:
            while True:
                event = events.get()
                yield event
                if isinstance(event, (RunFinished, RunFailed)):
                    break
        finally:
            if hasattr(stop, "set"):
                stop.set()  # a closed generator (the learner left, or the caller gave up) ends the run at its next step
            worker.join()
