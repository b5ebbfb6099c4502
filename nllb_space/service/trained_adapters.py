"""Adapters visitors trained in the Train tab: each kept in a folder named by its content hash, for its visitor only,
for a while, and never many.

A finished run hands its files back by value (training/page_runs.py): in a ZeroGPU worker or a training subprocess
they were written to a temporary folder that is gone by now. Here the main process writes them once, to
``<root>/<sha256 of config and tensors>/``, and every later model call, in whichever process or GPU worker it runs,
attaches the adapter from that folder, as it would a Hub commit's files. The hash is the adapter's "commit": the
same files always get the same name, and an adapter is never written twice.

Only the visitor who trained an adapter can run it (its choice ``trained@<hash>`` names nothing for anyone else,
with the message an unknown name gets); it is removed ``NLLB_TRAINED_TTL`` seconds after training, and at most
``NLLB_TRAINED_MAX`` are kept in all and :data:`PER_VISITOR` per visitor (the oldest goes first).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

PER_VISITOR = 2
"""Trained adapters one visitor keeps: the one they compare and the one before it."""
ROOT = Path(tempfile.gettempdir()) / "nllb-space-trained"
"""Where trained adapters live (one folder each)."""


@dataclass(frozen=True)
class TrainedAdapter:
    sha: str
    """sha256 of the adapter's config and tensors: its name and its folder's."""
    owner: str
    """The visitor key of whoever trained it (visitors.py)."""
    folder: Path
    created: float


def content_hash(files: dict[str, bytes]) -> str:
    """The adapter's name: a hash of what makes it this adapter (its config and its tensors, not its card)."""
    digest = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def not_found(sha: str) -> InputError:
    """What a name of no adapter of this visitor's gets: the same whether it never existed, expired or is another's."""
    return InputError(f"There is no trained adapter {sha[:12]!r} of yours on this Space (trained adapters are kept "
                      "for a while, for whoever trained them): train it again in the Train tab.",
                      es=f"No hay ningún adaptador entrenado {sha[:12]!r} tuyo en este Space (los adaptadores "
                         "entrenados se guardan un tiempo, para quien los entrenó): vuelve a entrenarlo en la "
                         "pestaña Entrenar.")


class TrainedAdapters:
    """The trained adapters on this server, bounded in number and in time."""

    def __init__(self, ttl_s: float, max_count: int, root: Path | None = None) -> None:
        self._ttl = ttl_s
        self._max = max_count
        self._root = root or ROOT
        self._kept: dict[tuple[str, str], TrainedAdapter] = {}
        """By (owner, sha): two visitors who train the very same adapter each keep it."""
        self._lock = threading.Lock()

    def add(self, files: dict[str, bytes], owner: str, now: float | None = None) -> TrainedAdapter:
        """Write ``files`` under their hash for ``owner``; the oldest of theirs, and of all, go beyond the bounds."""
        sha, now = content_hash(files), time.time() if now is None else now
        folder = self._root / sha
        if not folder.is_dir():
            self._root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".writing-", dir=self._root))
            for name, data in files.items():
                (staging / Path(name).name).write_bytes(data)
            try:
                staging.rename(folder)  # whole or not at all: a model call never sees half an adapter
            except OSError:  # written meanwhile by a run that trained the very same adapter
                shutil.rmtree(staging, ignore_errors=True)
        trained = TrainedAdapter(sha, owner, folder, now)
        with self._lock:
            self._kept[(owner, sha)] = trained
            gone = self._over_bounds(owner)
        for old in gone:
            shutil.rmtree(old.folder, ignore_errors=True)
        return trained

    def folder(self, sha: str, visitor: str, now: float | None = None) -> Path:
        """The folder of ``visitor``'s adapter ``sha``, or :func:`not_found`."""
        now = time.time() if now is None else now
        with self._lock:
            trained = self._kept.get((visitor, sha))
        if trained is None or now - trained.created > self._ttl:
            raise not_found(sha)
        return trained.folder

    def of(self, visitor: str, now: float | None = None) -> list[TrainedAdapter]:
        """``visitor``'s adapters still kept, newest first."""
        now = time.time() if now is None else now
        with self._lock:
            mine = [t for t in self._kept.values() if t.owner == visitor and now - t.created <= self._ttl]
        return sorted(mine, key=lambda t: t.created, reverse=True)

    def sweep(self, now: float | None = None) -> int:
        """Remove the adapters older than the time to live; how many went."""
        now = time.time() if now is None else now
        with self._lock:
            gone = [t for t in self._kept.values() if now - t.created > self._ttl]
            for trained in gone:
                del self._kept[(trained.owner, trained.sha)]
            still_used = {t.folder for t in self._kept.values()}
        for trained in gone:
            if trained.folder not in still_used:
                shutil.rmtree(trained.folder, ignore_errors=True)
        return len(gone)

    def _over_bounds(self, owner: str) -> list[TrainedAdapter]:
        """Forget (under the lock) what exceeds :data:`PER_VISITOR` for ``owner`` and the maximum in all."""
        gone = []
        mine = sorted((t for t in self._kept.values() if t.owner == owner), key=lambda t: t.created)
        gone += mine[:max(0, len(mine) - PER_VISITOR)]
        rest = sorted((t for t in self._kept.values() if t not in gone), key=lambda t: t.created)
        gone += rest[:max(0, len(rest) - self._max)]
        for trained in gone:
            del self._kept[(trained.owner, trained.sha)]
        still_used = {t.folder for t in self._kept.values()}
        return [t for t in gone if t.folder not in still_used]
