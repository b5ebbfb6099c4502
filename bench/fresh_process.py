"""The measures that need a fresh Python process: seconds from launch to the first translation, resident memory per
extra adapter revision (the app alone in its process, as on a Space), and issue 6's load scenario through the
served app.

The parent re-runs ``bench/run.py`` with the hidden ``--child first`` or ``--child load`` flag; ``child_first`` and
``child_load`` are what that child runs, and it prints its result as the last JSON line of its stdout.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.inputs import LOCAL, REPO_ROOT, SRC, TGT, BenchConfig
from bench.internals import adapter_attacher, loaded_base

logger = logging.getLogger("bench")

RUN_SCRIPT = REPO_ROOT / "bench" / "run.py"
"""What a child process runs: the benchmark's command line, so a child starts the way a person's run does."""


def _child_env(config: BenchConfig) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    if not config.model or Path(config.model).expanduser().is_dir():
        env["HF_HUB_OFFLINE"] = "1"  # everything is local: never wait on a Hub
    if config.threads:
        env["OMP_NUM_THREADS"] = str(config.threads)
    return env


def measure_first_translation(
    config: BenchConfig, model_dir: Path, adapters: list[Path], sentence: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seconds from launching a fresh Python to its first translation, and the app's resident memory per revision.

    Each fresh process imports the app, loads the model and ``adapters[0]``, translates ``sentence`` with the app's
    defaults, then (the app alone in the process, as on a Space) loads the other revisions for ``measure_memory``.
    Medians over ``config.first_repeats`` processes; memory is the run with the median ``adapter_mb``.
    """
    command = [
        sys.executable, str(RUN_SCRIPT), "--child", "first", "--model-dir", str(model_dir),
        "--new-tokens", str(config.new_tokens), "--sentence", sentence, "--adapters", *map(str, adapters),
    ]
    runs, memories = [], []
    for _ in range(config.first_repeats):
        started = time.time()
        done = subprocess.run(command, env=_child_env(config), capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"The fresh-process measure failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        runs.append({
            "total_s": result["translated_at"] - started,
            "start_and_import_s": result["imported_at"] - started,
            "load_s": result["loaded_at"] - result["imported_at"],
            "translate_s": result["translated_at"] - result["loaded_at"],
        })
        memories.append(result["memory"])
    first = {
        "first_translation_s": statistics.median(r["total_s"] for r in runs),
        "runs": [{k: round(v, 3) for k, v in r.items()} for r in runs],
    }
    by_adapter_mb = sorted(memories, key=lambda m: m["adapter_mb"])
    memory = {**by_adapter_mb[(len(memories) - 1) // 2], "adapter_mb_runs": [m["adapter_mb"] for m in memories]}
    return first, memory


def _rss_mb() -> float:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def measure_memory(engine, extra_adapters: list[Path], sentence: str) -> dict[str, Any]:
    """Resident MB of ``engine`` with its one adapter, then with ``extra_adapters`` loaded too (after gc)."""
    from nllb_space.model.adapter_names import local_digest
    from nllb_space.service.adapter_registry import FetchedAdapter

    run = lambda: engine.translate(sentence, SRC, TGT, model=LOCAL, num_beams=1)  # noqa: E731
    run()  # buffers a greedy call allocates are not adapter cost
    rss_one = _rss_mb()
    steps = []
    attach = adapter_attacher(engine)
    for folder in extra_adapters:
        # The registry reads no local folder but the configured one (visitors must not read the server's disk),
        # so the bench hands each folder over as fetched, checks it as use_model does and attaches it as a call does.
        attach(FetchedAdapter(repo=str(folder), revision=LOCAL, sha=local_digest(folder), folder=folder))
        steps.append(_rss_mb())
    run()
    rss_all = _rss_mb()
    loaded = len(engine.attached())
    if loaded != 1 + len(extra_adapters):
        raise RuntimeError(f"Expected {1 + len(extra_adapters)} adapters loaded, found {loaded}.")
    lora_params = sum(p.numel() for n, p in loaded_base(engine).model.named_parameters() if ".lora_" in n) / loaded
    return {
        "rss_1_adapter_mb": round(rss_one, 1),
        "rss_all_adapters_mb": round(rss_all, 1),
        "adapters_loaded": loaded,
        "rss_after_each_extra_mb": [round(x, 1) for x in steps],
        "adapter_mb": round((rss_all - rss_one) / (loaded - 1), 2),
        "lora_float32_mb": round(lora_params * 4 / 2**20, 2),
    }


def child_first(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: import the app, load it, translate once with its defaults; then measure memory."""
    import torch

    from nllb_space.service.engine import Engine
    from nllb_space.settings import Settings

    torch.set_flush_denormal(True)
    imported = time.time()
    adapters = [Path(a) for a in args.adapters]
    # The app's defaults, but for the forced length and room in the adapter cache for every revision at once.
    settings = Settings(
        base_model=args.model_dir, device="cpu", adapter_repo=str(adapters[0]), max_new_tokens=args.new_tokens,
        adapter_cache_size=max(len(adapters), Settings.adapter_cache_size),
    )
    engine = Engine(settings)
    engine.load()
    if engine.adapter_error:
        raise RuntimeError(engine.adapter_error)
    loaded = time.time()
    engine.translate(args.sentence, model=LOCAL)  # the app's default decoding (beam 4)
    translated = time.time()
    memory = measure_memory(engine, adapters[1:], args.sentence)
    return {"imported_at": imported, "loaded_at": loaded, "translated_at": translated, "memory": memory}


LOAD_REPO = "bench/nllb-lora"
"""The load scenario's adapter repo on the child's Hub emulator: tag ``v1``, ``main`` after it, branch ``exp/run-1``."""
LOAD_CACHE_SIZE = 2
"""Adapter revisions the app keeps loaded in the load scenario: fewer than its three, so switching evicts."""


def measure_load(config: BenchConfig, model_dir: Path, adapters: list[Path], sentences: list[str]) -> dict[str, Any]:
    """Issue 6's load scenario through the served app, in a fresh process; its report and headline ``load_*`` keys.

    A fresh process because huggingface_hub reads ``HF_ENDPOINT`` once, at import, and this one has imported it
    already (through transformers) without a Hub to point at.
    """
    logger.info("Load scenario: %d clients, %d requests, a switcher (fresh process)", config.load_clients,
                config.load_requests)
    command = [
        sys.executable, str(RUN_SCRIPT), "--child", "load", "--model-dir", str(model_dir),
        "--new-tokens", str(config.new_tokens), "--load-clients", str(config.load_clients),
        "--load-requests", str(config.load_requests), "--adapters", *map(str, adapters[:3]),
        "--sentences", *sentences,
    ]
    if config.threads:
        command += ["--threads", str(config.threads)]
    env = {**_child_env(config), "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"The load measure failed:\n{done.stderr[-3000:]}")
    # Gradio prints to stdout too (e.g. when the server closes): the report is the last line that is JSON.
    line = next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{"))
    return json.loads(line)


def child_load(config: BenchConfig, args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: a loopback Hub with three adapter revisions, the app served on loopback, the scenario.

    The Hub emulator and its environment set-up are the tests' (``nllb_space/testing/hub_emulator.py``, stdlib only,
    and ``hub_env.configure_hub_env``): the same emulator the load test runs against, so the benchmark
    measures the scenario the test checks, and there is no second emulator to keep in step with huggingface_hub.
    """
    from nllb_space.testing.hub_emulator import HubEmulator
    from nllb_space.testing.hub_env import HUB_TOKEN, configure_hub_env

    home = tempfile.mkdtemp(prefix="nllb-space-bench-hf-")
    emulator = HubEmulator(token=HUB_TOKEN)
    try:
        configure_hub_env(emulator.start(), home)  # before anything imports huggingface_hub
        return _serve_and_load(config, args)
    finally:
        emulator.stop()
        shutil.rmtree(home, ignore_errors=True)


def _serve_and_load(config: BenchConfig, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from app import page
    from bench.load import AdapterEvents, LoadScenario, publish_revisions, run_scenario
    from nllb_space.service.engine import Engine
    from nllb_space.settings import Settings
    from nllb_space.testing.serve import launch_local

    torch.set_flush_denormal(True)
    if config.threads:
        torch.set_num_threads(config.threads)
    tag, main, branch = (Path(a) for a in args.adapters)
    scenario = LoadScenario(repo=LOAD_REPO, clients=config.load_clients, requests=config.load_requests,
                            sentences=tuple(args.sentences))
    shas = publish_revisions(LOAD_REPO, tag_folder=tag, main_folder=main, branch_folder=branch,
                             branch=scenario.branch, tag=scenario.tag)
    # The app's defaults (int8 on CPU, beam 4), but for the forced length (see paths.load_engine) and a small cache.
    settings = Settings(base_model=args.model_dir, device="cpu", adapter_repo=LOAD_REPO,
                        adapter_cache_size=LOAD_CACHE_SIZE, max_new_tokens=config.new_tokens)
    engine = Engine(settings)
    engine.load()
    if engine.adapter_error:
        raise RuntimeError(engine.adapter_error)
    demo = page(engine)
    url = launch_local(demo)
    try:
        with AdapterEvents() as events:
            report = run_scenario(url, scenario, events)
    finally:
        demo.close()
    return {
        "headline": report.headline(),
        "report": {**asdict(report), "adapter_cache_size": LOAD_CACHE_SIZE, "num_beams": settings.num_beams,
                   "dtype": loaded_base(engine).dtype, "shas": shas},
    }
