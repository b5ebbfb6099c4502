"""Turning measurements into results: ``summarize`` builds the dict ``results.json`` holds (headline ratios first,
then raw medians and every repeat), ``report`` the table the run prints and the README's Speed section quotes,
with a PASS or MISS per issue 5 target; ``load_report`` is that table's load-scenario part.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from bench.inputs import BenchConfig, Inputs
from bench.paths import CASES, Timings

CASE_LABELS = {
    "sentence": "one sentence, greedy",
    "beam4": "one sentence, beam 4",
    "paragraph8": "paragraph of 8 sentences",
    "compare": "Compare base vs LoRA",
    "attention": "Attention (translate + maps)",
}
TARGETS: dict[str, tuple[str, float, str]] = {
    "sentence_speedup": (">=", 3.0, "x"),
    "beam4_over_greedy": ("<=", 1.5, "x"),
    "paragraph8_over_sentence": ("<=", 2.5, "x"),
    "compare_over_translate": ("<=", 1.3, "x"),
    "attention_over_translate": ("<=", 1.5, "x"),
    "adapter_mb": ("<=", 25.0, " MB"),
}
"""Issue 5's targets: (comparison, value, unit) per result key."""


def summarize(
    config: BenchConfig, machine: dict[str, Any], inputs: Inputs, timings: Timings, memory: dict[str, Any],
    first: dict[str, Any], breakdown: dict[str, Any], checks: dict[str, Any], profile: list[dict[str, Any]] | None,
    load: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything ``results.json`` holds: the headline ratios first, then the raw medians and repeats."""
    app = "app"
    results: dict[str, Any] = {
        "sentence_speedup": timings.ratio(("naive", "sentence"), (app, "sentence")),
        "beam4_over_greedy": timings.ratio((app, "beam4"), (app, "sentence")),
        "paragraph8_over_sentence": timings.ratio((app, "paragraph8"), (app, "sentence")),
        "compare_over_translate": timings.ratio((app, "compare"), (app, "sentence")),
        "attention_over_translate": timings.ratio((app, "attention"), (app, "sentence")),
        "adapter_mb": memory["adapter_mb"],
        "first_translation_s": first["first_translation_s"],
        "int8_speedup": timings.ratio(("app_fp32", "sentence"), (app, "sentence")),
        "engine_fp32_speedup": timings.ratio(("naive", "sentence"), ("app_fp32", "sentence")),
        "paragraph8_speedup": timings.ratio(("naive", "paragraph8"), (app, "paragraph8")),
        "naive_compare_over_translate": timings.ratio(("naive", "compare"), ("naive", "sentence")),
    }
    results = {key: round(value, 3) for key, value in results.items()}
    if load is not None:
        results.update(load["headline"])
    results["targets"] = {
        key: {"target": f"{op} {value:g}{unit.strip() and unit}", "pass": _passes(results[key], op, value)}
        for key, (op, value, unit) in TARGETS.items()
    }
    results["machine"] = {**machine, "load_average_end": [round(x, 2) for x in os.getloadavg()]}
    results["config"] = {
        "model": config.model or f"random weights, shape {config.shape}",
        "repeats": config.repeats,
        "new_tokens": config.new_tokens,
        "paragraph_sentences": config.paragraph_sentences,
        "adapter_revisions": config.adapter_revisions,
        "lora_r": config.lora_r,
        "quick": config.quick,
        "threads": config.threads or "torch default",
        "vocab_cut": config.vocab_cut,
        "inputs": asdict(inputs),
    }
    results["median_s"] = {
        path: {case: round(timings.median(path, case), 4) for case in CASES} for path in timings.paths
    }
    results["repeats_s"] = {
        path: {case: [round(s, 4) for s in timings.seconds[path][case]] for case in CASES}
        for path in timings.paths
    }
    results["memory"] = memory
    results["first_translation"] = first
    results["app_time_shares"] = breakdown
    results["checks"] = checks
    if load is not None:
        results["load"] = load["report"]
    if profile is not None:
        results["profile_top_ops"] = profile
    return results


def _passes(value: float, op: str, target: float) -> bool:
    return value >= target if op == ">=" else value <= target


def vocab_cut_results(vocab: dict[str, Any], timings: Timings) -> dict[str, Any]:
    """``results.json``'s ``vocab_cut``: what ``NLLB_RESTRICT_VOCAB`` keeps, and the ``app_cut`` path's ratios."""
    return {
        **vocab,
        "sentence_speedup_over_app": round(timings.ratio(("app", "sentence"), ("app_cut", "sentence")), 3),
        "sentence_speedup": round(timings.ratio(("naive", "sentence"), ("app_cut", "sentence")), 3),
        "beam4_over_greedy": round(timings.ratio(("app_cut", "beam4"), ("app_cut", "sentence")), 3),
        "paragraph8_over_sentence": round(timings.ratio(("app_cut", "paragraph8"), ("app_cut", "sentence")), 3),
    }


def report(results: dict[str, Any]) -> str:
    """The table the run prints: medians per path, the headline ratios with target and PASS/MISS."""
    med = results["median_s"]
    lines = [
        f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, torch "
        f"{results['machine']['torch']} ({results['machine']['torch_threads']} threads), "
        f"{results['machine']['ram_gb']} GB RAM, load {results['machine']['load_average_start']} -> "
        f"{results['machine']['load_average_end']}",
        f"model: {results['config']['model']}; {results['config']['new_tokens']} new tokens forced; "
        f"{results['config']['repeats']} repeats (medians; ratios are medians of within-repeat ratios)",
        "",
        f"{'median seconds':32} {'naive fp32':>11} {'app fp32':>9} {'app int8':>9}"
        + (f" {'app int8 + NLLB_RESTRICT_VOCAB':>31}" if "app_cut" in med else ""),
    ]
    for case in CASES:
        lines.append(
            f"{CASE_LABELS[case]:32} {med['naive'][case]:11.3f} {med['app_fp32'][case]:9.3f} {med['app'][case]:9.3f}"
            + (f" {med['app_cut'][case]:31.3f}" if "app_cut" in med else "")
        )
    lines += ["", f"{'measure':54} {'value':>9}  {'target':>8}  result"]
    headline = [
        ("sentence_speedup", "one sentence greedy: naive fp32 / app (int8)"),
        ("beam4_over_greedy", "beam 4 / greedy (app)"),
        ("paragraph8_over_sentence", "paragraph of 8 / one sentence (app)"),
        ("compare_over_translate", "Compare base vs LoRA / one translation (app)"),
        ("attention_over_translate", "Attention / one translation (app)"),
        ("adapter_mb", "resident MB per extra adapter revision (app)"),
    ]
    for key, label in headline:
        target = results["targets"][key]
        unit = TARGETS[key][2]
        lines.append(
            f"{label:54} {results[key]:>7.2f}{unit:2}  {target['target']:>8}  {'PASS' if target['pass'] else 'MISS'}"
        )
    memory = results["memory"]
    lines += [
        f"{'  (resident MB with 1 / with %d revisions)' % memory['adapters_loaded']:54} "
        f"{memory['rss_1_adapter_mb']:.0f} / {memory['rss_all_adapters_mb']:.0f}; LoRA float32 "
        f"{memory['lora_float32_mb']:.1f} MB per revision",
        f"{'start to first translation, fresh process (s)':54} {results['first_translation_s']:>7.2f} s",
        f"{'int8 gain: app fp32 / app int8, one sentence':54} {results['int8_speedup']:>7.2f}x",
        f"{'engine gain without int8: naive / app fp32':54} {results['engine_fp32_speedup']:>7.2f}x",
        f"{'paragraph of 8: naive / app':54} {results['paragraph8_speedup']:>7.2f}x",
        f"{'Compare / one translation, naive (two calls)':54} {results['naive_compare_over_translate']:>7.2f}x",
    ]
    vocab = results.get("vocab_cut")
    if vocab:
        lines += [
            "",
            f"NLLB_RESTRICT_VOCAB (off by default): output layer cut to {vocab['rows_kept']:,} of "
            f"{vocab['rows_total']:,} rows ({vocab['share_kept']:.0%}; scripts {', '.join(vocab['scripts'])})",
            f"{'  Italian text tokens kept (%d occurrences)' % vocab['italian_token_occurrences']:54} "
            f"{vocab['italian_occurrences_kept']:>8.2%}",
            f"{'  one sentence: app / app with the cut':54} {vocab['sentence_speedup_over_app']:>7.2f}x",
            f"{'  one sentence: naive fp32 / app with the cut':54} {vocab['sentence_speedup']:>7.2f}x",
            f"{'  beam 4 / greedy, with the cut':54} {vocab['beam4_over_greedy']:>7.2f}x",
            f"{'  paragraph of 8 / one sentence, with the cut':54} {vocab['paragraph8_over_sentence']:>7.2f}x",
        ]
    if "load" in results:
        lines += ["", *load_report(results)]
    lines += ["", "app (int8): share of wall time per module (forward hooks, one run each)"]
    for case, shares in results["app_time_shares"].items():
        parts = "  ".join(f"{k} {v:4.0%}" for k, v in shares.items() if k != "seconds")
        lines.append(f"  {CASE_LABELS[case]:32} {parts}")
    return "\n".join(lines)


def load_report(results: dict[str, Any]) -> list[str]:
    """The load scenario's lines of the table; a wrong or failed answer is shown as a failure, not a number."""
    load = results["load"]
    lines = [
        f"load (issue 6): {load['clients']} clients, {load['requests']} requests of translate/compare/attention over "
        f"{', '.join(m.rsplit('@', 1)[-1] for m in load['models'])};",
        f"  meanwhile a switcher cycled {', '.join(m.rsplit('@', 1)[-1] for m in load['switcher_revisions'])}; "
        f"adapter cache {load['adapter_cache_size']}, beam {load['num_beams']}, {load['dtype']}",
        f"{'  requests per second under load':54} {results['load_requests_per_second']:>7.2f}",
        f"{'  efficiency: sum of alone latencies / wall time':54} {results['load_efficiency']:>7.2f}x",
        f"{'  p50 latency under load / median alone':54} {results['load_p50_over_alone']:>7.2f}x",
        f"{'  p95 latency under load / median alone':54} {results['load_p95_over_alone']:>7.2f}x",
        f"{'  (p50 / p95 under load; median alone, seconds)':54} {load['p50_s']:.2f} / {load['p95_s']:.2f}; "
        f"{load['alone_median_s']:.2f}",
        f"{'  (switcher requests during the run; evictions)':54} {load['switcher_requests']}; {load['evictions']}",
    ]
    mismatches, errors = results["load_mismatches"], results["load_errors"]
    if mismatches or errors:
        lines.append(f"  !! CORRECTNESS FAILURE: {mismatches} answer(s) under load differ from alone, {errors} "
                     f"error(s): see load.mismatches / load.errors in results.json")
    else:
        lines.append(f"{'  answers under load equal to the same request alone':54} all {load['completed']} "
                     f"+ {load['switcher_requests']} switcher, 0 errors")
    return lines
