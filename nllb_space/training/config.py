"""Every flag of ``python train/run.py``: typed dataclasses read by transformers' ``HfArgumentParser``.

The optimisation, checkpoint and logging flags are ``Seq2SeqTrainingArguments`` itself (``--learning-rate``,
``--max-steps``, ``--eval-steps``, ``--report-to`` ... and the other Trainer flags), with the defaults a LoRA run on
NLLB wants, as trl's ``SFTConfig`` does. The groups below hold what Trainer has no flag for. ``--help`` lists them in
these groups; a short alias (``--batch-size``, ``--epochs``) stands beside the long Trainer name. The few Trainer
flags this script does its own way (pushing, precision, checkpoint timing, generation) are refused naming the flag to
give instead (``train/cli.py``, which reads the command line into these groups), rather than silently overridden.

Each group checks its own flags when it is built; :class:`RunConfig` checks the combinations. A mistake raises
``ConfigError`` naming the flag, before any model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from transformers import Seq2SeqTrainingArguments

from ..hub.card import DEFAULT_LICENSE
from ..hub.ids import is_repo_id
from ..lora_config import LoraSettings
from ..settings import Settings
from ..text.languages import UnknownLanguageError, resolve_language
from .pairs import TABLE_SUFFIXES

DEFAULT_DATASET = "Helsinki-NLP/opus_books"
"""Training data when none is given: copyright-free books aligned by OPUS, parquet on the Hub (no loading script)."""
DEFAULT_DATASET_CONFIG = "es-it"
"""Its Spanish-Italian config: 28,868 sentence pairs in one ``train`` split, about 5 MB."""
DEFAULT_LANGUAGES = ("spa_Latn", "ita_Latn")
"""The languages it holds; either may be the source."""

_LORA = LoraSettings()  # the LoRA defaults live in nllb_space.lora_config (shared with the app's adapter checks)
_APP = Settings()  # the app's defaults, which the scores should match


class ConfigError(ValueError):
    """A flag, or a combination of flags, cannot work; the message names the flag."""


def _help(text: str, **more) -> dict:
    return field(metadata={"help": text, **more.pop("metadata", {})}, **more)


def flag(name: str) -> str:
    """The command-line spelling of a field: ``lora_r`` -> ``--lora-r``."""
    return "--" + name.replace("_", "-")


@dataclass
class ModelArguments:
    _argument_group_name = "model and languages"

    base_model: str = _help("Hub id or local folder of the NLLB-200 checkpoint to adapt (safetensors, or "
                            "pytorch_model.bin as published).", default=_APP.base_model)
    base_revision: str = _help("Branch, tag, commit or refs/pr/N of a Hub --base-model; its safetensors are used "
                               "when it has them.", default="main")
    base_model_name: str | None = _help("Hub id recorded as the adapter's base (adapter_config.json, card) when "
                                        "--base-model is a local copy of it.", default=None)
    src_lang: str = _help("Source language: FLORES-200 code (spa_Latn) or English name.", default=_APP.src_lang)
    tgt_lang: str = _help("Target language: FLORES-200 code (ita_Latn) or English name.", default=_APP.tgt_lang)

    def __post_init__(self) -> None:
        for name in ("src_lang", "tgt_lang"):
            try:
                setattr(self, name, resolve_language(getattr(self, name)))
            except UnknownLanguageError as error:
                raise ConfigError(f"{flag(name)}: {error}") from None
        if self.src_lang == self.tgt_lang:
            raise ConfigError(f"--src-lang and --tgt-lang are both {self.src_lang}: pick two different languages.")


@dataclass
class DataArguments:
    _argument_group_name = "data (training: --dataset, --train-file, or --source-file with --target-file)"

    dataset: str | None = _help("Hub dataset id (or local dataset folder) with the training pairs. Without any "
                                f"training data: {DEFAULT_DATASET}, config {DEFAULT_DATASET_CONFIG}.", default=None)
    dataset_config: str | None = _help("Configuration (subset) of --dataset, e.g. es-it.", default=None)
    split: str = _help("Split of --dataset to train on.", default="train")
    eval_dataset: str | None = _help("Hub dataset id (or local dataset folder) to score on, with --eval-split: paired "
                                     "like --dataset, or one config per language, rows paired by their id, as in "
                                     "openlanguagedata/flores_plus (gated: accept its conditions on the Hub and log "
                                     "in).", default=None)
    eval_dataset_config: str | None = _help("Configuration of a paired --eval-dataset; without it, one that has a "
                                            "config for each language (spa_Latn, ita_Latn) is read per language.",
                                            default=None)
    eval_split: str | None = _help("Split to score on: of --eval-dataset (FLORES+: dev or devtest), else of "
                                   "--dataset. Without evaluation data, --eval-share of the training pairs is held "
                                   "out.", default=None)
    source_column: str | None = _help("Column (or 'translation' key) of the sources in paired data, when not named "
                                      "by language.", default=None)
    target_column: str | None = _help("Column (or 'translation' key) of the targets.", default=None)
    train_file: str | None = _help("Training pairs in a .tsv, .csv or .jsonl file.", default=None)
    source_file: str | None = _help("Plain-text training sources, one sentence per line.", default=None)
    target_file: str | None = _help("Plain-text training targets, line-aligned with --source-file.", default=None)
    eval_file: str | None = _help("Evaluation pairs in a .tsv, .csv or .jsonl file.", default=None)
    eval_source_file: str | None = _help("Plain-text evaluation sources.", default=None)
    eval_target_file: str | None = _help("Plain-text evaluation references, line-aligned with --eval-source-file.",
                                         default=None)
    eval_share: float = _help("Share of the training pairs held out for scoring when no evaluation data is given.",
                              default=0.05)
    max_eval_pairs: int = _help("Most pairs held out for scoring (generation on thousands takes a while).",
                                default=500)
    max_length: int = _help("Training pairs with a side longer than this many tokens are dropped, not cut into "
                            "misaligned halves.", default=256)
    max_length_ratio: float = _help("Training pairs whose longer side has more than this times the tokens of the "
                                    "shorter are dropped (misalignments).", default=3.0)

    def __post_init__(self) -> None:
        for a, b in (("source_file", "target_file"), ("eval_source_file", "eval_target_file"),
                     ("source_column", "target_column")):
            if bool(getattr(self, a)) != bool(getattr(self, b)):
                raise ConfigError(f"{flag(a)} and {flag(b)} go together: give both.")
        if self.dataset_config and not self.dataset:
            raise ConfigError("--dataset-config needs --dataset.")
        if self.eval_dataset_config and not self.eval_dataset:
            raise ConfigError("--eval-dataset-config needs --eval-dataset.")
        if self.eval_split and not (self.dataset or self.eval_dataset):
            raise ConfigError("--eval-split needs --eval-dataset (or --dataset).")
        if self.eval_dataset and not self.eval_split:
            raise ConfigError("--eval-dataset needs --eval-split (FLORES+ has dev and devtest).")
        for name in ("train_file", "eval_file"):
            path = getattr(self, name)
            if path and Path(path).suffix.lower() not in TABLE_SUFFIXES:
                raise ConfigError(f"{flag(name)} must be a {', '.join(TABLE_SUFFIXES)} file, got {path}; use "
                                  "--source-file/--target-file for plain text, one sentence per line.")
        if sum(self.eval_sources()) > 1:
            raise ConfigError("Give evaluation data one way: --eval-file, --eval-source-file/--eval-target-file, "
                              "--eval-dataset or --dataset's --eval-split.")
        if not 0 < self.eval_share < 1:
            raise ConfigError(f"--eval-share must be between 0 and 1, got {self.eval_share}.")
        if self.max_length_ratio < 1:
            raise ConfigError(f"--max-length-ratio must be at least 1, got {self.max_length_ratio}.")
        for name in ("max_eval_pairs", "max_length"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{flag(name)} must be positive, got {getattr(self, name)}.")

    def train_sources(self) -> list[bool]:
        return [bool(self.dataset), bool(self.train_file), bool(self.source_file)]

    def eval_sources(self) -> list[bool]:
        return [bool(self.eval_file), bool(self.eval_source_file), bool(self.eval_dataset or self.eval_split)]


@dataclass
class LoraArguments:
    _argument_group_name = "LoRA"

    lora_r: int = _help("LoRA rank.", default=_LORA.r)
    lora_alpha: int = _help("LoRA scaling numerator: the update is scaled by alpha / r.", default=_LORA.alpha)
    lora_dropout: float = _help("Dropout on the LoRA input.", default=_LORA.dropout)
    lora_targets: list[str] = _help("Module names to adapt, comma- or space-separated; NLLB's attention output is "
                                    "out_proj (o_proj matches nothing).", default_factory=lambda: list(_LORA.targets),
                                    metadata={"nargs": "+"})

    def __post_init__(self) -> None:
        self.lora_targets = [part.strip() for item in self.lora_targets for part in item.split(",") if part.strip()]
        try:
            self.settings()
        except ValueError as error:
            raise ConfigError(str(error)) from None

    def settings(self) -> LoraSettings:
        return LoraSettings(r=self.lora_r, alpha=self.lora_alpha, dropout=self.lora_dropout,
                            targets=tuple(self.lora_targets))


@dataclass
class ScoringArguments:
    _argument_group_name = "scoring base vs LoRA (BLEU, chrF++)"

    eval_beams: int = _help("Beam size for scoring (1 = greedy; the app's default is 4).", default=1)
    eval_max_new_tokens: int = _help("Most tokens generated per sentence when scoring.",
                                     default=_APP.max_new_tokens)
    eval_only: bool = _help("Only score the base model (and --adapter, if given); no training.", default=False)
    eval_dtype: str = _help("With --eval-only: weights to score with; int8 is the app's CPU path.",
                            default="float32", metadata={"choices": ["float32", "int8"]})
    restrict_vocab: bool = _help("With --eval-only: the output layer cut to the target's script, as "
                                 "NLLB_RESTRICT_VOCAB serves.", default=False)
    adapter: str | None = _help("With --eval-only: Hub repo id or local folder of a LoRA adapter to score.",
                                default=None)
    revision: str | None = _help("With --adapter: branch, tag or commit of the adapter repo (default main).",
                                 default=None)

    def __post_init__(self) -> None:
        for name in ("eval_beams", "eval_max_new_tokens"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{flag(name)} must be positive, got {getattr(self, name)}.")
        if self.revision and not self.adapter:
            raise ConfigError("--revision needs --adapter REPO.")
        for name, value in (("eval_dtype", self.eval_dtype != "float32"), ("restrict_vocab", self.restrict_vocab),
                            ("adapter", self.adapter)):
            if value and not self.eval_only:
                raise ConfigError(f"{flag(name)} is for --eval-only: it scores without training.")


@dataclass
class PushArguments:
    _argument_group_name = "publishing (with --push-to-hub or --push-only)"

    push_only: bool = _help("Push an existing --output-dir (e.g. after a failed push) without training.",
                            default=False)
    hub_repo: str | None = _help("Model repo to push to, OWNER/NAME (created if missing).", default=None)
    hub_branch: str | None = _help("Branch to commit to, created from main if missing (default main).", default=None)
    hub_tag: str | None = _help("Tag to put on the pushed commit; it must not exist yet.", default=None)
    private: bool = _help("Create --hub-repo as a private repo (when it does not exist yet).", default=False)
    license: str = _help("License in the model card (NLLB-200's weights are CC-BY-NC 4.0).", default=DEFAULT_LICENSE)

    def __post_init__(self) -> None:
        if self.hub_repo and not is_repo_id(self.hub_repo):
            raise ConfigError(f"--hub-repo must be OWNER/NAME, got {self.hub_repo!r}.")


@dataclass
class NllbTrainingArguments(Seq2SeqTrainingArguments):
    """Trainer's own flags with the defaults of a LoRA run on NLLB."""

    _argument_group_name = "training (Trainer's Seq2SeqTrainingArguments, with LoRA defaults)"

    output_dir: str = _help("Where the adapter, metrics.json, README.md and checkpoints/ go.",
                            default="runs/nllb-lora")
    overwrite: bool = _help("Replace the run in a non-empty --output-dir (its checkpoints, adapter, metrics, card).",
                            default=False)
    precision: str = _help("auto: bf16 on GPUs that have it, else fp16 on GPU, fp32 on CPU.", default="auto",
                           metadata={"choices": ["auto", "bf16", "fp16", "fp32"]})
    push_to_hub: bool = _help("Push the adapter, metrics.json and the card to --hub-repo after training, as one "
                              "commit on --hub-branch, tagged --hub-tag (this script pushes; Trainer does not).",
                              default=False)
    learning_rate: float = _help("Peak learning rate (LoRA trains well about 10x higher than full fine-tuning).",
                                 default=2e-4)
    num_train_epochs: float = _help("Passes over the training data (unless --max-steps).", default=3.0,
                                    metadata={"aliases": ["--epochs"]})
    per_device_train_batch_size: int = _help("Pairs per device per step.", default=16,
                                             metadata={"aliases": ["--batch-size"]})
    per_device_eval_batch_size: int = _help("Sentences per generate call when scoring, and per eval-loss batch.",
                                            default=32, metadata={"aliases": ["--eval-batch-size"]})
    gradient_accumulation_steps: int = _help("Steps summed before an update (effective batch = batch x this x "
                                             "devices).", default=1, metadata={"aliases": ["--gradient-accumulation"]})
    warmup_steps: float = _help("Learning-rate warm-up: a share of the steps if below 1, else a number of steps.",
                                default=0.03, metadata={"aliases": ["--warmup"]})
    eval_strategy: str = _help("When to compute the eval loss and keep a checkpoint.", default="steps")
    eval_steps: float = _help("Eval loss and a checkpoint every this many steps; the best one is kept and used.",
                              default=200)
    logging_steps: float = _help("Log the training loss every this many steps.", default=25)
    logging_first_step: bool = _help("Log the first step's loss too.", default=True)
    save_total_limit: int = _help("Checkpoints kept besides the best one.", default=2)
    load_best_model_at_end: bool = _help("Use the checkpoint with the lowest eval loss.", default=True)
    metric_for_best_model: str = _help("What 'best' means.", default="eval_loss")
    # PEFT's wrapper hides the model's signature, from which Trainer would guess the label names.
    label_names: list[str] = _help("Batch keys holding the labels.", default_factory=lambda: ["labels"])
    remove_unused_columns: bool = _help("Off: tokenize() leaves only the model's inputs already.", default=False)
    train_sampling_strategy: str = _help("Batches of similar length: less padding, faster steps.",
                                         default="group_by_length")
    ddp_find_unused_parameters: bool = _help("Off: every LoRA weight is used in every step.", default=False)
    resume_from_checkpoint: str | None = _help("Continue an interrupted run: a checkpoint folder, or 'last' (the "
                                               "newest in --output-dir/checkpoints).", default=None)

    def __post_init__(self) -> None:
        import torch

        cuda = torch.cuda.is_available()
        if self.precision == "auto":
            self.precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
        self.bf16, self.fp16 = self.precision == "bf16", self.precision == "fp16"
        self.save_strategy, self.save_steps = self.eval_strategy, self.eval_steps  # a checkpoint per evaluation
        self.greater_is_better = False
        self.dataloader_pin_memory = cuda
        # Without a GPU, accelerate only sets up multi-process (gloo) training when told it runs on the CPU.
        self.use_cpu = self.use_cpu or not cuda
        for name in ("learning_rate", "num_train_epochs", "per_device_train_batch_size", "per_device_eval_batch_size",
                     "gradient_accumulation_steps", "eval_steps", "logging_steps"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{flag(name)} must be positive, got {getattr(self, name)}.")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.save_total_limit < 1:
            raise ConfigError("--warmup and --weight-decay must be >= 0, --save-total-limit >= 1.")
        super().__post_init__()


@dataclass
class RunConfig:
    """One run's flags, group by group, checked together."""

    model: ModelArguments
    data: DataArguments
    lora: LoraArguments
    scoring: ScoringArguments
    push: PushArguments
    training: NllbTrainingArguments

    GROUPS = (ModelArguments, DataArguments, LoraArguments, ScoringArguments, PushArguments, NllbTrainingArguments)

    def __post_init__(self) -> None:
        push, scoring, training, data = self.push, self.scoring, self.training, self.data
        pushing = training.push_to_hub or push.push_only
        for name in ("hub_tag", "hub_branch", "hub_repo", "private"):
            if getattr(push, name) and not pushing:
                raise ConfigError(f"{flag(name)} needs --push-to-hub (or --push-only).")
        if pushing and not push.hub_repo:
            raise ConfigError(f"{'--push-only' if push.push_only else '--push-to-hub'} needs --hub-repo OWNER/NAME.")
        if push.push_only and (training.push_to_hub or scoring.eval_only or training.resume_from_checkpoint
                               or training.overwrite):
            raise ConfigError("--push-only pushes an existing --output-dir: drop --push-to-hub, --eval-only, "
                              "--resume-from-checkpoint and --overwrite.")
        if scoring.eval_only and (training.push_to_hub or training.resume_from_checkpoint):
            raise ConfigError("--eval-only trains nothing: drop --push-to-hub and --resume-from-checkpoint.")
        if training.overwrite and training.resume_from_checkpoint:
            raise ConfigError("--overwrite would delete the checkpoints --resume-from-checkpoint continues from.")
        if push.push_only:
            return
        if scoring.eval_only:
            if not any(data.eval_sources()):
                raise ConfigError("--eval-only needs evaluation data: --eval-dataset openlanguagedata/flores_plus "
                                  "--eval-split devtest, --eval-file, or --eval-source-file/--eval-target-file.")
        elif sum(data.train_sources()) > 1:
            raise ConfigError("Give training data one way: --dataset, --train-file, or --source-file with "
                              "--target-file.")
        elif not any(data.train_sources()):
            if set(DEFAULT_LANGUAGES) != {self.model.src_lang, self.model.tgt_lang}:
                raise ConfigError(f"Without training data the trainer reads {DEFAULT_DATASET} {DEFAULT_DATASET_CONFIG}"
                                  f", which is Spanish-Italian: for {self.model.src_lang} -> {self.model.tgt_lang} "
                                  "give --dataset, --train-file, or --source-file with --target-file.")
            # Filled in here, not as the fields' defaults: those would make --train-file a second training source.
            data.dataset, data.dataset_config = DEFAULT_DATASET, DEFAULT_DATASET_CONFIG


def parse_flags(argv: list[str], **parser_options) -> RunConfig:
    """``argv`` (``--flag value`` ...) read into a checked :class:`RunConfig` by ``HfArgumentParser``: the one reading of
    a run's settings, for the command line (train/cli.py adds its help and refusals) and for the Train tab, which
    writes its settings as these flags so that both runs are the same run."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(RunConfig.GROUPS, **parser_options)
    return RunConfig(*parser.parse_args_into_dataclasses(args=list(argv)))
