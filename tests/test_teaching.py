"""The teaching views (issue #13): where the adapter changed the model, why a word changed, adapter strength.

Each is checked against an independent computation on the tiny model: the update map against norms taken straight
from the safetensors file and the base weights, the token probabilities against a plain PEFT teacher-forced
forward pass, and the strength slider against the base model and the adapter themselves.
"""

from __future__ import annotations

import json
import threading

import pytest

from tests.model_fixtures import ADAPTER_REPO, TAG

SENTENCE = "El gato duerme en el sofá."


def test_update_map_equals_norms_computed_from_the_safetensors(engine, adapter_dirs):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSeq2SeqLM

    update = engine.update_map(f"{ADAPTER_REPO}@{TAG}")  # adapter "a" is on main, tagged v1
    folder = adapter_dirs["a"]
    config = json.loads((folder / "adapter_config.json").read_text())
    tensors = load_file(str(folder / "adapter_model.safetensors"))
    base = AutoModelForSeq2SeqLM.from_pretrained(engine.settings.base_model).state_dict()
    scale = config["lora_alpha"] / config["r"]
    blocks = {"encoder self-attention": "model.encoder.layers.{}.self_attn",
              "decoder self-attention": "model.decoder.layers.{}.self_attn",
              "cross-attention": "model.decoder.layers.{}.encoder_attn"}
    checked = 0
    for b, block in enumerate(update.blocks):
        for layer in range(update.layers):
            for p, projection in enumerate(update.projections):
                path = f"{blocks[block].format(layer)}.{projection}_proj"
                a = tensors[f"base_model.model.{path}.lora_A.weight"].double()
                bb = tensors[f"base_model.model.{path}.lora_B.weight"].double()
                expected = float(torch.linalg.matrix_norm(scale * bb @ a) / torch.linalg.matrix_norm(
                    base[f"{path}.weight"].double()))
                assert update.relative[b][layer][p] == pytest.approx(expected, rel=1e-6), path
                checked += 1
    assert checked == 3 * update.layers * 4 and update.layers >= 2
    assert (update.r, update.alpha, update.adapted) == (config["r"], config["lora_alpha"],
                                                       ("q_proj", "k_proj", "v_proj", "out_proj"))
    assert 0 < update.trainable < update.total
    assert update.label.startswith(f"{ADAPTER_REPO}@{TAG}") and update.to_json()["adapter"] == update.label
    assert update.largest()[3] == max(v for block in update.relative for row in block for v in row)


def test_update_map_leaves_unadapted_layers_empty_and_refuses_the_base(engine, tiny_model_dir, tmp_path):
    from nllb_space.errors import InputError
    from nllb_space.lora_config import LoraSettings
    from nllb_space.service.engine import Engine
    from tests.model_fixtures import make_adapter, tiny_settings

    folder = make_adapter(tiny_model_dir, tmp_path / "qv", seed=3, lora=LoraSettings(r=2, alpha=4, dropout=0.0,
                                                                                   targets=("q_proj", "v_proj")))
    local = Engine(tiny_settings(tiny_model_dir, adapter_repo=str(folder), adapter_revision="local"))
    update = local.update_map("local")
    k, v = update.projections.index("k"), update.projections.index("v")
    assert all(row[k] is None and row[v] is not None for block in update.relative for row in block)
    assert update.adapted == ("q_proj", "v_proj")
    with pytest.raises(InputError, match="no adapter"):
        engine.update_map("base")


def test_token_probabilities_match_a_teacher_forced_forward_pass(engine, adapter_dirs):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSeq2SeqLM

    target = engine.translate(SENTENCE, model=TAG, num_beams=1).text
    result = engine.token_probabilities(SENTENCE, model=TAG, translation=target)
    tokenizer = engine.load().tokenizer
    tokenizer.src_lang = "spa_Latn"
    source = tokenizer(SENTENCE, return_tensors="pt")
    target_ids = tokenizer(target, add_special_tokens=False)["input_ids"]
    lang = tokenizer.convert_tokens_to_ids("ita_Latn")
    decoder = torch.tensor([[2, lang, *target_ids]])
    wanted = [*target_ids, tokenizer.eos_token_id]
    for side, model in (("base", AutoModelForSeq2SeqLM.from_pretrained(engine.settings.base_model)),
                        ("lora", PeftModel.from_pretrained(
                            AutoModelForSeq2SeqLM.from_pretrained(engine.settings.base_model), adapter_dirs["a"]))):
        with torch.no_grad():
            logits = model.eval()(**source, decoder_input_ids=decoder).logits[0, 1:]
        expected = logits.softmax(-1)[torch.arange(len(wanted)), wanted].tolist()
        got = [getattr(step, f"{side}_probability") for step in result.steps]
        assert got == pytest.approx(expected, abs=1e-5), side
        top = logits.softmax(-1).topk(5).values.flatten().tolist()
        assert [a.probability for s in result.steps for a in getattr(s, f"{side}_top")] == pytest.approx(top, abs=1e-5)
    assert len(result.steps) == len(target_ids) + 1 and result.steps[-1].token == "</s>"
    changed = result.most_changed()
    assert all(abs(result.steps[i].change) >= abs(result.steps[j].change) for i, j in zip(changed, changed[1:]))
    assert json.loads(json.dumps(result.to_json()))["tokens"][0]["token"] == result.steps[0].token


def test_adapter_strength_zero_is_the_base_one_is_the_adapter(engine):
    base = engine.translate(SENTENCE, model="base").text
    adapter = engine.translate(SENTENCE, model=TAG).text
    assert base != adapter  # otherwise the test could not tell them apart
    assert engine.translate(SENTENCE, model=TAG, adapter_scale=0.0).text == base
    assert engine.translate(SENTENCE, model=TAG, adapter_scale=1.0).text == adapter
    assert engine.translate(SENTENCE, model=TAG, adapter_scale=2.0).adapter_scale == 2.0
    from nllb_space.errors import InputError

    for bad in (-0.5, 2.5, float("nan")):
        with pytest.raises(InputError, match="Adapter strength"):
            engine.translate(SENTENCE, model=TAG, adapter_scale=bad)


def test_requests_at_different_strengths_do_not_cross(engine):
    scales = (0.0, 0.5, 1.0, 1.5, 2.0)
    alone = {scale: engine.translate(SENTENCE, model=TAG, adapter_scale=scale).text for scale in scales}
    assert len(set(alone.values())) >= 3  # the strengths give different answers, so a crossing would show
    got: list[tuple[float, str]] = []

    def visitor(scale: float) -> None:
        for _ in range(3):
            got.append((scale, engine.translate(SENTENCE, model=TAG, adapter_scale=scale).text))

    threads = [threading.Thread(target=visitor, args=(scales[i % len(scales)],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 30 and all(text == alone[scale] for scale, text in got)
    assert engine.translate(SENTENCE, model=TAG).text == alone[1.0]  # nothing left scaled behind


def test_the_server_explains_in_the_visitors_language(engine):
    from nllb_space.web.handler_inputs import MEAN
    from nllb_space.web.handlers import Handlers
    from nllb_space.web.i18n import visitor_language
    from tests.test_spanish_messages import Browser

    assert visitor_language(Browser("es-ES,es;q=0.9,en;q=0.8")) == "es"
    assert visitor_language(Browser("fr-FR,en;q=0.5,es;q=0.4")) == "en"
    assert visitor_language(Browser("de-DE,fr;q=0.5")) == visitor_language(None) == "en"
    h = Handlers(engine)
    spanish, english = Browser("es-ES,es;q=0.9"), Browser("en-GB,en;q=0.9")
    assert "rango r = 4" in h.update_map(TAG, request=spanish).update_summary
    assert "rank r = 4" in h.update_map(TAG, request=english).update_summary
    assert "Ambos modelos leen" in h.token_probabilities(SENTENCE, "spa_Latn", "ita_Latn", TAG,
                                                        request=spanish).token_summary
    view = h.attention(SENTENCE, "spa_Latn", "ita_Latn", TAG).attention_view
    for kind, word in (("cross", "atención cruzada"), ("decoder", "máscara causal"), ("encoder", "codificador")):
        assert word in h.attention_views(view, kind, MEAN, MEAN, request=spanish).attention_caption.lower()
    assert "causal mask" in h.attention_views(view, "decoder", MEAN, MEAN, request=english).attention_caption
