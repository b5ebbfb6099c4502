"""What the app and the trainer ask of the Hugging Face Hub about revisions: resolve, list, push.

Adapters are pulled **by revision**: a branch (``main``, ``exp/run-1``), a tag (``v1``) or a commit sha. The app
resolves the name to a commit sha first (:func:`resolve_revision`) and keys its caches by that sha, so ``main``
picks up new pushes while two names for one commit share one download. The trainer pushes a folder as one commit on
a branch and may tag it (:func:`push_folder`).

The Hub client is split in three, and these three modules are the only ones that talk to the Hub:

- here: revisions and pushes, and the result types (:class:`Ref`, :class:`CommitInfo`, :class:`Revisions`,
  :class:`RunScores`, :class:`PushResult`);
- :mod:`nllb_space.hub.downloads`: the adapter at a commit (:func:`~nllb_space.hub.downloads.download_adapter`),
  the base checkpoint (:func:`~nllb_space.hub.downloads.download_base`), and what a listed commit holds
  (:func:`~nllb_space.hub.downloads.commit_contents`, :func:`~nllb_space.hub.downloads.download_metrics`);
- :mod:`nllb_space.hub.calls`: how each call is made (retries, timeouts) and how its failures become
  :class:`HubError` messages a user can act on. The error classes are imported here too, so ``hub.HubError``,
  ``hub.RepoNotFound`` and friends name the same classes; the timing constants live there only (set them there).

Nothing here touches the network at import; ``huggingface_hub`` itself is imported lazily, so ``HF_ENDPOINT``,
``HF_HOME`` and friends may still be set after this module is imported (``huggingface_hub`` reads them once, when it
is first imported).

Example::

    sha = resolve_revision("me/nllb-spa-ita-lora", "exp/run-1")
    folder = hub_downloads.download_adapter("me/nllb-spa-ita-lora", sha)
    push_folder(Path("out/adapter"), "me/nllb-spa-ita-lora", branch="exp/run-2", tag="v2",
                commit_message="LoRA r=16, 3 epochs: chrF 55.1")
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, TypeVar

from . import calls
from .calls import HubError, HubUnavailable, RepoNotFound, RevisionNotFound
from .ids import DEFAULT_BRANCH, is_commit_sha

if TYPE_CHECKING:  # pragma: no cover - typing only; the real import is lazy
    from huggingface_hub import HfApi

__all__ = [
    "DEFAULT_BRANCH", "CommitInfo", "HubError", "HubUnavailable", "PushResult", "Ref", "RepoNotFound",
    "RevisionNotFound", "Revisions", "RunScores", "list_revisions", "push_folder", "resolve_revision",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A branch or a tag and the commit it points to."""

    name: str
    kind: str
    """``"branch"`` or ``"tag"``."""
    sha: str
    title: str = ""
    date: str = ""
    """Title and date (ISO 8601) of the commit it points to, where known (``revision_facts`` fills them in)."""


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
    scores: Mapping[str, "RunScores"] = field(default_factory=dict)
    """By commit sha: the scores of the revisions whose ``metrics.json`` was read (``revision_facts``)."""
    hidden: int = 0
    """Revisions left out because they hold no adapter (``revision_facts``)."""


@dataclass(frozen=True)
class RunScores:
    """What a revision's ``metrics.json`` says: the base model and the adapter on the run's evaluation set."""

    base_bleu: float
    base_chrf: float
    """chrF++."""
    lora_bleu: float | None
    lora_chrf: float | None
    """``None`` when the run scored the base model only."""


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


# ---------------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------------


def resolve_revision(repo_id: str, revision: str = DEFAULT_BRANCH, token: str | None = None) -> str:
    """The 40-hex commit sha that ``revision`` (branch, tag or sha) of the model repo ``repo_id`` points to now.

    ``token=None`` uses ``HF_TOKEN`` (or the saved login). A full sha is checked against the Hub too: whether the
    caller may read the repo is the Hub's answer, so an unreachable Hub raises :class:`HubUnavailable` for a sha as
    for a name (the app's adapter registry decides when a commit checked before may be served without it).

    Raises:
        RepoNotFound, RevisionNotFound, HubUnavailable, HubError.
    """
    rev = (revision or "").strip() or DEFAULT_BRANCH
    if is_commit_sha(rev):
        rev = rev.lower()
    api = calls.api(token)
    info = calls.call(
        lambda: api.model_info(repo_id, revision=rev, timeout=calls.REQUEST_TIMEOUT_S),
        action=f"resolve revision '{rev}' of '{repo_id}'",
        action_es=f"resolver la revisión '{rev}' de '{repo_id}'",
        repo_id=repo_id,
        revision=rev,
        api=api,
        token=token,
    )
    sha = info.sha
    if not sha or not is_commit_sha(sha):
        raise HubError(f"The Hub answered without a commit id for '{repo_id}' at '{rev}'; try again in a minute.",
                       es=f"El Hub respondió sin id de commit para '{repo_id}' en '{rev}'; vuelve a intentarlo en un "
                       "minuto.")
    logger.info("Resolved %s@%s to %s", repo_id, rev, sha)
    return sha


def repo_is_private(repo_id: str, token: str | bool | None = None) -> bool:
    """Whether the model repo ``repo_id`` is private (read with ``token``).

    Raises:
        RepoNotFound, HubUnavailable, HubError.
    """
    api = calls.api(token)
    info = calls.call(lambda: api.model_info(repo_id, timeout=calls.REQUEST_TIMEOUT_S),
                      action=f"read the settings of '{repo_id}'", action_es=f"leer la configuración de '{repo_id}'",
                      repo_id=repo_id, api=api, token=token)
    return bool(info.private)


def list_revisions(repo_id: str, token: str | None = None, max_commits: int = 20) -> Revisions:
    """Branches, tags and the latest ``max_commits`` commits of the default branch of the model repo ``repo_id``.

    Raises:
        RepoNotFound, HubUnavailable, HubError.
    """
    if max_commits < 0:
        raise ValueError(f"max_commits must be >= 0, got {max_commits}")
    api = calls.api(token)
    refs = calls.call(
        lambda: api.list_repo_refs(repo_id, repo_type="model"),
        action=f"list the branches and tags of '{repo_id}'",
        action_es=f"listar las ramas y etiquetas de '{repo_id}'",
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
        history = calls.call(
            lambda: api.list_repo_commits(repo_id, revision=default, repo_type="model"),
            action=f"list the commits of '{repo_id}'",
            action_es=f"listar los commits de '{repo_id}'",
            repo_id=repo_id,
            revision=default,
            api=api,
            token=token,
            # huggingface_hub already retries paginated calls on 5xx (5 times, 1-8 s apart): don't multiply that.
            attempts=1,
        )
        commits = tuple(CommitInfo(c.commit_id, c.title, c.created_at.isoformat()) for c in history[:max_commits])
    return Revisions(repo_id=repo_id, branches=branches, tags=tags, commits=commits)


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
        raise HubError(f"Nothing to push: '{folder}' is not a folder.",
                       es=f"No hay nada que subir: '{folder}' no es una carpeta.")
    if not commit_message.strip():
        raise ValueError("commit_message must not be empty")
    if tag is not None and not tag.strip():
        raise ValueError("tag must be None or a non-empty name")
    api = calls.api(token)
    where = f"'{repo_id}'"

    def call(fn: Callable[[], T], action: str, action_es: str, **kwargs: object) -> T:
        return calls.call(fn, action=action, action_es=action_es, repo_id=repo_id, api=api, token=token,
                          **kwargs)  # type: ignore[arg-type]

    call(lambda: api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model"),
         f"create the repository {where}", f"crear el repositorio {where}")
    refs = call(lambda: api.list_repo_refs(repo_id, repo_type="model"), f"list the branches and tags of {where}",
                f"listar las ramas y etiquetas de {where}")
    branch_heads = {r.name: r.target_commit for r in refs.branches}
    tag_targets = {r.name: r.target_commit for r in refs.tags}
    if tag is not None and tag in tag_targets:
        raise HubError(
            f"Tag '{tag}' already exists in {where} (it points to commit {tag_targets[tag][:7]}); nothing was "
            "uploaded. Pick a new tag name, or delete the old tag on the Hub first.",
            es=f"La etiqueta '{tag}' ya existe en {where} (apunta al commit {tag_targets[tag][:7]}); no se subió "
            "nada. Elige otro nombre de etiqueta, o borra antes la etiqueta antigua en el Hub.",
        )
    parent: str | None
    if branch in branch_heads:
        parent = branch_heads[branch]
    else:
        parent = branch_heads.get(DEFAULT_BRANCH)
        call(lambda: api.create_branch(repo_id, branch=branch, revision=parent, exist_ok=True, repo_type="model"),
             f"create branch '{branch}' in {where}", f"crear la rama '{branch}' en {where}", revision=parent)
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
        f"subir '{folder}' a la rama '{branch}' de {where}",
        revision=branch,
        seconds=None,  # the owner's own push: as long as the upload takes
    )
    sha = commit.oid
    if tag is not None:
        _create_tag(api, repo_id, tag, sha, commit_message, token)
    logger.info("Pushed %s to %s@%s as %s%s", folder, repo_id, branch, sha[:7], f" (tag {tag})" if tag else "")
    return PushResult(repo_id=repo_id, sha=sha, branch=branch, tag=tag, url=commit.commit_url)


def _create_tag(api: "HfApi", repo_id: str, tag: str, sha: str, message: str, token: str | None) -> None:
    """Tag ``sha``; a tag that appeared meanwhile is an error unless it already points at ``sha``."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        calls.call(
            lambda: api.create_tag(repo_id, tag=tag, revision=sha, tag_message=message, repo_type="model"),
            action=f"create tag '{tag}' in '{repo_id}'",
            action_es=f"crear la etiqueta '{tag}' en '{repo_id}'",
            repo_id=repo_id,
            revision=sha,
            api=api,
            token=token,
        )
    except HubError as exc:
        cause = exc.__cause__
        if not (isinstance(cause, HfHubHTTPError) and calls.http_status(cause) == 409):
            raise
        refs = calls.call(lambda: api.list_repo_refs(repo_id, repo_type="model"),
                          action=f"list the tags of '{repo_id}'", action_es=f"listar las etiquetas de '{repo_id}'",
                          repo_id=repo_id, api=api, token=token)
        target = {r.name: r.target_commit for r in refs.tags}.get(tag)
        if target != sha:  # same sha: an earlier attempt went through before its answer was lost
            raise HubError(
                f"Tag '{tag}' was created in '{repo_id}' by someone else during this push (it points to "
                f"{(target or '?')[:7]}). Commit {sha[:7]} was pushed but is not tagged: tag it with a new name.",
                es=f"Alguien más creó la etiqueta '{tag}' en '{repo_id}' durante esta subida (apunta a "
                f"{(target or '?')[:7]}). El commit {sha[:7]} se subió, pero sin etiqueta: etiquétalo con otro nombre.",
            ) from exc



def signed_in_user(seconds: float = 10.0) -> str | None:
    """The account this machine is logged in as (``hf auth login`` or ``HF_TOKEN``), or ``None``: no login, offline,
    or no answer within ``seconds``. Gradio's local sign-in stands in with this account, and asks the Hub who it is
    when the page starts, so a page offers signing in only when this answers."""
    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE or not get_token():
        return None
    try:
        return calls.call(lambda: calls.api(None).whoami()["name"], action="ask the Hub who this machine is",
                          action_es="preguntar al Hub quién es esta máquina", repo_id="", api=calls.api(None),
                          token=None, attempts=1, seconds=seconds)
    except (HubError, TimeoutError, KeyError):
        return None
