"""Issue 15's abuse scenario (``bench/abuse.py``) on the tiny model: one visitor at every limit, eight others.

The others must get exactly what they get alone, nobody errors, and the report (p95 over alone, peak memory) is
printed for reading (run with ``-s``); timings are never asserted.
"""

from __future__ import annotations

import os

from bench.abuse import run_abuse
from nllb_space.testing.serve import launch_local
from tests.model_fixtures import tiny_settings
from nllb_space.testing.pairs import SOURCES


def test_one_visitor_at_every_limit_leaves_the_others_their_answers(tiny_model_dir, hub_adapters, tmp_path):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from nllb_space.engine import Engine
    from nllb_space.handlers import Handlers
    from nllb_space.ui import build_demo

    engine = Engine(tiny_settings(tiny_model_dir, max_new_tokens=12, batch_size=4, max_job_sentences=64))
    engine.load()
    demo = build_demo(engine)
    url = launch_local(demo)
    try:
        report = run_abuse(url, Handlers(engine), engine, list(SOURCES), others=8, per_other=2,
                           folder=tmp_path)
    finally:
        demo.close()
    print(report)
    assert not report.errors and not report.mismatches, (report.errors, report.mismatches)
    assert report.requests == 16 and report.file_sentences == 64
    assert report.attention_tokens[0] <= 200 and 10 <= report.attention_tokens[1] <= 12  # pair at the token limits
    assert report.rss_peak_mb >= report.rss_before_mb > 0
