"""What the revisions panel shows of each revision beyond its name, remembered by commit sha (a commit never changes).

One ``paths-info`` call per listed commit (:func:`~nllb_space.hub.downloads.commit_contents`) says whether it holds
an adapter and a ``metrics.json``. From that:

- revisions without ``adapter_config.json`` (a repo's "initial commit", a commit that only edited the README) are
  not offered: picking one could only fail;
- a branch or tag shows the date and title of the commit it points to: from the commits already listed when that
  commit is among them, else from the same ``paths-info`` answer when that commit changed the adapter or its metrics
  (a training push changes both). Otherwise they stay blank: no further lookup is made for them;
- branches and tags show the scores of their ``metrics.json`` (``train/run.py`` writes it beside the adapter), and
  so does a listed commit that one of them points to. Plain commits are not downloaded: at a Space's first listing
  that would be one more download per commit.

Bounds: per listing at most :data:`MAX_CHECKED` commits are checked and :data:`MAX_SCORED` metrics files downloaded,
each call with a short deadline, all of them within :data:`BUDGET_S`; the first Hub failure stops the rest, and one
listing at a time asks. What was not checked is offered as before, without date or scores. Once a Space has listed a
repo, listing it again costs two Hub calls (refs and commits) plus one or two per commit it has not seen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Callable, Sequence, TypeVar

from . import downloads as hub_downloads
from .card import RunReport
from .downloads import SMALL_FILE_BYTES, CommitContents
from .revisions import CommitInfo, HubError, Ref, Revisions, RunScores

logger = logging.getLogger(__name__)

K = tuple[str, str]
"""(repo id, commit sha)."""
V = TypeVar("V")

MAX_CHECKED = 40
"""Commits checked per listing: its branches and tags first, then its recent commits (20 at most)."""
MAX_SCORED = 12
"""``metrics.json`` files downloaded per listing (branches first, then tags)."""
BUDGET_S = 15.0
"""Time all the checks and downloads of one listing may take together; beyond it the rest stays unchecked."""
REMEMBERED = 4096
"""Commits remembered (a few hundred bytes each), the least recently listed forgotten first."""


class RevisionFacts:
    """The facts of listed commits, remembered for every visitor of this process (thread-safe)."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._contents: OrderedDict[K, CommitContents] = OrderedDict()
        self._scores: OrderedDict[K, RunScores | None] = OrderedDict()
        """``None``: the commit's ``metrics.json`` is not a run report (or too big); no use reading it again."""
        self._remembered = remembered
        self._lock = threading.Lock()
        self._asking = threading.Lock()

    def annotate(self, revisions: Revisions, token: str | bool | None = None) -> Revisions:
        """``revisions`` without what holds no adapter, its branches and tags dated, and the scores it can show."""
        # One listing asks the Hub at a time; the others wait for its answers, then remembered. Every visitor's Hub
        # calls share time_bound's few threads: a dozen page loads checking the same commits at once would take
        # them all, and the next visitor's own listing would be refused. A listing that waited too long goes on
        # with what is remembered.
        asking = self._asking.acquire(timeout=BUDGET_S)
        try:
            return self._annotate(revisions, token, asking)
        finally:
            if asking:
                self._asking.release()

    def _annotate(self, revisions: Revisions, token: str | bool | None, asking: bool) -> Revisions:
        repo = revisions.repo_id
        deadline = time.monotonic() + BUDGET_S if asking else 0.0
        refs = (*revisions.branches, *revisions.tags)
        shas = list(dict.fromkeys([ref.sha for ref in refs] + [commit.sha for commit in revisions.commits]))
        contents = self._each(self._contents, repo, shas[:MAX_CHECKED], deadline,
                              lambda sha: hub_downloads.commit_contents(repo, sha, token))

        def offered(sha: str) -> bool:  # unchecked: offered, as it may hold one
            return sha not in contents or contents[sha].has_adapter

        listed = {commit.sha: commit for commit in revisions.commits}

        def dated(ref: Ref) -> Ref:
            known: CommitInfo | CommitContents | None = listed.get(ref.sha) or contents.get(ref.sha)
            return replace(ref, title=known.title, date=known.date) if known else ref

        branches = tuple(dated(ref) for ref in revisions.branches if offered(ref.sha))
        tags = tuple(dated(ref) for ref in revisions.tags if offered(ref.sha))
        commits = tuple(commit for commit in revisions.commits if offered(commit.sha))
        with_metrics = [ref.sha for ref in (*branches, *tags)
                        if ref.sha in contents and contents[ref.sha].metrics_bytes is not None]
        read = self._each(self._scores, repo, list(dict.fromkeys(with_metrics))[:MAX_SCORED], deadline,
                          lambda sha: self._read_scores(repo, sha, contents[sha], token))
        hidden = len(refs) + len(revisions.commits) - len(branches) - len(tags) - len(commits)
        return replace(revisions, branches=branches, tags=tags, commits=commits, hidden=hidden,
                       scores={sha: scores for sha, scores in read.items() if scores is not None})

    def _each(self, memory: OrderedDict[K, V], repo: str, shas: Sequence[str], deadline: float,
              ask: Callable[[str], V]) -> dict[str, V]:
        """``ask(sha)`` for each of ``shas`` not remembered, until the Hub fails or ``deadline`` passes."""
        found: dict[str, V] = {}
        asking = True
        for sha in shas:
            with self._lock:
                if (repo, sha) in memory:
                    memory.move_to_end((repo, sha))
                    found[sha] = memory[(repo, sha)]
                    continue
            if not asking or time.monotonic() > deadline:
                continue  # keep going: later commits may still be remembered
            try:
                value = ask(sha)
            except HubError as error:  # the panel works without these facts: say why in the log, ask no more
                logger.warning("Revisions of %s listed without all their facts: %s", repo, error)
                asking = False
                continue
            found[sha] = value
            with self._lock:
                memory[(repo, sha)] = value
                while len(memory) > self._remembered:
                    memory.popitem(last=False)
        return found

    @staticmethod
    def _read_scores(repo: str, sha: str, contents: CommitContents, token: str | bool | None) -> RunScores | None:
        """The scores of ``metrics.json`` at ``sha``; ``None`` for a file too big or not written by ``train/run.py``."""
        if (contents.metrics_bytes or 0) > SMALL_FILE_BYTES:
            return None
        try:
            report = RunReport.from_json(hub_downloads.download_metrics(repo, sha, token))
        except ValueError as error:
            logger.info("%s at %s: metrics.json is %s", repo, sha[:7], error)
            return None
        lora = report.lora
        return RunScores(base_bleu=report.base.bleu, base_chrf=report.base.chrf,
                         lora_bleu=lora.bleu if lora else None, lora_chrf=lora.chrf if lora else None)
