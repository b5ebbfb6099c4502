"""Issue 23's abuse scenarios, each with its figure (``bench/abuse.py`` runs them after issue 15's):

- **eight tabs**: one visitor opens 8 sessions, each sending the largest ``/translate`` allowed (``NLLB_MAX_SENTENCES``
  sentences, ``NLLB_MAX_BEAMS`` beams, ``NLLB_MAX_NEW_TOKENS`` tokens); a newcomer's one sentence then takes how
  long, over the same sentence alone? (target: within 3x). The app shares by client address (``X-Forwarded-For``,
  as Spaces' proxy sends it), so the 8 tabs are one visitor: ``NLLB_VISITOR_REQUESTS`` of them run, the rest are
  refused at once.
- **high-rank map**: ``/update_map`` of an adapter with one ``q_proj`` pair at r=8,000 (over ``NLLB_MAX_ADAPTER_RANK``):
  refused how fast, and with how much resident-memory growth? (targets: under a second, under 50 MB).
- **cache burst**: visitors' adapters fetched all at once through ``/update_map``; the Hugging Face cache's size,
  sampled every 20 ms, against ``NLLB_ADAPTER_DISK_MB`` (target: never above).

Timings are for reading, never asserted by the tests: machines are shared and noisy.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.load_report import percentile

NEWCOMER = "Hola amigo."


def eight_tabs(url: str, settings, sentences: list[str], repeats: int = 3) -> dict:
    """The newcomer's latency alone and while one visitor's 8 tabs send the largest translation allowed."""
    from nllb_space.testing.serve import visitor_client

    newcomer = visitor_client(url, 1)
    args = ("spa_Latn", "ita_Latn", "base")
    newcomer.predict(NEWCOMER, *args, api_name="/translate")  # warm
    alone = []
    for _ in range(repeats):
        start = time.perf_counter()
        newcomer.predict(NEWCOMER, *args, api_name="/translate")
        alone.append(time.perf_counter() - start)
    largest = ""  # as many sentences as one request may hold: NLLB_MAX_SENTENCES, within NLLB_MAX_CHARS
    for i in range(settings.max_sentences):
        longer = f"{largest} {sentences[i % len(sentences)]}".strip()
        if len(longer) > settings.max_chars:
            break
        largest = longer
    tabs = [visitor_client(url, 2) for _ in range(8)]  # one visitor: one address, eight sessions
    jobs = [tab.submit(largest, *args, settings.max_beams, settings.max_new_tokens, api_name="/translate")
            for tab in tabs]
    time.sleep(2.0)  # the tabs' requests are in (or refused) and their batches run
    under = []
    for _ in range(repeats):
        start = time.perf_counter()
        newcomer.predict(NEWCOMER, *args, api_name="/translate")
        under.append(time.perf_counter() - start)
    refused = 0
    for job in jobs:
        if job.done() and job.exception() is not None:
            refused += 1
        try:
            job.cancel()  # the running ones stop at their next batch
        except Exception:  # noqa: BLE001 - a busy server may answer the cancel late; the run goes on
            pass
    for job in jobs:  # let them stop before the next scenario (and before the server closes under them)
        try:
            job.result(timeout=300)
        except Exception:  # noqa: BLE001 - cancelled or refused: what is expected
            pass
    return {"sentences": len(largest.split(". ")), "chars": len(largest),
            "alone_s": statistics.median(alone), "with_eight_tabs_s": statistics.median(under),
            "ratio": statistics.median(under) / statistics.median(alone), "tabs_refused_at_once": refused,
            "target_ratio": 3.0}


def high_rank_adapter(folder: Path, in_features: int, out_features: int, rank: int = 8000) -> Path:
    """One ``q_proj`` LoRA pair at ``rank``, as a hostile visitor would publish it (small values, valid file)."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    key = "base_model.model.model.encoder.layers.0.self_attn.q_proj"
    save_file({f"{key}.lora_A.weight": torch.full((rank, in_features), 1e-3),
               f"{key}.lora_B.weight": torch.full((out_features, rank), 1e-3)},
              str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "r": rank, "lora_alpha": 16, "target_modules": ["q_proj"]}), encoding="utf-8")
    return folder


def high_rank_map(url: str, rss_mb) -> dict:
    """``/update_map`` of the configured (high-rank) adapter: seconds to the refusal and the server's RSS growth."""
    from nllb_space.testing.serve import visitor_client

    client = visitor_client(url, 3)
    try:  # once to warm up (the first call imports what the handler needs), then measured
        client.predict("local", api_name="/update_map")
    except Exception:  # noqa: BLE001 - refused, as measured below
        pass
    before, peak = rss_mb(), [rss_mb()]
    stop = threading.Event()
    sampler = threading.Thread(target=lambda: [peak.append(rss_mb()) for _ in iter(lambda: stop.wait(0.01), True)],
                               daemon=True)
    sampler.start()
    start = time.perf_counter()
    message = ""
    try:
        client.predict("local", api_name="/update_map")
    except Exception as error:  # noqa: BLE001 - the refusal is the expected answer
        message = str(error)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    return {"refused": "NLLB_MAX_ADAPTER_RANK" in message, "seconds": seconds, "rss_growth_mb": max(peak) - before,
            "target_seconds": 1.0, "target_rss_growth_mb": 50.0}


def cache_burst(url: str, repos: list[str], budget_mb: float, cache_mb) -> dict:
    """Every repo's update map at once, from a visitor each; the cache's size sampled every 20 ms."""
    from nllb_space.testing.serve import visitor_client

    sizes, stop = [cache_mb()], threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            sizes.append(cache_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    errors: list[str] = []

    def fetch(index: int) -> None:
        try:
            visitor_client(url, 100 + index).predict(f"{repos[index]}@main", api_name="/update_map")
        except Exception as error:  # noqa: BLE001 - reported
            errors.append(f"{repos[index]}: {error}")

    with ThreadPoolExecutor(len(repos)) as pool:
        list(pool.map(fetch, range(len(repos))))
    stop.set()
    sampler.join()
    return {"adapters": len(repos), "budget_mb": budget_mb, "peak_mb": max(sizes),
            "p95_mb": percentile(sizes, 0.95), "over_budget": max(sizes) > budget_mb, "errors": errors}


def cache_size_mb() -> float:
    """What the Hugging Face cache holds now (the bench serves a local base model: all of it is visitors' adapters)."""
    from huggingface_hub import scan_cache_dir

    try:
        return scan_cache_dir().size_on_disk / 1e6
    except Exception:  # noqa: BLE001 - no cache folder yet: nothing cached
        return 0.0


def run_round_two(model_dir: Path, weights: Path, cache_dir: Path, sentences: list[str], new_tokens: int,
                  rss_mb, burst: int = 6, threads_cache: int = 2, **settings_overrides) -> dict:
    """All three scenarios on one app: the base model at ``model_dir``, a high-rank adapter configured (refused at
    start-up, as a Space owner's mistake or a visitor's pick would be), visitors' adapters on the loopback Hub."""
    import tempfile

    from app import page
    from bench.inputs import make_adapters
    from nllb_space.service.engine import Engine
    from nllb_space.settings import Settings
    from nllb_space.testing.hub_env import start_session_hub
    from nllb_space.testing.serve import launch_local

    hub = start_session_hub()
    adapters = make_adapters(weights, cache_dir, burst, 16)
    repos = []
    for index, folder in enumerate(adapters):
        repo = f"burst-visitor-{index}/lora-{time.time_ns()}"
        hub.commit_files(repo, {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})
        repos.append(repo)
    adapter_mb = max((folder / "adapter_model.safetensors").stat().st_size for folder in adapters) / 1e6
    budget_mb = round((threads_cache + 1.5) * adapter_mb, 3)  # room for the ready ones and half another
    from transformers import AutoConfig

    width = AutoConfig.from_pretrained(model_dir).d_model
    high = high_rank_adapter(Path(tempfile.mkdtemp(prefix="nllb-high-rank-")), width, width)
    engine = Engine(Settings(**{"base_model": str(model_dir), "device": "cpu", "max_new_tokens": new_tokens,
                                "num_beams": 1, "adapter_repo": str(high), "adapter_disk_mb": budget_mb,
                                "adapter_cache_size": threads_cache, **settings_overrides}))
    engine.load()
    demo = page(engine)
    url = launch_local(demo)
    try:
        return {"eight_tabs": eight_tabs(url, engine.settings, sentences),
                "high_rank_map": high_rank_map(url, rss_mb),
                "cache_burst": cache_burst(url, repos, budget_mb, cache_size_mb)}
    finally:
        demo.close()
