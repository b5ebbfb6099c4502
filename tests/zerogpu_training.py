"""Issue 25 on ZeroGPU, in a fresh interpreter: ``python -m tests.zerogpu_training TINY_MODEL_DIR PAIRS_TSV``.

A page run trains inside ZeroGPU's own worker machinery (tests/zerogpu.py: a forked worker, values streamed back),
then the new adapter translates in fresh and reused workers; the same run trained in-process must give the same
tensors and the same translations. A fresh interpreter because that is ZeroGPU's main process: it never trains, and
PyTorch refuses autograd in a process forked from one that did (the suite around this test trains in-process).
Prints one JSON object for the test to check.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(tiny_model_dir: str, pairs: str) -> dict:
    import pytest
    from safetensors.torch import load

    from nllb_space import visitors
    from nllb_space.model import worker
    from nllb_space.service.engine import Engine
    from nllb_space.service.training_jobs import Trained
    from nllb_space.testing.pairs import SOURCES
    from nllb_space.training import gpu_runs
    from nllb_space.training.page_runs import PageRun, RunFinished, StepLogged, stream_run
    from tests import zerogpu
    from tests.model_fixtures import tiny_settings

    patches = pytest.MonkeyPatch()
    served, alone = (Engine(tiny_settings(Path(tiny_model_dir))) for _ in range(2))
    for engine in (served, alone):
        engine.load()
    zero = zerogpu.install(patches, idle=[False, True, True, False, True])  # fresh, reused, reused, fresh, reused
    patches.setattr(served, "run_generate", zero.wrap(worker.run_generate, worker.generate_seconds))
    patches.setattr(gpu_runs, "train_on_gpu", zero.wrap_generator(gpu_runs.train_on_gpu, gpu_runs.run_seconds))
    served.training.on_gpu = True

    run = PageRun(train_file=pairs, base_model=tiny_model_dir, steps=6, batch_size=4, learning_rate=2e-3)
    with visitors.visiting("198.18.0.1"):
        events = [e for e in served.training.run(run, "198.18.0.1") if e is not None]
        trained = events[-1]
        assert isinstance(trained, Trained), events[-1]
        texts = [served.translate(text, model=trained.spec).text for text in SOURCES[:4]]  # fresh, reused workers
    training_pid = zero.pids[0]

    here = [e for e in stream_run(run) if not isinstance(e, StepLogged)][-1]  # the same run, in-process
    assert isinstance(here, RunFinished)
    mine = alone.trained.add(here.files, "198.18.0.1")
    with visitors.visiting("198.18.0.1"):
        expected = [alone.translate(text, model=f"trained@{mine.sha}").text for text in SOURCES[:4]]
        base = [alone.translate(text, model="base").text for text in SOURCES[:4]]
    worker_tensors = load((trained.adapter.folder / "adapter_model.safetensors").read_bytes())
    local_tensors = load(here.files["adapter_model.safetensors"])
    return {
        "main_pid": os.getpid(), "training_pid": training_pid, "pids": zero.pids,
        "steps": [e.step for e in events if isinstance(e, StepLogged)], "durations": zero.scheduler.durations,
        "same_sha": trained.adapter.sha == mine.sha,
        "same_tensors": sorted(worker_tensors) == sorted(local_tensors) and all(
            (worker_tensors[k] == local_tensors[k]).all().item() for k in local_tensors),
        "texts": texts, "expected": expected, "base": base,
    }


if __name__ == "__main__":
    from tests import zerogpu

    print(json.dumps(main(*sys.argv[1:3])))
    sys.stdout.flush()
    zerogpu.stop_workers(set())  # as the platform ends idle workers: they hold this process's output open
    os._exit(0)
