"""Turning measurements into results: ``summarize`` builds the dict ``results.json`` holds (headline ratios first,
then raw medians and every repeat), ``report`` the table the run prints and the README's Speed section quotes,
with a PASS or MISS per target (issues 5 and 27); ``load_report`` and ``peer_report`` are that table's parts for
the load scenario and the CTranslate2 peer.

A target whose measure did not run (the peer, when CTranslate2 is not installed) is judged "skipped", never PASS:
``pass`` is ``null`` in ``results.json`` and ``skipped`` says why.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from bench.inputs import BenchConfig, Inputs
from bench.paths import CASES, Timings
from bench.peer import PEER, PEER_CASES

CASE_LABELS = {
    "sentence": "one sentence, greedy",
    "beam4": "one sentence, beam 4",
    "paragraph8": "paragraph of 8 sentences",
    "compare": "Compare base vs LoRA",
    "attention": "Attention (translate + maps)",
}
TARGETS: dict[str, tuple[str, float, str]] = {
    "sentence_speedup": (">=", 3.0, "x"),
    "beam4_over_greedy": ("<=", 1.2, "x"),  # issue 27 tightened issue 5's 1.5
    "paragraph8_over_sentence": ("<=", 2.5, "x"),
    "compare_over_translate": ("<=", 1.3, "x"),
    "attention_over_translate": ("<=", 1.5, "x"),
    "adapter_mb": ("<=", 25.0, " MB"),
    "app_over_ct2_greedy": ("<=", 0.7, "x"),
    "app_over_ct2_beam4": ("<=", 0.7, "x"),
    "ms_per_greedy_token": ("<=", 30.0, " ms"),
}
"""Issues 5 and 27's targets: (comparison, value, unit) per result key."""
DECODINGS = (("greedy", "sentence"), ("beam4", "beam4"))
"""The peer's cases, by the names its ratios carry."""


def summarize(
    config: BenchConfig, machine: dict[str, Any], inputs: Inputs, timings: Timings, memory: dict[str, Any],
    first: dict[str, Any], breakdown: dict[str, Any], checks: dict[str, Any], profile: list[dict[str, Any]] | None,
    load: dict[str, Any] | None = None, peer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything ``results.json`` holds: the headline ratios first, then the raw medians and repeats.

    ``peer`` is ``Timed.peer``: the peer's name and version, or ``{"skipped": why}``.
    """
    app = "app"
    peer_section = peer_results(peer or {"skipped": "not run"}, timings)
    results: dict[str, Any] = {
        "sentence_speedup": timings.ratio(("naive", "sentence"), (app, "sentence")),
        "beam4_over_greedy": timings.ratio((app, "beam4"), (app, "sentence")),
        "paragraph8_over_sentence": timings.ratio((app, "paragraph8"), (app, "sentence")),
        "compare_over_translate": timings.ratio((app, "compare"), (app, "sentence")),
        "attention_over_translate": timings.ratio((app, "attention"), (app, "sentence")),
        "adapter_mb": memory["adapter_mb"],
        **({} if "skipped" in peer_section else {
            "app_over_ct2_greedy": peer_section["greedy_app_over_peer"],
            "app_over_ct2_beam4": peer_section["beam4_app_over_peer"],
        }),
        "ms_per_greedy_token": timings.median(app, "sentence") / config.new_tokens * 1000,
        "first_translation_s": first["first_translation_s"],
        "int8_speedup": timings.ratio(("app_fp32", "sentence"), (app, "sentence")),
        "engine_fp32_speedup": timings.ratio(("naive", "sentence"), ("app_fp32", "sentence")),
        "paragraph8_speedup": timings.ratio(("naive", "paragraph8"), (app, "paragraph8")),
        "naive_compare_over_translate": timings.ratio(("naive", "compare"), ("naive", "sentence")),
    }
    results = {key: round(value, 3) for key, value in results.items()}
    if load is not None:
        results.update(load["headline"])
    results["targets"] = {key: _judge(results, key, peer_section.get("skipped", "not measured")) for key in TARGETS}
    results["peer"] = peer_section
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
        "peer": config.peer,
        "inputs": asdict(inputs),
    }
    # The peer is timed on some cases only: the others are left out, not reported as empty.
    results["median_s"] = {
        path: {case: round(timings.median(path, case), 4) for case in CASES if timings.timed(path, case)}
        for path in timings.paths
    }
    results["repeats_s"] = {
        path: {case: [round(s, 4) for s in timings.seconds[path][case]] for case in CASES if timings.timed(path, case)}
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


def _judge(results: dict[str, Any], key: str, skipped: str) -> dict[str, Any]:
    """A target's verdict; a measure that did not run is "skipped" (with why), not a MISS nor a PASS."""
    op, value, unit = TARGETS[key]
    target = f"{op} {value:g}{unit.strip() and unit}"
    if key not in results:
        return {"target": target, "pass": None, "skipped": skipped}
    return {"target": target, "pass": results[key] >= value if op == ">=" else results[key] <= value}


def peer_results(peer: dict[str, Any], timings: Timings) -> dict[str, Any]:
    """``results.json``'s ``peer``: app / CTranslate2 per decoding (paired within repeats), the medians behind
    them, and the same for ``app_base`` (no adapter, as the peer runs) and ``app_full`` (the full output layer) when
    they ran; or ``{"skipped": why}``."""
    if "skipped" in peer:
        return {"skipped": peer["skipped"]}
    section: dict[str, Any] = dict(peer)
    paths = [path for path in ("app", "app_base", "app_full") if timings.timed(path, "sentence")]
    for path in paths:
        for label, case in DECODINGS:
            section[f"{label}_{path}_over_peer"] = round(timings.ratio((path, case), (PEER, case)), 3)
    section["medians"] = {
        path: {case: round(timings.median(path, case), 4) for case in PEER_CASES} for path in (*paths, PEER)
    }
    return section


def vocab_cut_results(vocab: dict[str, Any], timings: Timings) -> dict[str, Any]:
    """``results.json``'s ``vocab_cut``: what ``NLLB_RESTRICT_VOCAB`` (on by default) keeps, and what it buys: the
    ``app_full`` path (the full output layer) against the app."""
    return {
        **vocab,
        "sentence_speedup_over_full": round(timings.ratio(("app_full", "sentence"), ("app", "sentence")), 3),
        "beam4_speedup_over_full": round(timings.ratio(("app_full", "beam4"), ("app", "beam4")), 3),
        "full_beam4_over_greedy": round(timings.ratio(("app_full", "beam4"), ("app_full", "sentence")), 3),
        "full_paragraph8_over_sentence": round(
            timings.ratio(("app_full", "paragraph8"), ("app_full", "sentence")), 3),
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
        + (f" {'app int8, full output layer':>28}" if "app_full" in med else ""),
    ]
    for case in CASES:
        lines.append(
            f"{CASE_LABELS[case]:32} {med['naive'][case]:11.3f} {med['app_fp32'][case]:9.3f} {med['app'][case]:9.3f}"
            + (f" {med['app_full'][case]:28.3f}" if "app_full" in med else "")
        )
    lines += ["", f"{'measure':54} {'value':>9}  {'target':>8}  result"]
    headline = [
        ("sentence_speedup", "one sentence greedy: naive fp32 / app (int8)"),
        ("beam4_over_greedy", "beam 4 / greedy (app)"),
        ("ms_per_greedy_token", "ms per token, one sentence greedy (app)"),
        ("app_over_ct2_greedy", "one sentence greedy: app / CTranslate2 int8"),
        ("app_over_ct2_beam4", "one sentence beam 4: app / CTranslate2 int8"),
        ("paragraph8_over_sentence", "paragraph of 8 / one sentence (app)"),
        ("compare_over_translate", "Compare base vs LoRA / one translation (app)"),
        ("attention_over_translate", "Attention / one translation (app)"),
        ("adapter_mb", "resident MB per extra adapter revision (app)"),
    ]
    for key, label in headline:
        target = results["targets"][key]
        if target["pass"] is None:
            lines.append(f"{label:54} {'-':>7}    {target['target']:>8}  skipped")
            continue
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
            f"NLLB_RESTRICT_VOCAB (on by default): output layer cut to {vocab['rows_kept']:,} of "
            f"{vocab['rows_total']:,} rows ({vocab['share_kept']:.0%}; scripts {', '.join(vocab['scripts'])})",
            f"{'  Italian text tokens kept (%d occurrences)' % vocab['italian_token_occurrences']:54} "
            f"{vocab['italian_occurrences_kept']:>8.2%}",
            f"{'  one sentence: full output layer / app (cut)':54} {vocab['sentence_speedup_over_full']:>7.2f}x",
            f"{'  beam 4: full output layer / app (cut)':54} {vocab['beam4_speedup_over_full']:>7.2f}x",
            f"{'  beam 4 / greedy, full output layer':54} {vocab['full_beam4_over_greedy']:>7.2f}x",
            f"{'  paragraph of 8 / one sentence, full output layer':54} "
            f"{vocab['full_paragraph8_over_sentence']:>7.2f}x",
        ]
    lines += ["", *peer_report(results["peer"])]
    if "load" in results:
        lines += ["", *load_report(results)]
    lines += ["", "app (int8): share of wall time per module (forward hooks, one run each)"]
    for case, shares in results["app_time_shares"].items():
        parts = "  ".join(f"{k} {v:4.0%}" for k, v in shares.items() if k != "seconds")
        lines.append(f"  {CASE_LABELS[case]:32} {parts}")
    return "\n".join(lines)


def peer_report(peer: dict[str, Any]) -> list[str]:
    """The table's "app vs CTranslate2 int8" part: both medians and app / peer per decoding, or why it was skipped."""
    if "skipped" in peer:
        return [f"app vs CTranslate2 int8: skipped ({peer['skipped']})"]
    med = peer["medians"]
    extra = [path for path in ("app_base", "app_full") if path in med]
    names = {"app_base": "app, no adapter", "app_full": "app, full vocab"}
    threads = peer["intra_threads"]
    lines = [
        f"app vs CTranslate2 int8 (CTranslate2 {peer['version']}, {peer['compute_type']}, {threads} "
        + f"thread{'s' * (threads != 1)}; same weights, inputs and forced length)",
        f"{'median seconds':32} {'app int8':>9} {'CTranslate2':>12} {'app / peer':>11}"
        + "".join(f" {names[path]:>16} {'/ peer':>7}" for path in extra),
    ]
    for label, case in DECODINGS:
        lines.append(
            f"{CASE_LABELS[case]:32} {med['app'][case]:9.3f} {med[PEER][case]:12.3f} "
            f"{peer[f'{label}_app_over_peer']:10.2f}x"
            + "".join(f" {med[path][case]:16.3f} {peer[f'{label}_{path}_over_peer']:6.2f}x" for path in extra)
        )
    return lines


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
