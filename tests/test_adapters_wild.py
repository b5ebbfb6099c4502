"""Adapters as plain PEFT users publish them: serve what fits, refuse what would hurt the shared base model.

Every adapter here is made the way a user outside this project makes one: ``get_peft_model(model,
LoraConfig(...)).save_pretrained(folder)``, then pushed to the Hub emulator. A served adapter must translate exactly
as plain PEFT (``PeftModel.from_pretrained``) does; a refused one must leave the model as every other visitor had it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from nllb_space.testing.pairs import SOURCES
from tests.model_fixtures import tiny_settings

SENTENCES = SOURCES[:2]
TEXT = " ".join(SENTENCES)
WILD = "stranger/wild-lora"


def save_peft_adapter(base_dir: Path, folder: Path, seed: int = 3, **config) -> Path:
    """An adapter as a PEFT user saves it, with random non-zero B so it visibly changes the model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(base_dir)
    torch.manual_seed(seed)
    peft_model = get_peft_model(model, LoraConfig(**{"r": 4, "lora_alpha": 8, **config}))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 1.0)
    peft_model.save_pretrained(folder)
    return folder


def publish(hub, folder: Path, branch: str) -> str:
    """Push ``folder`` to a branch of WILD; returns the model choice a visitor types."""
    from nllb_space.hub import revisions as hub_client

    if branch != "main":
        try:
            hub.create_branch(WILD, branch)
        except Exception:  # noqa: BLE001 - already there
            pass
    hub_client.push_folder(folder, WILD, branch=branch, commit_message=f"adapter {branch}")
    return f"{WILD}@{branch}"


def plain_peft(base_dir: Path, folder: Path, sentences=SENTENCES) -> str:
    """What plain PEFT translates with this adapter, sentence by sentence (greedy, as the tiny settings do)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = PeftModel.from_pretrained(AutoModelForSeq2SeqLM.from_pretrained(base_dir), str(folder)).eval()
    texts = []
    for text in sentences:
        ids = [tokenizer.convert_tokens_to_ids("spa_Latn"), *tokenizer(text, add_special_tokens=False)["input_ids"],
               tokenizer.eos_token_id]
        with torch.inference_mode():
            out = model.generate(input_ids=torch.tensor([ids]), forced_bos_token_id=tokenizer.convert_tokens_to_ids(
                "ita_Latn"), num_beams=1, max_new_tokens=24, max_length=None, do_sample=False)
        texts.append(tokenizer.decode(out[0], skip_special_tokens=True).strip())
    return " ".join(texts)


@pytest.fixture(scope="module")
def wild_engine(tiny_model_dir, hub_adapters):
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir))
    engine.load()
    return engine


@pytest.fixture
def before(wild_engine, hub_adapters):
    """What every visitor got before the test, base and an adapter, to check nothing changed it."""
    from tests.model_fixtures import ADAPTER_REPO

    specs = ("base", f"{ADAPTER_REPO}@main")
    return {spec: wild_engine.translate(TEXT, model=spec).text for spec in specs}


def unchanged(engine, before) -> bool:
    return all(engine.translate(TEXT, model=spec).text == text for spec, text in before.items())


# -- serve what users publish -------------------------------------------------------------------------------------


def test_the_seed_notes_o_proj_recipe_loads_and_says_it_adapts_q_k_v(wild_engine, hub, tiny_model_dir, tmp_path):
    folder = save_peft_adapter(tiny_model_dir, tmp_path / "seeds", target_modules=["q_proj", "v_proj", "k_proj",
                                                                                   "o_proj"])
    spec = publish(hub, folder, "seeds")
    ref, plan = wild_engine.describe(spec)
    assert plan.projections == ("q_proj", "k_proj", "v_proj")
    assert len(plan.warnings) == 1 and "`o_proj` matched nothing in NLLB" in plan.warnings[0]
    assert "k_proj, q_proj, v_proj only" in plan.warnings[0]
    from nllb_space.web.markdown import adapter_summary

    assert "no coincide con nada en NLLB" in adapter_summary(ref, plan, "es")  # what a Spanish visitor reads
    assert wild_engine.translate(TEXT, model=spec).text == plain_peft(tiny_model_dir, folder)


@pytest.mark.parametrize("name, config", [
    ("dotted", dict(target_modules=["self_attn.q_proj", "encoder_attn.v_proj"])),
    ("full-path", dict(target_modules=["model.encoder.layers.0.self_attn.q_proj",
                                       "model.decoder.layers.1.encoder_attn.out_proj"])),
    ("regex", dict(target_modules=r".*decoder.*\.(q_proj|v_proj)")),
    ("all-linear", dict(target_modules="all-linear")),
    ("no-task-type", dict(target_modules=["q_proj", "v_proj"], task_type=None)),
    ("seq2seq-task", dict(target_modules=["q_proj", "out_proj"], task_type="SEQ_2_SEQ_LM")),
    ("rslora", dict(target_modules=["q_proj", "v_proj"], use_rslora=True, r=8, lora_alpha=4)),
])
def test_adapters_as_users_save_them_translate_as_plain_peft(name, config, wild_engine, hub, tiny_model_dir,
                                                             tmp_path):
    folder = save_peft_adapter(tiny_model_dir, tmp_path / name, **config)
    spec = publish(hub, folder, f"kind/{name}")
    result = wild_engine.translate(TEXT, model=spec)
    assert result.text == plain_peft(tiny_model_dir, folder)
    ref, plan = wild_engine.describe(spec)
    assert plan.parameters == sum(
        int(__import__("numpy").prod(shape)) for shape in _tensor_shapes(folder).values())
    if name == "regex":
        assert "it was not run" in plan.warnings[0]


@pytest.mark.timeout(120)
def test_a_pathological_regex_target_is_never_run(wild_engine, hub, tiny_model_dir, tmp_path, before):
    """``(.|.)*Z`` backtracks exponentially on every module name; PEFT would run it under the model's lock."""
    folder = save_peft_adapter(tiny_model_dir, tmp_path / "evil", target_modules=["q_proj"])
    config = json.loads((folder / "adapter_config.json").read_text())
    config["target_modules"] = "(.|.)*Z" * 3
    (folder / "adapter_config.json").write_text(json.dumps(config))
    spec = publish(hub, folder, "evil")
    start = time.monotonic()
    ref, plan = wild_engine.describe(spec)
    assert plan.projections == ("q_proj",)
    wild_engine.translate(TEXT, model=spec)
    assert time.monotonic() - start < 60
    assert unchanged(wild_engine, before)


def _tensor_shapes(folder: Path) -> dict[str, tuple[int, ...]]:
    from safetensors import safe_open

    with safe_open(str(folder / "adapter_model.safetensors"), framework="pt") as tensors:
        return {key: tuple(tensors.get_slice(key).get_shape()) for key in tensors.keys()}


# -- never let one visitor's adapter hurt the others ---------------------------------------------------------------


@pytest.mark.parametrize("name, config, message", [
    ("dora", dict(target_modules=["q_proj", "v_proj"], use_dora=True), "DoRA adapters"),
    ("bias", dict(target_modules=["q_proj", "v_proj"], bias="lora_only"), "overwrite the base model's biases"),
    ("pissa", dict(target_modules=["q_proj", "v_proj"], init_lora_weights="pissa"), "rewrites the base model"),
    ("olora", dict(target_modules=["q_proj", "v_proj"], init_lora_weights="olora"), "rewrites the base model"),
    ("modules-to-save", dict(target_modules=["q_proj"], modules_to_save=["lm_head"]), "modules_to_save"),
])
def test_adapters_that_would_change_the_shared_base_are_refused_before_peft_touches_it(
    name, config, message, wild_engine, hub, tiny_model_dir, tmp_path, before, monkeypatch
):
    from nllb_space.errors import AdapterError
    from nllb_space.model.slot import ModelSlot

    folder = save_peft_adapter(tiny_model_dir, tmp_path / name, **config)
    spec = publish(hub, folder, f"bad/{name}")
    attached = []
    monkeypatch.setattr(ModelSlot, "_attach", lambda self, files, pinned: attached.append(files.name))
    for request in (lambda: wild_engine.translate(TEXT, model=spec),
                    lambda: wild_engine.compare(TEXT, left="base", right=spec),
                    lambda: wild_engine.attention(SOURCES[0], model=spec, also=["base"])):
        with pytest.raises(AdapterError, match=message):
            request()
    assert attached == []  # refused in the main process, before any model call
    monkeypatch.undo()
    assert unchanged(wild_engine, before)


def test_a_config_whose_rank_disagrees_with_its_tensors_is_refused_without_allocating(
    wild_engine, hub, tiny_model_dir, tmp_path, before
):
    """``r=1e6`` with small tensors once made PEFT inject ~490 MB of layers that stayed after the failure (such a rank
    is now refused by NLLB_MAX_ADAPTER_RANK first: tests/test_hostile_adapters.py; here a rank under that limit)."""
    from nllb_space.errors import AdapterError

    folder = save_peft_adapter(tiny_model_dir, tmp_path / "huge-r", target_modules=["q_proj", "v_proj"])
    config = json.loads((folder / "adapter_config.json").read_text())
    config["r"] = 200
    (folder / "adapter_config.json").write_text(json.dumps(config))
    spec = publish(hub, folder, "huge-r")
    parameters = sum(p.numel() for p in wild_engine.load().model.parameters())
    with pytest.raises(AdapterError, match="says r=200, but the tensor .* has rank 4"):
        wild_engine.translate(TEXT, model=spec)
    assert sum(p.numel() for p in wild_engine.load().model.parameters()) == parameters
    assert unchanged(wild_engine, before)


def test_a_refused_adapter_says_why_in_spanish_too(wild_engine, hub, tiny_model_dir, tmp_path):
    from nllb_space.errors import AdapterError

    folder = save_peft_adapter(tiny_model_dir, tmp_path / "trains-bias", target_modules=["q_proj"], bias="all")
    spec = publish(hub, folder, "bad/spanish")
    with pytest.raises(AdapterError) as caught:
        wild_engine.describe(spec)
    assert str(caught.value) == (
        "This adapter trains biases (bias='all'); loading it would overwrite the base model's biases for every "
        "visitor. Only bias='none' adapters are served.")
    assert caught.value.in_language("es") == (
        "Este adaptador entrena sesgos (bias='all'); cargarlo sobrescribiría los sesgos del modelo base para todos "
        "los visitantes. Solo se sirven adaptadores con bias='none'.")


def test_a_failure_inside_a_mixed_batch_leaves_no_routing_behind(wild_engine, hub_adapters, before, monkeypatch):
    """PEFT registers per-row routing hooks for a mixed batch and removes them only if the call succeeds."""
    from peft.tuners.lora import LoraLayer

    from tests.model_fixtures import ADAPTER_REPO

    wild_engine.compare(TEXT, left="base", right=f"{ADAPTER_REPO}@main")
    layer = next(m for m in wild_engine.load().model.modules() if isinstance(m, LoraLayer))
    real = type(layer).forward

    def fails_once(self, *args, **kwargs):
        monkeypatch.setattr(type(layer), "forward", real)
        raise RuntimeError("promoteTypes with quantized numbers is not handled yet")

    monkeypatch.setattr(type(layer), "forward", fails_once)
    with pytest.raises(RuntimeError):
        wild_engine.compare(TEXT, left="base", right=f"{ADAPTER_REPO}@main")
    assert unchanged(wild_engine, before)
    assert wild_engine.compare(TEXT, left="base", right=f"{ADAPTER_REPO}@main").left.text == before["base"]


@pytest.mark.parametrize("first", [True, False], ids=["first-adapter", "another-adapter"])
def test_a_failed_attach_rolls_the_model_back_completely(first, tiny_model_dir, hub_adapters, monkeypatch):
    import peft
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer

    from nllb_space.errors import AdapterError
    from nllb_space.service.engine import Engine
    from tests.model_fixtures import ADAPTER_REPO, BRANCH

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO))
    base_text = engine.translate(TEXT).text
    if not first:
        main_text = engine.translate(TEXT, model="main").text
    model = engine.load().model
    parameters = sum(p.numel() for p in model.parameters())
    configs = set(getattr(model, "peft_config", {}))
    monkeypatch.setattr(peft, "set_peft_model_state_dict", lambda *a, **k: (_ for _ in ()).throw(
        RuntimeError("size mismatch for lora_A")))
    with pytest.raises(AdapterError, match="PEFT could not load this adapter"):
        engine.translate(TEXT, model=BRANCH)
    monkeypatch.undo()
    model = engine.load().model
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert set(getattr(model, "peft_config", {})) == configs
    if first:
        assert not isinstance(model, PeftModel) and not any(isinstance(m, LoraLayer) for m in model.modules())
    assert engine.translate(TEXT).text == base_text
    if not first:
        assert engine.translate(TEXT, model="main").text == main_text
    assert engine.translate(TEXT, model=BRANCH).text != base_text  # and the adapter loads once PEFT can


def test_a_branch_moved_between_resolve_and_model_call_serves_the_resolved_commit(
    tiny_model_dir, hub, hub_adapters, adapter_dirs
):
    """The model call carries the folder resolved for its commit; nothing fetches again under the old name."""
    from nllb_space.hub import revisions as hub_client
    from nllb_space.service.engine import Engine

    repo, branch = "tester/moving-lora", "exp/moving"
    hub_client.push_folder(adapter_dirs["a"], repo, commit_message="main")
    first_sha = hub_client.push_folder(adapter_dirs["a"], repo, branch=branch, commit_message="first").sha
    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=repo, revision_ttl_s=0, adapter_cache_size=1))
    expected = engine.translate(TEXT, model=branch)
    assert expected.model.sha == first_sha
    real_prepare, moved = engine.prepare, []

    def prepare_then_move(spec):
        prepared = real_prepare(spec)
        if spec == branch and not moved:  # resolved and downloaded; before its model call, the branch moves...
            moved.append(hub_client.push_folder(adapter_dirs["b"], repo, branch=branch, commit_message="second").sha)
            engine.translate(TEXT, model="base")
            engine.translate(TEXT, model="main")  # ...and another visitor's adapter evicts it (cache of one)
        return prepared

    engine.prepare = prepare_then_move
    again = engine.translate(TEXT, model=branch)
    assert (again.text, again.model.sha) == (expected.text, first_sha)  # re-attached from the first commit's files
    assert engine.translate(TEXT, model=branch).model.sha == moved[0]  # the next request sees the move


# -- bounded downloads, and the owner's token only for the owner's repo --------------------------------------------


def _files_fetched(hub, since: int) -> list[str]:
    return sorted({path.rsplit("/", 1)[-1] for method, path in hub.requests[since:]
                   if method == "GET" and "/resolve/" in path})


def test_only_the_adapter_files_are_fetched_from_an_over_broad_repo(wild_engine, hub, adapter_dirs):
    files = {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}
    weights = files["adapter_model.safetensors"]
    files.update({"merged/model-00001-of-00002.safetensors": weights * 4, "checkpoint-10/adapter_model.safetensors":
                  weights, "README.md": "# card\n" + "x" * 2_000_000})
    files.update({f"shards/part-{i:04d}.safetensors": b"\0" * 16 for i in range(1500)})
    hub.commit_files("stranger/over-broad", files, message="everything")
    since = len(hub.requests)
    assert wild_engine.translate(TEXT, model="stranger/over-broad@main").model.repo == "stranger/over-broad"
    # Exactly the config and the weights; the 2 MB card is skipped, the merged model and 1,501 others never asked.
    assert _files_fetched(hub, since) == ["adapter_config.json", "adapter_model.safetensors"]


def test_an_oversized_adapter_is_refused_before_it_is_downloaded(tiny_model_dir, hub, adapter_dirs):
    from nllb_space.hub import revisions as hub_client
    from nllb_space.service.engine import Engine

    hub.commit_files("stranger/too-big", {p.name: p.read_bytes() for p in adapter_dirs["b"].iterdir()})
    engine = Engine(tiny_settings(tiny_model_dir, max_adapter_mb=0.001))
    since = len(hub.requests)
    with pytest.raises(hub_client.HubError, match=r"adapter_model.safetensors is .* MB, over the 0.001 MB .*"
                                                  r"NLLB_MAX_ADAPTER_MB"):
        engine.translate(TEXT, model="stranger/too-big@main")
    assert _files_fetched(hub, since) == []


def test_the_owner_token_reads_the_owner_repo_and_nothing_a_visitor_types(tiny_model_dir, hub, adapter_dirs):
    """HF_TOKEN is set (a Space secret); the owner's private adapter repo works, another private repo does not."""
    import os

    from nllb_space.hub import revisions as hub_client
    from nllb_space.service.engine import Engine

    assert os.environ.get("HF_TOKEN")
    files = {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}
    hub.commit_files("owner/private-adapter", files, private=True)
    hub.commit_files("owner/private-other", files, private=True, message="secret-customer-acme")
    hub.create_branch("owner/private-other", "secret-customer-acme")
    owner = Engine(tiny_settings(tiny_model_dir, adapter_repo="owner/private-adapter"))
    assert owner.translate(TEXT, model="main").model.repo == "owner/private-adapter"
    assert owner.list_revisions().branches  # the configured repo is listed with the token
    for request in (lambda: owner.translate(TEXT, model="owner/private-other@main"),
                    lambda: owner.list_revisions("owner/private-other")):
        with pytest.raises(hub_client.RepoNotFound, match="read anonymously") as caught:
            request()
        assert "secret-customer-acme" not in str(caught.value) and "adapter_config" not in str(caught.value)


def test_picking_an_adapter_shows_what_it_adapts_and_why(wild_engine, hub, tiny_model_dir, tmp_path):
    from nllb_space.web.handlers import Handlers

    folder = save_peft_adapter(tiny_model_dir, tmp_path / "shown", target_modules=["q_proj", "v_proj", "o_proj"],
                               r=2, lora_alpha=16)
    spec = publish(hub, folder, "shown")
    _, message, *_ = Handlers(wild_engine).use_revision(spec, [])
    ref, plan = wild_engine.describe(spec)
    assert f"adapts <code>q\\_proj</code>, <code>v\\_proj</code> in {len(plan.modules)} layers" in message
    assert "rank 2, alpha 16" in message and f"{plan.parameters:,} trainable parameters" in message
    assert (ref.sha or "")[:7] in message and "matched nothing in NLLB" in message
