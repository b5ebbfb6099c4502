"""Downloads from the Hub: a PEFT adapter at one commit, the base checkpoint, and what the revisions panel reads of
a commit (:func:`commit_contents`: does it hold an adapter, a ``metrics.json``; :func:`download_metrics`).

:func:`download_adapter` fetches exactly :data:`ADAPTER_FILES` at a commit sha (a name is resolved first with
:func:`nllb_space.hub.revisions.resolve_revision`), so the cache is keyed by sha: ``main`` picks up new pushes while two
names for one commit share one download. It refuses, before downloading, what is not a safetensors adapter of a sensible
size. :func:`download_base` fetches the base model's config, tokenizer and one weights format.

Calls go through :func:`nllb_space.hub.calls.call` and read its timeouts through that module (``calls.X``), so
errors read as every other Hub error and a timeout set on ``hub_calls`` applies here too.

Example::

    folder = download_adapter("me/nllb-spa-ita-lora", sha)      # adapter_config.json, adapter_model.safetensors, README
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager

from . import calls
from .calls import HubError, HubUnavailable
from .ids import DEFAULT_BRANCH, is_commit_sha

logger = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
"""The file that makes a folder a PEFT adapter."""
ADAPTER_WEIGHTS = "adapter_model.safetensors"
"""The adapter's weights: safetensors only."""
ADAPTER_FILES = (ADAPTER_CONFIG, ADAPTER_WEIGHTS, "README.md")
"""Everything :func:`download_adapter` fetches from a repo, whatever else it holds."""
SMALL_FILE_BYTES = 1_000_000
"""The largest adapter config accepted and model card fetched (a real one is a few kB)."""
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
"""Weight formats that unpickle (and can run code) on load: refused."""
METRICS = "metrics.json"
"""The run report ``train/run.py`` writes beside the adapter (``card.RunReport``): base and LoRA scores."""
LISTED_FILES = (ADAPTER_CONFIG, ADAPTER_WEIGHTS, METRICS)
"""What :func:`commit_contents` asks the Hub about each listed revision."""


@dataclass(frozen=True)
class CommitContents:
    """What one commit holds of :data:`LISTED_FILES`, from one ``paths-info`` call."""

    has_adapter: bool
    """It holds ``adapter_config.json``; a commit without one can never load, so the panel does not offer it."""
    metrics_bytes: int | None
    """The size of its ``metrics.json``; ``None`` when it has none."""
    title: str = ""
    date: str = ""
    """Title and date (ISO 8601) of this commit when it changed one of those files, as a training push does; else
    empty: the Hub tells each file's last commit, not the title of an arbitrary commit."""


def commit_contents(repo_id: str, sha: str, token: str | bool | None = None) -> CommitContents:
    """Which of :data:`LISTED_FILES` commit ``sha`` of ``repo_id`` holds: ONE call, whatever else the repo holds.

    Raises:
        RepoNotFound, RevisionNotFound, HubUnavailable, HubError.
    """
    api = calls.api(token)
    entries = calls.call(
        lambda: api.get_paths_info(repo_id, list(LISTED_FILES), revision=sha, expand=True, repo_type="model"),
        action=f"list the adapter files of '{repo_id}' at {sha[:7]}",
        action_es=f"listar los archivos del adaptador de '{repo_id}' en {sha[:7]}",
        repo_id=repo_id, revision=sha, api=api, token=token,
        # Optional facts for the panel: one short try each, so a slow Hub slows the listing by little.
        attempts=1, seconds=calls.REQUEST_TIMEOUT_S,
    )
    files = {entry.path: entry for entry in entries if getattr(entry, "size", None) is not None}  # not folders
    own = [e.last_commit for e in files.values() if e.last_commit is not None and e.last_commit.oid == sha]
    metrics = files.get(METRICS)
    return CommitContents(
        has_adapter=ADAPTER_CONFIG in files, metrics_bytes=metrics.size if metrics is not None else None,
        title=own[0].title if own else "", date=own[0].date.isoformat() if own else "",
    )


def download_metrics(repo_id: str, sha: str, token: str | bool | None = None) -> str:
    """The text of ``metrics.json`` at commit ``sha`` (from the local cache when it was downloaded before).

    The caller checks its size first (:attr:`CommitContents.metrics_bytes`). Raises like :func:`commit_contents`.
    """
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    path = try_to_load_from_cache(repo_id, METRICS, revision=sha)
    if not isinstance(path, str):
        api = calls.api(token)
        path = calls.call(
            lambda: hf_hub_download(repo_id, METRICS, revision=sha, token=token,
                                    etag_timeout=calls.REQUEST_TIMEOUT_S),
            action=f"download {METRICS} of '{repo_id}' at {sha[:7]}",
            action_es=f"descargar {METRICS} de '{repo_id}' en {sha[:7]}",
            repo_id=repo_id, revision=sha, api=api, token=token, attempts=1, seconds=calls.REQUEST_TIMEOUT_S,
        )
    return Path(path).read_text(encoding="utf-8", errors="replace")


def download_adapter(repo_id: str, sha: str, token: str | bool | None = None, max_bytes: int = 200_000_000,
                     room: Callable[[int, str], ContextManager[object]] | None = None) -> Path:
    """Download the PEFT adapter of ``repo_id`` at commit ``sha`` and return the local folder.

    Exactly :data:`ADAPTER_FILES` are fetched (the card only when it is small), into the huggingface_hub cache, after
    their sizes were checked against the Hub's file metadata: a repo that also holds merged models, checkpoints or a
    thousand other files costs nothing more. A commit already downloaded is served from the cache without the Hub.

    ``room(nbytes, what)``, when given, is called with the bytes the download adds to the cache (known from the same
    metadata) before anything is downloaded, and the download runs inside the context it returns: the caller's disk
    budget makes room for them there, or raises to refuse (``disk.AdapterDisk.room`` for visitors' adapters).

    Raises:
        ValueError: ``sha`` is not a full commit sha (resolve names with
        :func:`nllb_space.hub.revisions.resolve_revision`).
        HubError: not a PEFT adapter, only pickle weights, no weights, or weights over ``max_bytes``.
        RepoNotFound, RevisionNotFound, HubUnavailable.
    """
    if not is_commit_sha(sha):
        raise ValueError(f"download_adapter needs a full 40-character commit sha, got {sha!r}: use resolve_revision()")
    sha = sha.lower()
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = [try_to_load_from_cache(repo_id, name, revision=sha) for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS)]
    if all(isinstance(path, str) for path in cached):  # a commit downloaded before needs no network at all
        return Path(cached[0]).parent
    api = calls.api(token)
    where = dict(repo_id=repo_id, revision=sha, api=api, token=token)
    info = calls.call(
        lambda: api.model_info(repo_id, revision=sha, files_metadata=True, timeout=calls.REQUEST_TIMEOUT_S),
        action=f"list the files of '{repo_id}' at {sha[:7]}",
        action_es=f"listar los archivos de '{repo_id}' en {sha[:7]}", **where,
    )
    sizes = {s.rfilename: s.size or (s.lfs.size if s.lfs else 0) for s in info.siblings or []}
    _check_adapter_files(repo_id, sha, list(sizes))
    for name, limit, setting in ((ADAPTER_WEIGHTS, max_bytes, " (NLLB_MAX_ADAPTER_MB)"),
                                 (ADAPTER_CONFIG, SMALL_FILE_BYTES, "")):
        if sizes[name] > limit:
            raise HubError(
                f"'{repo_id}' at {sha[:7]}: {name} is {sizes[name] / 1e6:,.1f} MB, over the {limit / 1e6:g} MB this "
                f"Space fetches{setting}. A LoRA adapter of NLLB-600M is a few MB; push the adapter alone.",
                es=f"'{repo_id}' en {sha[:7]}: {name} ocupa {sizes[name] / 1e6:,.1f} MB, más de los {limit / 1e6:g} MB "
                f"que descarga este Space{setting}. Un adaptador LoRA de NLLB-600M ocupa pocos MB; sube solo el "
                "adaptador.",
            )
    wanted = [ADAPTER_CONFIG, ADAPTER_WEIGHTS] + (["README.md"] if 0 < sizes.get("README.md", 0) <= SMALL_FILE_BYTES
                                                 else [])
    incoming = sum(sizes[name] for name in wanted
                   if not isinstance(try_to_load_from_cache(repo_id, name, revision=sha), str))
    path = ""
    with room(incoming, f"'{repo_id}' at {sha[:7]}") if room else contextlib.nullcontext():
        for name in wanted:
            path = calls.call(
                lambda name=name: hf_hub_download(repo_id, name, revision=sha, token=token,
                                                  etag_timeout=calls.REQUEST_TIMEOUT_S),
                action=f"download {name} of '{repo_id}' at {sha[:7]}",
                action_es=f"descargar {name} de '{repo_id}' en {sha[:7]}",
                attempts=1, seconds=calls.DOWNLOAD_TIMEOUT_S, **where,
                # huggingface_hub already retries a failed download (HEAD again with a 1-8 s backoff, ~23 s in
                # all): retrying that again would keep a visitor waiting for a minute.
            )
    folder = Path(path).parent
    logger.info("Adapter %s@%s is in %s", repo_id, sha[:7], folder)
    return folder


def _check_adapter_files(repo_id: str, sha: str, paths: list[str]) -> None:
    """Refuse commits that are not a safetensors PEFT adapter, naming what is there instead."""
    where, where_es = f"'{repo_id}' at commit {sha[:7]}", f"'{repo_id}' en el commit {sha[:7]}"
    held = ", ".join(sorted(p for p in paths if p != ".gitattributes")[:8])
    shown, shown_es = held or "no files", held or "ningún archivo"
    if ADAPTER_CONFIG not in paths:
        raise HubError(
            f"{where} is not a PEFT adapter: it has no {ADAPTER_CONFIG} (it holds: {shown}). "
            "Pick a revision that holds an adapter saved with PeftModel.save_pretrained().",
            es=f"{where_es} no es un adaptador PEFT: no tiene {ADAPTER_CONFIG} (contiene: {shown_es}). "
            "Elige una revisión que contenga un adaptador guardado con PeftModel.save_pretrained().",
        )
    if ADAPTER_WEIGHTS in paths:
        return
    pickles = [p for p in paths if p.endswith(PICKLE_SUFFIXES)]
    if pickles:
        listed = ", ".join(sorted(pickles)[:4])
        raise HubError(
            f"{where} has only pickle weights ({listed}); pickle files are refused because "
            "loading them can run arbitrary code. Safetensors only: re-save the adapter with "
            "save_pretrained(..., safe_serialization=True) and push it again.",
            es=f"{where_es} solo tiene pesos pickle ({listed}); los archivos pickle se rechazan porque cargarlos "
            "puede ejecutar código arbitrario. Solo safetensors: vuelve a guardar el adaptador con "
            "save_pretrained(..., safe_serialization=True) y súbelo de nuevo.",
        )
    raise HubError(f"{where} has {ADAPTER_CONFIG} but no {ADAPTER_WEIGHTS}; it holds: {shown}.",
                   es=f"{where_es} tiene {ADAPTER_CONFIG} pero no {ADAPTER_WEIGHTS}; contiene: {shown_es}.")


BASE_FILES = ("*.json", "*.model")
"""What :func:`download_base` fetches besides the weights: config, generation config and tokenizer files."""
SAFETENSORS_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "model-*-of-*.safetensors")
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*-of-*.bin")
"""The published NLLB checkpoints ship only these on ``main`` (a safetensors copy sits in an unmerged bot PR)."""


def download_base(repo_id: str, revision: str = DEFAULT_BRANCH, token: str | None = None) -> Path:
    """Download the base checkpoint ``repo_id`` at ``revision`` into the cache and return its local folder.

    Safetensors weights are taken when the revision has them, else ``pytorch_model.bin`` (what
    ``facebook/nllb-200-distilled-600M`` has on ``main``). Loading from the folder, rather than from the repo id,
    keeps transformers off its automatic-conversion path, which would look for a bot's pull request or call a
    conversion Space with the token. When the Hub cannot be reached, a revision downloaded before (or baked into a
    Space image by ``preload_from_hub``) is served from the cache.

    Raises:
        HubError: the revision holds no weights in either format. RepoNotFound, RevisionNotFound, HubUnavailable.
    """
    from huggingface_hub import snapshot_download

    api = calls.api(token)
    where = dict(repo_id=repo_id, revision=revision, api=api, token=token)
    try:
        info = calls.call(lambda: api.model_info(repo_id, revision=revision, timeout=calls.REQUEST_TIMEOUT_S),
                          action=f"look up revision '{revision}' of '{repo_id}'",
                          action_es=f"consultar la revisión '{revision}' de '{repo_id}'", **where)
    except HubUnavailable as unavailable:
        for weights in (SAFETENSORS_WEIGHTS, PICKLE_WEIGHTS):
            try:
                folder = Path(snapshot_download(repo_id, revision=revision, token=token, local_files_only=True,
                                                allow_patterns=[*BASE_FILES, *weights]))
            except Exception:  # noqa: BLE001 - not cached in this format; try the next
                continue
            logger.warning("Hub unreachable; loading %s@%s from the local cache (%s)", repo_id, revision, folder)
            return folder
        raise unavailable from None  # not cached either: the Hub's own error is the one to show
    files = [s.rfilename for s in info.siblings or []]
    top_level = [f for f in files if "/" not in f]
    if any(f.endswith(".safetensors") for f in top_level):
        weights = SAFETENSORS_WEIGHTS
    elif any(f.startswith("pytorch_model") and f.endswith(".bin") for f in top_level):
        weights = PICKLE_WEIGHTS
    else:
        held = ", ".join(sorted(top_level)[:8])
        raise HubError(
            f"'{repo_id}' at '{revision}' has no model weights (model.safetensors or pytorch_model.bin); "
            f"it holds: {held or 'no files'}. Set NLLB_BASE_MODEL to an NLLB checkpoint.",
            es=f"'{repo_id}' en '{revision}' no tiene pesos del modelo (model.safetensors o pytorch_model.bin); "
            f"contiene: {held or 'ningún archivo'}. Pon en NLLB_BASE_MODEL un checkpoint de NLLB.",
        )
    folder = calls.call(
        # By name, not by sha: the cache then records what the name points to, which is what a cold start with
        # the Hub down (or a Space image filled by preload_from_hub) finds the files by.
        lambda: snapshot_download(
            repo_id, revision=revision, repo_type="model", allow_patterns=[*BASE_FILES, *weights], token=token,
            etag_timeout=calls.REQUEST_TIMEOUT_S,
        ),
        action=f"download the base model '{repo_id}' at '{revision}'",
        action_es=f"descargar el modelo base '{repo_id}' en '{revision}'", attempts=1, seconds=None, **where,
    )
    logger.info("Base model %s@%s (%s) is in %s", repo_id, revision, (info.sha or "")[:7], folder)
    return Path(folder)
