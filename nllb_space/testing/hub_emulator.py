"""A loopback Hugging Face Hub: the real ``huggingface_hub`` client (2.4) talks HTTP to it, so tests exercise the
same code paths as production without internet.

Pure standard library: a ``ThreadingHTTPServer`` on 127.0.0.1 (random port) in a background thread, repos kept in
memory. What it answers is the contract in ``HUB_API.md`` (read off huggingface_hub's ``hf_api.py``,
``file_download.py`` and ``_commit_api.py``):

- repos (models, datasets, spaces): create (409 *with* the url when it exists), delete, settings (private);
  a new repo gets an "initial commit" holding ``.gitattributes``, as on the Hub;
- commits: ``preupload`` (always ``"regular"``: an ``"lfs"`` answer would send the client to Xet storage, and the
  remote ``oid`` so unchanged files are skipped like on the Hub), NDJSON ``commit`` (``header``, ``file``,
  ``deletedFile``, ``deletedFolder``; a stale ``parentCommit`` gets 412), ``validate-yaml``;
- refs: branches (``startingPoint``), tags, ``refs``, ``commits`` (newest first, paginated with a ``Link`` header);
- reading: repo info (``sha`` + ``siblings``) by revision, ``tree`` (recursive or not), ``paths-info``,
  ``HEAD``/``GET .../resolve/{rev}/{path}`` with ``X-Repo-Commit``, a quoted ``ETag`` (the git blob sha1, like the
  Hub for non-LFS files), ``Content-Length`` and ``Range`` support;
- errors the way the client tells them apart: 404 + ``X-Error-Code`` ``RepoNotFound`` / ``RevisionNotFound`` /
  ``EntryNotFound``; a private (or missing) repo asked for without a token gets **401 + RepoNotFound**, as the real
  Hub does (the client raises ``RepositoryNotFoundError`` either way); a wrong token gets 401
  ``Invalid credentials in Authorization header`` (the client raises a plain ``HfHubHTTPError``);
- ``/api/whoami-v2``; anything else (``/api/agent-harnesses`` included) is a plain 404.

Revisions may be a branch, a tag, a full commit sha (or a unique prefix of at least 7 hex digits), or
``refs/heads/...`` / ``refs/tags/...`` / ``refs/pr/N`` (pull requests, seeded with
:meth:`HubEmulator.open_pull_request`); they arrive URL-encoded (``exp%2Frun-1``).

Robustness tests inject faults with :meth:`HubEmulator.fail` and read :attr:`HubEmulator.requests`; content can be
seeded without HTTP with :meth:`HubEmulator.commit_files`, :meth:`HubEmulator.create_branch`,
:meth:`HubEmulator.create_tag`.

The client's calls are not a public contract: this emulator is written against huggingface_hub 2.4.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import socket
import socketserver
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)

__all__ = ["HubEmulator", "git_blob_sha1"]

_PLURAL_TO_TYPE = {"models": "model", "datasets": "dataset", "spaces": "space"}
_TYPE_TO_PLURAL = {v: k for k, v in _PLURAL_TO_TYPE.items()}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_SHA_RE = re.compile(r"[0-9a-f]{40}")
_SHORT_SHA_RE = re.compile(r"[0-9a-f]{7,40}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_GITATTRIBUTES = (
    b"*.bin filter=lfs diff=lfs merge=lfs -text\n"
    b"*.pt filter=lfs diff=lfs merge=lfs -text\n"
    b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
)
# What the Hub puts in X-Error-Message when a request carries no (valid) credentials.
_NO_AUTH_MESSAGE = "Invalid username or password."
_BAD_TOKEN_MESSAGE = "Invalid credentials in Authorization header"


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob: what the Hub uses as ``oid``/``ETag`` of a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now_iso() -> str:
    """UTC now as the Hub writes dates: ``2025-01-31T12:34:56.789Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------------------------------------------------


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


class _HttpError(Exception):
    """An error answer: status, ``X-Error-Code`` (picks the client's exception) and a message."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    status: int
    remaining: int
    delay_s: float
    method: str | None


def _json_response(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})


def _error_response(err: _HttpError) -> _Response:
    headers = {"X-Error-Message": err.message, **err.headers}
    if err.code:
        headers["X-Error-Code"] = err.code
    return _json_response({"error": err.message}, err.status, headers)


# --------------------------------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------------------------------


class HubEmulator:
    """An in-memory Hugging Face Hub served on ``http://127.0.0.1:<random port>``.

    Args:
        token: when set, private repos and all writes require ``Authorization: Bearer <token>``, and a request with
            any other bearer token is refused with 401 (as the Hub does). When ``None``, everything is open.
        user: the user name ``whoami`` answers and the namespace of repos created without an organization.

    Use as a context manager, or call :meth:`start` / :meth:`stop`.
    """

    commits_page_size: int = 50
    """Commits per page of ``GET .../commits/{rev}``; further pages are announced with a ``Link: rel="next"``."""

    def __init__(self, token: str | None = None, user: str = "tester") -> None:
        self.token = token
        self.user = user
        self.requests: list[tuple[str, str]] = []
        """Every request received, as ``(method, path)``: the raw (still URL-encoded) path, without the query."""
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base url, e.g. ``http://127.0.0.1:54321`` (what ``HF_ENDPOINT`` must be set to)."""
        if self._url is None:
            raise RuntimeError("HubEmulator is not started: call start() first")
        return self._url

    def start(self) -> str:
        """Start serving in a daemon thread; returns the base url. Idempotent."""
        if self._server is not None:
            return self.url
        handler = type("_BoundHandler", (_Handler,), {"emulator": self})
        server = _Server(("127.0.0.1", 0), handler)
        self._server = server
        self._url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="hub-emulator", daemon=True
        )
        self._thread.start()
        logger.debug("Hub emulator listening on %s", self._url)
        return self._url

    def stop(self) -> None:
        """Stop serving (requests still sleeping in an injected delay are abandoned)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> "HubEmulator":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every repo, fault and logged request."""
        with self._lock:
            self._repos.clear()
            self._faults.clear()
            self.requests.clear()

    # -- fault injection ----------------------------------------------------------------------------------------------

    def fail(
        self, path_regex: str, status: int = 503, times: int = 1, delay_s: float = 0.0, method: str | None = None
    ) -> None:
        """Make the next ``times`` requests whose path matches ``path_regex`` fail.

        The regex is searched in the raw path (``exp%2Frun-1``) and in the decoded one (``exp/run-1``), query excluded.
        Each such request first sleeps ``delay_s`` seconds, then gets ``status`` with a JSON error body;
        ``status=0`` means "just delay, then answer normally" (to provoke client timeouts) and ``status=-1`` closes
        the connection without answering (a connection error for the client). ``method`` restricts the fault to one
        HTTP method. Faults are consumed in the order they were registered.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(
                _Fault(re.compile(path_regex), status, times, delay_s, method.upper() if method else None)
            )

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        decoded = unquote(path)
        with self._lock:
            for fault in self._faults:
                if fault.method not in (None, method):
                    continue
                if fault.pattern.search(path) or fault.pattern.search(decoded):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- seeding helpers (no HTTP, no auth) ---------------------------------------------------------------------------

    def create_repo(
        self, repo_id: str, *, repo_type: str = "model", private: bool = False, exist_ok: bool = True
    ) -> str:
        """Create a repo (with its initial commit) and return its url."""
        with self._lock:
            key = (repo_type, repo_id)
            if key in self._repos:
                if not exist_ok:
                    raise ValueError(f"{repo_type} repo {repo_id!r} exists")
            else:
                self._new_repo(repo_type, repo_id, private=private)
        return self._repo_url(repo_type, repo_id)

    def set_private(self, repo_id: str, private: bool = True, *, repo_type: str = "model") -> None:
        """Flip a repo's visibility."""
        with self._lock:
            self._existing(repo_type, repo_id).private = private

    def commit_files(
        self,
        repo_id: str,
        files: Mapping[str, bytes | str],
        *,
        branch: str = "main",
        message: str = "Upload files",
        description: str = "",
        delete: Iterable[str] = (),
        repo_type: str = "model",
        private: bool = False,
    ) -> str:
        """Commit ``files`` (path -> content) and delete the paths in ``delete`` on ``branch``; returns the new sha.

        Creates the repo (with ``private``) if needed; the branch must exist.
        """
        with self._lock:
            self.create_repo(repo_id, repo_type=repo_type, private=private)
            repo = self._existing(repo_type, repo_id)
            ops: list[tuple[str, str, bytes]] = [
                ("file", path, content.encode() if isinstance(content, str) else bytes(content))
                for path, content in files.items()
            ]
            ops += [("deletedFile", path, b"") for path in delete]
            return self._commit(repo, branch, ops, message, description, parent_commit=None)

    def create_branch(self, repo_id: str, branch: str, *, revision: str = "main", repo_type: str = "model") -> str:
        """Create ``branch`` at ``revision``; returns the commit it points to."""
        with self._lock:
            repo = self._existing(repo_type, repo_id)
            return self._create_branch(repo, branch, revision)

    def create_tag(
        self, repo_id: str, tag: str, *, revision: str = "main", message: str = "", repo_type: str = "model"
    ) -> str:
        """Tag ``revision``; returns the tagged commit sha."""
        with self._lock:
            repo = self._existing(repo_type, repo_id)
            return self._create_tag(repo, tag, revision, message)

    def open_pull_request(
        self, repo_id: str, files: Mapping[str, bytes | str], *, title: str = "Upload files", repo_type: str = "model"
    ) -> tuple[int, str]:
        """Open a pull request adding ``files`` on top of ``main`` (as the Hub's safetensors-conversion bot does);
        returns its number and head sha. The commit is reachable only as ``refs/pr/N`` or by its sha."""
        with self._lock:
            repo = self._existing(repo_type, repo_id)
            head = repo.commits[repo.branches["main"]]
            merged = dict(head.files)
            merged.update({p: c.encode() if isinstance(c, str) else bytes(c) for p, c in files.items()})
            commit = self._make_commit(head, merged, title, "")
            repo.commits.setdefault(commit.sha, commit)
            number = max(repo.pull_requests, default=0) + 1
            repo.pull_requests[number] = commit.sha
            return number, commit.sha

    def resolve(self, repo_id: str, revision: str = "main", *, repo_type: str = "model") -> str:
        """The commit sha a branch, tag or sha points to (``KeyError`` if unknown)."""
        with self._lock:
            try:
                return self._resolve(self._existing(repo_type, repo_id), revision)
            except _HttpError as err:
                raise KeyError(err.message) from None

    def file_content(self, repo_id: str, path: str, revision: str = "main", *, repo_type: str = "model") -> bytes:
        """The bytes of ``path`` at ``revision`` (``KeyError`` if absent)."""
        with self._lock:
            repo = self._existing(repo_type, repo_id)
            return repo.commits[self._resolve(repo, revision)].files[path]

    def commit_parent(self, repo_id: str, sha: str, *, repo_type: str = "model") -> str | None:
        """The parent sha of commit ``sha`` (``None`` for the initial commit)."""
        with self._lock:
            return self._existing(repo_type, repo_id).commits[sha].parent

    # -- core operations (shared by the helpers and the HTTP routes) --------------------------------------------------

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

    # -- HTTP routing -------------------------------------------------------------------------------------------------

    def _auth_state(self, headers: Mapping[str, str]) -> str:
        """``"none"``, ``"valid"`` or ``"invalid"`` for the request's credentials."""
        value = headers.get("authorization") or ""
        if not value:
            return "none"
        if self.token is None:
            return "valid"
        return "valid" if value == f"Bearer {self.token}" else "invalid"

    def _readable_repo(self, repo_type: str, repo_id: str, auth: str) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and self.token is not None and auth != "valid"):
            # Like the Hub: without credentials, "missing" and "private" are both 401 RepoNotFound;
            # with valid credentials that cannot see it, 404 RepoNotFound. Never confirm a private repo exists.
            if auth == "valid":
                raise _HttpError(404, "Repository not found", "RepoNotFound")
            raise _HttpError(401, _NO_AUTH_MESSAGE, "RepoNotFound")
        return repo

    def _require_write(self, auth: str) -> None:
        if self.token is not None and auth != "valid":
            raise _HttpError(401, "You must be authenticated to perform this action. " + _NO_AUTH_MESSAGE)

    def _route(self, method: str, raw_path: str, query: dict[str, list[str]], headers: Mapping[str, str],
               body: bytes) -> _Response:
        auth = self._auth_state(headers)
        if auth == "invalid":
            raise _HttpError(401, _BAD_TOKEN_MESSAGE)
        segments = raw_path.strip("/").split("/")
        if segments[:1] == ["api"]:
            return self._route_api(method, segments[1:], raw_path, query, auth, body)
        # File downloads: /[datasets/|spaces/|models/]{ns}/{name}/resolve/{rev}/{path}
        repo_type = "model"
        if segments and segments[0] in _PLURAL_TO_TYPE:
            repo_type = _PLURAL_TO_TYPE[segments[0]]
            segments = segments[1:]
        if len(segments) >= 5 and segments[2] == "resolve" and method in ("GET", "HEAD"):
            repo_id = f"{unquote(segments[0])}/{unquote(segments[1])}"
            return self._resolve_file(
                repo_type, repo_id, unquote(segments[3]), unquote("/".join(segments[4:])), auth, headers
            )
        raise _HttpError(404, "Not Found")

    def _route_api(self, method: str, seg: list[str], raw_path: str, query: dict[str, list[str]], auth: str,
                   body: bytes) -> _Response:
        if seg == ["whoami-v2"] and method == "GET":
            if auth != "valid":
                raise _HttpError(401, _NO_AUTH_MESSAGE)
            return _json_response(self._whoami())
        if seg == ["validate-yaml"] and method == "POST":
            return self._validate_yaml(_parse_json(body))
        if seg == ["repos", "create"] and method == "POST":
            self._require_write(auth)
            return self._http_create_repo(_parse_json(body))
        if seg == ["repos", "delete"] and method == "DELETE":
            self._require_write(auth)
            return self._http_delete_repo(_parse_json(body))
        if len(seg) < 3 or seg[0] not in _PLURAL_TO_TYPE:
            raise _HttpError(404, "Not Found")
        repo_type = _PLURAL_TO_TYPE[seg[0]]
        repo_id = f"{unquote(seg[1])}/{unquote(seg[2])}"
        action = seg[3] if len(seg) > 3 else ""
        rest = [unquote(s) for s in seg[4:]]
        joined = "/".join(rest)
        is_write = method in ("POST", "PUT", "DELETE") and action != "paths-info"
        with self._lock:
            repo = self._readable_repo(repo_type, repo_id, auth)
            if is_write:
                self._require_write(auth)
            if method == "GET" and action == "":
                return self._info(repo, "main", query)
            if method == "GET" and action == "revision" and rest:
                return self._info(repo, joined, query)
            if method == "GET" and action == "refs" and not rest:
                return self._refs(repo, query)
            if method == "GET" and action == "commits" and rest:
                return self._commits(repo, joined, raw_path, query)
            if method == "GET" and action == "tree" and rest:
                return self._tree(repo, rest[0], "/".join(rest[1:]), query)
            if method == "POST" and action == "paths-info" and rest:
                return self._paths_info(repo, joined, body)
            if method == "POST" and action == "preupload" and rest:
                return self._preupload(repo, joined, _parse_json(body), query)
            if method == "POST" and action == "commit" and rest:
                return self._http_commit(repo, joined, body, query)
            if action == "branch" and rest and method in ("POST", "DELETE"):
                return self._http_branch(repo, method, joined, body)
            if action == "tag" and rest and method in ("POST", "DELETE"):
                return self._http_tag(repo, method, joined, body)
            if method == "PUT" and action == "settings" and not rest:
                return self._settings(repo, _parse_json(body))
        raise _HttpError(404, "Not Found")

    # -- route handlers -----------------------------------------------------------------------------------------------

    def _whoami(self) -> dict[str, Any]:
        return {
            "type": "user",
            "id": hashlib.sha1(self.user.encode()).hexdigest()[:24],
            "name": self.user,
            "fullname": "Test User",
            "email": f"{self.user}@example.com",
            "emailVerified": True,
            "isPro": False,
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "hub-emulator", "role": "write"}},
        }

    def _validate_yaml(self, payload: dict[str, Any]) -> _Response:
        content = str(payload.get("content", ""))
        errors: list[dict[str, str]] = []
        if content.startswith("---"):
            end = content.find("\n---", 3)
            if end < 0:
                errors.append({"message": "YAML front matter is not closed by '---'"})
            else:
                try:  # optional: check the front matter parses when PyYAML is around
                    import yaml  # type: ignore[import-untyped]
                except ImportError:
                    yaml = None
                if yaml is not None:
                    try:
                        data = yaml.safe_load(content[3:end])
                    except yaml.YAMLError as exc:
                        errors.append({"message": f"Invalid YAML in front matter: {exc}"})
                    else:
                        if data is not None and not isinstance(data, dict):
                            errors.append({"message": "YAML front matter must be a mapping"})
        if errors:
            return _json_response({"errors": errors, "warnings": []}, 400)
        return _json_response({"errors": [], "warnings": []})

    def _http_create_repo(self, payload: dict[str, Any]) -> _Response:
        name = str(payload.get("name") or "")
        namespace = payload.get("organization") or self.user
        repo_type = payload.get("type") or "model"
        if repo_type not in _URL_PREFIX:
            raise _HttpError(400, f"Invalid repo type: {repo_type}")
        repo_id = f"{namespace}/{name}"
        private = bool(payload.get("private", False)) or payload.get("visibility") == "private"
        with self._lock:
            url = self._repo_url(repo_type, repo_id)
            if (repo_type, repo_id) in self._repos:
                # The client reads "url" from this 409 when exist_ok=True.
                return _json_response({"error": f"You already created this {repo_type} repo", "url": url}, 409)
            self._new_repo(repo_type, repo_id, private=private, sdk=payload.get("sdk"))
        return _json_response({"url": url, "name": repo_id, "id": hashlib.sha1(repo_id.encode()).hexdigest()[:24]})

    def _http_delete_repo(self, payload: dict[str, Any]) -> _Response:
        repo_id = f"{payload.get('organization') or self.user}/{payload.get('name')}"
        repo_type = payload.get("type") or "model"
        with self._lock:
            if self._repos.pop((repo_type, repo_id), None) is None:
                raise _HttpError(404, "Repository not found", "RepoNotFound")
        return _json_response({})

    def _settings(self, repo: _Repo, payload: dict[str, Any]) -> _Response:
        if "private" in payload:
            repo.private = bool(payload["private"])
        if "visibility" in payload:
            repo.private = payload["visibility"] == "private"
        return _json_response({})

    def _info(self, repo: _Repo, revision: str, query: dict[str, list[str]]) -> _Response:
        sha = self._resolve(repo, revision)
        commit = repo.commits[sha]
        blobs = _flag(query, "blobs")
        siblings: list[dict[str, Any]] = []
        for path in sorted(commit.files):
            entry: dict[str, Any] = {"rfilename": path}
            if blobs:
                entry.update(size=len(commit.files[path]), blobId=git_blob_sha1(commit.files[path]))
            siblings.append(entry)
        namespace = repo.repo_id.split("/")[0]
        info: dict[str, Any] = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": namespace,
            "sha": sha,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
            "usedStorage": sum(len(b) for b in commit.files.values()),
        }
        if repo.repo_type == "model":
            info["modelId"] = repo.repo_id
        if repo.repo_type == "space":
            info["sdk"] = repo.sdk
        return _json_response(info)

    def _refs(self, repo: _Repo, query: dict[str, list[str]]) -> _Response:
        data: dict[str, Any] = {
            "branches": [
                {"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha}
                for name, sha in sorted(repo.branches.items())
            ],
            "tags": [
                {"name": name, "ref": f"refs/tags/{name}", "targetCommit": sha}
                for name, (sha, _message) in sorted(repo.tags.items())
            ],
            "converts": [],
        }
        if _flag(query, "include_prs"):
            data["pullRequests"] = [
                {"name": f"refs/pr/{number}", "ref": f"refs/pr/{number}", "targetCommit": sha}
                for number, sha in sorted(repo.pull_requests.items())
            ]
        return _json_response(data)

    def _commits(self, repo: _Repo, revision: str, raw_path: str, query: dict[str, list[str]]) -> _Response:
        sha: str | None = self._resolve(repo, revision)
        history: list[_Commit] = []
        while sha is not None:
            commit = repo.commits[sha]
            history.append(commit)
            sha = commit.parent
        page = int((query.get("p") or ["0"])[0])
        size = self.commits_page_size
        chunk = history[page * size : (page + 1) * size]
        formatted = "formatted" in query.get("expand[]", [])
        items = []
        for c in chunk:
            item: dict[str, Any] = {
                "id": c.sha,
                "title": c.title,
                "message": c.message,
                "date": c.date,
                "authors": [{"user": c.author, "avatar": None}],
            }
            if formatted:
                item["formatted"] = {"title": c.title, "message": c.message}
            items.append(item)
        headers = {}
        if (page + 1) * size < len(history):
            headers["Link"] = f'<{self.url}{raw_path}?p={page + 1}>; rel="next"'
        return _json_response(items, headers=headers)

    def _tree(self, repo: _Repo, revision: str, path: str, query: dict[str, list[str]]) -> _Response:
        sha = self._resolve(repo, revision)
        files = repo.commits[sha].files
        path = path.strip("/")
        prefix = f"{path}/" if path else ""
        under = {p: b for p, b in files.items() if p.startswith(prefix)}
        if path and not under:
            raise _HttpError(404, f"Entry not found: {path}", "EntryNotFound")
        recursive = _flag(query, "recursive")
        entries: dict[str, dict[str, Any]] = {}
        for p, content in under.items():
            rel_parts = p[len(prefix) :].split("/")
            # folders between `path` and the file
            depth = len(rel_parts) - 1 if recursive else min(1, len(rel_parts) - 1)
            for i in range(1, depth + 1):
                folder = prefix + "/".join(rel_parts[:i])
                entries.setdefault(folder, _folder_entry(folder, files))
            if recursive or len(rel_parts) == 1:
                entries[p] = _file_entry(p, content)
        return _json_response([entries[k] for k in sorted(entries)])

    def _paths_info(self, repo: _Repo, revision: str, body: bytes) -> _Response:
        sha = self._resolve(repo, revision)
        files = repo.commits[sha].files
        form = parse_qs(body.decode())
        paths = form.get("paths", [])
        if not paths and body.strip().startswith(b"{"):
            paths = list(_parse_json(body).get("paths", []))
        out = []
        for p in paths:
            p = p.strip("/")
            if p in files:
                out.append(_file_entry(p, files[p]))
            elif any(f.startswith(p + "/") for f in files):
                out.append(_folder_entry(p, files))
        return _json_response(out)

    def _preupload(self, repo: _Repo, revision: str, payload: dict[str, Any], query: dict[str, list[str]]) -> _Response:
        if _flag(query, "create_pr"):
            raise _HttpError(400, "Pull requests are not supported by the hub emulator")
        if revision not in repo.branches:
            raise _HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        head = repo.commits[repo.branches[revision]]
        out = []
        for f in payload.get("files", []):
            existing = head.files.get(f["path"])
            out.append(
                {
                    "path": f["path"],
                    # Always "regular": "lfs" would make the client upload to Xet storage.
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    # The remote blob id lets the client skip files that did not change, as on the Hub.
                    "oid": git_blob_sha1(existing) if existing is not None else None,
                }
            )
        return _json_response({"files": out, "commitOid": head.sha})

    def _http_commit(self, repo: _Repo, revision: str, body: bytes, query: dict[str, list[str]]) -> _Response:
        if _flag(query, "create_pr"):
            raise _HttpError(400, "Pull requests are not supported by the hub emulator")
        header: dict[str, Any] | None = None
        ops: list[tuple[str, str, bytes]] = []
        for line in body.splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError):
                raise _HttpError(400, "Malformed NDJSON commit payload") from None
            if key == "header":
                header = value
            elif key == "file":
                path = _check_path(value.get("path", ""))
                if value.get("encoding", "base64") != "base64":
                    raise _HttpError(400, f"Unsupported encoding {value.get('encoding')!r}")
                try:
                    content = base64.b64decode(value.get("content", ""), validate=True)
                except ValueError:
                    raise _HttpError(400, f"Invalid base64 content for {path}") from None
                ops.append(("file", path, content))
            elif key in ("deletedFile", "deletedFolder"):
                ops.append((key, _check_path(value.get("path", "")), b""))
            elif key == "lfsFile":
                raise _HttpError(400, "LFS files are not supported by the hub emulator (preupload answers 'regular')")
            else:
                raise _HttpError(400, f"Unknown commit operation {key!r}")
        if header is None or not str(header.get("summary", "")).strip():
            raise _HttpError(400, "A commit needs a header line with a non-empty summary")
        sha = self._commit(
            repo, revision, ops, str(header["summary"]), str(header.get("description") or ""),
            header.get("parentCommit"),
        )
        return _json_response(
            {
                "success": True,
                "commitOid": sha,
                "commitUrl": f"{self._repo_url(repo.repo_type, repo.repo_id)}/commit/{sha}",
                "pullRequestUrl": None,
                "hookOutput": "",
            }
        )

    def _http_branch(self, repo: _Repo, method: str, branch: str, body: bytes) -> _Response:
        if method == "DELETE":
            if branch not in repo.branches:
                raise _HttpError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            if branch == "main":
                raise _HttpError(403, "Cannot delete the default branch")
            del repo.branches[branch]
            return _json_response({})
        payload = _parse_json(body) if body.strip() else {}
        self._create_branch(repo, branch, payload.get("startingPoint"))
        return _json_response({})

    def _http_tag(self, repo: _Repo, method: str, name: str, body: bytes) -> _Response:
        if method == "DELETE":
            if name not in repo.tags:
                raise _HttpError(404, f"Invalid rev id: {name}", "RevisionNotFound")
            del repo.tags[name]
            return _json_response({})
        payload = _parse_json(body)
        tag = str(payload.get("tag") or "")
        self._create_tag(repo, tag, name, str(payload.get("message") or ""))
        return _json_response({})

    def _resolve_file(self, repo_type: str, repo_id: str, revision: str, path: str, auth: str,
                      headers: Mapping[str, str]) -> _Response:
        with self._lock:
            repo = self._readable_repo(repo_type, repo_id, auth)
            sha = self._resolve(repo, revision)
            content = repo.commits[sha].files.get(path)
        if content is None:
            # X-Repo-Commit lets the client cache the file's absence at this commit.
            raise _HttpError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": sha})
        out = {
            "X-Repo-Commit": sha,
            "ETag": f'"{git_blob_sha1(content)}"',
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }
        range_header = headers.get("range")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header or "")
        if match and content:
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else len(content) - 1
            end = min(end, len(content) - 1)
            if start >= len(content) or start > end:
                raise _HttpError(416, "Range Not Satisfiable", headers={"Content-Range": f"bytes */{len(content)}"})
            out["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
            return _Response(206, content[start : end + 1], out)
        return _Response(200, content, out)


# --------------------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------------------


def _flag(query: Mapping[str, list[str]], name: str) -> bool:
    return any(v.lower() in ("1", "true", "yes") for v in query.get(name, []))


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise _HttpError(400, "Body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _HttpError(400, "Body must be a JSON object")
    return data


def _check_path(path: str) -> str:
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in path.rstrip("/").split("/")):
        raise _HttpError(400, f"Invalid path in repo: {path!r}")
    return path


def _check_ref_name(name: str, kind: str) -> None:
    if not name or name.startswith("refs/") or ".." in name or name.endswith("/") or " " in name:
        raise _HttpError(400, f"Invalid {kind} name: {name!r}")


def _file_entry(path: str, content: bytes) -> dict[str, Any]:
    return {"type": "file", "oid": git_blob_sha1(content), "size": len(content), "path": path}


def _folder_entry(folder: str, files: Mapping[str, bytes]) -> dict[str, Any]:
    h = hashlib.sha1()
    for p in sorted(p for p in files if p.startswith(folder + "/")):
        h.update(f"{p} {git_blob_sha1(files[p])}\n".encode())
    return {"type": "directory", "oid": h.hexdigest(), "size": 0, "path": folder}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for requests sleeping in an injected delay

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can stall without a network.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "127.0.0.1"
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("hub emulator: error while handling a request from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client pools connections
    server_version = "HubEmulator/2.4"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; no 40 ms delayed-ACK stalls
    emulator: HubEmulator

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        logger.debug("hub emulator: " + format, *args)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        em = self.emulator
        split = urlsplit(self.path)
        body = self._read_body()
        with em._lock:
            em.requests.append((method, split.path))
        fault = em._take_fault(method, split.path)
        if fault is not None:
            if fault.delay_s > 0:
                time.sleep(fault.delay_s)
            if fault.status < 0:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if fault.status > 0:
                self._write(
                    method,
                    _json_response({"error": f"Injected fault: {fault.status}"}, fault.status,
                                   {"X-Error-Message": f"Injected fault: {fault.status}"}),
                )
                return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = em._route(method, split.path, parse_qs(split.query), headers, body)
        except _HttpError as err:
            response = _error_response(err)
        except Exception as exc:  # a bug in the emulator: answer 500 and say so in the test log
            logger.exception("hub emulator crashed on %s %s", method, self.path)
            response = _error_response(_HttpError(500, f"Hub emulator error: {exc!r}"))
        self._write(method, response)

    def _write(self, method: str, response: _Response) -> None:
        try:
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if method != "HEAD" and response.body:
                self.wfile.write(response.body)
        except OSError:  # the client gave up (e.g. its timeout fired during an injected delay)
            self.close_connection = True
