"""The engine on the tiny NLLB-shaped model: translation, layout, batching, adapters by revision, compare, attention."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nllb_space.errors import AdapterError, InputError, ModelLoadError
from nllb_space.results import BASE_MODEL
from tests.model_fixtures import ADAPTER_REPO, BRANCH, TAG, make_adapter, tiny_settings

SENTENCES = ["Hola, ¿cómo estás?", "El gato duerme en el sofá.", "Mañana vamos a la playa.", "Gracias por tu ayuda."]


def test_translation_keeps_paragraphs_blank_lines_and_line_breaks(engine):
    text = "  Hola, ¿cómo estás? El gato duerme en el sofá.\n\nMañana vamos a la playa.\r\nGracias por tu ayuda.\n"
    result = engine.translate(text, "spa_Latn", "ita_Latn")
    assert [pair.source for pair in result.sentences] == SENTENCES
    assert all(pair.target for pair in result.sentences)
    # The output is the translations put back into the input's exact layout.
    expected = "  {} {}\n\n{}\r\n{}\n".format(*(pair.target for pair in result.sentences))
    assert result.text == expected
    assert result.model == BASE_MODEL and result.new_tokens > 0


def test_batched_sentences_equal_one_by_one(engine):
    together = engine.translate(" ".join(SENTENCES), "spa_Latn", "ita_Latn")
    alone = [engine.translate(sentence, "spa_Latn", "ita_Latn").text for sentence in SENTENCES]
    assert [pair.target for pair in together.sentences] == alone


def test_beam_search_runs_and_is_deterministic(engine):
    first = engine.translate(SENTENCES[1], "spa_Latn", "ita_Latn", num_beams=3)
    again = engine.translate(SENTENCES[1], "spa_Latn", "ita_Latn", num_beams=3)
    assert first.text == again.text and first.num_beams == 3


def test_language_tags_are_placed_like_nllb_expects(engine):
    maps = engine.attention(SENTENCES[0], "spa_Latn", "ita_Latn")[0]
    source, target = maps.source_tokens, maps.target_tokens
    assert (source[0].text, source[0].special) == ("spa_Latn", True)
    assert (source[-1].text, source[-1].special) == ("</s>", True)
    assert not any(token.special for token in source[1:-1])
    # Decoder input: decoder start (</s>), then the forced target-language tag, then the translation.
    assert [(t.text, t.special) for t in target[:2]] == [("</s>", True), ("ita_Latn", True)]


def test_generation_is_forced_to_start_with_the_target_language(engine, monkeypatch):
    from nllb_space.model import decoding

    tokenizer = engine.load().tokenizer
    seen = []
    original = decoding.decode

    def spy(model, input_ids, attention_mask, prefix, search, head):
        seen.append(list(prefix))
        return original(model, input_ids, attention_mask, prefix, search, head)

    monkeypatch.setattr(decoding, "decode", spy)
    for code in ("ita_Latn", "fra_Latn"):
        engine.translate(SENTENCES[2], "spa_Latn", code)
        # NLLB's decoder starts with </s>, then the target's language tag.
        assert seen[-1] == [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(code)]


def test_languages_accept_names_and_reject_unknown_or_identical(engine):
    by_name = engine.translate(SENTENCES[0], "Spanish", "Italian")
    assert (by_name.src_lang, by_name.tgt_lang) == ("spa_Latn", "ita_Latn")
    with pytest.raises(InputError, match="spa_Latn"):
        engine.translate(SENTENCES[0], "spa_Latin", "ita_Latn")
    with pytest.raises(InputError, match="both Spanish"):
        engine.translate(SENTENCES[0], "spa_Latn", "spa_Latn")


def test_limits_are_enforced_with_the_setting_named(tiny_model_dir):
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, max_chars=50, max_sentences=2, max_beams=2))
    with pytest.raises(InputError, match="Enter some text"):
        engine.translate("   \n ", "spa_Latn", "ita_Latn")
    with pytest.raises(InputError, match="NLLB_MAX_CHARS"):
        engine.translate("a" * 51, "spa_Latn", "ita_Latn")
    with pytest.raises(InputError, match="NLLB_MAX_SENTENCES"):
        engine.translate("Uno. Dos. Tres.", "spa_Latn", "ita_Latn")
    with pytest.raises(InputError, match="NLLB_MAX_BEAMS"):
        engine.translate("Uno.", "spa_Latn", "ita_Latn", num_beams=3)


def test_overlong_sentence_is_split_not_truncated(tiny_model_dir):
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, max_input_tokens=12, max_new_tokens=4))
    text = " ".join(["el gato duerme en el sofá"] * 10)  # one "sentence", ~60 tokens
    engine.load()
    parts = engine._pipeline().fit_window(text)
    assert len(parts) > 1 and " ".join(parts) == text
    tokenizer = engine.load().tokenizer
    assert all(len(tokenizer(p, add_special_tokens=False)["input_ids"]) <= 12 for p in parts)
    result = engine.translate(text, "spa_Latn", "ita_Latn")
    assert len(result.sentences) == 1 and len(result.text.split()) >= len(parts)


def test_adapter_revisions_by_branch_tag_and_sha(engine, hub_adapters, adapter_dirs):
    base = engine.translate(SENTENCES[1], "spa_Latn", "ita_Latn").text
    on_main = engine.translate(SENTENCES[1], "spa_Latn", "ita_Latn", model="main")
    on_tag = engine.translate(SENTENCES[1], "spa_Latn", "ita_Latn", model=TAG)
    on_sha = engine.translate(SENTENCES[1], "spa_Latn", "ita_Latn", model=hub_adapters["main"])
    on_branch = engine.translate(SENTENCES[1], "spa_Latn", "ita_Latn", model=BRANCH)
    assert on_main.model.sha == on_tag.model.sha == on_sha.model.sha == hub_adapters["main"]
    assert on_branch.model.sha == hub_adapters["branch"]
    assert on_main.text == on_tag.text == on_sha.text
    assert len({base, on_main.text, on_branch.text}) == 3
    # The same adapter loaded from its local folder gives the same output as from the Hub.
    from nllb_space.service.engine import Engine

    local = Engine(tiny_settings(engine.settings.base_model, adapter_repo=str(adapter_dirs["b"])))
    assert local.translate(SENTENCES[1], "spa_Latn", "ita_Latn", model="local").text == on_branch.text


def test_adapter_cache_is_keyed_by_commit(engine, hub_adapters, monkeypatch):
    from nllb_space.model.slot import ModelSlot

    engine.translate(SENTENCES[0], model="main")  # attached once, by the configured main's commit
    attached = []
    original = ModelSlot._attach
    monkeypatch.setattr(ModelSlot, "_attach", lambda self, files, pinned: (attached.append(files.name), original(self, files, pinned)))
    refs = [engine.prepare(spec)[0] for spec in (TAG, hub_adapters["main"], "main", f"{ADAPTER_REPO}@{TAG}")]
    assert len({ref.adapter_name for ref in refs}) == 1
    loaded_names = [ref.adapter_name for ref in engine.status().adapters]
    assert loaded_names.count(refs[0].adapter_name) == 1
    for spec in (TAG, hub_adapters["main"], f"{ADAPTER_REPO}@{TAG}"):
        engine.translate(SENTENCES[0], model=spec)
    # The four names are one commit, attached already: none of these requests attached anything.
    assert attached == []
    # Every adapter is a named adapter on ONE PeftModel over one base: no second copy of the base.
    base = engine.load().model
    assert set(base.peft_config) == set(engine.attached())
    assert refs[0].adapter_name in engine.attached()


def test_lru_eviction_keeps_at_most_cache_size(tiny_model_dir, hub_adapters):
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO, adapter_cache_size=1))
    first = engine.translate(SENTENCES[0], model="main").text
    engine.translate(SENTENCES[0], model=BRANCH)
    assert [ref.sha for ref in engine.status().adapters] == [hub_adapters["branch"]]
    assert engine.attached() == (engine.prepare(BRANCH)[0].adapter_name,)
    assert set(engine.load().model.peft_config) == set(engine.attached())
    assert engine.translate(SENTENCES[0], model="main").text == first  # reloaded after eviction
    # A comparison of two adapters with a cache of one still works: both are pinned for the call.
    comparison = engine.compare(SENTENCES[0], left="main", right=BRANCH)
    assert comparison.left.text == first


def test_compare_mixed_batch_equals_separate_runs(engine, hub_adapters):
    text = " ".join(SENTENCES)
    for left, right, beams in (("base", "main", 1), ("main", BRANCH, 1), ("base", BRANCH, 3)):
        together = engine.compare(text, "spa_Latn", "ita_Latn", left=left, right=right, num_beams=beams)
        apart = engine.compare(text, "spa_Latn", "ita_Latn", left=left, right=right, num_beams=beams, batched=False)
        assert together.batched and not apart.batched
        assert (together.left.text, together.right.text) == (apart.left.text, apart.right.text)
        single = engine.translate(text, "spa_Latn", "ita_Latn", model=right, num_beams=beams)
        assert together.right.text == single.text
        assert together.left.text != together.right.text


def test_one_adapter_batches_skip_peft_row_routing_with_identical_output(engine, hub_adapters, monkeypatch):
    """A batch of one adapter runs it as PEFT's active adapter (or with adapters off), not per-row routing."""
    text = " ".join(SENTENCES)
    before = {spec: engine.translate(text, "spa_Latn", "ita_Latn", model=spec).text for spec in ("main", "base")}
    model = engine.load().model
    calls = []
    # PEFT's per-row routing: the hooks its generate (and the decoding loop, model/decoding.py) enter for a batch.
    original = model._enable_peft_forward_hooks
    monkeypatch.setattr(model, "_enable_peft_forward_hooks",
                        lambda *a, **k: calls.append(k.get("adapter_names")) or original(*a, **k))
    for spec in ("main", "base", BRANCH):
        engine.translate(text, "spa_Latn", "ita_Latn", model=spec)
    assert calls == []
    # The same rows routed per row by PEFT (a mixed batch) give the same translations.
    routed = engine.compare(text, "spa_Latn", "ita_Latn", left="main", right="base")
    assert calls and len(set(calls[-1])) == 2
    assert (routed.left.text, routed.right.text) == (before["main"], before["base"])
    # Turning adapters off for a base batch is undone afterwards, and the attention pass restores the output layer.
    engine.attention(SENTENCES[0], "spa_Latn", "ita_Latn", model="base")
    assert engine.translate(text, "spa_Latn", "ita_Latn", model="main").text == before["main"]
    assert engine.translate(text, "spa_Latn", "ita_Latn", model="base").text == before["base"]
    assert before["main"] != before["base"]


def test_compare_defaults_to_base_vs_configured_adapter(engine, hub_adapters):
    comparison = engine.compare(SENTENCES[0], "spa_Latn", "ita_Latn")
    assert comparison.left.model.is_base
    assert comparison.right.model.sha == hub_adapters["main"]


def test_attention_shapes_and_rows_sum_to_one(engine):
    maps = engine.attention(SENTENCES[3], "spa_Latn", "ita_Latn")[0]
    config = engine.load().model.config
    layers, heads = config.encoder_layers, config.encoder_attention_heads
    s, t = len(maps.source_tokens), len(maps.target_tokens)
    assert maps.encoder.shape == (layers, heads, s, s)
    assert maps.decoder.shape == (config.decoder_layers, config.decoder_attention_heads, t, t)
    assert maps.cross.shape == (config.decoder_layers, config.decoder_attention_heads, t, s)
    for weights in (maps.encoder, maps.decoder, maps.cross):
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-4)
    # Decoder self-attention is causal: nothing above the diagonal.
    assert np.allclose(np.triu(maps.decoder[0, 0], k=1), 0.0)
    # The pair it shows is the model's own translation.
    assert maps.target_text == engine.translate(SENTENCES[3], "spa_Latn", "ita_Latn", num_beams=1).text


def test_attention_reducers_and_model_difference(engine, hub_adapters):
    from nllb_space.model.attention import reduce

    lora, base = engine.attention(SENTENCES[0], "spa_Latn", "ita_Latn", model="main", also=["base"])
    assert lora.source_tokens == base.source_tokens and lora.target_tokens == base.target_tokens
    np.testing.assert_allclose(reduce(lora.cross, layer=1, head=2), lora.cross[1, 2])
    np.testing.assert_allclose(reduce(lora.cross), lora.cross.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(reduce(lora.cross, layer=0), lora.cross[0].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(reduce(lora.cross, head=3), lora.cross[:, 3].mean(axis=0), rtol=1e-6)
    diff = lora.minus(base)
    np.testing.assert_allclose(diff.cross.sum(axis=-1), 0.0, atol=1e-4)
    assert np.abs(diff.encoder).max() > 1e-3  # the adapter changes encoder attention
    # Same pair alone through the base model gives the same maps as inside the batch.
    alone = engine.attention(SENTENCES[0], "spa_Latn", "ita_Latn", model="base", translation=lora.target_text)[0]
    np.testing.assert_allclose(alone.cross, base.cross, atol=1e-5)
    with pytest.raises(ValueError, match="layer"):
        reduce(lora.cross, layer=99)


def test_unknown_revision_and_repo_are_clear_errors(engine):
    from nllb_space.hub.revisions import HubError

    with pytest.raises(HubError, match="no-such-branch"):
        engine.translate(SENTENCES[0], model="no-such-branch")
    with pytest.raises(HubError, match="nobody/nothing"):
        engine.translate(SENTENCES[0], model="nobody/nothing@main")
    with pytest.raises(InputError, match="owner/name"):
        engine.translate(SENTENCES[0], model="not a repo/x y@main")


def test_list_revisions_for_the_ui(engine, hub_adapters):
    revisions = engine.list_revisions()
    assert {ref.name for ref in revisions.branches} == {"main", BRANCH}
    assert {(ref.name, ref.sha) for ref in revisions.tags} == {(TAG, hub_adapters["main"])}
    assert revisions.commits and revisions.commits[0].sha == hub_adapters["main"]


def test_misfitting_adapters_are_refused(engine, tiny_model_dir, tmp_path):
    from nllb_space.lora_config import LoraSettings, TargetModuleError
    from nllb_space.testing.pairs import SOURCES, TARGETS
    from nllb_space.testing.synthetic import SHAPES, save_synthetic_nllb

    # Built for a wider model: tensors of the wrong shape.
    wide = save_synthetic_nllb(tmp_path / "wide", SOURCES + TARGETS, shape=replace(SHAPES["tiny"], d_model=48))
    wide_adapter = make_adapter(wide, tmp_path / "wide-adapter", seed=3)
    from nllb_space.service.engine import Engine

    other = Engine(tiny_settings(tiny_model_dir, adapter_repo=str(wide_adapter)))
    with pytest.raises(AdapterError, match="shape"):
        other.prepare("local")
    # Pickle-only adapters are refused.
    pickled = make_adapter(tiny_model_dir, tmp_path / "pickled", seed=4)
    (pickled / "adapter_model.safetensors").rename(pickled / "adapter_model.bin")
    with pytest.raises(AdapterError, match="safetensors"):
        Engine(tiny_settings(tiny_model_dir, adapter_repo=str(pickled))).prepare("local")
    # A requested target that matches nothing (o_proj) is an error naming what exists.
    with pytest.raises(TargetModuleError, match="out_proj"):
        LoraSettings(targets=("q_proj", "o_proj")).to_peft_config(engine.load().model)


def test_configured_adapter_failure_keeps_base_served(tiny_model_dir, hub_adapters):
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO, adapter_revision="gone"))
    engine.load()
    assert "gone" in str(engine.adapter_error) and "gone" in engine.adapter_error.in_language("es")
    assert engine.translate(SENTENCES[0]).text


def test_unreachable_base_model_says_how_to_use_a_local_copy():
    from nllb_space.service.engine import Engine
    from nllb_space.settings import Settings

    with pytest.raises(ModelLoadError) as caught:
        Engine(Settings(base_model="nobody/no-such-model", device="cpu")).load()
    message = str(caught.value)
    assert "nobody/no-such-model" in message and "hf download" in message and "NLLB_BASE_MODEL" in message


def test_attention_shows_the_models_own_translation_even_when_it_reads_back_longer(engine, monkeypatch):
    """A model stuck repeating a piece without its word-start mark writes text that tokenizes back into several
    tokens per generated one: the view still shows the translation the model wrote (within WRITTEN_ROOM times
    NLLB_MAX_NEW_TOKENS), and still refuses a visitor's translation of that length."""
    from types import SimpleNamespace

    from nllb_space.service.model_views import WRITTEN_ROOM

    tokenizer = engine.load().tokenizer
    limit = engine.settings.max_new_tokens
    written = "".join(tokenizer.convert_ids_to_tokens(list(range(100, 400)))).replace("▁", "")
    pieces = tokenizer(written, add_special_tokens=False)["input_ids"]
    text = tokenizer.decode(pieces[:int(2.6 * limit)])
    assert 2 * limit < len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= WRITTEN_ROOM * limit
    monkeypatch.setattr(engine, "translate", lambda *a, **k: SimpleNamespace(text=text))
    maps = engine.attention(SENTENCES[0], "spa_Latn", "ita_Latn")[0]
    assert maps.cross.shape[-2] > 2 * limit
    with pytest.raises(InputError, match="NLLB_MAX_NEW_TOKENS"):
        engine.attention(SENTENCES[0], "spa_Latn", "ita_Latn", translation=text)
