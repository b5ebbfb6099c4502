"""Issue 25: training from the page, below the page. One training core with the command line, runs in their own
process, the visitor's own adapter, and the limits a Space owner sets."""

from __future__ import annotations

import glob
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load, load_file

from nllb_space import visitors
from nllb_space.errors import InputError
from nllb_space.testing.pairs import PAIRS
from nllb_space.training.page_runs import Phase, PageRun, RunFailed, RunFinished, StepLogged, stream_run
from nllb_space.training.pairs import clean_pairs, load_table, overlap
from nllb_space.training.teaching import TEACHING_SETS, teaching_set
from tests.model_fixtures import tiny_settings
from tests.test_train import run_main

ME, STRANGER = "198.18.0.1", "198.18.0.2"


def tiny_run(tiny_model_dir: Path, train_file: Path, **options) -> PageRun:
    return PageRun(train_file=str(train_file), base_model=str(tiny_model_dir), **{"steps": 4, "batch_size": 4,
                                                                                    **options})


@pytest.fixture
def pairs_file(tmp_path) -> Path:
    """The tiny model's own sentence pairs (its vocabulary knows them), as a learner would paste them."""
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{source}\t{target}\n" for source, target in PAIRS), encoding="utf-8")
    return path


@pytest.fixture
def engine(tiny_model_dir, tmp_path, monkeypatch):
    from nllb_space.service import trained_adapters
    from nllb_space.service.engine import Engine

    monkeypatch.setattr(trained_adapters, "ROOT", tmp_path / "trained")
    engine = Engine(tiny_settings(tiny_model_dir))
    engine.load()
    return engine


def test_every_teaching_set_passes_the_trainers_checks_and_holds_out_its_own_pairs():
    for found in TEACHING_SETS:
        train = load_table(found.train_file, "spa_Latn", "ita_Latn")
        held_out = load_table(found.eval_file, "spa_Latn", "ita_Latn")
        kept, report = clean_pairs(train, found.key)
        assert len(kept) == len(train) >= 24 and len(held_out) >= 6, report.summary()
        assert overlap(train, held_out) == 0
        assert all(line.strip() for line in found.title + found.look_for) and found.example not in train["source"]
    with pytest.raises(InputError, match="register"):
        teaching_set("nope")


def test_the_tab_and_the_command_line_train_the_same_adapter(tiny_model_dir, tmp_path):
    """The tab's run is this command line (README "Train from the page"): same pairs, settings and seed, same
    tensors."""
    chosen = teaching_set("register")
    run = PageRun(train_file=str(chosen.train_file), eval_file=str(chosen.eval_file), base_model=str(tiny_model_dir),
                  steps=6, batch_size=4, r=4, alpha=8, learning_rate=1e-3, seed=7)
    events = list(stream_run(run))
    assert [e.name for e in events if isinstance(e, Phase)] == ["scoring_base", "training", "scoring_adapter"]
    assert [e.step for e in events if isinstance(e, StepLogged)] == [1, 2, 3, 4, 5, 6]
    assert isinstance(events[-1], RunFinished)
    tab = load(events[-1].files["adapter_model.safetensors"])

    out = tmp_path / "cli"
    command = ["--base-model", str(tiny_model_dir), "--train-file", str(chosen.train_file),
               "--eval-file", str(chosen.eval_file), "--lora-r", "4", "--lora-alpha", "8", "--learning-rate", "0.001",
               "--max-steps", "6", "--batch-size", "4", "--seed", "7", "--warmup", "0", "--logging-steps", "1",
               "--eval-strategy", "no", "--load-best-model-at-end", "false", "--output-dir", str(out)]
    assert run_main(command, out).status == 0
    cli = load_file(out / "adapter_model.safetensors")
    assert sorted(tab) == sorted(cli) and all(torch.equal(tab[name], cli[name]) for name in cli)
    assert any(not torch.equal(t, torch.zeros_like(t)) for name, t in tab.items() if "lora_B" in name)  # it trained


def test_a_page_run_streams_its_steps_and_its_adapter_serves_its_trainer_only(engine, tiny_model_dir, pairs_file):
    run = tiny_run(tiny_model_dir, pairs_file, steps=5, learning_rate=5e-2)
    events = list(engine.training.run(run, ME))  # in a training process of its own
    steps = [e for e in events if isinstance(e, StepLogged)]
    assert [e.step for e in steps] == [1, 2, 3, 4, 5] and all(e.max_steps == 5 for e in steps)
    trained = events[-1]
    assert trained.spec == f"trained@{trained.adapter.sha}" and trained.report["training"]["steps"] == 5
    assert sorted(p.name for p in trained.adapter.folder.iterdir()) == [
        "README.md", "adapter_config.json", "adapter_model.safetensors", "metrics.json"]
    text = PAIRS[0][0]
    with visitors.visiting(ME):
        base = engine.translate(text, model="base").text
        mine = engine.translate(text, model=trained.spec)
    assert mine.model.sha == trained.adapter.sha and mine.text != base  # lr 5e-2 moves the tiny model
    with visitors.visiting(STRANGER), pytest.raises(InputError, match="no trained adapter"):
        engine.translate(text, model=trained.spec)


def test_a_stopped_run_keeps_nothing(engine, tiny_model_dir, pairs_file):
    run = tiny_run(tiny_model_dir, pairs_file, steps=200, batch_size=2)
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "nllb-space-train-*")))
    events = engine.training.run(run, ME)
    for event in events:
        if isinstance(event, StepLogged):
            break
    events.close()  # the Stop button, or the page closed
    root = Path(engine.trained._root)
    assert engine.trained.of(ME) == [] and (not root.exists() or not any(root.iterdir()))
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "nllb-space-train-*"))) <= before
    again = list(engine.training.run(replace(run, steps=2), ME))  # the visitor's run ended: a new one may start
    assert not isinstance(again[-1], RunFailed)
    # Stop after a run kept its adapter says there was no run to stop (the page then leaves the run's own status,
    # instead of "nothing was kept" beside a kept adapter).
    assert engine.training.stop(ME) is False and len(engine.trained.of(ME)) == 1


def test_runs_beyond_the_owners_limits_are_refused_before_they_start(engine, tiny_model_dir, pairs_file, tmp_path):
    jobs = engine.training
    with pytest.raises(InputError, match="NLLB_TRAIN_MAX_STEPS"):
        next(jobs.run(tiny_run(tiny_model_dir, pairs_file, steps=jobs.settings.train_max_steps + 1), ME))
    few = tmp_path / "few.tsv"
    few.write_text("Hola\tCiao\n", encoding="utf-8")
    with pytest.raises(InputError, match="at least 4"):
        next(jobs.run(tiny_run(tiny_model_dir, few), ME))
    many = tmp_path / "many.tsv"
    many.write_text("".join(f"Frase {i}\tFrase {i}\n" for i in range(jobs.settings.train_max_pairs + 1)))
    with pytest.raises(InputError, match="NLLB_TRAIN_MAX_PAIRS"):
        next(jobs.run(tiny_run(tiny_model_dir, many), ME))

    first = jobs.run(tiny_run(tiny_model_dir, pairs_file, steps=200, batch_size=2), ME)
    next(first)  # running
    try:
        with pytest.raises(InputError, match="already training"):
            next(jobs.run(tiny_run(tiny_model_dir, pairs_file), ME))
        with pytest.raises(InputError, match="NLLB_TRAIN_RUNS"):  # one run at once in all, by default
            next(jobs.run(tiny_run(tiny_model_dir, pairs_file), STRANGER))
    finally:
        first.close()
    jobs.settings = replace(jobs.settings, allow_training=False)
    with pytest.raises(InputError, match="NLLB_ALLOW_TRAINING"):
        next(jobs.run(tiny_run(tiny_model_dir, pairs_file), ME))


def test_pasted_pairs_name_the_line_that_is_not_a_pair(tmp_path):
    from nllb_space.service.training_jobs import write_pasted

    path = write_pasted("Hola\tCiao\n\nAdiós\tArrivederci\n", tmp_path)
    assert path.read_text(encoding="utf-8") == "Hola\tCiao\nAdiós\tArrivederci\n"
    with pytest.raises(InputError, match="Line 2 .*'Adiós Arrivederci'"):
        write_pasted("Hola\tCiao\nAdiós Arrivederci\n", tmp_path)


def test_trained_adapters_are_kept_by_hash_per_visitor_and_for_a_while(tmp_path):
    from nllb_space.service.trained_adapters import PER_VISITOR, TrainedAdapters, content_hash

    store = TrainedAdapters(ttl_s=100, max_count=3, root=tmp_path)
    files = [{"adapter_config.json": b"{}", "adapter_model.safetensors": bytes([i]), "README.md": b"card"}
             for i in range(4)]
    first = store.add(files[0], ME, now=0)
    assert first.sha == content_hash(files[0]) and (first.folder / "adapter_model.safetensors").read_bytes() == b"\0"
    assert store.add(files[0], STRANGER, now=1).folder == first.folder  # the same adapter, written once
    with pytest.raises(InputError):
        store.folder(first.sha, "198.18.0.3", now=2)
    for i in (1, 2):
        store.add(files[i], ME, now=2 + i)
    assert [t.sha for t in store.of(ME, now=5)] == [content_hash(files[i]) for i in (2, 1)][:PER_VISITOR]
    assert store.folder(first.sha, STRANGER, now=5) == first.folder  # the stranger's copy stays with them
    assert store.sweep(now=200) == 3 and not any(tmp_path.iterdir())


def test_a_signed_in_visitor_publishes_to_their_own_account_and_never_with_the_owners_token(
    engine, tiny_model_dir, pairs_file, hub
):
    import gradio as gr

    from nllb_space.hub import revisions as hub_client
    from nllb_space.hub.revisions import HubError
    from nllb_space.web.handlers import Handlers
    from tests.hub_fixtures import HUB_TOKEN
    from tests.test_spanish_messages import Browser

    visitor_token = "hf_oauth_visitorToken0123456789"
    hub.add_oauth_user("learner", visitor_token)
    trained = [e for e in engine.training.run(tiny_run(tiny_model_dir, pairs_file), visitors.ANONYMOUS) if e][-1]
    h, request = Handlers(engine), Browser("en")
    profile = gr.OAuthProfile({"preferred_username": "learner", "name": "A Learner", "profile": "", "picture": ""})
    token = gr.OAuthToken(token=visitor_token, scope="openid profile contribute-repos", expires_at=0)

    with pytest.raises(gr.Error, match="Sign in first with the Hugging Face button"):
        h.publish_adapter(trained.spec, "my-lora", "main", "v1", None, None, request=request)
    message = h.publish_adapter(trained.spec, "my-lora", "exp/first", "v1", profile, token, request=request)
    assert "Published" in message and "learner/my-lora@v1" in message
    pushed = {name: hub.file_content("learner/my-lora", name, "v1") for name in (
        "adapter_config.json", "adapter_model.safetensors", "metrics.json", "README.md")}
    assert pushed["adapter_model.safetensors"] == (trained.adapter.folder / "adapter_model.safetensors").read_bytes()
    assert "learner/my-lora" in pushed["README.md"].decode()  # the card names where it lives
    # The pushed revision loads through the normal path, for anyone.
    assert engine.translate(PAIRS[0][0], model="learner/my-lora@v1").model.repo == "learner/my-lora"
    # The owner's token cannot write in the visitor's namespace, and the visitor's cannot write anywhere else.
    with pytest.raises(HubError):
        hub_client.push_folder(trained.adapter.folder, "learner/owner-push", commit_message="x", token=HUB_TOKEN)
    with pytest.raises(HubError):
        hub_client.push_folder(trained.adapter.folder, "tester/visitor-push", commit_message="x", token=visitor_token)


def test_sign_in_is_offered_only_where_it_can_work(engine, monkeypatch):
    """Gradio's local sign-in asks the Hub who this machine is when the page starts, and fails the start without a
    login: the Publish section (and its LoginButton) is built only on a Space with OAuth on, or where a login
    answers. Every other page starts, and trains, without it."""
    from huggingface_hub import constants

    from nllb_space.web import train_tab
    from nllb_space.web.page import build_demo

    monkeypatch.setenv("SPACE_ID", "someone/nllb-space")
    monkeypatch.delenv("OAUTH_CLIENT_ID", raising=False)
    assert not train_tab.can_sign_in()
    monkeypatch.setenv("OAUTH_CLIENT_ID", "client")
    assert train_tab.can_sign_in()
    monkeypatch.delenv("SPACE_ID")
    assert train_tab.can_sign_in()  # the session's loopback Hub knows HF_TOKEN's user
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert not train_tab.can_sign_in()
    demo = build_demo(engine)
    assert not demo.expects_oauth and not any(fn.name == "publish_adapter" for fn in demo.fns.values())
    assert any(fn.name == "train_adapter" for fn in demo.fns.values())


def test_the_same_run_in_two_processes_is_the_same_adapter(engine, tiny_model_dir, pairs_file, monkeypatch):
    """PEFT writes target_modules from a set, in an order each process picks anew (hash randomisation): the saved
    config sorts them, so the same run is the same file, the same content hash and one kept adapter, not two."""
    shas = []
    for seed in ("1", "2"):
        monkeypatch.setenv("PYTHONHASHSEED", seed)  # each training process starts fresh with this seed
        shas.append([e for e in engine.training.run(tiny_run(tiny_model_dir, pairs_file, steps=2), ME) if e][-1]
                    .adapter.sha)
    assert shas[0] == shas[1] and len(engine.trained.of(ME)) == 1
