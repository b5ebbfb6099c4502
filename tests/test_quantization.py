"""The int8 CPU path: agrees with float32 on a briefly trained model, and adapters stay hot-swappable on it."""

from __future__ import annotations

import pytest
import torch

from nllb_space.model.quantization import Int8Linear, quantize_int8
from nllb_space.testing.pairs import PAIRS, SOURCES
from tests.model_fixtures import tiny_settings


def test_int8_linear_is_close_to_float_and_is_a_linear_for_peft():
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 32)
    quantized = Int8Linear(linear)
    x = torch.randn(3, 5, 64)
    reference = linear(x)
    assert isinstance(quantized, torch.nn.Linear)
    assert (quantized.in_features, quantized.out_features) == (64, 32)
    assert quantized(x).shape == reference.shape
    assert (quantized(x) - reference).abs().max() < 0.03 * reference.abs().max()
    assert not quantized.weight.dtype.is_floating_point  # PEFT then keeps LoRA weights in float32


def test_quantize_replaces_every_frozen_linear(tiny_model_dir):
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_model_dir)
    linears = sum(type(m) is torch.nn.Linear for m in model.modules())
    assert quantize_int8(model) == linears
    assert not any(type(m) is torch.nn.Linear for m in model.modules())


def test_int8_agrees_with_float32_on_most_outputs(trained_model_dir):
    from nllb_space.service.engine import Engine

    float_engine = Engine(tiny_settings(trained_model_dir))
    int8_engine = Engine(tiny_settings(trained_model_dir, dtype="int8"))
    text = "\n".join(SOURCES)
    float_out = float_engine.translate(text, "spa_Latn", "ita_Latn").sentences
    int8_out = int8_engine.translate(text, "spa_Latn", "ita_Latn").sentences
    same = sum(a.target == b.target for a, b in zip(float_out, int8_out))
    assert same >= 0.8 * len(SOURCES), f"int8 matched float32 on only {same}/{len(SOURCES)} sentences"
    # The model really learned the pairs, so the agreement above is between meaningful outputs.
    learned = sum(pair.target == it for pair, (_, it) in zip(float_out, PAIRS))
    assert learned >= 0.5 * len(PAIRS)


def test_adapters_stay_hot_swappable_on_int8(trained_model_dir, adapter_dirs):
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(trained_model_dir, dtype="int8", adapter_repo=str(adapter_dirs["b"])))
    engine.load()
    assert engine.status().dtype == "int8"
    text = "\n".join(SOURCES[:12])
    together = engine.compare(text, left="base", right="local")
    apart = engine.compare(text, left="base", right="local", batched=False)
    assert together.batched and together.left.text != together.right.text
    # int8 quantizes each model's rows of a batch with one scale, so sentences of one model can nudge each other where
    # the model is unsure, and 24 rows split into batches otherwise than 12 do. The trained base is sure of these
    # sentences: most must agree. (The random adapter's outputs are all near-ties, so its side is only checked to
    # differ from the base; tests/test_hostile_adapters.py checks that an adapter's rows never move the base rows.)
    pairs = zip(together.left.sentences, apart.left.sentences)
    assert sum(a.target == b.target for a, b in pairs) >= 0.75 * 12
    # LoRA weights stay float32 on top of the int8 base layers.
    lora_params = [p for n, p in engine.load().model.named_parameters() if "lora_" in n]
    assert lora_params and all(p.dtype == torch.float32 for p in lora_params)
    maps = engine.attention(SOURCES[0], model="local", also=["base"])
    assert maps[0].cross.shape == maps[1].cross.shape


def test_int8_is_refused_off_cpu():
    from nllb_space.errors import ModelLoadError
    from nllb_space.model.loading import pick_dtype

    with pytest.raises(ModelLoadError, match="CPU only"):
        pick_dtype("int8", "cuda")
    assert pick_dtype("auto", "cpu") == "int8"
