"""The Hub emulator's in-memory repos and their git-like history.

- :class:`_Commit` / :class:`_Repo`: a repo is its commits (each a full snapshot of the files), branches, tags and
  pull-request heads;
- :class:`_RepoStore`: the mixin of :class:`~nllb_space.testing.hub_emulator.HubEmulator` that creates repos, makes
  commits, resolves revisions and creates refs. The seeding helpers and the HTTP routes both go through it, so a
  test seeding content and the client writing over HTTP get the same history and the same errors.

Failures are raised as :class:`~nllb_space.testing.hub_protocol._HttpError` carrying the status the Hub answers them
with (404 ``RevisionNotFound``, 409, 412...), so the routes can pass them through unchanged.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .hub_protocol import _HttpError

_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_SHORT_SHA_RE = re.compile(r"[0-9a-f]{7,40}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_GITATTRIBUTES = (
    b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pt filter=lfs diff=lfs merge=lfs -text\n"
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
)


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob: what the Hub uses as ``oid``/``ETag`` of a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now_iso() -> str:
    """UTC now as the Hub writes dates: ``2025-01-31T12:34:56.789Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Commit:
    sha: str
    parent: str | None
    title: str
    message: str
    date: str
    author: str
    files: dict[str, bytes]
    """The full snapshot of the repo at this commit (repos in tests are tiny)."""


@dataclass
class _Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    sdk: str | None = None
    commits: dict[str, _Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, tuple[str, str]] = field(default_factory=dict)
    """tag -> (commit sha, tag message)."""
    pull_requests: dict[int, str] = field(default_factory=dict)
    """Pull request number -> the head commit of its ``refs/pr/N`` (not on any branch, as on the Hub)."""
    gated: str | None = None
    """``"auto"`` or ``"manual"``: its files are downloaded only by users who accepted its conditions."""
    access_granted: bool = True
    """Whether the emulator's user has accepted a gated repo's conditions (and been let in)."""
    created_by: str | None = None
    """The OAuth token that created it, when a signed-in visitor's Space did (it may write here, and only here)."""


def _check_ref_name(name: str, kind: str) -> None:
    if not name or name.startswith("refs/") or ".." in name or name.endswith("/") or " " in name:
        raise _HttpError(400, f"Invalid {kind} name: {name!r}")


class _RepoStore:
    """Repo and history operations; callers hold ``self._lock``."""

    # Set by HubEmulator.__init__ (and ``url`` by the serving mixin); declared here for readers and type checkers.
    user: str
    url: str
    _repos: dict[tuple[str, str], _Repo]
    _lock: threading.RLock

    def _repo_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.url}/{_URL_PREFIX[repo_type]}{repo_id}"

    def _existing(self, repo_type: str, repo_id: str) -> _Repo:
        try:
            return self._repos[(repo_type, repo_id)]
        except KeyError:
            raise KeyError(f"no {repo_type} repo {repo_id!r} in the emulator") from None

    def _new_repo(self, repo_type: str, repo_id: str, *, private: bool, sdk: str | None = None) -> _Repo:
        for part in repo_id.split("/"):
            if not _NAME_RE.fullmatch(part) or ".." in part:
                raise _HttpError(400, f"Invalid repo name: {repo_id!r}")
        if repo_id.count("/") != 1:
            raise _HttpError(400, f"Repo id must be 'namespace/name', got {repo_id!r}")
        repo = _Repo(repo_type=repo_type, repo_id=repo_id, private=private, created_at=_now_iso(), sdk=sdk)
        initial = self._make_commit(None, {".gitattributes": _GITATTRIBUTES}, "initial commit", "")
        repo.commits[initial.sha] = initial
        repo.branches["main"] = initial.sha
        self._repos[(repo_type, repo_id)] = repo
        return repo

    def _make_commit(self, parent: _Commit | None, files: dict[str, bytes], title: str, message: str) -> _Commit:
        # Stable ids: the same parent, content and message always give the same sha (like git without timestamps).
        h = hashlib.sha1()
        h.update(b"parent %s\n" % (parent.sha.encode() if parent else b"-"))
        for path in sorted(files):
            h.update(b"%s %s\n" % (path.encode(), git_blob_sha1(files[path]).encode()))
        h.update(b"\n" + title.encode() + b"\n\n" + message.encode())
        return _Commit(h.hexdigest(), parent.sha if parent else None, title, message, _now_iso(), self.user, files)

    def _resolve(self, repo: _Repo, revision: str) -> str:
        rev = revision
        if rev.startswith("refs/heads/") and rev[len("refs/heads/") :] in repo.branches:
            return repo.branches[rev[len("refs/heads/") :]]
        if rev.startswith("refs/tags/") and rev[len("refs/tags/") :] in repo.tags:
            return repo.tags[rev[len("refs/tags/") :]][0]
        if rev in repo.branches:
            return repo.branches[rev]
        pr = re.fullmatch(r"refs/pr/(\d+)", rev)
        if pr and int(pr.group(1)) in repo.pull_requests:
            return repo.pull_requests[int(pr.group(1))]
        if rev in repo.tags:
            return repo.tags[rev][0]
        if rev in repo.commits:
            return rev
        if _SHORT_SHA_RE.fullmatch(rev):
            matches = [sha for sha in repo.commits if sha.startswith(rev)]
            if len(matches) == 1:
                return matches[0]
        raise _HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def _commit(
        self,
        repo: _Repo,
        branch: str,
        ops: list[tuple[str, str, bytes]],
        title: str,
        message: str,
        parent_commit: str | None,
    ) -> str:
        if branch not in repo.branches:
            # The Hub only commits on branches: a tag, a sha or an unknown name is "not found".
            raise _HttpError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
        head = repo.commits[repo.branches[branch]]
        if parent_commit is not None and parent_commit != head.sha:
            raise _HttpError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(head.files)
        for key, path, content in ops:
            if key == "file":
                files[path] = content
            elif key == "deletedFile":
                if path not in files:
                    raise _HttpError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                del files[path]
            elif key == "deletedFolder":
                prefix = path.rstrip("/") + "/"
                doomed = [p for p in files if p.startswith(prefix)]
                if not doomed:
                    raise _HttpError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                for p in doomed:
                    del files[p]
            else:  # pragma: no cover - guarded by the parser
                raise _HttpError(400, f"Unsupported commit operation {key!r}")
        commit = self._make_commit(head, files, title, message)
        repo.commits.setdefault(commit.sha, commit)
        repo.branches[branch] = commit.sha
        return commit.sha

    def _create_branch(self, repo: _Repo, branch: str, revision: str | None) -> str:
        _check_ref_name(branch, "branch")
        if branch in repo.branches:
            raise _HttpError(409, f"Reference already exists: refs/heads/{branch}")
        sha = self._resolve(repo, revision or "main")
        repo.branches[branch] = sha
        return sha

    def _create_tag(self, repo: _Repo, tag: str, revision: str, message: str) -> str:
        _check_ref_name(tag, "tag")
        if tag in repo.tags:
            raise _HttpError(409, f"Tag already exists: refs/tags/{tag}")
        sha = self._resolve(repo, revision)
        repo.tags[tag] = (sha, message)
        return sha
