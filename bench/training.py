"""The Train tab's cost on this machine: seconds per training step of NLLB-600M's shape, and what a default run takes.

    python bench/training.py [--shape 600m|tiny] [--steps 4] [--out bench/training.json]

A page run of the register teaching set (training/page_runs.py) with the tab's defaults for this hardware, cut to
``--steps`` steps, in-process and on random weights of the real shape (same compute per step): the median seconds
between steps, the seconds before training (loading a float32 copy, scoring the base model on the held-out pairs)
and after it (scoring the adapter), and from those the time of a default run; and the process's peak resident memory
(what a training process adds beside the app on a CPU Space); and one sentence through the app's CPU engine alone
and while a run trains in its own low-priority process. On a GPU (``torch.cuda``) it also
reports the GPU seconds a default run asks of ZeroGPU (training/gpu_runs.py). Timings are read, never asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def measure(shape: str, steps: int) -> dict:
    import torch

    from bench.inputs import BenchConfig, generated_sentences, prepare_weights
    from nllb_space.training.gpu_runs import run_seconds
    from nllb_space.training.page_runs import PageRun, Phase, RunFinished, StepLogged, defaults, stream_run
    from nllb_space.training.teaching import teaching_set

    config = BenchConfig(shape=shape)
    weights = prepare_weights(config, generated_sentences(64))
    on_gpu = torch.cuda.is_available()
    default = defaults(on_gpu)
    chosen = teaching_set("register")
    run = PageRun(train_file=str(chosen.train_file), eval_file=str(chosen.eval_file), base_model=str(weights),
                  steps=steps, batch_size=default["batch_size"], eval_max_new_tokens=config.new_tokens)
    marks: dict[str, float] = {}
    step_times: list[float] = []
    start = time.perf_counter()
    for event in stream_run(run):
        now = time.perf_counter() - start
        if isinstance(event, Phase):
            marks[event.name] = now
        elif isinstance(event, StepLogged):
            step_times.append(event.elapsed_s)
        elif isinstance(event, RunFinished):
            marks["finished"] = now
        else:
            raise SystemExit(f"the run failed: {event}")
    per_step = statistics.median(b - a for a, b in zip(step_times, step_times[1:])) if len(step_times) > 1 else (
        step_times[0])
    before = marks["training"] - marks["scoring_base"]
    after = marks["finished"] - marks["scoring_adapter"]
    result = {
        "shape": shape, "device": "cuda" if on_gpu else "cpu", "threads": torch.get_num_threads(),
        "batch_size": run.batch_size, "measured_steps": steps, "seconds_per_step": round(per_step, 3),
        "seconds_before_training": round(before, 1), "seconds_after_training": round(after, 1),
        "default_steps": default["steps"],
        "default_run_seconds": round(before + per_step * default["steps"] + after, 1),
        # The run is this process's only model: its peak is what a training process adds beside the app.
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if on_gpu:
        result["zerogpu_seconds_asked"] = run_seconds(PageRun(train_file="", base_model="", **default))
    return result


def translation_while_training(shape: str, repeats: int) -> dict:
    """One sentence through the app's CPU engine (int8, one copy), alone and while a Train tab run goes on in its
    training process: the run must not starve translation (it runs at the lowest priority, on its own copy)."""
    import threading

    from bench.inputs import BenchConfig, generated_sentences, prepare_weights, serving_folder
    from nllb_space.service.engine import Engine
    from nllb_space.service.training_jobs import _in_a_process
    from nllb_space.settings import Settings
    from nllb_space.training.page_runs import PageRun, StepLogged
    from nllb_space.training.teaching import teaching_set

    config = BenchConfig(shape=shape)
    weights = prepare_weights(config, generated_sentences(64))
    served = serving_folder(weights, config.cache_dir, config.new_tokens)
    engine = Engine(Settings(base_model=str(served), device="cpu", num_beams=1, max_new_tokens=config.new_tokens,
                             concurrency=1))
    engine.load()
    sentence = generated_sentences(1, seed=3)[0]

    def timed() -> float:
        start = time.perf_counter()
        engine.translate(sentence)
        return time.perf_counter() - start

    timed()  # warm
    alone = [timed() for _ in range(repeats)]
    chosen = teaching_set("register")
    run = PageRun(train_file=str(chosen.train_file), eval_file=str(chosen.eval_file), base_model=str(weights),
                  steps=10_000, batch_size=4, eval_max_new_tokens=config.new_tokens)
    stepping, done = threading.Event(), threading.Event()

    def drive() -> None:  # the run's events are read on this thread only; it ends the run when told
        training = _in_a_process(run)
        try:
            for event in training:  # a heartbeat each second while nothing happens
                if isinstance(event, StepLogged):
                    stepping.set()
                if done.is_set():
                    break
        finally:
            training.close()  # ends the training process

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    stepping.wait(timeout=600)  # past loading and the base's scores: the run is training now
    busy = [timed() for _ in range(repeats)]
    done.set()
    driver.join()
    return {"translation_alone_s": round(statistics.median(alone), 3),
            "translation_while_training_s": round(statistics.median(busy), 3),
            "while_training_over_alone": round(statistics.median(busy) / statistics.median(alone), 2)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=("600m", "tiny"), default="600m")
    parser.add_argument("--steps", type=int, default=4, help="steps timed (the median gap between them is reported)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "training.json")
    parser.add_argument("--repeats", type=int, default=5, help="translations timed alone and while a run trains")
    args = parser.parse_args(argv)
    if args.steps < 2:
        parser.error("--steps must be at least 2: the time per step is the gap between two")
    result = measure(args.shape, args.steps)
    result.update(translation_while_training(args.shape, args.repeats))
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value} |")
    return result


if __name__ == "__main__":
    main()
