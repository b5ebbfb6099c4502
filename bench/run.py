"""Issue 5's benchmark: the app's engine against a naive baseline, measured side by side in ONE run, as ratios.

    python bench/run.py                              # NLLB-600M-shaped random weights, 5 repeats (20-40 min, 2 vCPUs)
    python bench/run.py --quick                      # smoke run: 2 repeats, 8 new tokens
    python bench/run.py --quick --shape tiny --out /tmp/bench.json --threads 1   # ~30 s; what tests/test_bench.py runs
    python bench/run.py --model ./nllb-200-distilled-600M   # real weights (a folder or a Hub id)
    python bench/run.py --profile                    # + the top torch ops of one app translation

Four paths and a peer translate the same inputs, interleaved repeat by repeat so that a shared, noisy machine slows
them alike:

- ``naive``: float32 ``AutoModelForSeq2SeqLM`` + ``PeftModel.from_pretrained`` used plainly: one ``generate`` per
  sentence; Compare is two calls (base under ``model.disable_adapter()``, then the adapter); Attention is
  ``generate(output_attentions=True)`` with eager attention.
- ``app``: ``nllb_space.service.engine.Engine`` with its defaults (int8 on CPU, the output layer cut to the target's
  script, its own decoding loop): sentences batched per model call,
Compare in one mixed-adapter batch, Attention from one teacher-forced forward pass.
- ``app_fp32``: the same engine with ``NLLB_DTYPE=float32``, so the int8 gain shows apart from the engine's own.
- ``app_full``: the int8 engine with ``NLLB_RESTRICT_VOCAB=false``: the full output layer, to show what the default
  cut to Italian's script buys, with how many output rows the cut keeps and what share of Italian text's tokens
  (``--no-vocab-cut`` skips it).
- ``app_base``: the app's engine translating with the base model (greedy and beam 4), beside the peer, which has no
  adapter either.
- ``ct2``, the peer (issue 27): CTranslate2 int8 on the same weights (converted once, cached under ``--cache-dir``),
  greedy and beam 4 on one sentence, reported as app / peer. It is an optional dependency of the benchmark only
  (``pip install ctranslate2``); without it the run says the peer was skipped and why (``--no-peer`` skips it too).

Without ``--model`` the model is NLLB-200-distilled-600M's exact configuration with random weights (built once with
``nllb_space.synthetic`` and cached under ``--cache-dir``): the same compute per token as the real model. Random
weights would stop or ramble at random, so every path generates exactly ``--new-tokens`` tokens: the served folder's
``generation_config.json`` carries ``min_new_tokens`` and every call passes ``max_new_tokens`` equal to it. Random
float32 weights also produce denormal numbers, which make CPU timings erratic: ``torch.set_flush_denormal(True)``.
On a shared machine torch's OpenMP threads spin while they wait for each other, and a busy neighbour made 2-thread
timings swing tenfold; the run sets ``OMP_WAIT_POLICY=PASSIVE`` (``--omp-wait-policy``) before torch loads.

Each timing is repeated ``--repeats`` times; the tables show medians, and every ratio is the median of the ratios
taken within each repeat (paired, so load that drifts during the run cancels out). Memory (resident MB per extra
adapter revision) and the time from start to the first translation run in fresh subprocesses.

Issue 6's load scenario (``bench/load.py``, the one ``tests/test_load.py`` runs on the tiny model) runs in one more
fresh subprocess: the app itself (``build_demo`` on the engine's defaults, adapter cache of 2) served on loopback,
its adapter revisions on the tests' loopback Hub emulator, ``--load-clients`` gradio_client clients sending
``--load-requests`` requests while another switches revisions. It reports ratios to the same requests served alone
(``load_*`` keys); an answer under load that differs from alone is a correctness failure: the table says so and the
run exits with status 1 (after writing the results). ``--no-load`` skips it.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repo root, on sys.path
    sys.path.insert(0, str(REPO_ROOT))

# This file is the command line only; the benchmark's parts live beside it, each importing nothing heavy at module
# level (the --omp-wait-policy check and the children's import timings rely on torch not being loaded yet):
# inputs.py (config, corpus, weights, adapters, texts), paths.py (naive and app paths, their cases), peer.py (the
# CTranslate2 peer), measure.py (in-process timings), fresh_process.py (first translation, memory, load scenario),
# report.py (results, table).
from bench.fresh_process import child_first, child_load, measure_first_translation, measure_load  # noqa: E402
from bench.inputs import FLORES_SPA, BenchConfig, build_inputs, corpus, make_adapters, prepare_weights, serving_folder  # noqa: E402
from bench.measure import machine_info, run_timings  # noqa: E402
from bench.report import report, summarize, vocab_cut_results  # noqa: E402

logger = logging.getLogger("bench")


def parse_args(argv: list[str] | None = None) -> tuple[BenchConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="folder or Hub id of real NLLB weights (default: random weights of --shape)")
    parser.add_argument("--shape", choices=("600m", "tiny"), default="600m")
    parser.add_argument("--cache-dir", type=Path, default=BenchConfig.cache_dir)
    parser.add_argument("--out", type=Path, default=BenchConfig.out)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--new-tokens", type=int)
    parser.add_argument("--data", type=Path, default=FLORES_SPA)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core)")
    parser.add_argument("--omp-wait-policy", default=BenchConfig.omp_wait_policy, help="'' keeps the environment's")
    parser.add_argument("--no-peer", action="store_true", help="skip timing CTranslate2 int8 (bench/peer.py)")
    parser.add_argument("--no-vocab-cut", action="store_true", help="skip timing the app with the full output layer")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--load-clients", type=int, help="concurrent clients of the load scenario (default 16)")
    parser.add_argument("--load-requests", type=int, help="requests they send in all (default 16)")
    parser.add_argument("--no-load", action="store_true", help="skip the load scenario")
    # Internal: the first-translation, memory and load measures re-run this file in a fresh process.
    parser.add_argument("--child", choices=("first", "load"), help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--adapters", nargs="*", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--sentence", help=argparse.SUPPRESS)
    parser.add_argument("--sentences", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    config = BenchConfig(
        model=args.model,
        shape=args.shape,
        cache_dir=args.cache_dir,
        out=args.out,
        repeats=args.repeats or (2 if quick else BenchConfig.repeats),
        new_tokens=args.new_tokens or (8 if quick else BenchConfig.new_tokens),
        first_repeats=1 if quick else BenchConfig.first_repeats,
        data=args.data,
        threads=args.threads,
        omp_wait_policy=args.omp_wait_policy or None,
        peer=not args.no_peer,
        vocab_cut=not args.no_vocab_cut,
        profile=args.profile,
        quick=quick,
        load=not args.no_load,
        load_clients=args.load_clients or (4 if quick else BenchConfig.load_clients),
        load_requests=args.load_requests or (8 if quick else BenchConfig.load_requests),
    )
    return config, args


def run_benchmark(config: BenchConfig) -> dict[str, Any]:
    """Everything, in order: set-up, in-process timings, fresh-process measures; returns ``results.json``'s dict."""
    import torch
    from transformers import AutoTokenizer

    torch.set_flush_denormal(True)  # random float32 weights make denormals, which make timings erratic
    if config.threads:
        torch.set_num_threads(config.threads)
    machine = machine_info()
    sentences, source = corpus(config)
    weights = prepare_weights(config, sentences)
    model_dir = serving_folder(weights, config.cache_dir, config.new_tokens)
    adapters = make_adapters(weights, config.cache_dir, config.adapter_revisions, config.lora_r)
    inputs = build_inputs(config, AutoTokenizer.from_pretrained(model_dir), sentences, source)
    logger.info("Inputs: one sentence of %d tokens; paragraph of %s tokens", inputs.sentence_tokens,
                inputs.paragraph_tokens)

    timed = run_timings(config, weights, model_dir, adapters[0], inputs)  # the models are freed when it returns
    gc.collect()

    logger.info("Measuring start to first translation and memory with 1 and %d adapter revisions "
                "(%d fresh processes)", config.adapter_revisions, config.first_repeats)
    first, memory = measure_first_translation(config, model_dir, adapters, inputs.sentence)
    load = measure_load(config, model_dir, adapters, [inputs.sentence, *inputs.paragraph[:3]]) if config.load else None
    results = summarize(config, machine, inputs, timed.timings, memory, first, timed.breakdown, timed.checks,
                        timed.profile, load, timed.peer)
    if timed.vocab is not None:
        results["vocab_cut"] = vocab_cut_results(timed.vocab, timed.timings)
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    config, args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logger.setLevel(logging.INFO)
    if args.child:
        print(json.dumps(child_first(args) if args.child == "first" else child_load(config, args)))
        return {}
    if not config.model:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # random weights are local: never wait on a Hub
    if config.omp_wait_policy:
        if "torch" in sys.modules:
            logger.warning("torch is already imported: --omp-wait-policy cannot take effect in this process")
        os.environ["OMP_WAIT_POLICY"] = config.omp_wait_policy  # read once, when torch loads OpenMP
    results = run_benchmark(config)
    print(report(results))
    config.out.parent.mkdir(parents=True, exist_ok=True)
    config.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    logger.info("Wrote %s", config.out)
    return results


if __name__ == "__main__":
    outcome = main()
    if outcome.get("load_mismatches") or outcome.get("load_errors"):
        sys.exit(1)  # a wrong or failed answer under load is a correctness failure, not a timing
