"""The tiny NLLB-shaped model, LoRA adapters made for it, and an engine serving them: built once per test session."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from nllb_space.lora import LoraSettings
from nllb_space.synthetic import save_synthetic_nllb
from tests.pairs import SOURCES, TARGETS

ADAPTER_REPO = "tester/nllb-lora"
BRANCH = "exp/run-1"
TAG = "v1"
TEST_LORA = LoraSettings(r=4, alpha=8, dropout=0.0)


def make_adapter(base_dir: Path, folder: Path, seed: int, lora: LoraSettings = TEST_LORA) -> Path:
    """Save a LoRA adapter with random (non-zero) A and B, so it visibly changes the tiny model's output."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(base_dir)
    config = lora.to_peft_config(model)
    config.init_lora_weights = False  # PEFT's default B = 0 would make the adapter a no-op
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.mul_(3.0)  # strong enough to change greedy outputs of the random tiny model
    peft_model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return save_synthetic_nllb(tmp_path_factory.mktemp("tiny-nllb"), SOURCES + TARGETS)


@pytest.fixture(scope="session")
def adapter_dirs(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {name: make_adapter(tiny_model_dir, root / name, seed) for name, seed in (("a", 1), ("b", 2))}


@pytest.fixture(scope="session")
def hub_adapters(hub, adapter_dirs) -> dict[str, str]:
    """Adapter "a" on main (tagged v1), adapter "b" on branch exp/run-1 of ADAPTER_REPO; returns their shas."""
    from nllb_space import hub as hub_client

    main = hub_client.push_folder(adapter_dirs["a"], ADAPTER_REPO, commit_message="adapter a", tag=TAG)
    branch = hub_client.push_folder(adapter_dirs["b"], ADAPTER_REPO, branch=BRANCH, commit_message="adapter b")
    return {"main": main.sha, "branch": branch.sha}


def tiny_settings(tiny_model_dir: Path, **overrides):
    from nllb_space.settings import Settings

    # float32 so outputs can be compared with plain PEFT; the int8 path has its own tests (test_quantization.py).
    settings = Settings(base_model=str(tiny_model_dir), device="cpu", dtype="float32", num_beams=1, max_new_tokens=24)
    return replace(settings, **overrides)


@pytest.fixture(scope="session")
def engine(tiny_model_dir, hub_adapters):
    """An engine on the tiny model whose configured adapter repo lives on the Hub emulator."""
    from nllb_space.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO))
    engine.load()
    return engine
