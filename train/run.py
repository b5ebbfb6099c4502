"""Fine-tune LoRA adapters for NLLB-200 on parallel data, score them against the base model, push them by revision.

    config -> data (load, clean) -> LoRA on q/k/v/out_proj -> score base -> Seq2SeqTrainer -> score LoRA
           -> adapter + metrics.json + model card in --output-dir -> (--push-to-hub) one commit on a branch, tagged

Quick local run (CPU is fine: a few steps on the Spanish-Italian pool, 40 held-out pairs scored):

    python train/run.py \\
        --source-file ../shared/data/train_pool/train_pool.spa --target-file ../shared/data/train_pool/train_pool.ita \\
        --max-steps 20 --batch-size 8 --eval-steps 10 --max-eval-pairs 40 --output-dir runs/quick --overwrite

Full run on a GPU (bf16/fp16 picked automatically), scored on FLORES-200 dev with 4 beams, pushed to a branch
and tagged; several GPUs: replace ``python`` by ``accelerate launch`` or ``torchrun --nproc_per_node N``:

    python train/run.py \\
        --source-file ../shared/data/train_pool/train_pool.spa --target-file ../shared/data/train_pool/train_pool.ita \\
        --eval-source-file ../shared/data/flores200/dev.spa_Latn \\
        --eval-target-file ../shared/data/flores200/dev.ita_Latn \\
        --epochs 3 --batch-size 32 --eval-beams 4 --output-dir runs/spa-ita-r16 \\
        --push-to-hub --hub-repo YOU/nllb-600m-spa-ita-lora --hub-branch exp/r16 --hub-tag v1

Score the base model against an existing adapter (a Hub repo at a revision, or a local folder) on FLORES-200 dev:

    python train/run.py --eval-only --adapter YOU/nllb-600m-spa-ita-lora --revision v1 \\
        --eval-source-file ../shared/data/flores200/dev.spa_Latn \\
        --eval-target-file ../shared/data/flores200/dev.ita_Latn --eval-beams 4 --output-dir runs/eval-v1

Retry a failed push without training again:

    python train/run.py --push-only --output-dir runs/spa-ita-r16 --hub-repo YOU/nllb-600m-spa-ita-lora --hub-tag v1

Other data: ``--dataset NAME [--dataset-config CFG] [--split train] [--eval-split validation]`` (OPUS-style
``translation`` rows or one column per language, ``--source-column/--target-column`` otherwise) or ``--train-file``
/``--eval-file`` (.tsv, .csv, .jsonl). ``python train/run.py --help`` lists every flag with its default.

The output directory holds ``adapter_config.json`` + ``adapter_model.safetensors`` (the adapter), ``metrics.json``
(BLEU/chrF++ of base and LoRA with sacreBLEU signatures, and how it was trained), ``README.md`` (the model card) and
``checkpoints/`` (Trainer checkpoints for ``--resume-from-checkpoint``; never pushed). The Hub token comes from
``HF_TOKEN`` or ``hf auth login``'s cache and is never printed.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import logging
import shutil
import sys
import tempfile
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

# `python train/run.py` puts train/ (not the repo root) first on sys.path: make `nllb_space` and `train` importable,
# and keep this folder's data.py from shadowing any top-level module named `data`.
_REPO_ROOT = str(Path(__file__).resolve().parents[1])
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = _REPO_ROOT
elif _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from nllb_space import hub  # noqa: E402
from nllb_space.card import DEFAULT_LICENSE, RunReport, commit_summary, render_card, validate_card  # noqa: E402
from nllb_space.errors import UserFacingError  # noqa: E402
from nllb_space.languages import UnknownLanguageError, resolve_language  # noqa: E402
from nllb_space.lora import LoraSettings  # noqa: E402
from train.data import (  # noqa: E402
    TABLE_SUFFIXES, DataError, clean_pairs, hold_out, load_hub_dataset, load_table, load_text_pair, overlap,
)
from nllb_space.slot import Decoding  # noqa: E402
from train.evaluation import Scorer, scores_text  # noqa: E402

logger = logging.getLogger("train.run")

_LORA = LoraSettings()  # the LoRA defaults live in nllb_space.lora (shared with the app's adapter checks)
PUSHED_FILES = ("adapter_config.json", "adapter_model.safetensors", "README.md", "metrics.json")
"""What a push uploads from the output directory (never checkpoints/, which hold optimizer states)."""
RUN_OUTPUTS = (*PUSHED_FILES, "checkpoints")
"""What --overwrite deletes from the output directory before training; anything else there is left alone."""


class ConfigError(ValueError):
    """A flag, or a combination of flags, cannot work; the message names the flag."""


@dataclass
class TrainConfig:
    """Everything one run does; every field is the command-line flag of the same name (``--lora-r`` is lora_r)."""

    # -- model and languages
    base_model: str = "facebook/nllb-200-distilled-600M"
    """Hub id or local folder of the NLLB-200 checkpoint to adapt (safetensors, or pytorch_model.bin as published)."""
    base_revision: str = "main"
    """Branch, tag, commit or refs/pr/N of a Hub --base-model (its safetensors are used when it has them)."""
    base_model_name: str | None = None
    """Hub id recorded as the adapter's base (adapter_config.json, card) when --base-model is a local copy of it."""
    src_lang: str = "spa_Latn"
    """Source language: FLORES-200 code (spa_Latn) or English name."""
    tgt_lang: str = "ita_Latn"
    """Target language: FLORES-200 code (ita_Latn) or English name."""
    # -- training data (one of: --dataset, --train-file, --source-file with --target-file)
    dataset: str | None = None
    """Hub dataset id (or local dataset folder) with the training pairs."""
    dataset_config: str | None = None
    """Configuration (subset) of --dataset, e.g. es-it."""
    split: str = "train"
    """Split of --dataset to train on."""
    eval_split: str | None = None
    """Split of --dataset to evaluate on (default: hold out --eval-share of the training data)."""
    source_column: str | None = None
    """Column (or 'translation' key) holding the source sentences, when not named by language."""
    target_column: str | None = None
    """Column (or 'translation' key) holding the target sentences."""
    train_file: str | None = None
    """Training pairs in a .tsv, .csv or .jsonl file."""
    source_file: str | None = None
    """Plain-text training sources, one sentence per line (with --target-file)."""
    target_file: str | None = None
    """Plain-text training targets, line-aligned with --source-file."""
    # -- evaluation data
    eval_file: str | None = None
    """Evaluation pairs in a .tsv, .csv or .jsonl file."""
    eval_source_file: str | None = None
    """Plain-text evaluation sources (with --eval-target-file)."""
    eval_target_file: str | None = None
    """Plain-text evaluation references, line-aligned with --eval-source-file."""
    eval_share: float = 0.05
    """Share of the training pairs held out for evaluation when no evaluation data is given."""
    max_eval_pairs: int = 500
    """Upper limit on the held-out evaluation pairs (generation on thousands of pairs takes a while)."""
    # -- clean-up
    max_length: int = 256
    """Pairs with a side longer than this many tokens are dropped (not truncated into misaligned halves)."""
    max_length_ratio: float = 3.0
    """Pairs whose longer side has more than this times the tokens of the shorter are dropped (misalignments)."""
    # -- LoRA (defaults: nllb_space.lora.LoraSettings)
    lora_r: int = _LORA.r
    """LoRA rank."""
    lora_alpha: int = _LORA.alpha
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = _LORA.dropout
    """Dropout on the LoRA input."""
    lora_targets: tuple[str, ...] = _LORA.targets
    """Comma-separated module names to adapt; NLLB's attention output is out_proj (o_proj matches nothing)."""
    # -- optimisation
    learning_rate: float = 2e-4
    """Peak learning rate (LoRA trains well about 10x higher than full fine-tuning)."""
    epochs: float = 3.0
    """Passes over the training data (ignored when --max-steps is given)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps."""
    batch_size: int = 16
    """Pairs per device per step."""
    gradient_accumulation: int = 1
    """Steps whose gradients are summed before an update (effective batch = batch x this x devices)."""
    warmup: float = 0.03
    """Learning-rate warm-up: a share of the steps if below 1, else a number of steps."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    seed: int = 42
    """Seed of the LoRA initialisation, the data order and the held-out split."""
    precision: str = "auto"
    """auto (bf16 on GPUs that support it, else fp16 on GPU, fp32 on CPU), bf16, fp16 or fp32."""
    # -- output and checkpoints
    output_dir: str = "runs/nllb-lora"
    """Where the adapter, metrics.json, README.md and checkpoints/ go."""
    overwrite: bool = False
    """Replace the run in a non-empty --output-dir (deletes its checkpoints, adapter, metrics and card)."""
    eval_steps: int = 200
    """Compute the evaluation loss and save a checkpoint every this many steps; the best one is kept and used."""
    logging_steps: int = 25
    """Log the training loss every this many steps."""
    save_total_limit: int = 2
    """Checkpoints kept besides the best one."""
    resume_from_checkpoint: str | None = None
    """Continue an interrupted run: a checkpoint folder, or 'last' for the newest in --output-dir/checkpoints."""
    report_to: str = "none"
    """Experiment tracker for Trainer logs (none, tensorboard, wandb, trackio ...)."""
    # -- evaluation
    eval_beams: int = 1
    """Beam size for scoring base and LoRA (1 = greedy; 4 matches the app's default)."""
    eval_max_new_tokens: int = 256
    """Generation length limit for scoring."""
    eval_batch_size: int = 32
    """Sentences per generate call (and per evaluation-loss batch)."""
    eval_only: bool = False
    """Only score the base model (and --adapter, if given) on the evaluation data; no training."""
    eval_dtype: str = "float32"
    """With --eval-only: weights to score with, float32 or int8 (the app's CPU path; shows what int8 costs)."""
    restrict_vocab: bool = False
    """With --eval-only: score with the output layer cut to the target's script, as NLLB_RESTRICT_VOCAB serves."""
    adapter: str | None = None
    """With --eval-only: Hub repo id or local folder of a LoRA adapter to score against the base model."""
    revision: str | None = None
    """With --adapter: branch, tag or commit sha of the adapter repo (default: main)."""
    # -- Hub
    push_to_hub: bool = False
    """Push the adapter, metrics.json and the card to --hub-repo after training."""
    push_only: bool = False
    """Push an existing --output-dir (e.g. after a failed push) without training."""
    hub_repo: str | None = None
    """Model repo to push to, OWNER/NAME (created if missing)."""
    hub_branch: str | None = None
    """Branch to commit to (created from main if missing; default: main)."""
    hub_tag: str | None = None
    """Tag to put on the pushed commit (must not exist yet)."""
    private: bool = False
    """Create --hub-repo as a private repo (only applies when it does not exist yet)."""
    license: str = DEFAULT_LICENSE
    """License in the model card (NLLB-200's weights are CC-BY-NC 4.0)."""

    def __post_init__(self) -> None:
        for flag in ("src_lang", "tgt_lang"):
            try:
                setattr(self, flag, resolve_language(getattr(self, flag)))
            except UnknownLanguageError as error:
                raise ConfigError(f"--{_flag(flag)}: {error}") from None
        if self.src_lang == self.tgt_lang:
            raise ConfigError(f"--src-lang and --tgt-lang are both {self.src_lang}: pick two different languages.")
        try:
            self.lora_settings()
        except ValueError as error:
            raise ConfigError(str(error)) from None
        self._check_modes()
        self._check_data()
        self._check_numbers()

    def lora_settings(self) -> LoraSettings:
        return LoraSettings(r=self.lora_r, alpha=self.lora_alpha, dropout=self.lora_dropout,
                            targets=tuple(self.lora_targets))

    def _check_modes(self) -> None:
        pushing = self.push_to_hub or self.push_only
        for flag in ("hub_tag", "hub_branch", "hub_repo", "private"):
            if getattr(self, flag) and not pushing:
                raise ConfigError(f"--{_flag(flag)} needs --push-to-hub (or --push-only).")
        if pushing and not self.hub_repo:
            raise ConfigError(f"--{'push-only' if self.push_only else 'push-to-hub'} needs --hub-repo OWNER/NAME.")
        if self.hub_repo and (self.hub_repo.count("/") != 1 or not all(self.hub_repo.split("/"))):
            raise ConfigError(f"--hub-repo must be OWNER/NAME, got {self.hub_repo!r}.")
        if self.push_only and (self.push_to_hub or self.eval_only or self.resume_from_checkpoint or self.overwrite):
            raise ConfigError("--push-only pushes an existing --output-dir: drop --push-to-hub, --eval-only, "
                              "--resume-from-checkpoint and --overwrite.")
        if self.eval_only and (self.push_to_hub or self.resume_from_checkpoint):
            raise ConfigError("--eval-only trains nothing: drop --push-to-hub and --resume-from-checkpoint.")
        if self.eval_dtype not in ("float32", "int8"):
            raise ConfigError(f"--eval-dtype must be float32 or int8, got {self.eval_dtype!r}.")
        if self.eval_dtype == "int8" and not self.eval_only:
            raise ConfigError("--eval-dtype int8 is for --eval-only: training needs float weights.")
        if self.restrict_vocab and not self.eval_only:
            raise ConfigError("--restrict-vocab is for --eval-only: it measures what NLLB_RESTRICT_VOCAB costs.")
        if self.adapter and not self.eval_only:
            raise ConfigError("--adapter is for --eval-only (scoring an existing adapter).")
        if self.revision and not self.adapter:
            raise ConfigError("--revision needs --adapter REPO.")
        if self.overwrite and self.resume_from_checkpoint:
            raise ConfigError("--overwrite would delete the checkpoints --resume-from-checkpoint continues from.")
        if self.precision not in ("auto", "bf16", "fp16", "fp32"):
            raise ConfigError(f"--precision must be auto, bf16, fp16 or fp32, got {self.precision!r}.")

    def _check_data(self) -> None:
        if bool(self.source_file) != bool(self.target_file):
            raise ConfigError("--source-file and --target-file go together: give both.")
        if bool(self.eval_source_file) != bool(self.eval_target_file):
            raise ConfigError("--eval-source-file and --eval-target-file go together: give both.")
        if bool(self.source_column) != bool(self.target_column):
            raise ConfigError("--source-column and --target-column go together: give both.")
        if (self.dataset_config or self.eval_split) and not self.dataset:
            raise ConfigError("--dataset-config and --eval-split need --dataset.")
        for flag in ("train_file", "eval_file"):
            path = getattr(self, flag)
            if path and Path(path).suffix.lower() not in TABLE_SUFFIXES:
                raise ConfigError(f"--{_flag(flag)} must be a {', '.join(TABLE_SUFFIXES)} file, got {path}; use "
                                  "--source-file/--target-file for plain text, one sentence per line.")
        evals = [bool(self.eval_file), bool(self.eval_source_file), bool(self.eval_split)]
        if sum(evals) > 1:
            raise ConfigError("Give evaluation data one way: --eval-file, --eval-source-file/--eval-target-file "
                              "or --eval-split.")
        if self.push_only:
            return
        trains = [bool(self.dataset), bool(self.train_file), bool(self.source_file)]
        if self.eval_only:
            if not any(evals):
                raise ConfigError("--eval-only needs evaluation data: --eval-file, --eval-source-file/"
                                  "--eval-target-file, or --dataset with --eval-split.")
        elif sum(trains) != 1:
            raise ConfigError("Give training data exactly one way: --dataset, --train-file, or --source-file with "
                              f"--target-file ({'none' if not any(trains) else 'several'} given).")

    def _check_numbers(self) -> None:
        positive = ("learning_rate", "epochs", "batch_size", "gradient_accumulation", "eval_steps", "logging_steps",
                    "eval_beams", "eval_max_new_tokens", "eval_batch_size", "max_eval_pairs", "max_length")
        for flag in positive:
            if getattr(self, flag) <= 0:
                raise ConfigError(f"--{_flag(flag)} must be positive, got {getattr(self, flag)}.")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"--max-steps must be at least 1, got {self.max_steps}.")
        if not 0 < self.eval_share < 1:
            raise ConfigError(f"--eval-share must be between 0 and 1, got {self.eval_share}.")
        if self.max_length_ratio < 1:
            raise ConfigError(f"--max-length-ratio must be at least 1, got {self.max_length_ratio}.")
        if self.warmup < 0 or self.weight_decay < 0 or self.save_total_limit < 1:
            raise ConfigError("--warmup and --weight-decay must be >= 0, --save-total-limit >= 1.")


def main(argv: Sequence[str] | None = None, callbacks: Sequence = ()) -> int:
    """Run the command line ``argv``; returns the exit status. ``callbacks`` are extra Trainer callbacks."""
    try:
        config = TrainConfig(**vars(build_parser().parse_args(argv)))
    except ConfigError as error:
        print(f"run.py: error: {error}", file=sys.stderr)
        return 2
    try:
        if config.push_only:
            return push(config, Path(config.output_dir))
        if config.eval_only:
            return evaluate_only(config)
        return train(config, callbacks)
    except (ConfigError, DataError, UserFacingError, hub.HubError) as error:
        print(f"run.py: error: {error}", file=sys.stderr)
        return 1 if not isinstance(error, ConfigError) else 2


def train(config: TrainConfig, callbacks: Sequence = ()) -> int:
    """The training run, top to bottom: data, LoRA, score base, train, save, score LoRA, card, push."""
    import torch
    from accelerate import PartialState
    from peft import get_peft_model
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, set_seed

    out = Path(config.output_dir)
    check_output_dir(config, out, RUN_OUTPUTS)
    resume = find_checkpoint(config, out)
    args = training_arguments(config, out / "checkpoints")
    args.device  # noqa: B018 - sets up the process group under torchrun / accelerate launch (before PartialState)
    state = PartialState()
    main_process = state.is_main_process
    say = print if main_process else (lambda *_, **__: None)
    if config.overwrite and main_process:
        clear_outputs(out, RUN_OUTPUTS)
    state.wait_for_everyone()
    set_seed(config.seed)

    model, tokenizer = load_model(config)
    disable_layerdrop(model)

    def count_tokens(texts: list[str]) -> list[int]:  # what --max-length and --max-length-ratio measure
        return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    train_pairs, eval_pairs, eval_name, reports = load_pairs(config, count_tokens)
    for report in reports:
        say(report.summary())
    train_set, eval_set = tokenize(train_pairs, tokenizer, config), tokenize(eval_pairs, tokenizer, config)
    check_language_tags(train_set[0], tokenizer, config.src_lang, config.tgt_lang)

    lora = config.lora_settings()
    model = get_peft_model(model, lora.to_peft_config(model))  # to_peft_config fails on a target matching nothing
    base_id = base_name(config)
    model.peft_config["default"].base_model_name_or_path = base_id
    trainable, total = model.get_nb_trainable_parameters()
    say(f"LoRA r={lora.r} alpha={lora.alpha} on {', '.join(lora.targets)}: {trainable:,} trainable of {total:,} "
        f"parameters ({100 * trainable / total:.2f}%), {total - trainable:,} frozen")

    decoding = Decoding(config.eval_beams, config.eval_max_new_tokens)
    autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(resolve_precision(config.precision))
    base_scores = None
    if main_process:  # generation is scored once, on the main process; the others wait at the barrier below
        model.to(args.device)
        say(f"Scoring the base model on {eval_name} ({len(eval_pairs)} pairs) ...")
        scorer = Scorer.around(model, tokenizer, decoding, config.eval_batch_size, autocast_dtype=autocast)
        base_scores, _ = scorer.score(eval_pairs, config.src_lang, config.tgt_lang, progress=True)
    state.wait_for_everyone()

    trainer = Seq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        # Pads labels with -100 (ignored by the loss) and builds decoder inputs [</s>, tgt_lang, tokens] from them.
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100,
                                             pad_to_multiple_of=8 if torch.cuda.is_available() else None),
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )
    if resume:
        say(f"Resuming from {resume}")
    try:
        result = trainer.train(resume_from_checkpoint=resume)
    except KeyboardInterrupt:
        say(f"Interrupted. Continue with the same command plus --resume-from-checkpoint last "
            f"(checkpoints are in {out / 'checkpoints'}).", file=sys.stderr)
        return 130
    if not main_process:
        return 0

    model = trainer.model  # the best checkpoint's adapter is loaded into it (load_best_model_at_end)
    model.save_pretrained(out)
    # PEFT fills an empty base_model_name_or_path with the base's local path when saving: never publish that.
    saved = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    saved["base_model_name_or_path"] = base_id
    (out / "adapter_config.json").write_text(json.dumps(saved, indent=2, sort_keys=True), encoding="utf-8")
    scorer = Scorer.around(model, tokenizer, decoding, config.eval_batch_size, autocast_dtype=autocast)
    lora_scores, _ = scorer.score(eval_pairs, config.src_lang, config.tgt_lang, name="default", progress=True)
    history = tuple((log["step"], log["loss"]) for log in trainer.state.log_history if "loss" in log)
    training = {
        "train_pairs": len(train_set), "eval_pairs": len(eval_set), "steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0.0, 3), "learning_rate": config.learning_rate,
        "batch_size": config.batch_size * config.gradient_accumulation * state.num_processes,
        "precision": resolve_precision(config.precision), "seed": config.seed,
        "train_loss": round(result.training_loss, 4), "best_eval_loss": trainer.state.best_metric,
        "best_checkpoint": Path(trainer.state.best_model_checkpoint or "").name or None,
        "data_cleanup": "; ".join(r.summary() for r in reports),
    }
    report = RunReport(
        base_model=base_id or UNNAMED_BASE, src_lang=config.src_lang, tgt_lang=config.tgt_lang, eval_set=eval_name,
        num_beams=decoding.num_beams, max_new_tokens=decoding.max_new_tokens, base=base_scores, lora=lora_scores,
        lora_settings=lora, training=training, loss_history=history,
        datasets=(config.dataset,) if config.dataset and not Path(config.dataset).exists() else (),
        eval_dataset=config.dataset if config.eval_split and not Path(config.dataset).exists() else None,
        license=config.license,
    )
    (out / "metrics.json").write_text(report.to_json(), encoding="utf-8")
    write_card(report, out, None, None)
    say(scores_text(base_scores, lora_scores))
    say(f"Adapter, metrics.json and model card are in {out}")
    return push(config, out) if config.push_to_hub else 0


def evaluate_only(config: TrainConfig) -> int:
    """Score the base model, and ``--adapter`` if given, on the evaluation data; write metrics.json."""
    import torch

    from nllb_space.adapter_check import inspect_adapter
    from nllb_space.adapters import adapter_name
    from nllb_space.lora import linear_shapes
    from nllb_space.slot import AdapterFiles
    from nllb_space.vocab import scripts_for

    out = Path(config.output_dir)
    check_output_dir(config, out, ("metrics.json",))
    model, tokenizer = load_model(config, dtype=config.eval_dtype)
    _, eval_pairs, eval_name, reports = load_pairs(config, None)
    print(reports[-1].summary())
    # int8 kernels run on the CPU only.
    device = "cuda" if torch.cuda.is_available() and config.eval_dtype == "float32" else "cpu"
    autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(resolve_precision(config.precision))
    if config.restrict_vocab and scripts_for(config.tgt_lang) is None:
        raise ConfigError(f"--restrict-vocab: the script of {config.tgt_lang} is unknown, nothing to cut.")
    scorer = Scorer.around(model.to(device), tokenizer, Decoding(config.eval_beams, config.eval_max_new_tokens),
                           config.eval_batch_size, config.restrict_vocab, autocast)
    base_scores, _ = scorer.score(eval_pairs, config.src_lang, config.tgt_lang, progress=True)
    lora_scores, lora, training = None, None, {}
    if config.adapter:
        folder, label, sha = fetch_adapter(config.adapter, config.revision)
        plan = inspect_adapter(folder, linear_shapes(model), config.base_model)
        for warning in plan.warnings:
            print(f"Note: {warning}")
        lora = LoraSettings(r=plan.r, alpha=int(plan.alpha) if plan.alpha.is_integer() else plan.alpha,
                            dropout=float(json.loads((Path(folder) / "adapter_config.json").read_text())
                                          .get("lora_dropout") or 0.0),
                            targets=plan.projections)
        # Attached as the app attaches it: a config built from the tensors, under the app's name for the commit.
        files = AdapterFiles(adapter_name(config.adapter, sha), str(folder), plan)
        lora_scores, _ = scorer.score(eval_pairs, config.src_lang, config.tgt_lang, files.name, files, progress=True)
        training = {"adapter": label}
    report = RunReport(
        base_model=base_name(config) or UNNAMED_BASE, src_lang=config.src_lang, tgt_lang=config.tgt_lang,
        eval_set=eval_name, num_beams=scorer.decoding.num_beams, max_new_tokens=scorer.decoding.max_new_tokens,
        base=base_scores, lora=lora_scores, lora_settings=lora, training=training, license=config.license,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(report.to_json(), encoding="utf-8")
    print(scores_text(base_scores, lora_scores))
    print(f"Scores written to {out / 'metrics.json'}")
    return 0


def push(config: TrainConfig, out: Path) -> int:
    """Push the adapter in ``out`` as one commit (card re-rendered for the target); 1 if the push fails."""
    missing = [name for name in PUSHED_FILES if name != "README.md" and not (out / name).is_file()]
    if missing:
        raise DataError(f"Nothing to push: {out} lacks {', '.join(missing)}. Train into it first.")
    try:
        report = RunReport.from_json((out / "metrics.json").read_text(encoding="utf-8"))
    except ValueError as error:
        raise DataError(f"{out / 'metrics.json'} is {error}") from None
    branch = config.hub_branch or hub.DEFAULT_BRANCH
    write_card(report, out, config.hub_repo, config.hub_tag or branch)
    retry = (f"python train/run.py --push-only --output-dir {out} --hub-repo {config.hub_repo}"
             + (f" --hub-branch {branch}" if config.hub_branch else "")
             + (f" --hub-tag {config.hub_tag}" if config.hub_tag else "") + (" --private" if config.private else ""))
    with tempfile.TemporaryDirectory(prefix="nllb-push-") as staging:
        for name in PUSHED_FILES:  # only these: checkpoints/ must never reach the Hub
            shutil.copy2(out / name, Path(staging) / name)
        try:
            pushed = hub.push_folder(
                Path(staging), config.hub_repo, branch=branch, tag=config.hub_tag, private=config.private,
                commit_message=commit_summary(report),
                commit_description=f"Trained with nllb-space train/run.py.\n\n{scores_table_markdown(report)}",
            )
        except hub.HubError as error:
            print(f"run.py: push failed: {error}\nThe adapter, metrics.json and README.md are still in {out}. "
                  f"Retry just the push with:\n  {retry}", file=sys.stderr)
            return 1
    print(f"Pushed to {pushed.repo_id} (branch {pushed.branch}{', tag ' + pushed.tag if pushed.tag else ''}): "
          f"commit {pushed.sha}\n{pushed.url}")
    print(f"NLLB_ADAPTER_REPO={pushed.repo_id} NLLB_ADAPTER_REVISION={pushed.tag or pushed.sha}")
    return 0


# -- steps ------------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """One flag per TrainConfig field, with the field's docstring as help and its default (one source of truth)."""
    parser = argparse.ArgumentParser(
        prog="python train/run.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    docs = _field_docs(TrainConfig)
    hints = typing.get_type_hints(TrainConfig)
    for field in fields(TrainConfig):
        flag, kind, help_text = f"--{_flag(field.name)}", hints[field.name], docs.get(field.name, "")
        if kind is bool:
            parser.add_argument(flag, action="store_true", help=help_text)
        elif kind == tuple[str, ...]:
            parser.add_argument(flag, type=_comma_list, default=field.default, metavar="A,B", help=help_text)
        else:
            scalar = next(t for t in typing.get_args(kind) or (kind,) if t is not type(None))
            parser.add_argument(flag, type=scalar, default=field.default, help=help_text)
    return parser


def check_output_dir(config: TrainConfig, out: Path, ours: Sequence[str]) -> None:
    """Refuse to mix a new run into a non-empty ``out`` unless --overwrite (or --resume-from-checkpoint)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output-dir {out} is a file, not a folder.")
    present = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if config.eval_only:
        present = [name for name in present if name in ours]  # eval-only writes metrics.json and nothing else
    if present and not (config.overwrite or config.resume_from_checkpoint):
        raise ConfigError(f"--output-dir {out} is not empty (it holds {', '.join(present[:5])}"
                          f"{' ...' if len(present) > 5 else ''}): pass --overwrite to replace that run, "
                          "--resume-from-checkpoint last to continue it, or choose another --output-dir.")


def clear_outputs(out: Path, ours: Sequence[str]) -> None:
    """Delete a previous run's files (only ours), so stale checkpoints can't be resumed or pushed by mistake."""
    for name in ours:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def find_checkpoint(config: TrainConfig, out: Path) -> str | None:
    """The checkpoint --resume-from-checkpoint names (``last``: the newest under out/checkpoints)."""
    from transformers.trainer_utils import get_last_checkpoint

    wanted = config.resume_from_checkpoint
    if not wanted:
        return None
    if wanted == "last":
        folder = out / "checkpoints"
        last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
        if last is None:
            raise ConfigError(f"--resume-from-checkpoint last: there is no checkpoint in {folder}.")
        return last
    if not Path(wanted).is_dir():
        raise ConfigError(f"--resume-from-checkpoint {wanted}: no such checkpoint folder.")
    return wanted


def training_arguments(config: TrainConfig, checkpoints: Path):
    from transformers import Seq2SeqTrainingArguments

    precision = resolve_precision(config.precision)
    import torch

    return Seq2SeqTrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        warmup_steps=config.warmup,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.eval_steps,  # a checkpoint per evaluation, so the best one can be kept
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        seed=config.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        report_to=config.report_to,
        label_names=["labels"],  # PEFT's wrapper hides the model's signature, from which Trainer would guess them
        remove_unused_columns=False,  # tokenize() already left only model inputs
        train_sampling_strategy="group_by_length",  # batches of similar length: less padding, faster steps
        ddp_find_unused_parameters=False,  # every LoRA weight is used in every step
        dataloader_pin_memory=torch.cuda.is_available(),
        # Without a GPU, accelerate only sets up multi-process (gloo) training when told it runs on the CPU.
        use_cpu=not torch.cuda.is_available(),
    )


def resolve_precision(setting: str) -> str:
    import torch

    if setting != "auto":
        return setting
    if not torch.cuda.is_available():
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


UNNAMED_BASE = "an NLLB-200 checkpoint"
"""What the card calls a base whose Hub id is not known (never its local path)."""


def base_name(config: TrainConfig) -> str | None:
    """The Hub id recorded as the adapter's base (card, adapter_config.json): ``--base-model-name``, the Hub id
    given as ``--base-model``, or the one a local copy tells (said so on the console). A local path never goes into
    what is pushed: when the id cannot be told, none is recorded."""
    if config.base_model_name:
        return config.base_model_name
    if not Path(config.base_model).expanduser().is_dir():
        return config.base_model
    from nllb_space.model_loading import hub_id_of

    inferred = hub_id_of(Path(config.base_model))
    if inferred:
        print(f"Recording the base model as {inferred} (told by the folder {config.base_model}); "
              "--base-model-name sets it.")
    else:
        print(f"The Hub id of the local base model {config.base_model} cannot be told from the folder, so the card "
              "and adapter_config.json name none: pass --base-model-name (e.g. facebook/nllb-200-distilled-600M).")
    return inferred


def load_model(config: TrainConfig, dtype: str = "float32"):
    """The base model on the CPU (Trainer moves it; mixed precision keeps fp32 master weights) + tokenizer.

    ``dtype="int8"`` loads it as the app serves it on a CPU, for --eval-only --eval-dtype int8.
    """
    from nllb_space.model_loading import load_base
    from nllb_space.settings import Settings

    loaded = load_base(Settings(base_model=config.base_model, base_revision=config.base_revision, device="cpu",
                                dtype=dtype))
    tokenizer = loaded.tokenizer
    for flag in ("src_lang", "tgt_lang"):
        code = getattr(config, flag)
        if tokenizer.convert_tokens_to_ids(code) == tokenizer.unk_token_id:
            raise ConfigError(f"--{_flag(flag)} {code}: the tokenizer of {config.base_model} has no such language.")
    return loaded.model, tokenizer


def disable_layerdrop(model) -> None:
    """Turn off M2M100's LayerDrop (random skipping of whole layers while training; 0.05 in its default config).

    With LoRA it does harm: a step that skips every layer holding LoRA weights has no gradient at all (backward
    fails), and under DDP any skipped layer leaves LoRA weights without a gradient, which the reducer rejects.
    """
    for module in model.modules():
        if getattr(module, "layerdrop", 0.0):
            module.layerdrop = 0.0
    model.config.encoder_layerdrop = model.config.decoder_layerdrop = 0.0


def load_pairs(config: TrainConfig, lengths):
    """(train pairs or None, eval pairs, eval set name, clean-up reports) as the data flags say."""
    src, tgt, columns = config.src_lang, config.tgt_lang, (config.source_column, config.target_column)
    train = None
    reports = []
    if not config.eval_only:
        if config.dataset:
            raw = load_hub_dataset(config.dataset, config.dataset_config, config.split, src, tgt, *columns)
        elif config.train_file:
            raw = load_table(config.train_file, src, tgt, *columns)
        else:
            raw = load_text_pair(config.source_file, config.target_file)
        train, report = clean_pairs(raw, "train", lengths, config.max_length, config.max_length_ratio)
        reports.append(report)
        if len(train) == 0:
            raise DataError(f"No training pairs are left after clean-up ({report.summary()}).")
    if config.eval_file:
        raw_eval, eval_name = load_table(config.eval_file, src, tgt, *columns), Path(config.eval_file).name
    elif config.eval_source_file:
        raw_eval = load_text_pair(config.eval_source_file, config.eval_target_file)
        eval_name = f"{Path(config.eval_source_file).name} / {Path(config.eval_target_file).name}"
    elif config.eval_split:
        raw_eval = load_hub_dataset(config.dataset, config.dataset_config, config.eval_split, src, tgt, *columns)
        eval_name = f"{config.dataset} ({config.eval_split})"
    else:
        train, raw_eval = hold_out(train, config.eval_share, config.max_eval_pairs, config.seed)
        eval_name = "pairs held out of the training data"
    # Evaluation data is a benchmark: only pairs with an empty side (which cannot be scored) are dropped.
    evaluation, report = clean_pairs(raw_eval, "eval", dedupe=False)
    reports.append(report)
    if len(evaluation) == 0:
        raise DataError(f"The evaluation data is empty after clean-up ({report.summary()}).")
    if train is not None and (shared := overlap(train, evaluation)):
        logger.warning("%d of %d evaluation sources also occur in the training data: their scores flatter the "
                       "adapter.", shared, len(evaluation))
    return train, evaluation, eval_name, reports


def tokenize(pairs, tokenizer, config: TrainConfig):
    """``input_ids`` = [src_lang] tokens </s>, ``labels`` = [tgt_lang] tokens </s> (NLLB's training layout)."""
    # The attributes re-template the tokenizer; tokenizer(..., src_lang=...) would be silently ignored in v5.
    tokenizer.src_lang, tokenizer.tgt_lang = config.src_lang, config.tgt_lang

    def encode(batch):
        return tokenizer(batch["source"], text_target=batch["target"], max_length=config.max_length, truncation=True)

    return pairs.map(encode, batched=True, remove_columns=pairs.column_names, desc="tokenizing")


def check_language_tags(example, tokenizer, src_lang: str, tgt_lang: str) -> None:
    """Fail before training if the tokenizer did not put the language tags where NLLB expects them."""
    ids, labels, eos = example["input_ids"], example["labels"], tokenizer.eos_token_id
    src_id, tgt_id = tokenizer.convert_tokens_to_ids(src_lang), tokenizer.convert_tokens_to_ids(tgt_lang)
    if (ids[0], ids[-1], labels[0], labels[-1]) != (src_id, eos, tgt_id, eos):
        raise RuntimeError(
            f"Tokenized pair does not have NLLB's layout: source starts {tokenizer.convert_ids_to_tokens(ids[:2])}, "
            f"labels start {tokenizer.convert_ids_to_tokens(labels[:2])}; expected [{src_lang}, ...] ... </s> and "
            f"[{tgt_lang}, ...] ... </s>."
        )


def fetch_adapter(adapter: str, revision: str | None) -> tuple[Path, str, str]:
    """A local adapter folder, or the Hub revision resolved to its commit and downloaded; a label; the commit (a
    digest of the files for a folder, as the app keys it)."""
    from nllb_space.adapters import local_digest
    from nllb_space.choice import local_folder, spec_of

    folder = local_folder(adapter)
    if folder:
        return folder, adapter, local_digest(folder)
    revision = revision or hub.DEFAULT_BRANCH
    sha = hub.resolve_revision(adapter, revision)
    return hub.download_adapter(adapter, sha), f"{spec_of(adapter, revision)} ({sha[:7]})", sha


def write_card(report: RunReport, out: Path, repo_id: str | None, revision: str | None) -> None:
    card = render_card(report, repo_id, revision)
    validate_card(card)  # a card the Hub would reject must fail here, not after a long run at push time
    (out / "README.md").write_text(card, encoding="utf-8")


def scores_table_markdown(report: RunReport) -> str:
    from nllb_space.card import scores_table as markdown_table

    return f"{markdown_table(report)}\n\nEvaluated on {report.eval_set}."


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _field_docs(cls) -> dict[str, str]:
    """The docstring under each dataclass field (Python keeps none at run time, so read them off the source)."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for node, following in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)):
            docs[node.target.id] = " ".join(str(following.value.value).split()).replace("%", "%%")
    return docs


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
