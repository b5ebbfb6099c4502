"""LoRA adapters on ONE base model: resolved to commits, cached by (repo, commit), evicted least-recently-used.

Two halves, because they need different locks:

- ``fetch()`` talks to the Hub (resolve a branch/tag to its sha, download that commit's files). It may be slow
  and runs outside the engine's model lock, so other users keep being served meanwhile.
- ``activate()`` attaches the fetched adapter to the model as a PEFT *named adapter* (no second copy of the base)
  and evicts the least recently used ones beyond the cache size. It runs under the engine's model lock, the same
  lock every generate call holds, so an adapter is never removed while a request is using it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from . import hub
from .errors import AdapterError, InputError
from .lora import check_adapter_fits
from .model_loading import LoadedBase
from .results import ModelRef

logger = logging.getLogger(__name__)

HUB_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
LOCAL_REVISION = "local"
"""The only revision of an adapter that lives in a local directory."""


@dataclass(frozen=True)
class FetchedAdapter:
    """An adapter revision resolved to a commit, with its files on local disk, not yet attached to the model."""

    repo: str
    revision: str
    sha: str
    folder: Path


def adapter_name(repo: str, sha: str) -> str:
    """PEFT adapter name for (repo, sha): a valid ``ModuleDict`` key (no dots or slashes), stable across runs."""
    return f"lora_{hashlib.sha1(repo.encode()).hexdigest()[:8]}_{sha[:12]}"


def local_digest(folder: Path) -> str:
    """A content digest standing in for a commit sha, so an edited local adapter is reloaded."""
    digest = hashlib.sha1()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        path = folder / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


class AdapterRegistry:
    """Resolves, caches and attaches LoRA adapter revisions for one ``LoadedBase``."""

    def __init__(self, base_model_id: str, cache_size: int, revision_ttl_s: float, token: str | None) -> None:
        self._base_model_id = base_model_id
        self._cache_size = cache_size
        self._ttl = revision_ttl_s
        self._token = token
        self._resolved: dict[tuple[str, str], tuple[str, float]] = {}
        self._loaded: OrderedDict[tuple[str, str], ModelRef] = OrderedDict()
        self._resolve_lock = threading.Lock()

    # -- Hub side (no model lock) -------------------------------------------------------------------------------

    def fetch(self, repo: str, revision: str) -> FetchedAdapter:
        """Resolve ``revision`` of ``repo`` (Hub id or local directory) to a commit and get its files."""
        local = Path(repo).expanduser()
        if local.is_dir():
            return FetchedAdapter(repo=str(local), revision=LOCAL_REVISION, sha=local_digest(local), folder=local)
        if not HUB_REPO_ID.match(repo):
            raise InputError(f"'{repo}' is not a Hub repo id (expected owner/name).")
        revision = revision.strip() or "main"
        sha = self.resolve(repo, revision)
        return FetchedAdapter(repo=repo, revision=revision, sha=sha, folder=hub.download_adapter(repo, sha, self._token))

    def resolve(self, repo: str, revision: str) -> str:
        """The commit sha ``revision`` names now; branch/tag answers are reused for ``revision_ttl_s`` seconds.

        A full sha never changes meaning, so it is kept for good. When the Hub is unreachable, a name resolved
        before keeps its last known commit, so the model that worked stays live.
        """
        key = (repo, revision)
        with self._resolve_lock:
            cached = self._resolved.get(key)
        now = time.monotonic()
        if cached and (hub.is_commit_sha(revision) or now - cached[1] < self._ttl):
            return cached[0]
        try:
            sha = hub.resolve_revision(repo, revision, token=self._token)
        except hub.HubUnavailable:
            if cached:
                logger.warning("Hub unreachable; keeping %s@%s at %s", repo, revision, cached[0][:7])
                return cached[0]
            raise
        with self._resolve_lock:
            self._resolved[key] = (sha, now)
        return sha

    # -- model side (caller holds the engine's model lock) ------------------------------------------------------

    def activate(self, base: LoadedBase, fetched: FetchedAdapter, pinned: set[str] = frozenset()) -> ModelRef:
        """Attach ``fetched`` to ``base.model`` unless already attached; evict LRU adapters not in ``pinned``."""
        key = (fetched.repo, fetched.sha)
        ref = ModelRef(adapter_name(*key), fetched.repo, fetched.revision, fetched.sha)
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return ref
        check_adapter_fits(fetched.folder, base.model, self._base_model_id)
        self._attach(base, fetched.folder, ref.adapter_name)
        self._loaded[key] = ref
        logger.info("Loaded adapter %s", ref.label)
        self._evict(base, pinned | {ref.adapter_name})
        return ref

    def trim(self, base: LoadedBase) -> None:
        """Evict down to the cache size once a request that pinned several adapters is done with them."""
        self._evict(base, set())

    def loaded(self) -> tuple[ModelRef, ...]:
        """Adapters attached now, least recently used first."""
        return tuple(self._loaded.values())

    def is_loaded(self, ref: ModelRef) -> bool:
        return (ref.repo, ref.sha) in self._loaded

    def _attach(self, base: LoadedBase, folder: Path, name: str) -> None:
        from peft import PeftModel

        try:
            if isinstance(base.model, PeftModel):
                base.model.load_adapter(str(folder), adapter_name=name, is_trainable=False)
            else:
                base.model = PeftModel.from_pretrained(base.model, str(folder), adapter_name=name, is_trainable=False)
        except (RuntimeError, ValueError, KeyError, OSError) as error:
            # check_adapter_fits catches the usual misfits first; anything PEFT still rejects is reported plainly.
            raise AdapterError(f"PEFT could not load this adapter: {str(error).splitlines()[0]}") from None
        base.model.to(base.device).eval()

    def _evict(self, base: LoadedBase, pinned: set[str]) -> None:
        while len(self._loaded) > self._cache_size:
            victim = next((k for k, r in self._loaded.items() if r.adapter_name not in pinned), None)
            if victim is None:
                return
            ref = self._loaded.pop(victim)
            base.model.delete_adapter(ref.adapter_name)
            logger.info("Evicted adapter %s (cache size %d)", ref.label, self._cache_size)
