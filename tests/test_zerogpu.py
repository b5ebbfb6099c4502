"""The app on ZeroGPU: its GPU functions run inside ZeroGPU's own worker machinery (tests/zerogpu.py).

Each call runs in a worker forked from this process; while the scheduler answers ``idle``, the next call goes to
the same worker, which keeps what it attached and never sees what the main process did after the fork. Answers must
equal the same requests served in-process, whichever worker runs them.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from nllb_space.testing.pairs import SOURCES
from tests import zerogpu
from tests.model_fixtures import ADAPTER_REPO, BRANCH, TAG, make_adapter, tiny_settings

TEXT = " ".join(SOURCES[:3])
VISITOR_REPO = "visitor/zerogpu-lora"
"""Another visitor's repo: the tests here push to it, never to the shared ADAPTER_REPO."""


def _engine(tiny_model_dir, **overrides):
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO, **overrides))
    engine.load()
    return engine


@pytest.fixture
def on_zero_gpu(monkeypatch):
    """``install(engine, idle)``: the engine's GPU functions as ZeroGPU runs them; workers end with the test."""
    from nllb_space.model import worker

    before = {child.pid for child in multiprocessing.active_children()}

    def install(engine, idle):
        zero = zerogpu.install(monkeypatch, idle)
        monkeypatch.setattr(engine, "run_generate", zero.wrap(worker.run_generate, worker.generate_seconds))
        monkeypatch.setattr(engine, "run_attention", zero.wrap(worker.run_attention, worker.attention_seconds))
        monkeypatch.setattr(engine, "run_token_probs", zero.wrap(worker.run_token_probs, worker.attention_seconds))
        return zero

    yield install
    zerogpu.stop_workers(before)


def test_fresh_and_reused_workers_answer_like_the_in_process_app(
    on_zero_gpu, tiny_model_dir, hub, hub_adapters, adapter_dirs, tmp_path
):
    import os

    served = _engine(tiny_model_dir, adapter_cache_size=2)
    alone = _engine(tiny_model_dir, adapter_cache_size=2)
    # Fresh, reused, reused, fresh, ...: a reused worker meets adapters it has never seen, a fresh one has none.
    zero = on_zero_gpu(served, idle=[False, True, True])
    new_branch = f"{VISITOR_REPO}@exp/visitor-2"

    def requests():
        yield "translate", dict(text=TEXT, model="base")
        yield "translate", dict(text=TEXT, model="main")          # reused worker: never saw main
        yield "translate", dict(text=TEXT, model=BRANCH)          # a visitor switches adapters
        yield "compare", dict(text=TEXT, left="base", right=TAG)  # fresh worker: holds nothing
        # Another visitor publishes and loads a new adapter the main process has never attached.
        make_adapter(tiny_model_dir, tmp_path / "new", seed=7)
        from nllb_space.hub import revisions as hub_client

        hub_client.push_folder(tmp_path / "new", VISITOR_REPO, commit_message="main")
        hub_client.push_folder(tmp_path / "new", VISITOR_REPO, branch="exp/visitor-2", commit_message="visitor 2")
        yield "translate", dict(text=TEXT, model=new_branch)
        yield "compare", dict(text=TEXT, left="main", right=new_branch)  # cache of 2: evicts and re-attaches
        yield "attention", dict(text=SOURCES[0], model=BRANCH, also=["base"])
        yield "translate", dict(text=TEXT, model="main")
        yield "attention", dict(text=SOURCES[1], model="base")
        yield "token_probabilities", dict(text=SOURCES[2], model=TAG)  # teaching views run in a worker too
        yield "translate", dict(text=TEXT, model=BRANCH, adapter_scale=0.5)  # a strength only this request has
        yield "translate", dict(text=TEXT, model=BRANCH)  # and the (reused) worker's adapter is as trained again

    for kind, kwargs in requests():
        got, expected = (getattr(e, kind)(src_lang="spa_Latn", tgt_lang="ita_Latn", **kwargs) for e in (served, alone))
        if kind == "translate":
            assert got.text == expected.text and got.model == expected.model, kwargs
        elif kind == "compare":
            assert (got.left.text, got.right.text) == (expected.left.text, expected.right.text), kwargs
        elif kind == "token_probabilities":
            assert got == expected, kwargs
        else:
            for g, e in zip(got, expected):
                assert g.target_text == e.target_text and g.model == e.model
                assert (g.cross == e.cross).all() and (g.decoder == e.decoder).all()

    assert os.getpid() not in zero.pids
    assert zero.fresh_workers >= 3 and zero.reused_calls >= 3, zero.pids
    # The main process only resolved, downloaded and checked: its model never had an adapter attached.
    assert served.attached() == ()


def test_a_refusal_inside_a_worker_reaches_the_visitor_and_the_worker_still_serves(
    on_zero_gpu, tiny_model_dir, hub, hub_adapters, adapter_dirs, monkeypatch
):
    """PEFT refusing an adapter in the worker comes back as the message, not as a bare class name."""
    import peft

    from nllb_space.errors import AdapterError
    from nllb_space.hub import revisions as hub_client

    served = _engine(tiny_model_dir)
    expected = {spec: served.translate(TEXT, model=spec).text for spec in ("main", "base")}
    hub_client.push_folder(adapter_dirs["b"], VISITOR_REPO, branch="exp/refused", commit_message="refused in worker")
    refused = served.prepare(f"{VISITOR_REPO}@exp/refused")[0].adapter_name
    real = peft.set_peft_model_state_dict

    def loads_all_but_one(model, state, adapter_name="default", **kwargs):
        if adapter_name == refused:
            raise RuntimeError("Error(s) in loading state_dict for PeftModelForSeq2SeqLM")
        return real(model, state, adapter_name=adapter_name, **kwargs)

    monkeypatch.setattr(peft, "set_peft_model_state_dict", loads_all_but_one)  # before the fork: workers inherit it
    zero = on_zero_gpu(served, idle=[True])  # one worker for every call
    assert served.translate(TEXT, model="main").text == expected["main"]
    with pytest.raises(AdapterError, match="PEFT could not load this adapter: Error"):
        served.translate(TEXT, model=f"{VISITOR_REPO}@exp/refused")
    # The same worker, rolled back: another visitor's requests get what they got before.
    assert served.translate(TEXT, model="base").text == expected["base"]
    assert served.translate(TEXT, model="main").text == expected["main"]
    assert zero.fresh_workers == 1


def test_bad_input_is_refused_before_any_gpu_is_asked_for(on_zero_gpu, tiny_model_dir, hub_adapters):
    from nllb_space.errors import UserFacingError

    served = _engine(tiny_model_dir)
    zero = on_zero_gpu(served, idle=[False])
    for bad in (dict(text="   "), dict(text="Hola.", model="no-such-branch"), dict(text="Hola.", num_beams=99)):
        with pytest.raises(UserFacingError):  # a message for the visitor, raised in the main process
            served.translate(src_lang="spa_Latn", tgt_lang="ita_Latn", **bad)
    assert zero.scheduler.durations == []  # no GPU was scheduled for any of them


def test_each_call_asks_for_the_gpu_time_its_batch_needs(on_zero_gpu, tiny_model_dir, hub_adapters):
    from nllb_space.model import worker

    served = _engine(tiny_model_dir, max_new_tokens=256, batch_size=2)
    zero = on_zero_gpu(served, idle=[True])
    served.translate(SOURCES[0], max_new_tokens=4, num_beams=1)
    served.translate(" ".join(SOURCES[:4]), max_new_tokens=256, num_beams=1)  # 4 sentences: 2 calls of 2 rows
    short, *long = zero.scheduler.durations
    assert len(long) == 2 and short < long[0] == long[1] <= worker.GPU_SECONDS_MAX


@pytest.mark.timeout(120)
def test_a_forked_cpu_worker_uses_one_torch_thread(on_zero_gpu, tiny_model_dir, hub_adapters):
    """GNU OpenMP is not fork-safe: a child that reuses the parent's thread pool hangs (seen here without it)."""
    import torch

    served = _engine(tiny_model_dir)
    expected = served.translate(TEXT, model="main").text
    zero = on_zero_gpu(served, idle=[False])
    threads_in_worker = zero.wrap(lambda: torch.get_num_threads())
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.randn(256, 256) @ torch.randn(256, 256)  # the parent's pool now has two threads
        assert served.translate(TEXT, model="main").text == expected
        assert threads_in_worker() == 1
    finally:
        torch.set_num_threads(previous)


def test_off_zero_gpu_the_decorator_changes_nothing():
    """Without SPACES_ZERO_GPU, ``spaces.GPU`` hands back the function itself: the app runs in-process as before."""
    import inspect

    from nllb_space.model import worker

    assert not hasattr(worker.run_generate, "zerogpu") and inspect.isfunction(worker.run_generate)
    assert worker.run_generate.__module__ == "nllb_space.model.worker"


def test_the_model_is_as_wide_as_the_hardware_serves(tiny_model_dir, monkeypatch):
    """Two model copies on a CPU (a newcomer never waits for another visitor's batch), one model on a dedicated GPU,
    several calls on ZeroGPU, where each has its own worker."""
    from spaces.config import Config

    from nllb_space.model import hardware
    from nllb_space.service.engine import Engine

    assert Engine(tiny_settings(tiny_model_dir, concurrency=0)).model_slots == hardware.CPU_LANES == 2
    assert hardware.model_concurrency(0, on_cpu=False) == 1
    monkeypatch.setattr(Config, "zero_gpu", True)
    assert Engine(tiny_settings(tiny_model_dir, concurrency=0)).model_slots == hardware.ZERO_GPU_CONCURRENCY
    assert Engine(tiny_settings(tiny_model_dir, concurrency=2)).model_slots == 2


def test_no_call_asks_for_more_than_a_logged_out_visitors_daily_quota_on_zerogpus_gpu():
    """``spaces`` charges a call its duration times the GPU's ``duration_factor`` (1.5 on the RTX Pro 6000 Blackwell
    that ZeroGPU now runs, from ``spaces``' own configs.json); a call charged more than a logged-out visitor's
    2 minutes a day could never run for them."""
    import json
    from importlib.resources import files
    from types import SimpleNamespace

    from nllb_space.model import worker

    configs = json.loads(files("spaces.zero").joinpath("configs.json").read_text())
    assert max(config["duration_factor"] for config in configs) == worker.ZEROGPU_DURATION_FACTOR
    endless = SimpleNamespace(decoding=SimpleNamespace(max_new_tokens=10**6), target_ids=None, max_new_tokens=10**6)
    for asked in (worker.generate_seconds(endless), worker.attention_seconds(endless)):
        assert asked * worker.ZEROGPU_DURATION_FACTOR <= worker.SMALLEST_DAILY_QUOTA_S == 120


def test_a_device_that_cannot_be_had_is_said_at_load_not_when_the_engine_is_made(tiny_model_dir, monkeypatch):
    """app.py reports start-up problems from ``load()``: making the engine must not raise first."""
    import torch

    from nllb_space.errors import ModelLoadError
    from nllb_space.service.engine import Engine

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a machine without the GPU the setting names
    engine = Engine(tiny_settings(tiny_model_dir, device="cuda", concurrency=0))
    with pytest.raises(ModelLoadError, match="NLLB_DEVICE=cuda"):
        engine.load()


def test_training_in_a_zerogpu_worker_serves_from_fresh_and_reused_workers_like_in_process(tiny_model_dir, tmp_path):
    """Issue 25: the Train tab on ZeroGPU (tests/zerogpu_training.py, in a fresh interpreter as ZeroGPU's main process
    is): the run streams its steps out of a forked GPU worker, the adapter comes back by value, and fresh and reused
    workers translate with it exactly as the same run trained in-process does."""
    import json
    import subprocess
    import sys

    from nllb_space.testing.pairs import PAIRS

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"{es}\t{it}\n" for es, it in PAIRS), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "tests.zerogpu_training", str(tiny_model_dir), str(pairs)],
                          capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["training_pid"] != result["main_pid"] and result["main_pid"] not in result["pids"]
    assert result["steps"] == [1, 2, 3, 4, 5, 6]  # streamed from the worker while it trained
    assert len(set(result["pids"][1:])) >= 2 and len(result["pids"]) >= 4, result["pids"]  # fresh and reused
    assert result["same_sha"] and result["same_tensors"]
    assert result["texts"] == result["expected"] and result["texts"] != result["base"] and all(result["texts"])
