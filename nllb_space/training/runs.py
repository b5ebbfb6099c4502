"""A training run, top to bottom, and a scoring run: what ``python train/run.py`` and the Train tab both call.

    config -> data (check, read) -> model -> clean pairs -> LoRA -> score base -> Seq2SeqTrainer -> score LoRA
           -> adapter + metrics.json + model card in the output folder -> (push_to_hub) one commit, tagged

One function per run, so there is no second training loop: the tab builds a :class:`~.config.RunConfig` from its
settings and calls :func:`train` with a callback for its loss curve, as the command line does from its flags.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from ..hub.card import RunReport
from ..lora_config import LoraSettings
from ..model.slot import Decoding
from .config import ConfigError, RunConfig
from .evaluation import Scorer, scores_text
from .publish import push, write_card
from .steps import (
    RUN_OUTPUTS,
    UNNAMED_BASE,
    base_name,
    check_data,
    check_language_tags,
    check_output_dir,
    clear_outputs,
    disable_layerdrop,
    fetch_adapter,
    find_checkpoint,
    load_model,
    load_pairs,
    print_readable_logs,
    read_pairs,
    tokenize,
)

TRAINED = "default"
"""PEFT's name for the adapter a run trains."""


def train(config: RunConfig, callbacks: Sequence = ()) -> int:
    """The training run, top to bottom: data, LoRA, score base, train, save, score LoRA, card, push."""
    import dataclasses

    import torch
    from accelerate import PartialState
    from peft import get_peft_model
    from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, set_seed

    args, src, tgt = config.training, config.model.src_lang, config.model.tgt_lang
    out = Path(args.output_dir)
    check_output_dir(config, out, RUN_OUTPUTS)
    resume = find_checkpoint(args.resume_from_checkpoint, out)
    sources = check_data(config)  # a typo in the data flags fails here, in a second, and deletes nothing
    raw = read_pairs(config, sources)  # so do bad columns and unaligned files, still before the model loads
    # Trainer keeps its checkpoints apart from the adapter, and never pushes: publish.py does, as one commit.
    trainer_args = dataclasses.replace(args, output_dir=str(out / "checkpoints"), push_to_hub=False,
                                       resume_from_checkpoint=None)
    state = PartialState()
    say = print if state.is_main_process else (lambda *_, **__: None)
    if args.overwrite and state.is_main_process:
        clear_outputs(out, RUN_OUTPUTS)
    state.wait_for_everyone()
    set_seed(args.seed)

    model, tokenizer = load_model(config.model)
    disable_layerdrop(model)
    train_pairs, eval_pairs, reports = load_pairs(config, raw, lambda texts: [
        len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]])  # what --max-length measures
    eval_name = sources.eval_name
    for report in reports:
        say(report.summary())
    train_set, eval_set = (tokenize(pairs, tokenizer, src, tgt, config.data.max_length)
                           for pairs in (train_pairs, eval_pairs))
    check_language_tags(train_set[0], tokenizer, src, tgt)

    lora = config.lora.settings()
    model = get_peft_model(model, lora.to_peft_config(model))  # to_peft_config fails on a target matching nothing
    base_id = base_name(config.model)
    model.peft_config[TRAINED].base_model_name_or_path = base_id
    trainable, total = model.get_nb_trainable_parameters()
    say(f"LoRA r={lora.r} alpha={lora.alpha} on {', '.join(lora.targets)}: {trainable:,} trainable of {total:,} "
        f"parameters ({100 * trainable / total:.2f}%), {total - trainable:,} frozen")

    decoding = Decoding(config.scoring.eval_beams, config.scoring.eval_max_new_tokens)
    autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    base_scores = None
    if state.is_main_process:  # generation is scored once, on the main process; the others wait at the barrier
        model.to(trainer_args.device)
        say(f"Scoring the base model on {eval_name} ({len(eval_pairs)} pairs) ...")
        scorer = Scorer.around(model, tokenizer, decoding, args.per_device_eval_batch_size, autocast_dtype=autocast)
        base_scores, _ = scorer.score(eval_pairs, src, tgt, progress=True)
    state.wait_for_everyone()

    trainer = Seq2SeqTrainer(
        model=model, args=trainer_args, train_dataset=train_set, eval_dataset=eval_set,
        # Pads labels with -100 (ignored by the loss) and builds decoder inputs [</s>, tgt_lang, tokens] from them.
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100,
                                             pad_to_multiple_of=8 if torch.cuda.is_available() else None),
        processing_class=tokenizer, callbacks=list(callbacks),
    )
    print_readable_logs(trainer)
    if resume:
        say(f"Resuming from {resume}")
    try:
        result = trainer.train(resume_from_checkpoint=resume)
    except KeyboardInterrupt:
        say(f"Interrupted. Continue with the same command plus --resume-from-checkpoint last "
            f"(checkpoints are in {out / 'checkpoints'}).", file=sys.stderr)
        return 130
    if not state.is_main_process:
        return 0

    model = trainer.model  # the best checkpoint's adapter is loaded into it (load_best_model_at_end)
    save_adapter(model, out, base_id)
    scorer = Scorer.around(model, tokenizer, decoding, args.per_device_eval_batch_size, autocast_dtype=autocast)
    lora_scores, _ = scorer.score(eval_pairs, src, tgt, name=TRAINED, progress=True)
    report = RunReport(
        base_model=base_id or UNNAMED_BASE, src_lang=src, tgt_lang=tgt, eval_set=eval_name,
        num_beams=decoding.num_beams, max_new_tokens=decoding.max_new_tokens, base=base_scores, lora=lora_scores,
        lora_settings=lora, training=training_summary(config, trainer, result, reports, len(train_set),
                                                      len(eval_set), state.num_processes),
        loss_history=tuple((log["step"], log["loss"]) for log in trainer.state.log_history if "loss" in log),
        datasets=tuple(filter(None, [sources.train_dataset])), eval_dataset=sources.eval_dataset,
        license=config.push.license,
    )
    (out / "metrics.json").write_text(report.to_json(), encoding="utf-8")
    write_card(report, out, None, None)
    say(scores_text(base_scores, lora_scores))
    if lora_scores.chrf < base_scores.chrf:
        say(f"Warning: the adapter scores below the base model (chrF++ {lora_scores.chrf - base_scores.chrf:+.2f}, "
            f"BLEU {lora_scores.bleu - base_scores.bleu:+.2f}): it made these translations worse. Train longer, "
            "with a lower --learning-rate, or on data closer to the evaluation set; the card says so too.")
    say(f"Adapter, metrics.json and model card are in {out}")
    return push(config.push, out) if args.push_to_hub else 0


def save_adapter(model, out: Path, base_id: str | None) -> None:
    """The adapter as PEFT saves it, recording ``base_id`` as its base."""
    model.save_pretrained(out)
    # PEFT fills an empty base_model_name_or_path with the base's local path when saving: never publish that.
    saved = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    saved["base_model_name_or_path"] = base_id
    # PEFT writes target_modules from a set, in an order that changes from process to process: sorted, the same
    # adapter is the same file (and the same content hash on the Train tab, the same commit on the Hub).
    if isinstance(saved.get("target_modules"), list):
        saved["target_modules"] = sorted(saved["target_modules"])
    (out / "adapter_config.json").write_text(json.dumps(saved, indent=2, sort_keys=True), encoding="utf-8")


def training_summary(config: RunConfig, trainer, result, reports, train_pairs: int, eval_pairs: int,
                     processes: int) -> dict:
    """How the adapter was trained, for metrics.json and the card."""
    args, (train_data, eval_data) = config.training, reports
    return {
        # Each count next to where its pairs came from, so a reader can add them up.
        "train_pairs": train_pairs, "train_data": train_data.counts(),
        "eval_pairs": eval_pairs, "eval_data": eval_data.counts(), "steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0.0, 3), "learning_rate": args.learning_rate,
        "batch_size": args.per_device_train_batch_size * args.gradient_accumulation_steps * processes,
        "precision": args.precision, "seed": args.seed,
        "train_loss": round(result.training_loss, 4), "best_eval_loss": trainer.state.best_metric,
        "best_checkpoint": Path(trainer.state.best_model_checkpoint or "").name or None,
    }


def evaluate_only(config: RunConfig) -> int:
    """Score the base model, and ``--adapter`` if given, on the evaluation data; write metrics.json."""
    import torch

    from ..lora_config import linear_shapes
    from ..model.adapter_check import AdapterFiles, inspect_adapter
    from ..model.adapter_names import adapter_name
    from ..model.vocab import scripts_for

    scoring, src, tgt = config.scoring, config.model.src_lang, config.model.tgt_lang
    out = Path(config.training.output_dir)
    check_output_dir(config, out, ("metrics.json",))
    sources = check_data(config)
    raw = read_pairs(config, sources)
    model, tokenizer = load_model(config.model, dtype=scoring.eval_dtype)
    _, eval_pairs, reports = load_pairs(config, raw, None)
    eval_name = sources.eval_name
    print(reports[-1].summary())
    if scoring.restrict_vocab and scripts_for(tgt) is None:
        raise ConfigError(f"--restrict-vocab: the script of {tgt} is unknown, nothing to cut.")
    # int8 kernels run on the CPU only.
    device = "cuda" if torch.cuda.is_available() and scoring.eval_dtype == "float32" else "cpu"
    autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(config.training.precision)
    decoding = Decoding(scoring.eval_beams, scoring.eval_max_new_tokens)
    shapes = linear_shapes(model)
    scorer = Scorer.around(model.to(device), tokenizer, decoding, config.training.per_device_eval_batch_size,
                           scoring.restrict_vocab, autocast)
    base_scores, _ = scorer.score(eval_pairs, src, tgt, progress=True)
    lora_scores, lora, training = None, None, {}
    if scoring.adapter:
        folder, label, sha = fetch_adapter(scoring.adapter, scoring.revision)
        plan = inspect_adapter(folder, shapes, config.model.base_model)
        for warning in plan.warnings:
            print(f"Note: {warning}")
        lora = LoraSettings(r=plan.r, alpha=int(plan.alpha) if plan.alpha.is_integer() else plan.alpha,
                            dropout=float(json.loads((folder / "adapter_config.json").read_text())
                                          .get("lora_dropout") or 0.0),
                            targets=plan.projections)
        # Attached as the app attaches it: a config built from the tensors, under the app's name for the commit.
        files = AdapterFiles(adapter_name(scoring.adapter, sha), str(folder), plan)
        lora_scores, _ = scorer.score(eval_pairs, src, tgt, files.name, files, progress=True)
        training = {"adapter": label}
    report = RunReport(
        base_model=base_name(config.model) or UNNAMED_BASE, src_lang=src, tgt_lang=tgt, eval_set=eval_name,
        num_beams=decoding.num_beams, max_new_tokens=decoding.max_new_tokens, base=base_scores, lora=lora_scores,
        lora_settings=lora, training=training, eval_dataset=sources.eval_dataset, license=config.push.license,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(report.to_json(), encoding="utf-8")
    print(scores_text(base_scores, lora_scores))
    print(f"Scores written to {out / 'metrics.json'}")
    return 0
