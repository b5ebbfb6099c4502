"""The decoding loop (model/decoding.py) gives the tokens ``generate`` gives, on every path the app serves.

``generate`` is the reference: the same slot decodes each batch once with the loop and once with ``generate`` (what
the slot falls back to for a generation config the loop does not apply), greedy and with beams, float32 and int8,
one model and Compare's mixed base/adapter batches, the full output layer and the cut one, with ``min_new_tokens``.
A briefly trained model is used: random weights make every step a near-tie, where any rounding picks another token.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from nllb_space.testing.pairs import SOURCES
from tests.model_fixtures import tiny_settings

BASE = "__base__"


@pytest.fixture(scope="module", params=["float32", "int8"])
def slots(request, trained_model_dir, adapter_dirs):
    """``{restrict_vocab: slot}`` over one model of ``dtype`` with adapter ``b`` attached as ``"b"``."""
    from peft import PeftModel

    from nllb_space.model.loading import load_base
    from nllb_space.model.slot import ModelSlot, SlotLimits

    base = load_base(tiny_settings(trained_model_dir, dtype=request.param))
    base = replace(base, model=PeftModel.from_pretrained(base.model, str(adapter_dirs["b"]), adapter_name="b").eval())
    made = {}
    for cut in (False, True):
        made[cut] = ModelSlot(base, SlotLimits(batch_size=8, adapter_cache_size=2, restrict_vocab=cut))
        made[cut].adopt("b")
    return made


def _encode(slot, texts):
    tokenizer = slot.base.tokenizer
    lang = tokenizer.convert_tokens_to_ids("spa_Latn")
    return [[lang, *row, tokenizer.eos_token_id] for row in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


def _both_ways(slot, ids, names, decoding, monkeypatch):
    from nllb_space.model import decoding as decoding_module

    lean = slot.generate(ids, names, "ita_Latn", decoding, ())
    with monkeypatch.context() as patch:
        patch.setattr(decoding_module, "supported", lambda config: False)
        reference = slot.generate(ids, names, "ita_Latn", decoding, ())
    return lean, reference


@pytest.mark.parametrize("cut", [False, True])
@pytest.mark.parametrize("beams", [1, 2, 4])
def test_the_loop_decodes_what_generate_decodes(slots, cut, beams, monkeypatch):
    from nllb_space.model.slot import Decoding

    slot = slots[cut]
    ids = _encode(slot, SOURCES[:8])
    decoding = Decoding(num_beams=beams, max_new_tokens=24)
    for names in ([BASE] * 8, ["b"] * 8, [BASE, "b"] * 4):  # the base, an adapter, Compare's mixed batch
        lean, reference = _both_ways(slot, ids, names, decoding, monkeypatch)
        assert lean == reference, names
    # The model learnt these pairs: the outputs are sentences, not a run of the same token.
    assert sum(len(row) > 2 for row in lean) >= 6


def test_short_limits_and_a_minimum_length_match_generate(slots, monkeypatch):
    from nllb_space.model.slot import Decoding

    slot = slots[False]
    ids = _encode(slot, SOURCES[8:12])
    config = slot.base.model.generation_config
    for beams in (1, 3):
        for limit in (1, 2, 5):
            lean, reference = _both_ways(slot, ids, [BASE] * 4, Decoding(beams, limit), monkeypatch)
            assert lean == reference and all(len(row) <= limit - 1 for row in lean)
        monkeypatch.setattr(config, "min_new_tokens", 20)
        lean, reference = _both_ways(slot, ids, [BASE] * 4, Decoding(beams, 24), monkeypatch)
        monkeypatch.undo()
        assert lean == reference and all(len(row) >= 19 for row in lean)


def test_a_generation_config_the_loop_does_not_apply_goes_to_generate(slots):
    from nllb_space.model.decoding import supported

    config = slots[False].base.model.generation_config
    assert supported(config)
    for setting, value in (("repetition_penalty", 1.2), ("no_repeat_ngram_size", 3), ("do_sample", True),
                           ("early_stopping", True)):
        changed = config.__class__(**{**config.to_dict(), setting: value})
        assert not supported(changed), setting


def test_model_calls_on_a_cpu_use_the_threads_set_on_the_calling_thread(trained_model_dir, monkeypatch):
    """NLLB_CPU_THREADS: each call sets its torch threads on its own thread (torch's OpenMP count is per thread, and
    the page calls from threads of its own); 0 shares the usable cores out among the model copies."""
    import threading

    import torch

    from nllb_space.model import decoding
    from nllb_space.model.hardware import cpu_threads
    from nllb_space.service.engine import Engine

    assert cpu_threads(0, copies=2) == max(1, len(__import__("os").sched_getaffinity(0)) // 2)
    assert cpu_threads(3, copies=2) == 3
    seen = []
    original = decoding.decode

    def spy(*args):
        seen.append(torch.get_num_threads())
        return original(*args)

    monkeypatch.setattr(decoding, "decode", spy)
    engine = Engine(tiny_settings(trained_model_dir, cpu_threads=1))

    def visitor():
        torch.set_num_threads(2)
        engine.translate(SOURCES[0], "spa_Latn", "ita_Latn")

    caller = threading.Thread(target=visitor)
    caller.start()
    caller.join()
    assert seen == [1]


def test_one_adapters_layers_skip_peft_bookkeeping_with_the_same_numbers(slots, monkeypatch):
    """A batch of one adapter (or of the base) runs its LoRA layers without PEFT's forward (model/lora_forward.py),
    and every probability and token is the one PEFT's forward gives, adapter strength included."""
    import contextlib

    from peft.tuners.lora import Linear

    from nllb_space.model import lora_forward
    from nllb_space.model.slot import Decoding

    slot = slots[False]
    ids = _encode(slot, SOURCES[:4])
    calls = []
    original = Linear.forward
    monkeypatch.setattr(Linear, "forward", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))

    def both(run, label):
        fast = run()
        assert not calls, label  # no LoRA layer went through PEFT's forward
        with monkeypatch.context() as patch:
            patch.setattr(lora_forward, "plain_lora", lambda model, name: contextlib.nullcontext())
            reference = run()
        assert calls
        calls.clear()
        return fast, reference

    for names, scale in ((["b"] * 4, 1.0), (["b"] * 4, 0.5), ([BASE] * 4, 1.0)):
        fast, reference = both(lambda: slot.generate(ids, names, "ita_Latn", Decoding(2, 24, scale), ()), (names, scale))
        assert fast == reference, (names, scale)
    fast, reference = both(lambda: slot.token_probabilities(ids[0], None, ["b"], "ita_Latn", 24, 5, ()), "probabilities")
    assert fast == reference
    # And PEFT's own forward is back once the call is over.
    assert all("forward" not in vars(module) for module in slot.base.model.modules() if type(module) is Linear)
