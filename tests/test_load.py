"""16 concurrent API clients mixing translate, compare and attention across base and two revisions, while another
client keeps switching revisions: every answer equals the same request served alone, and nothing errors (issue 6).

The scenario itself lives in ``bench/load.py`` (the benchmark runs the same one on the 600M-shaped model). Its repo
holds three commits (the tag is an older ``main``) and the app's adapter cache holds two, so the switcher forces
evictions while requests are queued; the test checks that it did. Throughput and latency of the mix are printed
(run with ``-s`` to see them) and saved as JSON under the test's tmp_path; timings are reported, never asserted
(machines are shared and noisy).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import pytest

from bench.load import AdapterEvents, LoadScenario, publish_revisions, run_scenario
from nllb_space.testing.serve import launch_local
from tests.model_fixtures import BRANCH, TAG, make_adapter, tiny_settings

LOAD_REPO = "tester/nllb-lora-load"
"""A repo of its own: other tests assert the exact refs of ``ADAPTER_REPO``, whose tag is ``main``'s commit."""
SCENARIO = LoadScenario(repo=LOAD_REPO, branch=BRANCH, tag=TAG, clients=16, requests=48)


@pytest.fixture(scope="module")
def load_repo(hub, tiny_model_dir, adapter_dirs, tmp_path_factory) -> str:
    """Adapter "a" tagged v1 on main, then a third adapter on main, adapter "b" on the branch."""
    third = make_adapter(tiny_model_dir, tmp_path_factory.mktemp("load-adapter") / "c", seed=3)
    publish_revisions(LOAD_REPO, tag_folder=adapter_dirs["a"], main_folder=third, branch_folder=adapter_dirs["b"],
                      branch=BRANCH, tag=TAG)
    return LOAD_REPO


@pytest.fixture(scope="module")
def server_url(tiny_model_dir, load_repo):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from nllb_space.service.engine import Engine
    from nllb_space.web.page import build_demo

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=load_repo, adapter_cache_size=2, max_new_tokens=12))
    engine.load()
    demo = build_demo(engine)
    try:
        yield launch_local(demo)
    finally:
        demo.close()


def test_sixteen_concurrent_clients_get_what_they_get_alone(server_url, tmp_path):
    with AdapterEvents() as events:
        report = run_scenario(server_url, SCENARIO, events)
    (tmp_path / "load.json").write_text(json.dumps(asdict(report), indent=2))
    print(f"\nload mix on the tiny model: {SCENARIO.clients} clients, {report.completed} requests in "
          f"{report.wall_s:.2f} s: {report.requests_per_second:.2f} requests/s, p50 {report.p50_s:.3f} s, "
          f"p95 {report.p95_s:.3f} s (alone: median {report.alone_median_s:.3f} s); switcher: "
          f"{report.switcher_requests} requests, {report.evictions} evictions; {report.headline()}")

    assert not report.errors, report.errors[:5]
    assert not report.mismatches, report.mismatches[:5]
    assert report.completed == SCENARIO.requests == len(report.latencies_s)
    assert report.switcher_requests > 0
    assert report.evictions, "switching revisions under load evicted no adapter (or the engine's log text changed)"


def test_an_answer_that_changes_under_load_is_reported():
    """The comparison can fail: a stand-in app whose answers gain a mark once the alone phase is over."""
    import gradio as gr

    scenario = LoadScenario(repo="someone/lora", clients=3, requests=6)
    distinct = set(scenario.mix()) | {scenario.switch_request(i) for i in range(len(scenario.switch_models))}
    calls = {"n": 0}
    alone_calls = 2 * len(distinct)  # serve_alone sends each distinct request twice

    def mark() -> str:
        calls["n"] += 1
        return "" if calls["n"] <= alone_calls else " (under load)"

    def translate(text: str, src: str, tgt: str, model: str) -> str:
        return f"{model}: {text}{mark()}"

    def compare(text: str, src: str, tgt: str, left: str, right: str, reference: str) -> tuple[str, str, str]:
        suffix = mark()
        return f"{left}: {text}{suffix}", f"{right}: {text}", "summary"

    def attention(text: str, src: str, tgt: str, model: str) -> tuple[str, dict]:
        return f"{model}: {text}{mark()}", {"plot": json.dumps({"data": [{"z": [[1.0]]}]})}

    with gr.Blocks() as demo:
        for fn in (translate, compare, attention):
            gr.api(fn, api_name=fn.__name__)
    url = launch_local(demo)
    try:
        report = run_scenario(url, scenario)
    finally:
        demo.close()

    assert not report.errors, report.errors[:5]
    assert report.completed == scenario.requests
    assert len(report.mismatches) >= scenario.requests  # every client request, plus the switcher's
    assert all("(under load)" in mismatch for mismatch in report.mismatches)
    assert report.headline()["load_mismatches"] == len(report.mismatches)
