"""Publishing a run: the model card, and one commit on a branch of the Hub repo, tagged.

Only the adapter, ``metrics.json`` and the card are pushed (never ``checkpoints/``, which hold optimizer states).
A failed push keeps everything in the output folder and prints the command that retries just the push.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from ..hub import revisions as hub
from ..hub.card import RunReport, commit_summary, render_card, scores_markdown, validate_card
from .config import PushArguments
from .pairs import DataError
from .steps import PUSHED_FILES


def write_card(report: RunReport, out: Path, repo_id: str | None, revision: str | None) -> None:
    card = render_card(report, repo_id, revision)
    validate_card(card)  # a card the Hub would reject must fail here, not after a long run at push time
    (out / "README.md").write_text(card, encoding="utf-8")


def next_tag(tag: str) -> str:
    """A tag after ``tag``: its last number counted up (``v1`` -> ``v2``), else ``-2`` appended."""
    match = re.search(r"(\d+)$", tag)
    return f"{tag[:match.start()]}{int(match[1]) + 1}" if match else f"{tag}-2"


def retry_command(push: PushArguments, out: Path, tag: str | None = None) -> str:
    """The command that retries just the push of ``out`` (with ``tag`` instead of ``--hub-tag`` when given)."""
    tag = tag or push.hub_tag
    return (f"python train/run.py --push-only --output-dir {out} --hub-repo {push.hub_repo}"
            + (f" --hub-branch {push.hub_branch}" if push.hub_branch else "")
            + (f" --hub-tag {tag}" if tag else "") + (" --private" if push.private else ""))


def publish_folder(out: Path, repo_id: str, *, branch: str = hub.DEFAULT_BRANCH, tag: str | None = None,
                   private: bool = False, token: str | None = None) -> hub.PushResult:
    """Push the run in ``out`` (adapter, ``metrics.json``, a card rendered for ``repo_id``) as one commit on
    ``branch``, tagged ``tag``; ``out`` is not changed. ``token``: whose push it is (``None``: the machine's login).
    Raises ``DataError`` (nothing to push) or ``HubError``."""
    missing = [name for name in PUSHED_FILES if name != "README.md" and not (out / name).is_file()]
    if missing:
        raise DataError(f"Nothing to push: {out} lacks {', '.join(missing)}. Train into it first.")
    try:
        report = RunReport.from_json((out / "metrics.json").read_text(encoding="utf-8"))
    except ValueError as error:
        raise DataError(f"{out / 'metrics.json'} is {error}") from None
    with tempfile.TemporaryDirectory(prefix="nllb-push-") as staging:
        for name in PUSHED_FILES:  # only these: checkpoints/ must never reach the Hub
            if name != "README.md":
                shutil.copy2(out / name, Path(staging) / name)
        write_card(report, Path(staging), repo_id, tag or branch)
        return hub.push_folder(
            Path(staging), repo_id, branch=branch, tag=tag, private=private, token=token,
            commit_message=commit_summary(report),
            commit_description=(f"Trained with nllb-space.\n\n{scores_markdown(report)}\n\n"
                                f"Evaluated on {report.eval_set}."),
        )


def push(push: PushArguments, out: Path) -> int:
    """The command line's push of ``out`` (its card re-rendered for the target there too); 1 if the push fails."""
    branch = push.hub_branch or hub.DEFAULT_BRANCH
    try:
        pushed = publish_folder(out, push.hub_repo, branch=branch, tag=push.hub_tag, private=push.private)
    except hub.HubError as error:
        _local_card(out, push.hub_repo, push.hub_tag or branch)
        # A tag names one commit for good: retrying with the same one would fail again.
        taken = bool(push.hub_tag) and "already exists" in str(error)
        retry = retry_command(push, out, next_tag(push.hub_tag) if taken else None)
        print(f"run.py: push failed: {error}\nThe adapter, metrics.json and README.md are still in {out}. "
              f"Retry just the push with{' a new tag' if taken else ''}:\n  {retry}", file=sys.stderr)
        return 1
    _local_card(out, push.hub_repo, push.hub_tag or branch)
    print(f"Pushed to {pushed.repo_id} (branch {pushed.branch}{', tag ' + pushed.tag if pushed.tag else ''}): "
          f"commit {pushed.sha}\n{pushed.url}")
    print(f"NLLB_ADAPTER_REPO={pushed.repo_id} NLLB_ADAPTER_REVISION={pushed.tag or pushed.sha}")
    return 0


def _local_card(out: Path, repo_id: str, revision: str) -> None:
    """The output folder's card, naming where the run went (or was to go), as the pushed one does."""
    write_card(RunReport.from_json((out / "metrics.json").read_text(encoding="utf-8")), out, repo_id, revision)
