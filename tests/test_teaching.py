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


BLOCK_PATHS = {
    "encoder self-attention": "model.encoder.layers.{layer}.self_attn.{column}_proj",
    "encoder feed-forward": "model.encoder.layers.{layer}.{column}",
    "decoder self-attention": "model.decoder.layers.{layer}.self_attn.{column}_proj",
    "cross-attention": "model.decoder.layers.{layer}.encoder_attn.{column}_proj",
    "decoder feed-forward": "model.decoder.layers.{layer}.{column}",
}
"""Where each of the map's blocks and columns is in NLLB, written out here, not taken from the code under test."""
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")


def norms_from_the_files(folder, base_model: str) -> dict[str, float]:
    """‖scale·B·A‖ / ‖W‖ of every module the adapter in ``folder`` adapts, from its safetensors and the base's weights
    alone: scale = alpha/r, or alpha/√r with rsLoRA."""
    import math

    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSeq2SeqLM

    config = json.loads((folder / "adapter_config.json").read_text())
    scale = config["lora_alpha"] / (math.sqrt(config["r"]) if config.get("use_rslora") else config["r"])
    tensors = load_file(str(folder / "adapter_model.safetensors"))
    base = AutoModelForSeq2SeqLM.from_pretrained(base_model).state_dict()
    norms = {}
    for key in tensors:
        if key.endswith(".lora_A.weight"):
            path = key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
            a, b = tensors[key].double(), tensors[key.replace("lora_A", "lora_B")].double()
            norms[path] = float(torch.linalg.matrix_norm(scale * b @ a)
                                / torch.linalg.matrix_norm(base[f"{path}.weight"].double()))
    return norms


def cells(data: dict) -> dict[str, float | None]:
    """The /update_map JSON's cells by module path: relative_update[block][layer][i] is blocks[block]'s
    columns[block][i] in that layer."""
    return {BLOCK_PATHS[block].format(layer=layer, column=column): value
            for b, block in enumerate(data["blocks"]) for layer, row in enumerate(data["relative_update"][b])
            for column, value in zip(data["columns"][b], row, strict=True)}


def adapter_of(tiny_model_dir, folder, targets: tuple[str, ...], rslora: bool = False, seed: int = 5):
    """An adapter with random A and B over ``targets`` (PEFT's own config and save), rsLoRA if asked."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    from nllb_space.lora_config import LoraSettings

    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_model_dir)
    config = LoraSettings(r=4, alpha=8, dropout=0.0, targets=targets).to_peft_config(model)
    config.init_lora_weights, config.use_rslora = False, rslora
    torch.manual_seed(seed)
    get_peft_model(model, config).save_pretrained(folder)
    return folder


def test_update_map_equals_norms_computed_from_the_safetensors(engine, adapter_dirs):
    update = engine.update_map(f"{ADAPTER_REPO}@{TAG}")  # adapter "a" is on main, tagged v1
    config = json.loads((adapter_dirs["a"] / "adapter_config.json").read_text())
    expected = norms_from_the_files(adapter_dirs["a"], engine.settings.base_model)
    got = {path: value for path, value in cells(update.to_json()).items() if value is not None}
    assert set(got) == set(expected) and len(expected) == 3 * 4 * update.layers and update.layers >= 2
    for path, value in expected.items():
        assert got[path] == pytest.approx(value, rel=1e-6), path
    assert (update.r, update.alpha, update.adapted) == (config["r"], config["lora_alpha"],
                                                       ("q_proj", "k_proj", "v_proj", "out_proj"))
    assert 0 < update.trainable < update.total
    assert update.label.startswith(f"{ADAPTER_REPO}@{TAG}") and update.to_json()["adapter"] == update.label
    assert update.largest()[3] == pytest.approx(max(expected.values()), rel=1e-6)


@pytest.mark.parametrize("rslora", [False, True])
def test_update_map_draws_the_feed_forward_layers_an_adapter_adapts(tiny_model_dir, tmp_path, rslora):
    """#26: an adapter over fc1 and fc2 too (PEFT's all-linear) had only its attention drawn. Every adapted module
    is in the map and its JSON, equal to the norms taken from the files (with rsLoRA's alpha/√r too)."""
    from nllb_space.service.engine import Engine
    from tests.model_fixtures import tiny_settings

    folder = adapter_of(tiny_model_dir, tmp_path / "all-linear", ALL_LINEAR, rslora=rslora)
    local = Engine(tiny_settings(tiny_model_dir, adapter_repo=str(folder), adapter_revision="local"))
    data = json.loads(json.dumps(local.update_map("local").to_json()))
    expected = norms_from_the_files(folder, str(tiny_model_dir))
    assert {"encoder feed-forward", "decoder feed-forward"} <= set(data["blocks"])
    assert data["columns"][data["blocks"].index("encoder feed-forward")] == ["fc1", "fc2"]
    got = {path: value for path, value in cells(data).items() if value is not None}
    assert set(got) == set(expected) and any(path.endswith(".fc2") for path in got)
    assert len(expected) == data["layers"] * (3 * 4 + 2 * 2)
    for path, value in expected.items():
        assert got[path] == pytest.approx(value, rel=1e-6), path
    assert data["use_rslora"] is rslora and data["adapted"][-2:] == ["fc1", "fc2"]


def test_update_map_leaves_unadapted_modules_empty_and_refuses_the_base(engine, tiny_model_dir, tmp_path):
    from nllb_space.errors import InputError
    from nllb_space.lora_config import LoraSettings
    from nllb_space.service.engine import Engine
    from nllb_space.web.lora_plots import update_map_figure
    from tests.model_fixtures import make_adapter, tiny_settings

    folder = make_adapter(tiny_model_dir, tmp_path / "qv", seed=3, lora=LoraSettings(r=2, alpha=4, dropout=0.0,
                                                                                   targets=("q_proj", "v_proj")))
    local = Engine(tiny_settings(tiny_model_dir, adapter_repo=str(folder), adapter_revision="local"))
    update = local.update_map("local")
    got = cells(update.to_json())
    assert {path for path, value in got.items() if value is not None} == set(norms_from_the_files(
        folder, str(tiny_model_dir)))
    # Modules it leaves alone, the feed-forward ones included, are drawn and read "not adapted", never 0.
    assert all(value is None for path, value in got.items() if not path.endswith(("q_proj", "v_proj")))
    assert update.adapted == ("q_proj", "v_proj")
    figure = update_map_figure(update, "title")
    values = [trace for trace in figure.data if trace.name != "not adapted"]
    greys = [trace for trace in figure.data if trace.name == "not adapted"]
    assert len(values) == len(greys) == 5 and list(values[1].x) == list(greys[1].x) == ["fc1", "fc2"]
    for value, grey in zip(values, greys):  # a cell is either a size on the colour scale or a grey "not adapted"
        for z_row, grey_row, text_row in zip(value.z, grey.z, value.text):
            for z, g, text in zip(z_row, grey_row, text_row):
                assert (z is None) == (g is not None) == (text == "not adapted")
    assert all(z is None for row in values[1].z for z in row)
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


def test_the_tab_says_what_the_feed_forward_block_does_in_both_languages(tiny_model_dir, tmp_path):
    """#26: the explanation named only the attention projections. It says what each block does (attention mixes the
    positions, the feed-forward transforms each one) and that grey cells are modules the adapter leaves alone."""
    from nllb_space.service.engine import Engine
    from nllb_space.web.handlers import Handlers
    from nllb_space.web.i18n import text
    from tests.model_fixtures import tiny_settings
    from tests.test_spanish_messages import ENGLISH, SPANISH

    english, spanish = text("lora_intro", "en"), text("lora_intro", "es")
    assert "fc1" in english and "Attention mixes positions" in english and "transforms each position" in english
    assert "fc1" in spanish and "La atención mezcla posiciones" in spanish and "transforma cada posición" in spanish
    folder = adapter_of(tiny_model_dir, tmp_path / "ffn", ("fc1", "fc2"))
    h = Handlers(Engine(tiny_settings(tiny_model_dir, adapter_repo=str(folder), adapter_revision="local")))
    shown = h.update_map("local", request=SPANISH)
    assert "red feed-forward" in shown.update_summary and "celdas grises" in shown.update_summary
    assert "no adaptado" in {t for trace in shown.update_plot.data for row in trace.text for t in row}
    summary = h.update_map("local", request=ENGLISH).update_summary
    assert "feed-forward" in summary and "Grey cells" in summary
