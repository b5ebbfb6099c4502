"""Everything the app and the trainer ask of the Hugging Face Hub, and the only module that talks to it.

Adapters are pulled **by revision**: a branch (``main``, ``exp/run-1``), a tag (``v1``) or a commit sha. The app
resolves the name to a commit sha first (:func:`resolve_revision`) and keys its caches by that sha, so ``main``
picks up new pushes while two names for one commit share one download (:func:`download_adapter`). The trainer
pushes a folder as one commit on a branch and may tag it (:func:`push_folder`).

Errors: every failure leaves as a :class:`HubError` whose message a user can act on (what happened, what to do),
never containing the token. Transient failures (timeouts, connection errors, HTTP 5xx) are retried
:data:`RETRY_ATTEMPTS` times with exponential backoff from :data:`RETRY_BASE_DELAY_S`; 4xx are not retried. Calls
that huggingface_hub already retries itself (paginated listings such as the commit history, and file downloads: up
to ~23 s of 1-8 s backoff) are not retried again here.

huggingface_hub 2.4's default HTTP client has no timeout; calls that accept one get :data:`REQUEST_TIMEOUT_S`.

Nothing here touches the network at import; ``huggingface_hub`` itself is imported lazily, so ``HF_ENDPOINT``,
``HF_HOME`` and friends may still be set after this module is imported (``huggingface_hub`` reads them once, when it
is first imported).

Example::

    sha = resolve_revision("me/nllb-spa-ita-lora", "exp/run-1")
    folder = download_adapter("me/nllb-spa-ita-lora", sha)      # adapter_config.json, adapter_model.safetensors, README
    push_folder(Path("out/adapter"), "me/nllb-spa-ita-lora", branch="exp/run-2", tag="v2",
                commit_message="LoRA r=16, 3 epochs: chrF 55.1")
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar

from .errors import UserFacingError
from .hub_ids import is_commit_sha
from .time_bound import Saturated, within

if TYPE_CHECKING:  # pragma: no cover - typing only; the real import is lazy
    from huggingface_hub import HfApi

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_ATTEMPTS = 3
"""How many times a call is tried when the Hub fails transiently (timeout, connection error, HTTP 5xx)."""
RETRY_BASE_DELAY_S = 0.5
"""Wait before the first retry; it doubles for each further one (0.5 s, 1 s with the defaults)."""
REQUEST_TIMEOUT_S = 10.0
"""Timeout of the metadata calls that take one (repo info, file metadata during downloads)."""
CALL_TIMEOUT_S = 20.0
"""The longest a visitor's request waits for one Hub call of any kind (listings take no timeout of their own)."""
DOWNLOAD_TIMEOUT_S = 300.0
"""The longest one adapter file download may take (200 MB at under 1 MB/s)."""

DEFAULT_BRANCH = "main"
"""The branch new repos start with; other branches are created from it."""
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



# ---------------------------------------------------------------------------------------------------------------------
# Results and errors
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A branch or a tag and the commit it points to."""

    name: str
    kind: str
    """``"branch"`` or ``"tag"``."""
    sha: str


@dataclass(frozen=True)
class CommitInfo:
    """One commit of a branch's history."""

    sha: str
    title: str
    date: str
    """ISO 8601, UTC (``2025-01-31T12:34:56+00:00``)."""


@dataclass(frozen=True)
class Revisions:
    """What a user can pick from in a repo."""

    repo_id: str
    branches: tuple[Ref, ...]
    """``main`` first, then by name."""
    tags: tuple[Ref, ...]
    """By name."""
    commits: tuple[CommitInfo, ...]
    """Commits of the default branch, newest first (at most ``max_commits``)."""


@dataclass(frozen=True)
class PushResult:
    """Where a pushed folder landed."""

    repo_id: str
    sha: str
    """The commit holding the folder (the branch head right after the push)."""
    branch: str
    tag: str | None
    url: str
    """Web page of the commit."""


class HubError(UserFacingError):
    """A Hub operation failed. The message is user-facing: it says what happened and what to do, without the token."""


class RepoNotFound(HubError):
    """The repository does not exist, or it is private/gated and the token (if any) cannot read it."""


class RevisionNotFound(HubError):
    """The branch, tag or commit does not exist in the repository."""


class HubUnavailable(HubError):
    """The Hub could not be reached or did not answer properly (timeout, connection error, HTTP 5xx, offline mode)."""


# ---------------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------------


def resolve_revision(repo_id: str, revision: str = DEFAULT_BRANCH, token: str | None = None) -> str:
    """The 40-hex commit sha that ``revision`` (branch, tag or sha) of the model repo ``repo_id`` points to now.

    ``token=None`` uses ``HF_TOKEN`` (or the saved login). A full sha is checked against the Hub when it answers;
    when the Hub is unreachable a full sha is returned as given (it is immutable, and a cached adapter may still be
    usable), while a branch or tag raises :class:`HubUnavailable`.

    Raises:
        RepoNotFound, RevisionNotFound, HubUnavailable, HubError.
    """
    rev = (revision or "").strip() or DEFAULT_BRANCH
    if is_commit_sha(rev):
        rev = rev.lower()
    api = _api(token)
    try:
        info = _call(
            lambda: api.model_info(repo_id, revision=rev, timeout=REQUEST_TIMEOUT_S),
            action=f"resolve revision '{rev}' of '{repo_id}'",
            repo_id=repo_id,
            revision=rev,
            api=api,
            token=token,
        )
    except HubUnavailable as exc:
        if is_commit_sha(rev):
            logger.warning("Could not check commit %s of %s on the Hub (%s); using it as given.", rev, repo_id, exc)
            return rev
        raise
    sha = info.sha
    if not sha or not is_commit_sha(sha):
        raise HubError(f"The Hub answered without a commit id for '{repo_id}' at '{rev}'; try again in a minute.")
    logger.info("Resolved %s@%s to %s", repo_id, rev, sha)
    return sha


def list_revisions(repo_id: str, token: str | None = None, max_commits: int = 20) -> Revisions:
    """Branches, tags and the latest ``max_commits`` commits of the default branch of the model repo ``repo_id``.

    Raises:
        RepoNotFound, HubUnavailable, HubError.
    """
    if max_commits < 0:
        raise ValueError(f"max_commits must be >= 0, got {max_commits}")
    api = _api(token)
    refs = _call(
        lambda: api.list_repo_refs(repo_id, repo_type="model"),
        action=f"list the branches and tags of '{repo_id}'",
        repo_id=repo_id,
        api=api,
        token=token,
    )
    branches = tuple(
        sorted(
            (Ref(r.name, "branch", r.target_commit) for r in refs.branches),
            key=lambda ref: (ref.name != DEFAULT_BRANCH, ref.name),
        )
    )
    tags = tuple(sorted((Ref(r.name, "tag", r.target_commit) for r in refs.tags), key=lambda ref: ref.name))
    commits: tuple[CommitInfo, ...] = ()
    if branches and max_commits > 0:
        default = branches[0].name  # main when it exists
        history = _call(
            lambda: api.list_repo_commits(repo_id, revision=default, repo_type="model"),
            action=f"list the commits of '{repo_id}'",
            repo_id=repo_id,
            revision=default,
            api=api,
            token=token,
            # huggingface_hub already retries paginated calls on 5xx (5 times, 1-8 s apart): don't multiply that.
            attempts=1,
        )
        commits = tuple(CommitInfo(c.commit_id, c.title, c.created_at.isoformat()) for c in history[:max_commits])
    return Revisions(repo_id=repo_id, branches=branches, tags=tags, commits=commits)


def download_adapter(repo_id: str, sha: str, token: str | bool | None = None, max_bytes: int = 200_000_000) -> Path:
    """Download the PEFT adapter of ``repo_id`` at commit ``sha`` and return the local folder.

    Exactly :data:`ADAPTER_FILES` are fetched (the card only when it is small), into the huggingface_hub cache, after
    their sizes were checked against the Hub's file metadata: a repo that also holds merged models, checkpoints or a
    thousand other files costs nothing more. A commit already downloaded is served from the cache without the Hub.

    Raises:
        ValueError: ``sha`` is not a full commit sha (resolve branch and tag names with :func:`resolve_revision`).
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
    api = _api(token)
    where = dict(repo_id=repo_id, revision=sha, api=api, token=token)
    info = _call(lambda: api.model_info(repo_id, revision=sha, files_metadata=True, timeout=REQUEST_TIMEOUT_S),
                 action=f"list the files of '{repo_id}' at {sha[:7]}", **where)
    sizes = {s.rfilename: s.size or (s.lfs.size if s.lfs else 0) for s in info.siblings or []}
    _check_adapter_files(repo_id, sha, list(sizes))
    for name, limit, setting in ((ADAPTER_WEIGHTS, max_bytes, " (NLLB_MAX_ADAPTER_MB)"),
                                 (ADAPTER_CONFIG, SMALL_FILE_BYTES, "")):
        if sizes[name] > limit:
            raise HubError(
                f"'{repo_id}' at {sha[:7]}: {name} is {sizes[name] / 1e6:,.1f} MB, over the {limit / 1e6:g} MB this "
                f"Space fetches{setting}. A LoRA adapter of NLLB-600M is a few MB; push the adapter alone."
            )
    wanted = [ADAPTER_CONFIG, ADAPTER_WEIGHTS] + (["README.md"] if 0 < sizes.get("README.md", 0) <= SMALL_FILE_BYTES
                                                 else [])
    path = ""
    for name in wanted:
        path = _call(
            lambda name=name: hf_hub_download(repo_id, name, revision=sha, token=token, etag_timeout=REQUEST_TIMEOUT_S),
            action=f"download {name} of '{repo_id}' at {sha[:7]}", attempts=1, seconds=DOWNLOAD_TIMEOUT_S, **where,
            # huggingface_hub already retries a failed download (HEAD again with a 1-8 s backoff, ~23 s in all):
            # retrying that again would keep a visitor waiting for a minute.
        )
    folder = Path(path).parent
    logger.info("Adapter %s@%s is in %s", repo_id, sha[:7], folder)
    return folder


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

    api = _api(token)
    where = dict(repo_id=repo_id, revision=revision, api=api, token=token)
    try:
        info = _call(lambda: api.model_info(repo_id, revision=revision, timeout=REQUEST_TIMEOUT_S),
                     action=f"look up revision '{revision}' of '{repo_id}'", **where)
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
        raise HubError(
            f"'{repo_id}' at '{revision}' has no model weights (model.safetensors or pytorch_model.bin); "
            f"it holds: {', '.join(sorted(top_level)[:8]) or 'no files'}. Set NLLB_BASE_MODEL to an NLLB checkpoint."
        )
    folder = _call(
        # By name, not by sha: the cache then records what the name points to, which is what a cold start with
        # the Hub down (or a Space image filled by preload_from_hub) finds the files by.
        lambda: snapshot_download(
            repo_id, revision=revision, repo_type="model", allow_patterns=[*BASE_FILES, *weights], token=token,
            etag_timeout=REQUEST_TIMEOUT_S,
        ),
        action=f"download the base model '{repo_id}' at '{revision}'", attempts=1, seconds=None, **where,
    )
    logger.info("Base model %s@%s (%s) is in %s", repo_id, revision, (info.sha or "")[:7], folder)
    return Path(folder)


def push_folder(
    folder: Path,
    repo_id: str,
    *,
    branch: str = DEFAULT_BRANCH,
    tag: str | None = None,
    private: bool = False,
    commit_message: str,
    commit_description: str = "",
    token: str | None = None,
) -> PushResult:
    """Upload ``folder`` as ONE commit on ``branch`` of the model repo ``repo_id`` and optionally tag that commit.

    Creates the repo (``private`` only applies then) and the branch (from ``main``) when missing. If ``tag`` exists
    already, fails before uploading anything. The commit is made against the branch head seen before the upload, so
    a concurrent push to the same branch makes this one fail instead of silently interleaving. Files identical to
    the branch head are skipped by huggingface_hub; if nothing changed, no commit is made and the result is the
    current head.

    Raises:
        HubError (e.g. tag exists, token cannot write, branch moved during the push), RepoNotFound, HubUnavailable.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HubError(f"Nothing to push: '{folder}' is not a folder.")
    if not commit_message.strip():
        raise ValueError("commit_message must not be empty")
    if tag is not None and not tag.strip():
        raise ValueError("tag must be None or a non-empty name")
    api = _api(token)
    where = f"'{repo_id}'"

    def call(fn: Callable[[], T], action: str, **kwargs: object) -> T:
        return _call(fn, action=action, repo_id=repo_id, api=api, token=token, **kwargs)  # type: ignore[arg-type]

    call(lambda: api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model"),
         f"create the repository {where}")
    refs = call(lambda: api.list_repo_refs(repo_id, repo_type="model"), f"list the branches and tags of {where}")
    branch_heads = {r.name: r.target_commit for r in refs.branches}
    tag_targets = {r.name: r.target_commit for r in refs.tags}
    if tag is not None and tag in tag_targets:
        raise HubError(
            f"Tag '{tag}' already exists in {where} (it points to commit {tag_targets[tag][:7]}); nothing was "
            "uploaded. Pick a new tag name, or delete the old tag on the Hub first."
        )
    parent: str | None
    if branch in branch_heads:
        parent = branch_heads[branch]
    else:
        parent = branch_heads.get(DEFAULT_BRANCH)
        call(lambda: api.create_branch(repo_id, branch=branch, revision=parent, exist_ok=True, repo_type="model"),
             f"create branch '{branch}' in {where}", revision=parent)
        logger.info("Created branch %s of %s from %s", branch, repo_id, (parent or DEFAULT_BRANCH)[:7])

    commit = call(
        lambda: api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            repo_type="model",
            revision=branch,
            commit_message=commit_message,
            commit_description=commit_description or None,
            parent_commit=parent,
        ),
        f"upload '{folder}' to branch '{branch}' of {where}",
        revision=branch,
        seconds=None,  # the owner's own push: as long as the upload takes
    )
    sha = commit.oid
    if tag is not None:
        _create_tag(api, repo_id, tag, sha, commit_message, token)
    logger.info("Pushed %s to %s@%s as %s%s", folder, repo_id, branch, sha[:7], f" (tag {tag})" if tag else "")
    return PushResult(repo_id=repo_id, sha=sha, branch=branch, tag=tag, url=commit.commit_url)


# ---------------------------------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------------------------------


def _api(token: str | None) -> "HfApi":
    from huggingface_hub import HfApi

    return HfApi(token=token)


def _check_adapter_files(repo_id: str, sha: str, paths: list[str]) -> None:
    """Refuse commits that are not a safetensors PEFT adapter, naming what is there instead."""
    where = f"'{repo_id}' at commit {sha[:7]}"
    shown = ", ".join(sorted(p for p in paths if p != ".gitattributes")[:8]) or "no files"
    if ADAPTER_CONFIG not in paths:
        raise HubError(
            f"{where} is not a PEFT adapter: it has no {ADAPTER_CONFIG} (it holds: {shown}). "
            "Pick a revision that holds an adapter saved with PeftModel.save_pretrained()."
        )
    if ADAPTER_WEIGHTS in paths:
        return
    pickles = [p for p in paths if p.endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise HubError(
            f"{where} has only pickle weights ({', '.join(sorted(pickles)[:4])}); pickle files are refused because "
            "loading them can run arbitrary code. Safetensors only: re-save the adapter with "
            "save_pretrained(..., safe_serialization=True) and push it again."
        )
    raise HubError(f"{where} has {ADAPTER_CONFIG} but no {ADAPTER_WEIGHTS}; it holds: {shown}.")


def _create_tag(api: "HfApi", repo_id: str, tag: str, sha: str, message: str, token: str | None) -> None:
    """Tag ``sha``; a tag that appeared meanwhile is an error unless it already points at ``sha``."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        _call(
            lambda: api.create_tag(repo_id, tag=tag, revision=sha, tag_message=message, repo_type="model"),
            action=f"create tag '{tag}' in '{repo_id}'",
            repo_id=repo_id,
            revision=sha,
            api=api,
            token=token,
        )
    except HubError as exc:
        cause = exc.__cause__
        if not (isinstance(cause, HfHubHTTPError) and _status(cause) == 409):
            raise
        refs = _call(lambda: api.list_repo_refs(repo_id, repo_type="model"), action=f"list the tags of '{repo_id}'",
                     repo_id=repo_id, api=api, token=token)
        target = {r.name: r.target_commit for r in refs.tags}.get(tag)
        if target != sha:  # same sha: an earlier attempt went through before its answer was lost
            raise HubError(
                f"Tag '{tag}' was created in '{repo_id}' by someone else during this push (it points to "
                f"{(target or '?')[:7]}). Commit {sha[:7]} was pushed but is not tagged: tag it with a new name."
            ) from exc


def _call(
    fn: Callable[[], T],
    *,
    action: str,
    repo_id: str,
    api: "HfApi",
    token: str | None,
    revision: str | None = None,
    attempts: int | None = None,
    seconds: float | None = ...,  # type: ignore[assignment]  (Ellipsis: CALL_TIMEOUT_S, read at call time)
) -> T:
    """Run ``fn``, retrying transient failures, and turn huggingface_hub/httpx errors into :class:`HubError`.

    ``action`` completes "... while trying to <action>" in messages. Each try gets at most ``seconds`` on one of
    time_bound's few threads (``None``: no deadline, on this thread).
    """
    tries = max(1, RETRY_ATTEMPTS if attempts is None else attempts)
    seconds = CALL_TIMEOUT_S if seconds is ... else seconds
    for attempt in range(1, tries + 1):
        try:
            return within(fn, seconds)
        except Saturated:
            raise HubUnavailable(
                f"The Hub is not answering (earlier requests to it are still waiting) while trying to {action}; "
                "try again in a minute."
            ) from None
        except HubError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below; unknown errors are re-raised untouched
            if attempt < tries and _is_transient(exc):
                delay = RETRY_BASE_DELAY_S * 2 ** (attempt - 1)
                logger.warning(
                    "Hub call failed while trying to %s (%s); retry %d/%d in %.2f s",
                    action, _short(exc), attempt, tries - 1, delay,
                )
                time.sleep(delay)
                continue
            mapped = _to_hub_error(exc, action=action, repo_id=repo_id, revision=revision, api=api, token=token)
            if mapped is None:
                raise
            raise mapped from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and its ``__cause__``/``__context__`` chain (the download layer wraps network errors)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _is_transient(exc: BaseException) -> bool:
    """Timeouts, connection errors and HTTP 5xx: worth retrying. 4xx and offline mode are not."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    for err in _causes(exc) if isinstance(exc, LocalEntryNotFoundError) else [exc]:
        if isinstance(err, OfflineModeIsEnabled):
            return False
        if isinstance(err, HfHubHTTPError):
            return (_status(err) or 0) >= 500
        if isinstance(err, (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)):
            return True
        if isinstance(err, (TimeoutError, ConnectionError)):
            return True
    return False


def _to_hub_error(
    exc: BaseException, *, action: str, repo_id: str, revision: str | None, api: "HfApi", token: str | None
) -> HubError | None:
    """The :class:`HubError` a user should see for ``exc``; ``None`` for errors that are bugs, not Hub trouble."""
    import httpx2
    from huggingface_hub.errors import (
        DisabledRepoError,
        GatedRepoError,
        HFValidationError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    retry_hint = "try again in a minute."
    if isinstance(exc, HFValidationError):
        return HubError(f"'{repo_id}' is not a valid Hub repository id: use 'owner/name' (letters, digits, -, _, .).")
    if any(isinstance(e, OfflineModeIsEnabled) for e in _causes(exc)):
        return HubUnavailable(
            f"Offline mode is on (HF_HUB_OFFLINE=1), so the Hub cannot be asked to {action}. "
            "Unset HF_HUB_OFFLINE, or use an adapter already downloaded, by its commit sha."
        )
    if isinstance(exc, GatedRepoError):
        return RepoNotFound(
            f"Repository '{repo_id}' is gated: accept its conditions on the Hub, then set HF_TOKEN to a token of "
            "that account."
        )
    if isinstance(exc, RepositoryNotFoundError):
        if token is False:
            return RepoNotFound(
                f"Repository '{repo_id}' was not found on the Hub, or it is private: repos other than this Space's "
                "own adapter repo are read anonymously, so only public ones can be chosen. Check the name."
            )
        if _has_token(token):
            return RepoNotFound(
                f"Repository '{repo_id}' was not found on the Hub (or it is private and the token in use cannot "
                "read it). Check the name, or use a token with read access."
            )
        return RepoNotFound(
            f"Repository '{repo_id}' was not found on the Hub (or it is private and no HF_TOKEN is set). "
            "Check the name, or set HF_TOKEN to a token that can read it."
        )
    if isinstance(exc, RevisionNotFoundError):
        return RevisionNotFound(_revision_not_found_message(repo_id, revision, api))
    if isinstance(exc, DisabledRepoError):
        return RepoNotFound(f"Repository '{repo_id}' has been disabled on the Hub; use another repository.")
    if isinstance(exc, RemoteEntryNotFoundError):
        return HubError(
            f"A file is missing from '{repo_id}' at '{revision or DEFAULT_BRANCH}' while trying to {action}; "
            "push a complete adapter folder to that revision."
        )
    if isinstance(exc, HfHubHTTPError):
        status = _status(exc)
        if status == 401:
            return HubError(
                f"The Hub rejected the token (401 Unauthorized) while trying to {action}. "
                "Check HF_TOKEN: it may be expired, revoked or mistyped."
            )
        if status == 403:
            return HubError(
                f"The token is not allowed to {action} (403 Forbidden). "
                f"Use a token with write access to the '{repo_id.split('/')[0]}' namespace."
            )
        if status == 412:
            return HubError(
                f"'{repo_id}' changed on the Hub while trying to {action} (412: another push landed first, or an "
                "earlier attempt of this one went through before its answer was lost). Nothing was overwritten: "
                "look at the branch on the Hub, then push again."
            )
        if status == 429:
            return HubUnavailable(f"The Hub is rate-limiting requests (429) while trying to {action}; {retry_hint}")
        if status is not None and status >= 500:
            return HubUnavailable(f"The Hub did not answer (HTTP {status}) while trying to {action}; {retry_hint}")
        detail = _scrub(getattr(exc, "server_message", None) or "", token)
        return HubError(
            f"The Hub refused to {action} (HTTP {status})" + (f": {detail.rstrip('.')}." if detail else ".")
        )
    if isinstance(exc, LocalEntryNotFoundError):
        return HubUnavailable(
            f"Could not {action}: the Hub did not answer and the files are not in the local cache; {retry_hint}"
        )
    if isinstance(exc, (httpx2.TimeoutException, TimeoutError)):
        return HubUnavailable(f"The Hub did not answer in time (timeout) while trying to {action}; {retry_hint}")
    if isinstance(exc, (httpx2.NetworkError, httpx2.RemoteProtocolError, ConnectionError)):
        from huggingface_hub import constants

        return HubUnavailable(
            f"Could not connect to the Hub at {constants.ENDPOINT} while trying to {action} (connection error); "
            f"check the network and {retry_hint}"
        )
    return None


def _revision_not_found_message(repo_id: str, revision: str | None, api: "HfApi") -> str:
    message = f"Revision '{revision}' does not exist in '{repo_id}'."
    try:  # best effort, one try: the message is still useful without the list
        refs = within(lambda: api.list_repo_refs(repo_id, repo_type="model"), CALL_TIMEOUT_S)  # bounded too
    except Exception:  # noqa: BLE001
        logger.debug("Could not list the refs of %s for an error message", repo_id, exc_info=True)
        return message + " Use a branch, a tag or a full 40-character commit sha."
    branches = sorted((r.name for r in refs.branches), key=lambda name: (name != DEFAULT_BRANCH, name))
    tags = sorted(r.name for r in refs.tags)
    return (
        f"{message} Branches: {', '.join(branches) or '(none)'}; tags: {', '.join(tags) or '(none)'}. "
        "Use one of those or a full 40-character commit sha."
    )


def _has_token(token: str | bool | None) -> bool:
    if token is False:  # anonymous on purpose: the environment's token is not used
        return False
    if token:
        return True
    from huggingface_hub import get_token

    return get_token() is not None


def _scrub(text: str, token: str | None) -> str:
    """Remove any token from text that goes into a message."""
    from huggingface_hub import get_token

    for secret in {token, get_token()}:
        if secret:
            text = text.replace(secret, "***")
    return text


def _short(exc: BaseException) -> str:
    """One line naming the error, for logs (never includes request headers, hence never the token)."""
    status = _status(exc)
    return f"{type(exc).__name__}" + (f" {status}" if status else "")
