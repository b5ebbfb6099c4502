"""LoRA adapter revisions, main-process side: resolved to commits, downloaded, checked, and handed on by value.

- ``fetch()`` talks to the Hub (resolve a branch/tag to its sha, download that commit's files). It may be slow and
  never runs inside a model call.
- ``ready()`` checks the files against the base model's layer shapes (once per commit) and gives the
  ``AdapterFiles`` a model call carries. Attaching happens in the process that computes (model/slot.py), which on
  ZeroGPU is a forked worker; this registry only remembers which revisions are ready, least recently used first.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from .. import visitors
from ..errors import InputError
from ..hub import calls as hub_calls
from ..hub import downloads as hub_downloads
from ..hub import revisions as hub
from ..hub.ids import is_commit_sha, is_repo_id, not_a_repo_id
from ..hub.model_choice import LOCAL_REVISION, TRAINED_REPO, local_folder
from ..lora_config import LinearShapes
from ..model.adapter_check import AdapterFiles, AdapterPlan, inspect_adapter
from ..model.adapter_names import adapter_name, local_digest
from ..results import ModelRef
from ..settings import Settings
from .trained_adapters import TrainedAdapters
from .trained_adapters import not_found as trained_not_found

if TYPE_CHECKING:
    from .disk import AdapterDisk

logger = logging.getLogger(__name__)

OWNER = "owner"
"""The token scope of ``NLLB_ADAPTER_REPO``: read with the owner's ``HF_TOKEN``."""
ANONYMOUS = "anonymous"
"""The token scope of every repo a visitor types: read without a token."""
REFRESH_WAIT_S = 1.0
"""How long a request waits for the Hub to say where a branch or tag points now before it is served the commit it
pointed to last time (a healthy Hub answers well within it; a stalled one no longer holds every request up)."""


@dataclass(frozen=True)
class FetchedAdapter:
    """An adapter revision resolved to a commit, with its files on local disk, not yet attached to the model."""

    repo: str
    revision: str
    sha: str
    folder: Path


class AdapterRegistry:
    """Resolves, downloads and checks LoRA adapter revisions for one base model."""

    def __init__(self, settings: Settings, disk: AdapterDisk | None = None,
                 trained: TrainedAdapters | None = None) -> None:
        self._base_model_id = settings.base_model
        self._disk = disk
        self._trained = trained
        """Adapters visitors trained here (``trained@<sha>``), each readable by its trainer only."""
        """Room in the Hub cache for visitors' adapters (``NLLB_ADAPTER_DISK_MB``), made before each download."""
        self._cache_size = settings.adapter_cache_size
        self._ttl = settings.revision_ttl_s
        self._owner_repo = settings.adapter_repo
        self._token = settings.hf_token
        self._max_bytes = int(settings.max_adapter_mb * 1_000_000)
        self._max_rank = settings.max_adapter_rank
        # Keyed by (token scope, repo, revision): what one scope was told is never served to another.
        self._resolved: dict[tuple[str, str, str], tuple[str, float]] = {}
        # (scope, repo) pairs a Hub answer showed readable: only these may serve a cached commit the Hub cannot
        # confirm right now. The owner's token reads the owner's repo by configuration.
        self._readable: set[tuple[str, str]] = {(OWNER, settings.adapter_repo)} if settings.adapter_repo else set()
        self._ready: OrderedDict[tuple[str, str], tuple[ModelRef, AdapterPlan, str]] = OrderedDict()
        self._refreshing: dict[tuple[str, str, str], Future] = {}
        self._resolve_lock = threading.Lock()

    # -- Hub side (no model lock) -------------------------------------------------------------------------------

    def fetch(self, repo: str, revision: str) -> FetchedAdapter:
        """Resolve ``revision`` of ``repo`` (Hub id or local directory) to a commit and get its files."""
        if repo == TRAINED_REPO:
            if self._trained is None:
                raise trained_not_found(revision)
            folder = self._trained.folder(revision, visitors.current.get())  # the asking visitor's own, or refused
            return FetchedAdapter(repo=TRAINED_REPO, revision=revision, sha=revision, folder=folder)
        local = local_folder(repo) if repo == self._owner_repo else None  # only the owner's setting reads disk
        if local:
            return FetchedAdapter(repo=str(local), revision=LOCAL_REVISION, sha=local_digest(local), folder=local)
        if not is_repo_id(repo):
            raise InputError(not_a_repo_id(repo), es=not_a_repo_id(repo, "es"))
        revision = revision.strip() or "main"
        sha = self.resolve(repo, revision)
        disk = self._disk if repo != self._owner_repo else None  # the owner's repo has no budget: it is the Space's
        if disk is None:
            folder = hub_downloads.download_adapter(repo, sha, self.token_for(repo), max_bytes=self._max_bytes)
            return FetchedAdapter(repo=repo, revision=revision, sha=sha, folder=folder)
        disk.claim(repo, sha)  # kept on disk until ready() has checked it, whatever other visitors download meanwhile
        try:
            folder = hub_downloads.download_adapter(repo, sha, self.token_for(repo), max_bytes=self._max_bytes,
                                                    room=partial(disk.room, mine=(repo, sha)))
        except BaseException:
            disk.settled(repo, sha)
            raise
        return FetchedAdapter(repo=repo, revision=revision, sha=sha, folder=folder)

    def scope(self, repo: str) -> str:
        """Whose access a request for ``repo`` has: :data:`OWNER` for ``NLLB_ADAPTER_REPO``, :data:`ANONYMOUS` else."""
        return OWNER if repo == self._owner_repo else ANONYMOUS

    def token_for(self, repo: str) -> str | bool | None:
        """The owner's token for the owner's repo (``NLLB_ADAPTER_REPO``) only; ``False`` (anonymous) for any repo a
        visitor types. ``None`` would not do: huggingface_hub then falls back to ``HF_TOKEN`` from the environment."""
        return self._token if repo == self._owner_repo else False

    def resolve(self, repo: str, revision: str) -> str:
        """The commit sha ``revision`` names now; branch/tag answers are reused for ``revision_ttl_s`` seconds.

        Every answer is remembered for the token scope that got it (:meth:`scope`). A full sha never changes meaning,
        so it is kept for good. When the Hub is unreachable or slower than ``REFRESH_WAIT_S``, a name resolved before
        is served its last known commit, so the model that worked stays live and no request waits on a stalled Hub.
        A full sha the Hub cannot confirm is used as given only for a repo this scope was shown it may read: the
        cache may hold a private repo's files, and "the Hub is down" must not open them to a visitor.
        """
        key = (self.scope(repo), repo, revision)
        with self._resolve_lock:
            cached = self._resolved.get(key)
        if cached and (is_commit_sha(revision) or time.monotonic() - cached[1] < self._ttl):
            return cached[0]
        refresh = self._refresh(key)
        if cached is None:
            try:
                return refresh.result()  # nothing to serve meanwhile: wait for the Hub (each call is time-bounded)
            except hub.HubUnavailable:
                if not is_commit_sha(revision):
                    raise
                with self._resolve_lock:
                    readable = key[:2] in self._readable
                if not readable:
                    raise hub_calls.repo_not_found(repo, self.token_for(repo)) from None
                logger.warning("Hub unreachable; using commit %s of %s as given", revision[:7], repo)
                return revision.lower()
        try:
            return refresh.result(timeout=REFRESH_WAIT_S)
        except FutureTimeout:
            # A slow or stalled Hub: serve the commit that worked; the refresh lands for later requests.
            logger.warning("Hub slow; serving %s@%s at its last known commit %s", repo, revision, cached[0][:7])
            return cached[0]
        except hub.HubUnavailable:
            logger.warning("Hub unreachable; keeping %s@%s at %s", repo, revision, cached[0][:7])
            return cached[0]

    def _refresh(self, key: tuple[str, str, str]) -> Future:
        """Ask the Hub what ``key`` points to now, on a thread of its own; one question per name at a time."""
        with self._resolve_lock:
            running = self._refreshing.get(key)
            if running is not None:
                return running
            future: Future = Future()
            self._refreshing[key] = future

        def ask() -> None:
            try:
                sha = hub.resolve_revision(key[1], key[2], token=self.token_for(key[1]))
            except BaseException as error:  # noqa: BLE001 - handed to every waiter
                future.set_exception(error)
            else:
                with self._resolve_lock:
                    self._resolved[key] = (sha, time.monotonic())
                    self._readable.add(key[:2])
                future.set_result(sha)
            finally:
                with self._resolve_lock:
                    self._refreshing.pop(key, None)

        # In the asking visitor's context: its Hub call counts against that visitor's share of the Hub threads.
        threading.Thread(target=contextvars.copy_context().run, args=(ask,), name=f"resolve {key[1]}@{key[2]}",
                         daemon=True).start()
        return future

    # -- checked and ready for a model call --------------------------------------------------------------------

    def ready(self, fetched: FetchedAdapter, shapes: LinearShapes) -> tuple[ModelRef, AdapterFiles]:
        """``fetched`` as a model call carries it, checked against the base's ``shapes`` the first time."""
        key = (fetched.repo, fetched.sha)
        ref = ModelRef(adapter_name(*key), fetched.repo, fetched.revision, fetched.sha)
        try:
            with self._resolve_lock:
                known = self._ready.get(key)
            plan = known[1] if known else inspect_adapter(fetched.folder, shapes, self._base_model_id, self._max_rank)
            with self._resolve_lock:
                self._ready[key] = (ref, plan, str(fetched.folder))
                self._ready.move_to_end(key)
                while len(self._ready) > self._cache_size:
                    self._ready.popitem(last=False)
        finally:
            if self._disk is not None and fetched.repo not in (self._owner_repo, TRAINED_REPO):
                self._disk.settled(fetched.repo, fetched.sha)  # ready (in use) or refused: fetch()'s claim ends
        return ref, AdapterFiles(ref.adapter_name, str(fetched.folder), plan)

    def loaded(self) -> tuple[ModelRef, ...]:
        """Adapter revisions ready to serve, least recently used first."""
        with self._resolve_lock:
            return tuple(entry[0] for entry in self._ready.values())

    def folders(self) -> set[str]:
        """The local folders of the revisions ready to serve (the disk clean-up must not remove them)."""
        with self._resolve_lock:
            return {entry[2] for entry in self._ready.values()}
