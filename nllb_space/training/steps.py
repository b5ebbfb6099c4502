"""The steps of a run that ``run.py`` strings together: the output folder, the model, the pairs, the tokens, and
what the console shows while Trainer trains.

Each takes the run's :class:`~nllb_space.training.config.RunConfig` (or the part it needs) and raises ``ConfigError`` or
``DataError`` with a message naming the flag or the file; the data is checked and read before the model loads.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

from transformers import PrinterCallback, ProgressCallback, TrainerCallback

from ..hub import downloads as hub_downloads
from ..hub import revisions as hub
from ..hub.ids import is_commit_sha
from ..hub.model_choice import local_folder, spec_of
from .config import ConfigError, ModelArguments, RunConfig, flag
from .pairs import DataError, clean_pairs, hold_out, overlap
from .sources import Sources, check_sources

PUSHED_FILES = ("adapter_config.json", "adapter_model.safetensors", "README.md", "metrics.json")
"""What a push uploads from the output directory (never checkpoints/, which hold optimizer states)."""
RUN_OUTPUTS = (*PUSHED_FILES, "checkpoints")
"""What --overwrite deletes from the output directory before training; anything else there is left alone."""
UNNAMED_BASE = "an NLLB-200 checkpoint"
"""What the card calls a base whose Hub id is not known (never its local path)."""


def check_output_dir(config: RunConfig, out: Path, ours: Sequence[str]) -> None:
    """Refuse to mix a new run into a non-empty ``out`` unless --overwrite (or --resume-from-checkpoint)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output-dir {out} is a file, not a folder.")
    present = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if config.scoring.eval_only:
        present = [name for name in present if name in ours]  # eval-only writes metrics.json and nothing else
    if present and not (config.training.overwrite or config.training.resume_from_checkpoint):
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


def find_checkpoint(wanted: str | None, out: Path) -> str | None:
    """The checkpoint --resume-from-checkpoint names (``last``: the newest under out/checkpoints)."""
    from transformers.trainer_utils import get_last_checkpoint

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


def base_name(model: ModelArguments) -> str | None:
    """The Hub id recorded as the adapter's base (card, adapter_config.json): ``--base-model-name``, the Hub id
    given as ``--base-model``, or the one a local copy tells (said so on the console). A local path never goes into
    what is pushed: when the id cannot be told, none is recorded."""
    if model.base_model_name:
        return model.base_model_name
    folder = local_folder(model.base_model)
    if folder is None:
        return model.base_model
    from ..model.loading import hub_id_of

    inferred = hub_id_of(folder)
    if inferred:
        print(f"Recording the base model as {inferred} (told by the folder {model.base_model}); "
              "--base-model-name sets it.")
    else:
        print(f"The Hub id of the local base model {model.base_model} cannot be told from the folder, so the card "
              "and adapter_config.json name none: pass --base-model-name (e.g. facebook/nllb-200-distilled-600M).")
    return inferred


def load_model(model: ModelArguments, dtype: str = "float32"):
    """The base model on the CPU (Trainer moves it; mixed precision keeps fp32 master weights) + tokenizer, loaded
    the app's way (model/loading.py). ``dtype="int8"`` is what the app serves on a CPU."""
    from ..model.loading import load_base
    from ..settings import Settings

    loaded = load_base(Settings(base_model=model.base_model, base_revision=model.base_revision, device="cpu",
                                dtype=dtype))
    tokenizer = loaded.tokenizer
    for name in ("src_lang", "tgt_lang"):
        code = getattr(model, name)
        if tokenizer.convert_tokens_to_ids(code) == tokenizer.unk_token_id:
            raise ConfigError(f"{flag(name)} {code}: the tokenizer of {model.base_model} has no such language.")
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


def check_data(config: RunConfig) -> Sources:
    """Where the pairs come from, checked in a second (files exist, Hub datasets resolve): call it before anything
    slow, so that a typo is not found after a 2.5 GB model load."""
    model = config.model
    return check_sources(config.data, model.src_lang, model.tgt_lang, config.scoring.eval_only)


def read_pairs(config: RunConfig, sources: Sources):
    """(training pairs or None, evaluation pairs or None: hold some out) as read, before clean-up; downloads Hub data.
    Unaligned files and missing columns fail here, still before the model loads."""
    langs = (config.model.src_lang, config.model.tgt_lang, config.data.source_column, config.data.target_column)
    return tuple(source.read(*langs) if source else None for source in (sources.train, sources.evaluation))


def load_pairs(config: RunConfig, raw, lengths):
    """(train pairs or None, eval pairs, clean-up reports) from :func:`read_pairs`' ``raw``, cleaned; ``lengths``
    counts tokens for --max-length and --max-length-ratio."""
    data, (raw_train, raw_eval) = config.data, raw
    train, reports = None, []
    if raw_train is not None:
        train, report = clean_pairs(raw_train, "train", lengths, data.max_length, data.max_length_ratio)
        reports.append(report)
        if len(train) == 0:
            raise DataError(f"No training pairs are left after clean-up ({report.summary()}).")
    origin = "loaded"
    if raw_eval is None:
        train, raw_eval = hold_out(train, data.eval_share, data.max_eval_pairs, config.training.seed)
        # Counted, so that "N kept" and the card's "train pairs" add up for a reader.
        reports[0] = dataclasses.replace(reports[0], held_out=len(raw_eval))
        origin = "held out of the training pairs"
    # Evaluation data is a benchmark: only pairs with an empty side (which cannot be scored) are dropped.
    evaluation, report = clean_pairs(raw_eval, "eval", dedupe=False)
    reports.append(report := dataclasses.replace(report, origin=origin))
    if len(evaluation) == 0:
        raise DataError(f"The evaluation data is empty after clean-up ({report.summary()}).")
    if train is not None and (shared := overlap(train, evaluation)):
        import logging

        logging.getLogger("train.run").warning(
            "%d of %d evaluation sources also occur in the training data: their scores flatter the adapter.",
            shared, len(evaluation))
    return train, evaluation, reports


def tokenize(pairs, tokenizer, src_lang: str, tgt_lang: str, max_length: int):
    """``input_ids`` = [src_lang] tokens </s>, ``labels`` = [tgt_lang] tokens </s> (NLLB's training layout)."""
    # The attributes re-template the tokenizer; tokenizer(..., src_lang=...) would be silently ignored in v5.
    tokenizer.src_lang, tokenizer.tgt_lang = src_lang, tgt_lang

    def encode(batch):
        return tokenizer(batch["source"], text_target=batch["target"], max_length=max_length, truncation=True)

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


# What each log line shows, in this order, and how; throughput and FLOPs stay in checkpoints' trainer_state.json.
_SHOWN = {"loss": "loss {:.3f}", "eval_loss": "eval loss {:.3f}", "train_loss": "mean loss {:.3f}",
          "learning_rate": "lr {:.1e}", "grad_norm": "grad norm {:.3g}"}
_UNSHOWN_ENDINGS = ("total_flos", "_runtime", "_per_second")


def log_line(logs: Mapping[str, Any], step: int, max_steps: int) -> str:
    """One Trainer log as a reader wants it: ``step 20/200 · epoch 0.40 · loss 2.345 · lr 1.2e-04 · grad norm 0.87``,
    ``step 50/200 · epoch 1.00 · eval loss 2.101``, and at the end ``trained 200 steps · epoch 4.00 · mean loss 2.210
    · in 3.2 min``."""
    logs = dict(logs)
    epoch, runtime = logs.pop("epoch", None), logs.get("train_runtime")  # only the final summary has a runtime
    parts = [f"trained {step} steps" if runtime is not None else f"step {step}/{max_steps}"]
    parts += [f"epoch {epoch:.2f}"] if epoch is not None else []
    parts += [form.format(logs.pop(key)) for key, form in _SHOWN.items() if isinstance(logs.get(key), (int, float))]
    parts += [f"{key.replace('_', ' ')} {f'{value:.4g}' if isinstance(value, float) else value}"
              for key, value in logs.items() if not key.endswith(_UNSHOWN_ENDINGS)]
    parts += [f"in {_duration(runtime)}"] if runtime is not None else []
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


class LogLines(TrainerCallback):
    """Prints each Trainer log as one :func:`log_line` (above the progress bar), on the main process only."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            from tqdm.auto import tqdm

            tqdm.write(log_line(logs, state.global_step, state.max_steps))


class _ProgressBarOnly(ProgressCallback):
    """Trainer's progress bar, without the dict it writes above the bar for each log."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass


def print_readable_logs(trainer) -> None:
    """Replace Trainer's printing of each log as a dict of quoted numbers (``{'loss': '2.345', ...}``, written by
    ProgressCallback, or by PrinterCallback under ``--disable-tqdm``) with :class:`LogLines`; the progress bar stays."""
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(_ProgressBarOnly)
    trainer.pop_callback(PrinterCallback)
    trainer.add_callback(LogLines)


def fetch_adapter(adapter: str, revision: str | None) -> tuple[Path, str, str]:
    """A local adapter folder, or the Hub revision resolved to its commit and downloaded; a label; the commit (a
    digest of the files for a folder, as the app keys it)."""
    from ..model.adapter_names import local_digest

    folder = local_folder(adapter)
    if folder:
        return folder, adapter, local_digest(folder)
    revision = revision or hub.DEFAULT_BRANCH
    try:
        sha = hub.resolve_revision(adapter, revision)
    except hub.HubUnavailable:
        if not is_commit_sha(revision):
            raise
        # The trainer reads with its user's own token on its user's machine: a commit downloaded before may still
        # be scored without the Hub (the app, which serves visitors, never does this for a repo it could not check).
        sha = revision.lower()
    return hub_downloads.download_adapter(adapter, sha), f"{spec_of(adapter, revision)} ({sha[:7]})", sha
