"""Issue 15's abuse scenario (``bench/abuse.py``) on the tiny model: one visitor at every limit, eight others.

The others must get exactly what they get alone, nobody errors, and the report (p95 over alone, peak memory) is
printed for reading (run with ``-s``); timings are never asserted.
"""

from __future__ import annotations

import os

from bench.abuse import run_abuse
from nllb_space.testing.pairs import SOURCES
from nllb_space.testing.serve import launch_local
from tests.model_fixtures import tiny_settings


def test_one_visitor_at_every_limit_leaves_the_others_their_answers(tiny_model_dir, hub_adapters, tmp_path):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from nllb_space.service.engine import Engine
    from nllb_space.web.page import build_demo

    engine = Engine(tiny_settings(tiny_model_dir, max_new_tokens=12, batch_size=4, max_job_sentences=64))
    engine.load()
    demo = build_demo(engine)
    url = launch_local(demo)
    try:
        report = run_abuse(url, engine, list(SOURCES), others=8, per_other=2, folder=tmp_path)
    finally:
        demo.close()
    print(report)
    assert not report.errors and not report.mismatches, (report.errors, report.mismatches)
    assert report.requests == 16 and report.file_sentences == 64
    assert report.attention_tokens[0] <= 200 and 10 <= report.attention_tokens[1] <= 12  # pair at the token limits
    assert report.rss_peak_mb >= report.rss_before_mb > 0


def test_issue_23s_scenarios_run_and_hold_on_the_tiny_model(tiny_model_dir, tmp_path):
    """bench/abuse.py's second round on the tiny model: what it reports, without timings (machines are noisy)."""
    from bench.abuse import rss_mb
    from bench.abuse_round_two import run_round_two

    report = run_round_two(tiny_model_dir, tiny_model_dir, tmp_path / "bench-cache", list(SOURCES), 8, rss_mb,
                           burst=4)
    print(report)
    assert report["eight_tabs"]["tabs_refused_at_once"] == 6  # NLLB_VISITOR_REQUESTS: two of one visitor's eight
    assert report["high_rank_map"]["refused"]
    burst = report["cache_burst"]
    assert not burst["errors"] and burst["adapters"] == 4 and 0 < burst["peak_mb"] <= burst["budget_mb"]
