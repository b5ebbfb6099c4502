"""Fine-tune LoRA adapters for NLLB-200 on parallel data, score them against the base model, push them by revision.

    config -> data (check, read) -> model -> clean pairs -> LoRA on q/k/v/out_proj -> score base -> Seq2SeqTrainer
           -> score LoRA -> adapter + metrics.json + model card in --output-dir -> (--push-to-hub) one commit on a
           branch, tagged

Quick local run (CPU is fine: a few steps on OPUS Books es-it, the default data, with 40 held-out pairs scored):

    python train/run.py --max-steps 20 --batch-size 8 --eval-steps 10 --max-eval-pairs 40 \\
        --output-dir runs/quick --overwrite

Full run on a GPU (bf16/fp16 picked automatically), scored on FLORES+ dev with 4 beams (a gated dataset: accept its
conditions on the Hub and log in first), pushed to a branch and tagged; several GPUs: replace ``python`` by
``accelerate launch`` or ``torchrun --nproc_per_node N``:

    python train/run.py --dataset Helsinki-NLP/opus_books --dataset-config es-it \\
        --eval-dataset openlanguagedata/flores_plus --eval-split dev \\
        --epochs 3 --batch-size 32 --eval-beams 4 --output-dir runs/spa-ita-r16 \\
        --push-to-hub --hub-repo YOU/nllb-600m-spa-ita-lora --hub-branch exp/r16 --hub-tag v1

Score the base model against an existing adapter (a Hub repo at a revision, or a local folder) on FLORES+ devtest:

    python train/run.py --eval-only --adapter YOU/nllb-600m-spa-ita-lora --revision v1 \\
        --eval-dataset openlanguagedata/flores_plus --eval-split devtest --eval-beams 4 --output-dir runs/eval-v1

Offline, with a downloaded model folder and your own pairs (one ``Spanish<TAB>Italian`` pair per line):

    HF_HUB_OFFLINE=1 python train/run.py --base-model ./nllb-200-distilled-600M \\
        --base-model-name facebook/nllb-200-distilled-600M --train-file my_pairs.tsv \\
        --max-steps 20 --batch-size 8 --eval-steps 10 --output-dir runs/offline

Retry a failed push without training again:

    python train/run.py --push-only --output-dir runs/spa-ita-r16 --hub-repo YOU/nllb-600m-spa-ita-lora --hub-tag v1

Other data: ``--dataset NAME [--dataset-config CFG] [--split train]`` (OPUS-style ``translation`` rows or one column
per language, ``--source-column/--target-column`` otherwise), ``--eval-dataset NAME --eval-split SPLIT`` (paired, or
one config per language as FLORES+), ``--train-file``/``--eval-file`` (.tsv, .csv, .jsonl). The data flags are
checked before the model loads (nllb_space/training/sources.py). ``python train/run.py --help`` lists every flag with its default,
in groups (nllb_space/training/config.py); Seq2SeqTrainingArguments flags work too (``--lr-scheduler-type cosine``,
``--report-to trackio`` ...), except the few this script does itself, which are refused naming the flag to give
instead (train/cli.py).

The console shows the pair counts (loaded, dropped for each reason, held out for evaluation, left to train on), one
line per Trainer log (``step 20/200 · epoch 0.40 · loss 2.345 · lr 1.2e-04 · grad norm 0.87``), and the scores.

The output directory holds ``adapter_config.json`` + ``adapter_model.safetensors`` (the adapter), ``metrics.json``
(BLEU/chrF++ of base and LoRA with sacreBLEU signatures, and how it was trained), ``README.md`` (the model card) and
``checkpoints/`` (Trainer checkpoints for ``--resume-from-checkpoint``; never pushed). The Hub token comes from
``HF_TOKEN`` or ``hf auth login``'s cache and is never printed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Sequence

# `python train/run.py` puts train/ (not the repo root) first on sys.path: make `nllb_space` and `train` importable,
# and keep this folder's modules from shadowing top-level modules of the same name.
_REPO_ROOT = str(Path(__file__).resolve().parents[1])
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = _REPO_ROOT
elif _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from nllb_space.errors import UserFacingError  # noqa: E402
from nllb_space.hub import revisions as hub  # noqa: E402
from nllb_space.training.config import ConfigError  # noqa: E402
from nllb_space.training.pairs import DataError  # noqa: E402
from nllb_space.training.publish import push  # noqa: E402
from nllb_space.training.runs import evaluate_only, train  # noqa: E402
from train.cli import parse  # noqa: E402

logger = logging.getLogger("train.run")
QUIET_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "huggingface_hub")
"""Loggers held at WARNING on the console: the Hub client's INFO is one "HTTP Request: GET ... 200 OK" per call."""


def configure_logging() -> None:
    """The console of ``python train/run.py``: this project's INFO lines, the HTTP clients' warnings only."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None, callbacks: Sequence = ()) -> int:
    """Run the command line ``argv``; returns the exit status. ``callbacks`` are extra Trainer callbacks."""
    try:
        config = parse(argv)
    except ValueError as error:  # ConfigError, or Trainer's own check of its flags
        print(f"run.py: error: {error}", file=sys.stderr)
        return 2
    try:
        if config.push.push_only:
            return push(config.push, Path(config.training.output_dir))
        if config.scoring.eval_only:
            return evaluate_only(config)
        return train(config, callbacks)
    except (ConfigError, DataError, UserFacingError, hub.HubError) as error:
        print(f"run.py: error: {error}", file=sys.stderr)
        return 1 if not isinstance(error, ConfigError) else 2


if __name__ == "__main__":
    configure_logging()
    sys.exit(main())
