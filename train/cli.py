"""The command line of ``python train/run.py``: its flags read into :class:`~nllb_space.training.config.RunConfig` by
transformers' ``HfArgumentParser``, the Trainer flags this script replaces refused, and ``--help`` in groups.
"""

from __future__ import annotations

import argparse
import sys

from nllb_space.training.config import ConfigError, RunConfig, flag, parse_flags

_THIS_SCRIPT_PUSHES = "this script pushes once, after training, with --push-to-hub"
REPLACED_TRAINER_FLAGS = {
    "hub_token": "the token comes from HF_TOKEN or `hf auth login` (a flag would keep it in the shell's history)",
    "hub_model_id": "give --hub-repo", "hub_revision": "give --hub-branch", "hub_private_repo": "give --private",
    "hub_strategy": _THIS_SCRIPT_PUSHES, "hub_always_push": _THIS_SCRIPT_PUSHES,
    "bf16": "give --precision bf16", "fp16": "give --precision fp16",
    "save_strategy": "a checkpoint is saved at each --eval-strategy evaluation",
    "save_steps": "a checkpoint is saved at each --eval-steps evaluation",
    "greater_is_better": "the lowest --metric-for-best-model (eval loss) is best",
    "generation_num_beams": "give --eval-beams", "generation_max_length": "give --eval-max-new-tokens",
    "predict_with_generate": "scoring always generates, with --eval-beams",
    "generation_config": "scoring decodes with --eval-beams and --eval-max-new-tokens",
}
"""Trainer flags that this script does differently: refused (naming what to give instead), and left out of --help."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` as a reader wants it: each flag once, with dashes (``--snake_case`` still parses); switches without
    a value; a default only where it says something; Trainer flags this script replaces left out.

    argparse offers formatter classes as its way to change the help; these are the methods its own ones override.
    """

    def add_argument(self, action: argparse.Action) -> None:
        if action.dest not in REPLACED_TRAINER_FLAGS:
            super().add_argument(action)

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown = [o for o in action.option_strings if "_" not in o] or action.option_strings
        if not shown or action.nargs == 0 or (action.nargs == "?" and action.const is True):
            return ", ".join(shown) or super()._format_action_invocation(action)
        return f"{', '.join(shown)} {self._format_args(action, action.dest.upper())}"

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.nargs == 0 and action.const is False:  # HfArgumentParser's --no-X, which repeats --X's help
            return f"Turn {action.option_strings[-1].replace('--no-', '--', 1)} off."
        if action.default is None or action.default is False or action.default == []:
            return action.help or ""
        return super()._get_help_string(action)


def parse(argv=None) -> RunConfig:
    """The command line ``argv`` (default ``sys.argv``) as a checked :class:`RunConfig`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    given = {arg.split("=", 1)[0].replace("_", "-") for arg in argv if arg.startswith("--")}
    for name, instead in REPLACED_TRAINER_FLAGS.items():
        if flag(name) in given:  # checked on the command line: __post_init__ sets some of these itself
            raise ConfigError(f"{flag(name)} is not used here: {instead}.")
    return parse_flags(argv, prog="python train/run.py", usage="%(prog)s [flags]", formatter_class=HelpFormatter,
                       allow_abbrev=False,  # --hub-tok is not --hub-token
                       description="Fine-tune LoRA adapters for NLLB-200, score them against the base model, push "
                                   "them by revision.")
