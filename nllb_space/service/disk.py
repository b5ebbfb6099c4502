"""The disk a public Space lets visitors fill, bounded: result files, uploads, and visitors' adapters in the cache.

- Result files (translated uploads, score tables) go under one folder, :data:`RESULTS_ROOT`; those older than
  ``NLLB_FILE_TTL`` are removed. Gradio's own copies of uploads and outputs get the same age (``delete_cache``), and
  uploads over ``NLLB_MAX_FILE_BYTES`` are refused at upload (``max_file_size``). Uploads have budgets of their own,
  per visitor and in all, and go sooner when no request used them (web/uploads.py).
- Every repo a visitor types lands in the Hugging Face cache. Its visitors' adapters (every model repo but the base
  and the owner's adapter repo) are held to ``NLLB_ADAPTER_DISK_MB`` by :class:`AdapterDisk`: before each download
  it removes the least recently used revisions until the new files fit (a janitor pass trims the same way). A
  revision that is in use (ready to serve or attached) or being fetched and checked is never deleted; a deleted one
  is simply downloaded again. When revisions in use hold the room, a download waits a little for other downloads to
  finish, then is refused with a message, so the cache never goes over its budget (twelve 45 MB adapters once took
  it from 12 to 557 MB against 100 MB).

:func:`start_janitor` runs the clean-ups every ``JANITOR_INTERVAL_S`` on a daemon thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import UserFacingError

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
    return _trim(limit_bytes, keep_repos, in_use)[0]


def _trim(limit_bytes: int, keep_repos: Iterable[str], in_use: Iterable[str],
          busy_revisions: Iterable[tuple[str, str]] = ()) -> tuple[int, int]:
    """:func:`trim_adapter_cache`, also sparing the (repo, commit) pairs in ``busy_revisions``; returns the bytes freed
    and the bytes visitors' revisions still take."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    keep, busy = set(keep_repos), {str(Path(p).resolve()) for p in in_use}
    spared = {(repo, sha.lower()) for repo, sha in busy_revisions}
    try:
        cache = scan_cache_dir()
    except CacheNotFound:  # nothing downloaded yet
        return 0, 0
    revisions = [
        (repo, revision) for repo in cache.repos if repo.repo_type == "model" and repo.repo_id not in keep
        for revision in repo.revisions
    ]
    total = sum(revision.size_on_disk for _, revision in revisions)
    doomed: dict = {}  # repo -> commit hashes to remove from it
    freed = 0
    for repo, revision in sorted(revisions, key=lambda pair: _last_used(pair[1])):
        if total - freed <= limit_bytes:
            break
        if str(Path(revision.snapshot_path).resolve()) in busy or (repo.repo_id, revision.commit_hash) in spared:
            continue
        doomed.setdefault(repo, []).append(revision.commit_hash)
        freed += revision.size_on_disk
    for repo, hashes in doomed.items():
        # One repo at a time: huggingface_hub takes a commit hash to be unique across repos, but a duplicated or
        # copied repo has the very same commits, and a hash would then be removed from one of them only.
        dataclasses.replace(cache, repos=frozenset({repo})).delete_revisions(*hashes).execute()
    if doomed:
        logger.info("Removed %d cached adapter revision(s) of visitors (%.1f MB)",
                    sum(map(len, doomed.values())), freed / 1e6)
    return freed, total - freed


class AdapterDiskFull(UserFacingError):
    """A visitor's adapter does not fit the disk ``NLLB_ADAPTER_DISK_MB`` gives visitors' adapters."""


ROOM_WAIT_S = 30.0
"""How long a download waits for other downloads and checks under way to end when they hold the room it needs."""
CLAIM_S = 600.0
"""A fetched revision is spared until it is checked (``AdapterDisk.settled``), or this long at most."""


class AdapterDisk:
    """The Hub cache's room for visitors' adapters, ``limit_bytes`` in all, made before each download.

    The engine gives what this module must not import: ``keep_repos`` (never removed: the base model and the owner's
    repo, which do not count either) and ``in_use()`` (the snapshot folders of the revisions ready or attached). The
    adapter registry claims a revision (:meth:`claim`) before fetching it and settles it (:meth:`settled`) once
    checked, so a revision between its download and its check is not removed by another visitor's download.
    Downloads under way hold their bytes reserved, so two at once cannot both take the last room.
    """

    def __init__(self, limit_bytes: int, keep_repos: Iterable[str], in_use: Callable[[], Iterable[str]]) -> None:
        self.limit_bytes = limit_bytes
        self._keep = {repo for repo in keep_repos if repo}
        self._in_use = in_use
        self._claims: dict[tuple[str, str], tuple[int, float]] = {}  # (repo, sha) -> (fetches under way, since)
        self._reserved = 0
        self._changed = threading.Condition()

    def trim(self) -> int:
        """The janitor's pass: visitors' revisions trimmed to the budget; returns the bytes freed."""
        with self._changed:
            return _trim(self.limit_bytes - self._reserved, self._keep, self._in_use(), self._claimed())[0]

    def claim(self, repo: str, sha: str) -> None:
        """Spare (``repo``, ``sha``) from removal until :meth:`settled`: it is being fetched and checked."""
        key = (repo, sha.lower())
        with self._changed:
            count, _ = self._claims.get(key, (0, 0.0))
            self._claims[key] = (count + 1, time.monotonic())

    def settled(self, repo: str, sha: str) -> None:
        """The fetch of (``repo``, ``sha``) claimed before is over (checked, refused or failed)."""
        key = (repo, sha.lower())
        with self._changed:
            count, since = self._claims.get(key, (0, 0.0))
            if count > 1:
                self._claims[key] = (count - 1, since)
            else:
                self._claims.pop(key, None)
            self._changed.notify_all()

    @contextlib.contextmanager
    def room(self, nbytes: int, what: str = "this adapter", mine: tuple[str, str] | None = None) -> Iterator[None]:
        """Make room for ``nbytes`` of new files and hold it while they download (the ``with`` block).

        Removes visitors' revisions, least recently used first, that are neither in use nor claimed. If those hold
        the room, waits up to :data:`ROOM_WAIT_S` for other downloads and checks under way (other than the caller's
        own claim, ``mine``) to end.

        Raises:
            AdapterDiskFull: ``nbytes`` is more than the whole budget, or the room is still held after the wait.
        """
        if nbytes > self.limit_bytes:
            raise AdapterDiskFull(
                f"{what} is {_mb(nbytes)}, more than the {_mb(self.limit_bytes)} this Space gives visitors' adapters "
                "on its disk (NLLB_ADAPTER_DISK_MB).",
                es=f"{what} ocupa {_mb(nbytes)}, más de los {_mb(self.limit_bytes)} que este Space da en su disco a "
                "los adaptadores de los visitantes (NLLB_ADAPTER_DISK_MB).")
        mine = (mine[0], mine[1].lower()) if mine else None
        deadline = time.monotonic() + ROOM_WAIT_S
        with self._changed:
            while True:
                room = self.limit_bytes - self._reserved - nbytes
                _, left = _trim(room, self._keep, self._in_use(), self._claimed())
                if left <= room:
                    break
                wait = deadline - time.monotonic()
                others = self._reserved or any(key != mine for key in self._claims)
                if wait <= 0 or not others:  # nothing under way will free it soon
                    raise AdapterDiskFull(
                        f"The disk this Space gives visitors' adapters ({_mb(self.limit_bytes)}, "
                        f"NLLB_ADAPTER_DISK_MB) is held by adapters in use right now, and {what} needs "
                        f"{_mb(nbytes)}. Try again in a few minutes.",
                        es=f"El disco que este Space da a los adaptadores de los visitantes "
                        f"({_mb(self.limit_bytes)}, NLLB_ADAPTER_DISK_MB) lo ocupan ahora adaptadores en uso, y "
                        f"{what} necesita {_mb(nbytes)}. Vuelve a intentarlo en unos minutos.")
                self._changed.wait(min(wait, 1.0))
            self._reserved += nbytes
        try:
            yield
        finally:
            with self._changed:
                self._reserved -= nbytes
                self._changed.notify_all()

    def _claimed(self) -> set[tuple[str, str]]:
        """The claimed revisions, once stale claims are dropped (call with the lock held)."""
        cutoff = time.monotonic() - CLAIM_S
        for key in [key for key, (_, since) in self._claims.items() if since < cutoff]:
            del self._claims[key]
        return set(self._claims)


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


def _mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:,.1f} MB" if nbytes >= 100_000 else f"{nbytes / 1e3:,.1f} kB"


def _last_used(revision) -> float:
    return max((f.blob_last_accessed for f in revision.files), default=0.0)
