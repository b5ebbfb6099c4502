"""`python train/run.py`: LoRA training on the tiny model, scoring, the output folder, pushing by revision, errors.

Every test calls ``train.run.main(argv)`` the way the command line does (the DDP test runs the real command in a
subprocess), against the session's loopback Hub emulator.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from nllb_space.testing.pairs import PAIRS, SOURCES, TARGETS
from tests.hub_fixtures import HUB_TOKEN
from tests.model_fixtures import tiny_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAINED_REPO = "tester/nllb-train-lora"
TRAINED_BRANCH = "exp/tiny"
TRAINED_TAG = "t1"

# Small and fast: greedy, short outputs, a handful of steps.
QUICK = ["--batch-size", "8", "--eval-max-new-tokens", "12", "--logging-steps", "1", "--warmup", "0"]


@dataclass
class Run:
    """One ``main()`` call: its exit status, what it printed and logged, and its output folder."""

    status: int
    stdout: str
    stderr: str
    logs: str
    out: Path

    @property
    def metrics(self) -> dict:
        return json.loads((self.out / "metrics.json").read_text(encoding="utf-8"))


def run_main(argv: list[str], out: Path, callbacks=()) -> Run:
    """``main(argv)`` with stdout, stderr and every log record (INFO and up) captured."""
    from train.run import main

    stdout, stderr, logs = io.StringIO(), io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(logs)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = main([*argv, "--output-dir", str(out)], callbacks=callbacks)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return Run(status, stdout.getvalue(), stderr.getvalue(), logs.getvalue(), out)


@pytest.fixture(scope="module")
def pairs_tsv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "pairs.tsv"
    path.write_text("spa_Latn\tita_Latn\n" + "".join(f"{es}\t{it}\n" for es, it in PAIRS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def adaptable_base_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model made into something LoRA can adapt, like a real pretrained model.

    On the random tiny model itself a LoRA update has nothing to steer: its frozen random embeddings keep the logits
    near uniform (measured: chrF++ stays about 5 after hundreds of steps at any learning rate). So the model is first
    fully trained on PAIRS (it learns the vocabulary and the pairs), then every attention projection gets a random
    rank-2 change that wrecks its translations. Undoing a low-rank change is exactly what LoRA is for.
    """
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, DataCollatorForSeq2Seq

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_model_dir)
    model.model.encoder.layerdrop = model.model.decoder.layerdrop = 0.0
    tokenizer.src_lang, tokenizer.tgt_lang = "spa_Latn", "ita_Latn"
    encoded = tokenizer(list(SOURCES), text_target=list(TARGETS))
    batch = DataCollatorForSeq2Seq(tokenizer, model=model)([dict(zip(encoded, row)) for row in zip(*encoded.values())])
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    model.train()
    for _ in range(50):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in ("q_proj", "k_proj", "v_proj",
                                                                                   "out_proj"):
                weight = module.weight
                change = torch.randn(weight.shape[0], 2, generator=generator) @ torch.randn(
                    2, weight.shape[1], generator=generator)
                weight.add_(change * (3.0 * weight.norm() / change.norm()))
    folder = tmp_path_factory.mktemp("adaptable-nllb")
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def trained(hub, adaptable_base_dir, pairs_tsv, tmp_path_factory) -> Run:
    """One real training run on the adaptable tiny model, pushed to a branch with a tag."""
    out = tmp_path_factory.mktemp("run") / "out"
    run = run_main([
        "--base-model", str(adaptable_base_dir), "--train-file", str(pairs_tsv), "--eval-file", str(pairs_tsv),
        "--max-steps", "100", "--learning-rate", "5e-3", "--eval-steps", "50", "--seed", "0", *QUICK,
        "--eval-max-new-tokens", "32", "--logging-steps", "10",
        "--push-to-hub", "--hub-repo", TRAINED_REPO, "--hub-branch", TRAINED_BRANCH, "--hub-tag", TRAINED_TAG,
    ], out)
    assert run.status == 0, run.stderr[-3000:]
    return run


# -- training -----------------------------------------------------------------------------------------------------


def test_training_lowers_the_loss_and_raises_chrf_above_the_base_model(trained):
    metrics = trained.metrics
    losses = [loss for _, loss in metrics["loss_history"]]
    assert losses[-1] < 0.5 * losses[0]
    assert metrics["lora"]["chrf"] > metrics["base"]["chrf"] + 20
    assert metrics["lora"]["bleu"] > metrics["base"]["bleu"]
    assert metrics["training"]["steps"] == 100 and metrics["training"]["train_pairs"] == 40
    # Evaluation loss every 50 steps; the best checkpoint's adapter is the one saved (load_best_model_at_end).
    assert metrics["training"]["best_checkpoint"] in ("checkpoint-50", "checkpoint-100")
    assert metrics["training"]["best_eval_loss"] < losses[0]
    assert metrics["base"]["chrf_signature"].startswith("nrefs:1") and metrics["base"]["sentences"] == 40
    # Printed: clean-up counts, trainable vs total parameters, the scores table.
    assert "train: 40 pairs loaded; dropped 0 empty, 0 duplicate" in trained.stdout
    assert "trainable of" in trained.stdout and "frozen" in trained.stdout
    assert "chrF++" in trained.stdout and f"{metrics['lora']['chrf']:.2f}" in trained.stdout


def test_training_prints_one_readable_line_per_log_not_a_dict(trained):
    lines = trained.stdout.splitlines()
    assert not [line for line in lines if line.startswith("{")]  # Trainer's raw dicts: {'loss': '2.345', ...}
    step = r"step (\d+)/100 · epoch \d+\.\d\d · "
    logged = [int(m[1]) for line in lines if (m := re.fullmatch(step + r"loss \d+\.\d{3} · lr \d\.\de[-+]\d\d · "
                                                                 r"grad norm \S+", line))]
    assert logged == [1, *range(10, 101, 10)]  # --logging-first-step, then every --logging-steps 10
    evaluated = [int(m[1]) for line in lines if (m := re.fullmatch(step + r"eval loss \d+\.\d{3}", line))]
    assert evaluated == [50, 100]
    assert [line for line in lines if re.fullmatch(r"trained 100 steps · epoch \d+\.\d\d · mean loss \d+\.\d{3} · "
                                                   r"in \d+\.\d (s|min|h)", line)]


def test_every_lora_target_received_updates(trained):
    from safetensors.torch import load_file

    tensors = load_file(trained.out / "adapter_model.safetensors")
    b_weights = {key: value for key, value in tensors.items() if ".lora_B." in key}
    # PEFT starts every B at zero: a non-zero B was trained.
    assert b_weights and all(value.abs().sum() > 0 for value in b_weights.values())
    modules = {key.split(".lora_B.")[0].removeprefix("base_model.model.").removeprefix("model.") for key in b_weights}
    for stack, blocks in (("encoder", ("self_attn",)), ("decoder", ("self_attn", "encoder_attn"))):
        for layer in range(2):
            for block in blocks:
                for projection in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    assert f"{stack}.layers.{layer}.{block}.{projection}" in modules


def test_tokenization_puts_language_tags_where_nllb_expects_them(tiny_model_dir):
    from transformers import AutoTokenizer

    from nllb_space.training.pairs import pair_dataset
    from nllb_space.training.steps import check_language_tags, tokenize

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    example = tokenize(pair_dataset(["Hola."], ["Ciao."]), tokenizer, "fra_Latn", "deu_Latn", max_length=32)[0]
    tokens = tokenizer.convert_ids_to_tokens(example["input_ids"])
    labels = tokenizer.convert_ids_to_tokens(example["labels"])
    assert (tokens[0], tokens[-1], labels[0], labels[-1]) == ("fra_Latn", "</s>", "deu_Latn", "</s>")
    check_language_tags(example, tokenizer, "fra_Latn", "deu_Latn")
    with pytest.raises(RuntimeError, match="NLLB's layout"):
        check_language_tags(example, tokenizer, "spa_Latn", "deu_Latn")


# -- output folder, card, push ------------------------------------------------------------------------------------


def test_output_folder_holds_adapter_metrics_and_a_valid_card(trained):
    from nllb_space.hub.card import validate_card

    names = {p.name for p in trained.out.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "metrics.json", "README.md", "checkpoints"} <= names
    card = (trained.out / "README.md").read_text(encoding="utf-8")
    metadata = validate_card(card)
    assert metadata["language"] == ["es", "it"] and metadata["library_name"] == "peft"
    values = {m["type"]: m["value"] for m in metadata["model-index"][0]["results"][0]["metrics"]}
    lora = trained.metrics["lora"]
    assert values == {"bleu": round(lora["bleu"], 2), "chrf": round(lora["chrf"], 2)}
    assert f"NLLB_ADAPTER_REPO={TRAINED_REPO} NLLB_ADAPTER_REVISION={TRAINED_TAG}" in card
    # Evaluation data of its own: nothing is held out, and the card says where every pair went.
    assert "- train pairs: 40\n- train data: 40 pairs loaded; dropped 0 empty, 0 duplicate" in card
    assert "-> 40 kept\n- eval pairs: 40\n- eval data: 40 pairs loaded; dropped 0 empty -> 40 kept\n" in card
    adapter_config = json.loads((trained.out / "adapter_config.json").read_text())
    assert sorted(adapter_config["target_modules"]) == ["k_proj", "out_proj", "q_proj", "v_proj"]
    assert (adapter_config["r"], adapter_config["lora_alpha"]) == (16, 32)


def test_push_makes_one_tagged_commit_on_the_branch_and_prints_the_app_line(trained, hub):
    sha = hub.resolve(TRAINED_REPO, TRAINED_TAG)
    assert hub.resolve(TRAINED_REPO, TRAINED_BRANCH) == sha
    assert f"commit {sha}" in trained.stdout
    assert f"NLLB_ADAPTER_REPO={TRAINED_REPO} NLLB_ADAPTER_REVISION={TRAINED_TAG}" in trained.stdout.splitlines()
    for name in ("adapter_config.json", "adapter_model.safetensors", "README.md", "metrics.json"):
        assert hub.file_content(TRAINED_REPO, name, TRAINED_TAG) == (trained.out / name).read_bytes()
    with pytest.raises(KeyError):  # checkpoints (optimizer states) never leave the machine
        hub.file_content(TRAINED_REPO, "checkpoints/checkpoint-100/adapter_model.safetensors", TRAINED_TAG)


def test_pushed_tag_loads_with_peft_and_the_app_engine_like_the_local_adapter(trained, adaptable_base_dir):
    from peft import PeftModel
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from nllb_space.model.slot import Decoding
    from nllb_space.service.engine import Engine
    from nllb_space.training.evaluation import BASE_NAME, Scorer

    tokenizer = AutoTokenizer.from_pretrained(adaptable_base_dir)
    sentences = list(SOURCES[:6])
    decoding = Decoding(num_beams=1, max_new_tokens=24)

    def outputs(adapter=None, **kwargs) -> list[str]:
        model, name = AutoModelForSeq2SeqLM.from_pretrained(adaptable_base_dir), BASE_NAME
        if adapter:  # loaded the way a PEFT user loads it, under PEFT's default name
            model, name = PeftModel.from_pretrained(model, adapter, **kwargs), "default"
        return Scorer.around(model, tokenizer, decoding, batch_size=8).translate(sentences, "spa_Latn", "ita_Latn",
                                                                                  name)

    local = outputs(str(trained.out))
    assert outputs(TRAINED_REPO, revision=TRAINED_TAG) == local
    assert local != outputs()  # the adapter changes the translations, so "the same outputs" means something

    engine = Engine(tiny_settings(adaptable_base_dir, adapter_repo=TRAINED_REPO, adapter_revision=TRAINED_TAG))
    engine.load()
    assert engine.adapter_error is None
    served = [engine.translate(s, "spa_Latn", "ita_Latn", model=TRAINED_TAG).text for s in sentences]
    assert served == local


def test_the_token_never_appears_in_output_logs_or_files(trained):
    for text in (trained.stdout, trained.stderr, trained.logs):
        assert HUB_TOKEN not in text
    for path in trained.out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".md", ".txt"):
            assert HUB_TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path


# -- failures -------------------------------------------------------------------------------------------------------


def quick_run(model_dir: Path, data: Path, out: Path, *extra: str, callbacks=()) -> Run:
    return run_main(["--base-model", str(model_dir), "--train-file", str(data), "--eval-file", str(data),
                     "--learning-rate", "5e-3", *QUICK, *extra], out, callbacks=callbacks)


def test_failed_push_keeps_the_output_and_push_only_retries(hub, tiny_model_dir, pairs_tsv, tmp_path, monkeypatch):
    repo = "tester/nllb-flaky"
    out = tmp_path / "out"
    hub.fail(r"/api/models/tester/nllb-flaky/commit/", status=403)
    try:
        run = quick_run(tiny_model_dir, pairs_tsv, out, "--max-steps", "2", "--eval-steps", "2",
                        "--push-to-hub", "--hub-repo", repo, "--hub-tag", "v1")
    finally:
        hub.clear_faults()  # never leave a fault behind for other tests of the session
    assert run.status == 1
    assert "push failed" in run.stderr and "403" in run.stderr
    assert f"--push-only --output-dir {out} --hub-repo {repo} --hub-tag v1" in run.stderr
    for name in ("adapter_config.json", "adapter_model.safetensors", "metrics.json", "README.md"):
        assert (out / name).is_file()

    monkeypatch.setenv("HF_TOKEN", "hf_notTheRightToken")  # the Hub refuses it: another failure, same folder
    refused = run_main(["--push-only", "--hub-repo", repo, "--hub-tag", "v1"], out)
    assert refused.status == 1 and "401" in refused.stderr
    assert "hf_notTheRightToken" not in refused.stderr + refused.stdout + refused.logs
    monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)

    retried = run_main(["--push-only", "--hub-repo", repo, "--hub-tag", "v1"], out)
    assert retried.status == 0, retried.stderr
    sha = hub.resolve(repo, "v1")
    assert f"commit {sha}" in retried.stdout
    assert f"NLLB_ADAPTER_REPO={repo} NLLB_ADAPTER_REVISION=v1" in retried.stdout
    assert hub.file_content(repo, "adapter_model.safetensors", "v1") == (out / "adapter_model.safetensors").read_bytes()
    assert HUB_TOKEN not in run.stdout + run.stderr + run.logs + retried.stdout + retried.stderr + retried.logs
    # Once v1 exists, a push with --hub-tag v1 fails before uploading, and the retry it offers uses a new tag.
    again = run_main(["--push-only", "--hub-repo", repo, "--hub-tag", "v1"], out)
    assert again.status == 1 and "already exists" in again.stderr
    assert f"--push-only --output-dir {out} --hub-repo {repo} --hub-tag v2" in again.stderr


def test_interrupted_run_resumes_from_its_last_checkpoint(tiny_model_dir, pairs_tsv, tmp_path):
    from transformers import TrainerCallback

    class InterruptAtStep3(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise KeyboardInterrupt

    class FirstStep(TrainerCallback):
        step: int | None = None

        def on_step_begin(self, args, state, control, **kwargs):
            if self.step is None:
                self.step = state.global_step

    out = tmp_path / "out"
    argv = ["--max-steps", "5", "--eval-steps", "2"]
    first = quick_run(tiny_model_dir, pairs_tsv, out, *argv, callbacks=[InterruptAtStep3()])
    assert first.status == 130 and "--resume-from-checkpoint last" in first.stderr
    assert not (out / "adapter_model.safetensors").exists()

    refused = quick_run(tiny_model_dir, pairs_tsv, out, *argv)  # a new run must not mix into the old one
    assert refused.status == 2 and "--overwrite" in refused.stderr

    recorder = FirstStep()
    resumed = quick_run(tiny_model_dir, pairs_tsv, out, *argv, "--resume-from-checkpoint", "last",
                        callbacks=[recorder])
    assert resumed.status == 0, resumed.stderr[-2000:]
    assert f"Resuming from {out / 'checkpoints' / 'checkpoint-2'}" in resumed.stdout
    assert recorder.step == 2  # continued after the checkpoint, not from scratch
    assert resumed.metrics["training"]["steps"] == 5


def test_overwrite_replaces_a_previous_run(tiny_model_dir, pairs_tsv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    run = quick_run(tiny_model_dir, pairs_tsv, out, "--max-steps", "1", "--eval-steps", "1", "--overwrite")
    assert run.status == 0, run.stderr[-2000:]
    assert run.metrics["training"]["steps"] == 1
    assert (out / "notes.txt").read_text() == "mine"  # only the run's own files are replaced


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--hub-tag", "v1"], "--hub-tag needs --push-to-hub"),
        (["--push-to-hub"], "--push-to-hub needs --hub-repo"),
        (["--src-lang", "spa_Latin"], "--src-lang: "),
        (["--tgt-lang", "Spanish"], "--src-lang and --tgt-lang are both spa_Latn"),
        (["--lora-r", "0"], "--lora-r must be at least 1"),
        (["--revision", "v1"], "--revision needs --adapter"),
        (["--source-file", "a.txt"], "--source-file and --target-file go together"),
        (["--eval-share", "1.5"], "--eval-share must be between 0 and 1"),
        (["--overwrite", "--resume-from-checkpoint", "last"], "--overwrite would delete the checkpoints"),
        (["--hub-token", "hf_typedInTheShell"], "--hub-token is not used here: the token comes from HF_TOKEN"),
        (["--hub-model-id", "me/x"], "--hub-model-id is not used here: give --hub-repo"),
        (["--hub_private_repo", "true"], "--hub-private-repo is not used here: give --private"),
        (["--save-steps=100"], "--save-steps is not used here: a checkpoint is saved at each --eval-steps"),
        (["--bf16"], "--bf16 is not used here: give --precision bf16"),
        (["--generation-num-beams", "4"], "--generation-num-beams is not used here: give --eval-beams"),
    ],
)
def test_bad_flags_fail_naming_the_flag(extra, message, pairs_tsv, tmp_path):
    run = run_main(["--train-file", str(pairs_tsv), *extra], tmp_path / "out")
    assert run.status == 2
    assert message in run.stderr
    assert "hf_typedInTheShell" not in run.stderr + run.stdout


def test_unknown_language_suggests_the_code(pairs_tsv, tmp_path):
    run = run_main(["--train-file", str(pairs_tsv), "--src-lang", "spa_Latin"], tmp_path / "out")
    assert run.status == 2 and "spa_Latn" in run.stderr


def test_o_proj_target_fails_naming_out_proj(tiny_model_dir, pairs_tsv, tmp_path):
    run = quick_run(tiny_model_dir, pairs_tsv, tmp_path / "out", "--max-steps", "1",
                    "--lora-targets", "q_proj,k_proj,v_proj,o_proj")
    assert run.status == 1
    assert "o_proj" in run.stderr and "'out_proj', not 'o_proj'" in run.stderr


def test_non_empty_output_dir_needs_overwrite(tiny_model_dir, pairs_tsv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("x")
    run = quick_run(tiny_model_dir, pairs_tsv, out, "--max-steps", "1")
    assert run.status == 2 and "is not empty" in run.stderr and "--overwrite" in run.stderr


def test_misaligned_files_and_missing_columns_fail_with_what_was_found(tiny_model_dir, tmp_path):
    src, tgt = tmp_path / "train.spa", tmp_path / "train.ita"
    src.write_text("uno\ndos\ntres\n", encoding="utf-8")
    tgt.write_text("uno\ndue\n", encoding="utf-8")
    run = run_main(["--base-model", str(tiny_model_dir), "--source-file", str(src), "--target-file", str(tgt)],
                   tmp_path / "out1")
    assert run.status == 1 and f"{src} has 3 lines" in run.stderr and f"{tgt} has 2" in run.stderr

    table = tmp_path / "wrong.csv"
    table.write_text("english,german\nhello,hallo\n", encoding="utf-8")
    run = run_main(["--base-model", str(tiny_model_dir), "--train-file", str(table)], tmp_path / "out2")
    assert run.status == 1 and "columns found: english, german" in run.stderr


def test_hub_dataset_with_train_and_validation_splits(hub, tiny_model_dir, tmp_path):
    def jsonl(pairs) -> str:
        return "".join(json.dumps({"translation": {"es": es, "it": it}}, ensure_ascii=False) + "\n" for es, it in pairs)

    hub.commit_files("tester/opus-mini-es-it", {"data/train.jsonl": jsonl(PAIRS[:30]),
                                                "data/validation.jsonl": jsonl(PAIRS[30:])}, repo_type="dataset")
    run = run_main(["--base-model", str(tiny_model_dir), "--dataset", "tester/opus-mini-es-it",
                    "--eval-split", "validation", "--max-steps", "1", "--eval-steps", "1", *QUICK], tmp_path / "out")
    assert run.status == 0, run.stderr[-2000:]
    assert run.metrics["training"]["train_pairs"] == 30 and run.metrics["base"]["sentences"] == 10
    assert run.metrics["eval_set"] == "tester/opus-mini-es-it (validation)"
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "datasets:\n- tester/opus-mini-es-it" in card and "type: tester/opus-mini-es-it" in card


def test_eval_only_scores_base_against_a_hub_adapter(trained, adaptable_base_dir, pairs_tsv, tmp_path):
    out = tmp_path / "eval"
    run = run_main(["--eval-only", "--base-model", str(adaptable_base_dir), "--eval-file", str(pairs_tsv),
                    "--adapter", TRAINED_REPO, "--revision", TRAINED_TAG, "--eval-max-new-tokens", "32"], out)
    assert run.status == 0, run.stderr[-2000:]
    assert run.metrics["base"] == trained.metrics["base"]
    assert run.metrics["lora"] == trained.metrics["lora"]  # same adapter, same data, same decoding
    assert set(os.listdir(out)) == {"metrics.json"}


def test_eval_only_in_int8_scores_close_to_float32(trained, adaptable_base_dir, pairs_tsv, tmp_path):
    """--eval-dtype int8 scores the app's CPU path: same adapter, near the float32 scores, not identical weights."""
    out = tmp_path / "eval-int8"
    run = run_main(["--eval-only", "--eval-dtype", "int8", "--base-model", str(adaptable_base_dir),
                    "--eval-file", str(pairs_tsv), "--adapter", TRAINED_REPO, "--revision", TRAINED_TAG,
                    "--eval-max-new-tokens", "32"], out)
    assert run.status == 0, run.stderr[-2000:]
    float_chrf, int8_chrf = trained.metrics["lora"]["chrf"], run.metrics["lora"]["chrf"]
    assert abs(int8_chrf - float_chrf) < 0.25 * float_chrf
    assert run.metrics["lora"]["chrf"] > run.metrics["base"]["chrf"]


def test_eval_only_with_the_output_layer_cut_like_the_app(trained, adaptable_base_dir, pairs_tsv, tmp_path):
    """--restrict-vocab scores what NLLB_RESTRICT_VOCAB serves; the tiny tokenizer is all Latin, so nothing changes."""
    args = ["--eval-only", "--base-model", str(adaptable_base_dir), "--eval-file", str(pairs_tsv),
            "--adapter", TRAINED_REPO, "--revision", TRAINED_TAG, "--eval-max-new-tokens", "32"]
    run = run_main([*args, "--restrict-vocab"], tmp_path / "eval-cut")
    assert run.status == 0, run.stderr[-2000:]
    assert re.search(r"Output layer for ita_Latn cut to ([\d,]+) of \1 tokens \(scripts Latn, Zyyy, Zinh\)", run.logs)
    assert run.metrics["lora"] == trained.metrics["lora"] and run.metrics["base"] == trained.metrics["base"]
    refused = run_main(["--restrict-vocab", "--base-model", str(adaptable_base_dir), "--train-file", str(pairs_tsv)],
                       tmp_path / "train-cut")
    assert refused.status != 0 and "--restrict-vocab is for --eval-only" in refused.stderr


# -- the console of the real command ------------------------------------------------------------------------------


def test_the_command_line_console_is_readable_and_its_pair_counts_add_up(hub, tiny_model_dir, tmp_path):
    """What a user reads running ``python train/run.py``: readable log lines, no HTTP chatter, and pair counts that
    add up from the pairs loaded to the pairs trained on, in the console and in the card."""
    src, tgt, out = tmp_path / "train.spa", tmp_path / "train.ita", tmp_path / "out"
    # 40 pairs, an empty one and a repeat: 42 loaded, 40 kept, 4 of them (--eval-share 0.1) held out to score.
    src.write_text("".join(f"{s}\n" for s in (*SOURCES, "", SOURCES[0])), encoding="utf-8")
    tgt.write_text("".join(f"{t}\n" for t in (*TARGETS, "Vuoto.", TARGETS[0])), encoding="utf-8")
    command = [sys.executable, "train/run.py", "--base-model", str(tiny_model_dir), "--source-file", str(src),
               "--target-file", str(tgt), "--eval-share", "0.1", "--output-dir", str(out), *QUICK,
               "--max-steps", "4", "--eval-steps", "2", "--logging-steps", "2",
               "--push-to-hub", "--hub-repo", "tester/nllb-console"]  # a push: the Hub client's HTTP requests
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    console, lines = done.stdout + done.stderr, done.stdout.splitlines()
    assert "HTTP Request:" not in console
    assert "{'loss'" not in console and "{'eval_loss'" not in console and "{'train_runtime'" not in console
    assert [line for line in lines if re.fullmatch(r"step 2/4 · epoch \d+\.\d\d · loss \d+\.\d{3} · lr \S+ · .*", line)]
    assert [line for line in lines if re.fullmatch(r"step 4/4 · epoch \d+\.\d\d · eval loss \d+\.\d{3}", line)]

    counts = ("42 pairs loaded; dropped 1 empty, 1 duplicate, 0 over 256 tokens, 0 with length ratio over 3 "
              "-> 40 kept; 4 held out for evaluation -> 36 to train on")
    assert f"train: {counts}" in lines
    assert "eval: 4 pairs held out of the training pairs; dropped 0 empty -> 4 kept" in lines
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"- train pairs: 36\n- train data: {counts}\n" in card
    assert "- eval pairs: 4\n- eval data: 4 pairs held out of the training pairs; dropped 0 empty -> 4 kept\n" in card
    # The card's numbers add up, read as a reader reads them.
    loaded, empty, duplicate, long, ratio, kept, held, trained_on = map(int, re.search(
        r"- train data: (\d+) pairs loaded; dropped (\d+) empty, (\d+) duplicate, (\d+) over \d+ tokens, (\d+) with "
        r"length ratio over \S+ -> (\d+) kept; (\d+) held out for evaluation -> (\d+) to train on", card).groups())
    assert loaded - empty - duplicate - long - ratio == kept and kept - held == trained_on == 36
    assert int(re.search(r"- train pairs: (\d+)", card)[1]) == trained_on
    assert int(re.search(r"- eval pairs: (\d+)", card)[1]) == held


def test_help_lists_each_flag_once_with_defaults_that_say_something(capsys, monkeypatch):
    from train.run import main

    monkeypatch.setenv("COLUMNS", "250")  # one line per flag's help: the assertions read whole sentences
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--base-model BASE_MODEL" in text and "--base_model" not in text  # --snake_case still parses, unlisted
    assert "--per-device-train-batch-size, --batch-size PER_DEVICE_TRAIN_BATCH_SIZE" in text
    assert re.search(r"\n  --eval-only +Only score", text) and "[EVAL_ONLY]" not in text  # a switch takes no value
    assert "(default: None)" not in text and "(default: [])" not in text
    revision = re.search(r"\n  --revision .*", text)[0]
    assert revision.count("default") == 1, revision  # the help's own "(default main)", not a second "(default: None)"
    assert re.search(r"\n  --no-logging-first-step\s+Turn --logging-first-step off\.\n", text)
    assert "(default: 0.0002)" in text and "(default: 256)" in text
    for refused in ("--hub-token", "--hub-model-id", "--hub-strategy", "--save-steps", "--generation-num-beams",
                    "--bf16 "):
        assert refused not in text, refused


# -- several processes --------------------------------------------------------------------------------------------


def test_two_process_ddp_run_completes_and_pushes_once(hub, tiny_model_dir, pairs_tsv, tmp_path):
    out = tmp_path / "out"
    repo = "tester/nllb-ddp"
    eval_tsv = tmp_path / "eval.tsv"  # a few pairs: the processes' start-up already costs most of this test
    eval_tsv.write_text("".join(f"{es}\t{it}\n" for es, it in PAIRS[:6]), encoding="utf-8")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train/run.py",
        "--base-model", str(tiny_model_dir), "--train-file", str(pairs_tsv), "--eval-file", str(eval_tsv),
        "--output-dir", str(out), "--max-steps", "3", "--eval-steps", "3", *QUICK, "--batch-size", "4",
        "--push-to-hub", "--hub-repo", repo,
    ]
    # The emulator's HF_ENDPOINT/HF_TOKEN/HF_HOME are in os.environ (tests/conftest.py); one thread per process.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["training"]["steps"] == 3
    assert metrics["training"]["batch_size"] == 8  # 4 per process x 2 processes
    app_lines = [line for line in done.stdout.splitlines() if line.startswith("NLLB_ADAPTER_REPO=")]
    assert app_lines == [f"NLLB_ADAPTER_REPO={repo} NLLB_ADAPTER_REVISION={hub.resolve(repo, 'main')}"]
    assert HUB_TOKEN not in done.stdout + done.stderr


def test_the_trainer_scores_a_downloaded_commit_while_the_hub_is_down(hub, hub_adapters):
    """Its user's own machine and token: a full sha downloaded before is used as given (the app never does this for a
    repo it could not check, tests/test_private_adapters.py)."""
    from nllb_space.hub import revisions as hub_client
    from nllb_space.training.steps import fetch_adapter

    sha = hub_adapters["main"]
    folder, _, _ = fetch_adapter("tester/nllb-lora", sha)
    hub.fail(r".*", status=503, times=10_000)
    try:
        assert fetch_adapter("tester/nllb-lora", sha)[0] == folder
        with pytest.raises(hub_client.HubUnavailable):
            fetch_adapter("tester/nllb-lora", "main")  # a name can't be resolved without the Hub
    finally:
        hub.clear_faults()
