"""The in-process part of the run: the machine it runs on, every path timed case by case with the paths
interleaved (the CTranslate2 peer among them when it is installed), where the app's time goes (encoder, decoder,
``lm_head``, the rest), its top torch ops, and what ``NLLB_RESTRICT_VOCAB`` keeps of the output layer.

Measures that need a process of their own (start to first translation, memory, the load scenario) are in
``bench/fresh_process.py``.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bench.inputs import FLORES_ITA, REPO_ROOT, TGT, BenchConfig, Inputs, read_lines
from bench.internals import loaded_base, output_layers
from bench.paths import (NaivePath, Timings, app_cases, check_outputs, load_engine, time_app, time_app_base,
                         time_naive, wall_seconds)
from bench.peer import PEER, PeerPath, convert, peer_available, time_peer
from nllb_space.model.hardware import CPU_LANES, cpu_threads

logger = logging.getLogger("bench")


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, torch and its threads, and the load average when the run started."""
    import peft
    import psutil
    import torch
    import transformers

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "python": platform.python_version(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
    }


@dataclass
class Timed:
    """What the in-process part of the run measured."""

    timings: Timings
    checks: dict[str, Any]
    breakdown: dict[str, Any]
    profile: list[dict[str, Any]] | None
    vocab: dict[str, Any] | None
    peer: dict[str, Any]
    """The peer's name, version and compute type, or ``{"skipped": why}``."""


def run_timings(config: BenchConfig, weights: Path, model_dir: Path, adapter: Path, inputs: Inputs) -> Timed:
    """Load the paths, check them, then time every case ``config.repeats`` times, paths interleaved.

    ``weights`` is the folder ``model_dir`` serves: the peer is converted from it, once for every ``--new-tokens``.
    """
    logger.info("Loading the naive model and the app's engine (int8, float32%s)",
                ", int8 with the full output layer" if config.vocab_cut else "")
    naive = NaivePath(model_dir, adapter, config.new_tokens)
    # The engines run one request at a time here, with one model copy: NLLB_CPU_THREADS' automatic value would then
    # give them every core; the Space's default (two copies) gives each call its share. Time what the Space runs.
    threads = config.threads or cpu_threads(0, CPU_LANES)
    engines = {
        "app": load_engine(model_dir, adapter, config.new_tokens, cpu_threads=threads),
        "app_fp32": load_engine(model_dir, adapter, config.new_tokens, dtype="float32", cpu_threads=threads),
    }
    if config.vocab_cut:
        engines["app_full"] = load_engine(model_dir, adapter, config.new_tokens, restrict_vocab=False,
                                          cpu_threads=threads)
    dtype = loaded_base(engines["app"]).dtype
    if dtype != "int8":
        raise RuntimeError(f"The app's default dtype on CPU is {dtype}, expected int8.")
    skipped = peer_available() if config.peer else "--no-peer"
    peer: PeerPath | None = None
    if skipped:
        logger.warning("Not timing the CTranslate2 peer: %s", skipped)
    else:
        peer = PeerPath(convert(weights, config.cache_dir), model_dir, config.new_tokens)
    checks = check_outputs(naive, engines, inputs, config.new_tokens, peer)

    runners: dict[str, Callable[[Timings], None]] = {"naive": lambda t: time_naive(naive, inputs, t)}
    for path, engine in engines.items():
        runners[path] = lambda t, path=path, engine=engine: time_app(path, engine, inputs, config.new_tokens, t)
    runners["app_base"] = lambda t: time_app_base(engines["app"], inputs, config.new_tokens, t)
    if peer is not None:
        runners[PEER] = lambda t: time_peer(peer, inputs, t)
    vocab: dict[str, Any] | None = None
    if config.vocab_cut:
        base = loaded_base(engines["app"])
        vocab = vocabulary_cut(base.tokenizer, base.model.get_base_model().lm_head.out_features)
        logger.info("NLLB_RESTRICT_VOCAB keeps %d of %d output rows for %s", vocab["rows_kept"], vocab["rows_total"],
                    TGT)

    timings = Timings(tuple(runners))
    order = list(runners.values())
    for repeat in range(config.repeats):
        logger.info("Repeat %d/%d", repeat + 1, config.repeats)
        # Rotate which path goes first, so none always runs on a machine that the previous one left warm.
        shift = repeat % len(order)
        for runner in order[shift:] + order[:shift]:
            runner(timings)
    breakdown = module_breakdown(engines["app"], inputs, config.new_tokens)
    profile = profile_ops(engines["app"], inputs, config.new_tokens) if config.profile else None
    return Timed(timings, checks, breakdown, profile, vocab, peer.info() if peer else {"skipped": skipped})


def vocabulary_cut(tokenizer, rows: int) -> dict[str, Any]:
    """What ``NLLB_RESTRICT_VOCAB`` keeps for Italian: rows of the output layer, and Italian text's tokens kept.

    Italian text is FLORES dev and the 11k-pair pool from ``../shared/data`` when present. With random weights the
    tokenizer is the synthetic one (its filler pieces spread over scripts like NLLB's languages); ``--model`` gives
    the real tokenizer's numbers.
    """
    from nllb_space.model.vocab import kept_vocabulary

    kept = kept_vocabulary(tokenizer, TGT, rows)
    ids = set(kept.ids)
    pool = FLORES_ITA.parent.parent / "train_pool" / "train_pool.ita"
    texts = [path for path in (FLORES_ITA, pool) if path.is_file()]
    occurrences = [i for path in texts for row in tokenizer(read_lines(path), add_special_tokens=False)["input_ids"]
                   for i in row]
    return {
        "scripts": list(kept.scripts),
        "rows_kept": len(kept.ids),
        "rows_total": kept.total,
        "share_kept": round(len(kept.ids) / kept.total, 4),
        "italian_text": [str(path.relative_to(REPO_ROOT.parent)) for path in texts],
        "italian_token_occurrences": len(occurrences),
        "italian_distinct_tokens": len(set(occurrences)),
        "italian_occurrences_kept": round(sum(i in ids for i in occurrences) / max(1, len(occurrences)), 6),
    }


def module_breakdown(engine, inputs: Inputs, new_tokens: int) -> dict[str, dict[str, float]]:
    """Share of each app case's wall time spent in the encoder, the decoder layers, the output layer (``lm_head``, or
    the cut one the decoding loop calls) and the rest.

    Forward hooks time each module (CPU work is synchronous, so wall time inside a module is its cost); "other" is
    the decoding loop's own work (beam search, cache reordering), PEFT's hooks, tokenization.
    """
    model = loaded_base(engine).model
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    for run in app_cases(engine, inputs, new_tokens).values():
        run()  # builds the cut output layer, if the setting is on, so that it can be hooked
    modules = [("encoder", inner.model.encoder), ("decoder", inner.model.decoder),
               *(("lm_head", layer) for layer in output_layers(engine))]
    spent = {name: 0.0 for name, _ in modules}
    handles = []
    for name, module in modules:
        started: list[float] = []

        def pre(_module, _args, started=started):
            started.append(time.perf_counter())

        def post(_module, _args, _output, name=name, started=started):
            spent[name] += time.perf_counter() - started.pop()

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    shares: dict[str, dict[str, float]] = {}
    try:
        for case, run in app_cases(engine, inputs, new_tokens).items():
            for name in spent:
                spent[name] = 0.0
            total = wall_seconds(run)
            shares[case] = {name: round(value / total, 3) for name, value in spent.items()}
            shares[case]["other"] = round(1 - sum(spent.values()) / total, 3)
            shares[case]["seconds"] = round(total, 3)
    finally:
        for handle in handles:
            handle.remove()
    return shares


def profile_ops(engine, inputs: Inputs, new_tokens: int, top: int = 12) -> list[dict[str, Any]]:
    """The ``top`` torch ops by self CPU time over one greedy app translation (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    run = app_cases(engine, inputs, new_tokens)["sentence"]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        total = wall_seconds(run)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [
        {"op": e.key, "calls": e.count, "self_s": round(e.self_cpu_time_total / 1e6, 4),
         "share": round(e.self_cpu_time_total / 1e6 / total, 3)}
        for e in events
    ]

