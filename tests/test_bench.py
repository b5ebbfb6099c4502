"""Smoke test of the benchmark: ``bench/run.py --quick --shape tiny`` runs end to end and writes every result key.

It runs the script the way a person does (a subprocess, ``python bench/run.py``), on the tiny random-weight model,
with one repeat and one torch thread, so it takes about a minute; the numbers themselves mean nothing here. The
quick run includes the load scenario (4 clients, 8 requests, the app served on loopback): its answers under load
must equal the same requests served alone.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NUMERIC_KEYS = (
    "sentence_speedup",
    "beam4_over_greedy",
    "paragraph8_over_sentence",
    "compare_over_translate",
    "attention_over_translate",
    "adapter_mb",
    "first_translation_s",
    "load_efficiency",
    "load_p50_over_alone",
    "load_p95_over_alone",
    "load_requests_per_second",
)
MACHINE_KEYS = ("cpu", "cores", "torch", "torch_threads", "ram_gb", "load_average_start")


def test_quick_tiny_run_writes_every_key(tmp_path):
    out = tmp_path / "tmp.json"
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--shape", "tiny", "--out", str(out),
         "--cache-dir", str(tmp_path / "cache"), "--repeats", "1", "--threads", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())

    for key in NUMERIC_KEYS:
        value = results[key]
        assert isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value), (key, value)
    assert results["first_translation_s"] > 0
    assert set(MACHINE_KEYS) <= set(results["machine"])
    assert results["machine"]["torch_threads"] == 1

    # Raw medians and every repeat, per path and case; each target is judged.
    for path in ("naive", "app", "app_fp32"):
        for case in ("sentence", "beam4", "paragraph8", "compare", "attention"):
            assert results["median_s"][path][case] > 0
            assert len(results["repeats_s"][path][case]) == 1
    assert {"sentence_speedup", "adapter_mb"} <= set(results["targets"])
    assert all(isinstance(t["pass"], bool) for t in results["targets"].values())
    # The benchmark checked that every path generated the forced length and the paragraph stayed 8 sentences.
    assert results["checks"]["app_paragraph_pieces"] == 8
    assert results["memory"]["adapters_loaded"] == 5

    # The load scenario: every answer under load equal to alone, none failed, and the switcher forced evictions.
    assert results["load_mismatches"] == 0 and results["load_errors"] == 0, results["load"]
    load = results["load"]
    assert (load["clients"], load["requests"], load["completed"]) == (4, 8, 8)
    assert load["dtype"] == "int8" and load["adapter_cache_size"] == 2
    assert load["switcher_requests"] > 0 and load["evictions"] > 0
    assert "answers under load equal to the same request alone" in done.stdout

    # The table is printed with a verdict per target.
    verdicts = [line for line in done.stdout.splitlines() if line.endswith(("PASS", "MISS"))]
    assert len(verdicts) == len(results["targets"]), done.stdout


def test_kernel_table_prints_time_bandwidth_and_row_cost(tmp_path):
    out = tmp_path / "matmul_roofs.json"
    done = subprocess.run([sys.executable, "bench/matmul_roofs.py", "--quick", "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert {(r["kind"], r["rows"]) for r in rows} == {("int8", 1), ("int8", 4), ("float32", 1), ("float32", 4)}
    for r in rows:
        assert r["ms"] > 0 and r["gmac_per_s"] >= 0 and r["weight_gb_per_s"] >= 0
        assert r["cost_vs_one_row"] == 1.0 if r["rows"] == 1 else r["cost_vs_one_row"] > 0
    assert len([line for line in done.stdout.splitlines() if line.strip().endswith(("int8", "float32")) or
                " int8 " in line or " float32 " in line]) == len(rows)


def test_the_training_benchmark_reports_seconds_per_step_and_a_default_run(tmp_path):
    """bench/training.py (issue 25) on the tiny shape: what it reports, never how fast."""
    import json

    from bench.training import main
    from nllb_space.training.page_runs import defaults

    out = tmp_path / "training.json"
    result = main(["--shape", "tiny", "--steps", "3", "--repeats", "2", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    assert result["device"] == "cpu" and result["measured_steps"] == 3
    assert result["default_steps"] == defaults(on_gpu=False)["steps"]
    assert result["peak_rss_mb"] > 0 and result["translation_alone_s"] > 0 and result["while_training_over_alone"] > 0
    assert 0 < result["seconds_per_step"] and result["default_run_seconds"] >= (
        result["seconds_per_step"] * result["default_steps"])
