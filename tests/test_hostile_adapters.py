"""Adapters whose cost or damage grows with what a visitor sends (issue 23, section 2): a huge rank, non-finite or
non-float tensors, an absurd alpha, a LoRA on the output layer, a half pair. Each is refused when the adapter is
checked, with a clear message, before any model or map work; the update map is cached and waits for the model gate;
and on int8 one row of a mixed batch never changes another's.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from nllb_space.testing.pairs import SOURCES
from tests.model_fixtures import tiny_settings
from tests.test_adapters_wild import save_peft_adapter as save_wild

SENTENCE = SOURCES[0]
HOSTILE = "stranger/hostile-lora"


@pytest.fixture(scope="module")
def guarded(tiny_model_dir, hub_adapters):
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, max_adapter_rank=8))
    engine.load()
    return engine


def save_peft_adapter(base_dir: Path, folder: Path, **config) -> Path:
    return save_wild(base_dir, folder, **{"target_modules": ["q_proj", "v_proj"], **config})


def _push(hub, folder: Path, branch: str) -> str:
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    sha = hub.commit_files(f"{HOSTILE}-{branch}", files, message=branch)
    return f"{HOSTILE}-{branch}@{sha}"


def _rewrite(folder: Path, tensors=None, config=None) -> Path:
    """Change a saved adapter's tensors (``fn(name, tensor) -> tensor``) or config keys, as a hand-edited file."""
    from safetensors.torch import load_file, save_file

    weights = folder / "adapter_model.safetensors"
    if tensors:
        changed = {name: tensors(name, t) for name, t in load_file(str(weights)).items()}
        save_file({k: v for k, v in changed.items() if v is not None}, str(weights))
    if config:
        path = folder / "adapter_config.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **config}), encoding="utf-8")
    return folder


def _refused(engine, spec: str, *words: str) -> None:
    from nllb_space.errors import AdapterError

    for call in (lambda: engine.translate(SENTENCE, model=spec), lambda: engine.update_map(spec)):
        with pytest.raises(AdapterError) as refused:
            call()
        assert all(word in str(refused.value) for word in words), str(refused.value)
        assert refused.value.es  # and in Spanish


def test_an_adapter_above_the_rank_limit_is_refused_everywhere(guarded, hub, tiny_model_dir, tmp_path):
    spec = _push(hub, save_peft_adapter(tiny_model_dir, tmp_path / "r16", r=16, lora_alpha=32), "rank16")
    _refused(guarded, spec, "r=16", "NLLB_MAX_ADAPTER_RANK", "8")


@pytest.mark.parametrize("name,damage,words", [
    ("nan", lambda n, t: t.fill_(float("nan")) if "lora_B" in n else t, ("not finite",)),
    ("inf", lambda n, t: t.fill_(float("inf")) if "lora_A" in n else t, ("not finite",)),
    ("int", lambda n, t: t.to(__import__("torch").int32), ("int32", "float")),
    ("half-pair", lambda n, t: None if "lora_B" in n else t, ("lora_B",)),
])
def test_broken_tensors_are_refused_when_checked(name, damage, words, guarded, hub, tiny_model_dir, tmp_path):
    folder = _rewrite(save_peft_adapter(tiny_model_dir, tmp_path / name), tensors=damage)
    _refused(guarded, _push(hub, folder, name), *words)


def test_two_lora_a_and_no_lora_b_is_refused(guarded, hub, tiny_model_dir, tmp_path):
    """Both keys of a layer are lora_A (one plain, one PEFT-named): two keys, but not a pair."""
    def doubled(name, tensor):
        return tensor if "lora_A" in name else None

    folder = _rewrite(save_peft_adapter(tiny_model_dir, tmp_path / "two-a"), tensors=doubled)
    from safetensors.torch import load_file, save_file

    weights = folder / "adapter_model.safetensors"
    tensors = load_file(str(weights))
    tensors.update({k.replace(".lora_A.weight", ".lora_A.default.weight"): v.clone() for k, v in tensors.items()})
    save_file(tensors, str(weights))
    _refused(guarded, _push(hub, folder, "two-a"), "lora_B")


@pytest.mark.parametrize("alpha", [float("nan"), float("inf"), 1e12])
def test_an_absurd_alpha_is_refused(alpha, guarded, hub, tiny_model_dir, tmp_path):
    folder = save_peft_adapter(tiny_model_dir, tmp_path / "alpha")
    path = folder / "adapter_config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "lora_alpha": alpha}), encoding="utf-8")  # NaN/Infinity as Python writes
    _refused(guarded, _push(hub, folder, f"alpha-{str(alpha).replace('.', '')}"), "lora_alpha")


def test_a_lora_on_the_output_layer_is_refused_when_checked(guarded, hub, tiny_model_dir, tmp_path):
    folder = save_peft_adapter(tiny_model_dir, tmp_path / "head", target_modules=["q_proj", "lm_head"])
    _refused(guarded, _push(hub, folder, "head"), "lm_head")


def test_the_update_map_is_computed_once_per_commit_and_waits_for_the_model_gate(guarded, hub_adapters,
                                                                                monkeypatch):
    from nllb_space.service import model_views as inspection

    computed = []
    real = inspection.update_map
    monkeypatch.setattr(inspection, "update_map", lambda *a, **k: computed.append(1) or real(*a, **k))
    first = guarded.update_map(f"tester/nllb-lora@{hub_adapters['main']}")
    assert guarded.update_map(f"tester/nllb-lora@{hub_adapters['main']}") == first and len(computed) == 1

    gate = guarded._model_gate
    for _ in range(gate.slots):
        gate.acquire()
    done = threading.Event()
    worker = threading.Thread(target=lambda: (guarded.update_map(f"tester/nllb-lora@{hub_adapters['branch']}"),
                                              done.set()), daemon=True)
    worker.start()
    try:
        assert not done.wait(1.0)  # the model work of others comes first
    finally:
        for _ in range(gate.slots):
            gate.release()
    assert done.wait(30) and len(computed) == 2


def test_on_int8_an_adapter_in_the_batch_never_changes_the_base_rows(tiny_model_dir, hub, tmp_path):
    """int8 quantizes a layer's input with a scale; a wild (finite) adapter's rows must not set the base rows'."""
    from nllb_space.service.engine import Engine

    folder = _rewrite(save_peft_adapter(tiny_model_dir, tmp_path / "loud"),
                      tensors=lambda n, t: t * 3e3 if "lora_B" in n else t)
    spec = _push(hub, folder, "loud")
    engine = Engine(tiny_settings(tiny_model_dir, dtype="int8"))
    text = " ".join(SOURCES[:4])
    alone = engine.translate(text, model="base", max_new_tokens=12)
    together = engine.compare(text, left="base", right=spec, max_new_tokens=12)
    assert together.batched
    assert [s.target for s in together.left.sentences] == [s.target for s in alone.sentences]
