"""The disk a public Space lets visitors fill, bounded: result files, uploads, and visitors' adapters in the cache.

- Result files (translated uploads, score tables) go under one folder, :data:`RESULTS_ROOT`; those older than
  ``NLLB_FILE_TTL`` are removed. Gradio's own copies of uploads and outputs get the same age (``delete_cache``), and
  uploads over ``NLLB_MAX_FILE_BYTES`` are refused at upload (``max_file_size``).
- Every repo a visitor types lands in the Hugging Face cache. Its visitors' adapters (every model repo but the base
  and the owner's adapter repo) are trimmed, least recently used first, to ``NLLB_ADAPTER_DISK_MB``. A revision
  that is in use (ready to serve or attached) is never deleted; a deleted one is simply downloaded again.

:func:`start_janitor` runs both every ``JANITOR_INTERVAL_S`` on a daemon thread.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

logger = logging.getLogger(__name__)

RESULTS_ROOT = Path(tempfile.gettempdir()) / "nllb-space-results"
"""Where result files are written, one fresh folder each (so concurrent visitors never share a file)."""
JANITOR_INTERVAL_S = 600.0
"""How often old result files and visitors' cached adapters are cleaned up."""


def results_folder() -> Path:
    """A fresh folder under :data:`RESULTS_ROOT` for one result file."""
    RESULTS_ROOT.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="result-", dir=RESULTS_ROOT))


def sweep_results(max_age_s: float, now: float | None = None) -> int:
    """Remove result folders older than ``max_age_s``; returns how many went."""
    if not RESULTS_ROOT.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - max_age_s
    removed = 0
    for folder in RESULTS_ROOT.iterdir():
        try:
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:  # another sweep got there first
            continue
    return removed


def trim_adapter_cache(limit_bytes: int, keep_repos: Iterable[str], in_use: Iterable[str]) -> int:
    """Delete visitors' cached adapter revisions, least recently used first, until they take ``limit_bytes`` or less.

    ``keep_repos`` (the base model, the owner's adapter repo) are never touched; neither is any revision whose
    snapshot folder is in ``in_use``. Returns the bytes freed.
    """
    from huggingface_hub import scan_cache_dir

    keep, busy = set(keep_repos), {str(Path(p).resolve()) for p in in_use}
    cache = scan_cache_dir()
    revisions = [
        revision for repo in cache.repos if repo.repo_type == "model" and repo.repo_id not in keep
        for revision in repo.revisions
    ]
    total = sum(revision.size_on_disk for revision in revisions)
    doomed, freed = [], 0
    for revision in sorted(revisions, key=_last_used):
        if total - freed <= limit_bytes:
            break
        if str(Path(revision.snapshot_path).resolve()) in busy:
            continue
        doomed.append(revision.commit_hash)
        freed += revision.size_on_disk
    if doomed:
        cache.delete_revisions(*doomed).execute()
        logger.info("Removed %d cached adapter revision(s) of visitors (%.1f MB)", len(doomed), freed / 1e6)
    return freed


def start_janitor(clean: Callable[[], None], interval_s: float = JANITOR_INTERVAL_S) -> threading.Thread:
    """Run ``clean()`` every ``interval_s`` seconds on a daemon thread, logging (never raising) its failures."""

    def loop() -> None:
        while True:
            time.sleep(interval_s)
            try:
                clean()
            except Exception:  # noqa: BLE001 - housekeeping must never take the Space down
                logger.exception("Disk clean-up failed; it runs again in %.0f s", interval_s)

    thread = threading.Thread(target=loop, name="disk-janitor", daemon=True)
    thread.start()
    return thread


def _last_used(revision) -> float:
    return max((f.blob_last_accessed for f in revision.files), default=0.0)
