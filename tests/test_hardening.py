"""Odd input, Hub faults, untrusted adapters and concurrent requests, at the engine (issue 6).

Each case ends in a clear message (``UserFacingError`` or ``HubError``) or a correct answer; the engine keeps serving.
"""

from __future__ import annotations

import json
import logging
import threading

import pytest

from nllb_space.errors import AdapterError, InputError
from nllb_space.hub import calls as hub_calls
from nllb_space.hub import revisions as hubmod
from tests.hub_fixtures import HUB_TOKEN
from tests.model_fixtures import ADAPTER_REPO, BRANCH, TAG, tiny_settings

SENTENCE = "El gato duerme en el sofá."


@pytest.fixture(autouse=True)
def _fast_retries(hub, monkeypatch):
    monkeypatch.setattr(hub_calls, "RETRY_BASE_DELAY_S", 0.01)
    hub.clear_faults()
    yield
    hub.clear_faults()


@pytest.fixture
def fresh_engine(tiny_model_dir, hub_adapters):
    """An engine that asks the Hub again on every request (no revision cache), to expose Hub faults."""
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO, revision_ttl_s=0))
    engine.load()
    return engine


@pytest.mark.parametrize("text", [
    "Hola 👋🏽 amigos, ¿qué tal? 🇪🇸➡️🇮🇹",
    "مرحبا بالعالم. שלום עולם. Hola mundo.",
    "混合 scripts: Привет, 世界! Γειά σου.",
    "<script>alert('x')</script><b>negrita</b> &amp; más",
    "zero\u200bwidth\u200d joiners and \u202eRTL override\u202c here",
    "tab\there\x00null\x07bell",
])
def test_odd_text_is_translated_as_plain_text(engine, text):
    result = engine.translate(text, "spa_Latn", "ita_Latn")
    assert isinstance(result.text, str) and result.sentences
    # Every visible character went to the model (nothing dropped by splitting), and each piece got an answer.
    assert "".join("".join(p.source for p in result.sentences).split()) == "".join(text.split())
    assert all(isinstance(p.target, str) for p in result.sentences)


def test_hundred_thousand_characters_names_the_limit(engine):
    with pytest.raises(InputError) as caught:
        engine.translate("Hola. " * 16_667, "spa_Latn", "ita_Latn")
    assert "NLLB_MAX_CHARS" in str(caught.value) and "5,000" in str(caught.value) and "100,002" in str(caught.value)


def test_five_thousand_char_sentence_is_split_into_the_window(engine):
    text = ("palabra " * 625).strip()[:4999]
    assert len(text) < 5000 and not any(mark in text for mark in ".!?")
    result = engine.translate(text, "spa_Latn", "ita_Latn", max_new_tokens=2)
    # All of it went through the model: the pieces cover the input in order, none exceeds the token window.
    assert " ".join(p.source for p in result.sentences) == text
    tokenizer = engine.load().tokenizer
    for pair in result.sentences:
        parts = engine._pipeline().fit_window(pair.source)
        assert all(len(tokenizer(p, add_special_tokens=False)["input_ids"]) <= engine.settings.max_input_tokens
                   for p in parts)


def test_hub_outage_keeps_the_working_revision_live(fresh_engine, hub):
    before = fresh_engine.translate(SENTENCE, model="main")
    hub.fail(r"/api/models/", status=503, times=1000)
    during = fresh_engine.translate(SENTENCE, model="main")  # stale commit reused, files from the local cache
    assert during.text == before.text and during.model.sha == before.model.sha
    with pytest.raises(hubmod.HubUnavailable, match="(?i)try again"):
        fresh_engine.translate(SENTENCE, model="never-seen-branch")
    assert fresh_engine.translate(SENTENCE, model="base").text


def test_transient_5xx_is_retried(fresh_engine, hub):
    hub.fail(r"/api/models/.*/revision/", status=502, times=2)
    assert fresh_engine.translate(SENTENCE, model=TAG).model.revision == TAG


def test_hub_timeout_is_a_clear_message(fresh_engine, hub, monkeypatch):
    monkeypatch.setattr(hub_calls, "REQUEST_TIMEOUT_S", 0.3)
    hub.fail(r"/revision/slow-branch", status=0, delay_s=1.5, times=10)
    with pytest.raises(hubmod.HubUnavailable, match="(?i)try again"):
        fresh_engine.translate(SENTENCE, model="slow-branch")
    assert fresh_engine.translate(SENTENCE, model="main").text


def test_unknown_revision_leaves_previous_model_working(fresh_engine):
    good = fresh_engine.translate(SENTENCE, model=BRANCH).text
    with pytest.raises(hubmod.RevisionNotFound, match="no-such"):
        fresh_engine.translate(SENTENCE, model="no-such")
    assert fresh_engine.translate(SENTENCE, model=BRANCH).text == good


def test_private_repo_without_token(tiny_model_dir, hub, adapter_dirs, monkeypatch):
    from nllb_space.service.engine import Engine

    repo = "tester/private-lora"
    hub.commit_files(repo, {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}, private=True)
    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=repo))
    assert engine.translate(SENTENCE, model="main").model.repo == repo  # the owner's repo, with the token: fine
    monkeypatch.delenv("HF_TOKEN")
    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=repo))
    with pytest.raises(hubmod.RepoNotFound, match="private and no HF_TOKEN"):
        engine.translate(SENTENCE, model="main")


def _adapter_copy(adapter_dirs, folder, edit_config):
    folder.mkdir()
    for path in adapter_dirs["a"].iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    config = json.loads((folder / "adapter_config.json").read_text())
    edit_config(config)
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def _check(folder, engine, base=None):
    from nllb_space.lora_config import linear_shapes
    from nllb_space.model.adapter_check import inspect_adapter

    return inspect_adapter(folder, linear_shapes(engine.load().model), base or engine.settings.base_model)


def test_adapter_for_another_base_model_is_refused(engine, adapter_dirs, tmp_path):
    folder = _adapter_copy(adapter_dirs, tmp_path / "a", lambda c: c.update(base_model_name_or_path="facebook/nllb-200-3.3B"))
    with pytest.raises(AdapterError, match="nllb-200-3.3B"):
        _check(folder, engine, "facebook/nllb-200-distilled-600M")


def test_non_lora_and_corrupt_adapters_are_refused(engine, adapter_dirs, tmp_path):
    folder = _adapter_copy(adapter_dirs, tmp_path / "ia3", lambda c: c.update(peft_type="IA3"))
    with pytest.raises(AdapterError, match="only LoRA"):
        _check(folder, engine)
    folder = _adapter_copy(adapter_dirs, tmp_path / "corrupt", lambda c: None)
    (folder / "adapter_model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(AdapterError, match="cannot be read"):
        _check(folder, engine)


def test_lru_eviction_never_breaks_requests_in_flight(tiny_model_dir, hub_adapters):
    """Four threads alternate base and two revisions with room for ONE adapter; every answer matches serial runs."""
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO, adapter_cache_size=1))
    specs = ["main", BRANCH, "base"]
    expected = {spec: engine.translate(SENTENCE, model=spec).text for spec in specs}
    expected_compare = engine.compare(SENTENCE, left="main", right=BRANCH)
    errors, mismatches = [], []

    def worker(offset: int) -> None:
        for i in range(6):
            spec = specs[(i + offset) % 3]
            try:
                if i % 3 == 2:
                    got = engine.compare(SENTENCE, left="main", right=BRANCH)
                    if (got.left.text, got.right.text) != (expected_compare.left.text, expected_compare.right.text):
                        mismatches.append(("compare", offset, i))
                elif engine.translate(SENTENCE, model=spec).text != expected[spec]:
                    mismatches.append((spec, offset, i))
            except Exception as error:  # noqa: BLE001 - collected and reported below
                errors.append(repr(error))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and not mismatches
    assert len(engine.status().adapters) == 1


def test_token_never_appears_in_messages_or_logs(fresh_engine, hub, caplog, monkeypatch):
    monkeypatch.setattr(hub_calls, "REQUEST_TIMEOUT_S", 0.3)
    caplog.set_level(logging.DEBUG)
    messages = []
    hub.fail(r"/api/models/", status=503, times=50)
    for spec in ("nobody/nothing@main", "no-such", f"{ADAPTER_REPO}@gone"):
        with pytest.raises(Exception) as caught:
            fresh_engine.translate(SENTENCE, model=spec)
        messages.append(str(caught.value))
    hub.clear_faults()
    for spec in ("nobody/nothing@main", "no-such"):
        with pytest.raises(Exception) as caught:
            fresh_engine.translate(SENTENCE, model=spec)
        messages.append(str(caught.value))
    assert all(messages)
    text = "\n".join(messages) + "\n".join(r.getMessage() for r in caplog.records)
    text += repr(fresh_engine.settings) + repr(fresh_engine.status())
    assert HUB_TOKEN not in text


def test_the_panel_lists_a_private_repos_revisions_with_the_owners_token(tiny_model_dir, hub, adapter_dirs):
    """As on a real Space whose adapter repo is private: the facts the panel asks per commit (paths-info) go with
    the owner's token, so its revisions are offered with their dates, and a README-only commit is hidden."""
    from nllb_space.service.engine import Engine

    repo = "tester/private-panel"
    hub.commit_files(repo, {"README.md": b"# notes\n"}, private=True)
    hub.commit_files(repo, {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}, private=True)
    # visitor_revisions="all": the owner opened every revision (a private repo shows only the configured one else).
    revisions = Engine(tiny_settings(tiny_model_dir, adapter_repo=repo, visitor_revisions="all")).list_revisions()
    assert [ref.name for ref in revisions.branches] == ["main"] and revisions.branches[0].date
    # The Hub's "initial commit" and the README-only commit hold no adapter.
    assert len(revisions.commits) == 1 and revisions.hidden == 2
