"""The tiny NLLB-shaped model, LoRA adapters made for it, and an engine serving them: built once per test session."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from nllb_space.lora_config import LoraSettings
from nllb_space.testing.pairs import SOURCES, TARGETS
from nllb_space.testing.synthetic import save_synthetic_nllb

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


def train_on_pairs(model_dir: Path, folder: Path) -> Path:
    """The model in ``model_dir`` trained (all weights) until it translates the test pairs, saved to ``folder``."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from nllb_space.testing.pairs import PAIRS

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)
    tokenizer.src_lang, tokenizer.tgt_lang = "spa_Latn", "ita_Latn"
    batch = tokenizer([es for es, _ in PAIRS], text_target=[it for _, it in PAIRS], padding=True, return_tensors="pt")
    batch["labels"][batch["labels"] == tokenizer.pad_token_id] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    model.train()
    for _ in range(150):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.item() < 1.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def trained_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model trained until it translates the test pairs: random weights can't show agreement."""
    return train_on_pairs(tiny_model_dir, tmp_path_factory.mktemp("trained-tiny"))


@pytest.fixture(scope="session")
def adapter_dirs(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return {name: make_adapter(tiny_model_dir, root / name, seed) for name, seed in (("a", 1), ("b", 2))}


@pytest.fixture(scope="session")
def hub_adapters(hub, adapter_dirs) -> dict[str, str]:
    """Adapter "a" on main (tagged v1), adapter "b" on branch exp/run-1 of ADAPTER_REPO; returns their shas."""
    from nllb_space.hub import revisions as hub_client

    main = hub_client.push_folder(adapter_dirs["a"], ADAPTER_REPO, commit_message="adapter a", tag=TAG)
    branch = hub_client.push_folder(adapter_dirs["b"], ADAPTER_REPO, branch=BRANCH, commit_message="adapter b")
    return {"main": main.sha, "branch": branch.sha}


SCORED_REPO = "tester/scored-lora"
LONG_TITLE = "LoRA r=4 spa_Latn->ita_Latn: BLEU 12.5 (base 10.0), chrF++ 43.5 (base 40.0) on tiny dev"


def run_report_json(base: tuple[float, float], lora: tuple[float, float]) -> str:
    """A ``metrics.json`` as train/run.py writes it: (BLEU, chrF++) of the base model and of the adapter."""
    from nllb_space.hub.card import RunReport
    from nllb_space.text.scoring import Scores

    def scores(bleu: float, chrf: float) -> Scores:
        return Scores(bleu=bleu, chrf=chrf, bleu_signature="nrefs:1|bleu", chrf_signature="nrefs:1|chrf", sentences=4)

    return RunReport(base_model="tiny", src_lang="spa_Latn", tgt_lang="ita_Latn", eval_set="tiny dev", num_beams=1,
                     max_new_tokens=8, base=scores(*base), lora=scores(*lora)).to_json()


@pytest.fixture(scope="session")
def scored_repo(hub, adapter_dirs) -> dict[str, str]:
    """SCORED_REPO as training runs leave it, with what the revisions panel must tell apart; returns the shas.

    main: "initial commit" (no adapter) <- run (adapter a + metrics.json, tagged v1, LONG_TITLE) <- README edit.
    Branches: ``no-metrics`` (metrics.json deleted, other weights), ``bad-metrics`` (metrics.json not a report),
    ``empty`` (at the initial commit: no adapter).
    """
    adapter = {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}
    run = hub.commit_files(SCORED_REPO, {**adapter, "metrics.json": run_report_json((10.0, 40.0), (12.5, 43.5))},
                           message=LONG_TITLE)
    initial = hub.commit_parent(SCORED_REPO, run)
    hub.create_tag(SCORED_REPO, "v1", revision=run)
    readme = hub.commit_files(SCORED_REPO, {"README.md": "# scored\n"}, message="Update README.md")
    for branch in ("no-metrics", "bad-metrics"):
        hub.create_branch(SCORED_REPO, branch)
    weights = (adapter_dirs["b"] / "adapter_model.safetensors").read_bytes()
    no_metrics = hub.commit_files(SCORED_REPO, {"adapter_model.safetensors": weights}, branch="no-metrics",
                                  delete=["metrics.json"], message="adapter without scores")
    bad = hub.commit_files(SCORED_REPO, {"metrics.json": "{not json"}, branch="bad-metrics", message="bad metrics")
    hub.create_branch(SCORED_REPO, "empty", revision=initial)
    return {"initial": initial, "run": run, "readme": readme, "no-metrics": no_metrics, "bad-metrics": bad}


def tiny_settings(tiny_model_dir: Path, **overrides):
    from nllb_space.settings import Settings

    # float32 so outputs can be compared with plain PEFT; the int8 path has its own tests (test_quantization.py). One
    # model copy: tests that look at (or change) the model see the one every call runs on; lanes have their own tests.
    settings = Settings(base_model=str(tiny_model_dir), device="cpu", dtype="float32", num_beams=1, max_new_tokens=24,
                        concurrency=1)
    return replace(settings, **overrides)


@pytest.fixture(scope="session")
def engine(tiny_model_dir, hub_adapters):
    """An engine on the tiny model whose configured adapter repo lives on the Hub emulator."""
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO))
    engine.load()
    return engine


PUBLISHED_BASE = "facebook/nllb-200-distilled-600M"
"""The base model's real Hub id; the session emulator serves the tiny model under it, laid out like the real repo."""


@dataclass(frozen=True)
class PublishedBase:
    """The tiny model as ``facebook/nllb-200-distilled-600M`` is published, on the emulator and as a download."""

    local_dir: Path
    """What ``hf download <id> --local-dir DIR`` leaves: ``pytorch_model.bin`` and no safetensors."""
    pr_revision: str
    """``refs/pr/N``: the bot's unmerged pull request, the only place that has ``model.safetensors``."""


def save_published_layout(model_dir: Path, folder: Path) -> Path:
    """The tiny checkpoint in the published layout: ``pytorch_model.bin`` (a ``torch.save``d state dict, tied
    embeddings included), the config and tokenizer files, a README; no safetensors."""
    import shutil

    import torch
    from transformers import AutoModelForSeq2SeqLM

    folder.mkdir(parents=True, exist_ok=True)
    for path in model_dir.iterdir():
        if path.is_file() and not path.name.endswith(".safetensors"):
            shutil.copy(path, folder / path.name)
    torch.save(AutoModelForSeq2SeqLM.from_pretrained(model_dir).state_dict(), folder / "pytorch_model.bin")
    (folder / "README.md").write_text("---\nlicense: cc-by-nc-4.0\n---\n# NLLB-200 (tiny stand-in)\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def published_base(hub, tiny_model_dir, tmp_path_factory) -> PublishedBase:
    """``PUBLISHED_BASE`` on the emulator: ``.bin`` on main, ``model.safetensors`` only on ``refs/pr/1``."""
    local = save_published_layout(tiny_model_dir, tmp_path_factory.mktemp("published") / "nllb-200-distilled-600M")
    hub.commit_files(PUBLISHED_BASE, {p.name: p.read_bytes() for p in local.iterdir()}, message="Upload NLLB")
    number, _ = hub.open_pull_request(
        PUBLISHED_BASE, {"model.safetensors": (tiny_model_dir / "model.safetensors").read_bytes()},
        title="Adding `safetensors` variant of this model",
    )
    return PublishedBase(local_dir=local, pr_revision=f"refs/pr/{number}")
