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
- reading: repo info (``sha`` + ``siblings``) by revision, ``tree`` (recursive or not), ``paths-info`` (with
  ``expand``: each path's ``lastCommit`` ``{id, title, date}``, the newest commit that changed it),
  ``HEAD``/``GET .../resolve/{rev}/{path}`` with ``X-Repo-Commit``, a quoted ``ETag`` (the git blob sha1, like the
  Hub for non-LFS files), ``Content-Length`` and ``Range`` support;
- errors the way the client tells them apart: 404 + ``X-Error-Code`` ``RepoNotFound`` / ``RevisionNotFound`` /
  ``EntryNotFound``; a private (or missing) repo asked for without a token gets **401 + RepoNotFound**, as the real
  Hub does (the client raises ``RepositoryNotFoundError`` either way); a gated repo's files
  (:meth:`HubEmulator.set_gated`) get 401 without a token and 403 for an account without access, both ``GatedRepo``;
  a wrong token gets 401 ``Invalid credentials in Authorization header`` (the client raises a plain
  ``HfHubHTTPError``);
- ``/api/whoami-v2``; anything else (``/api/agent-harnesses`` included) is a plain 404;
- visitors signed in to a Space (:meth:`HubEmulator.add_oauth_user`): an OAuth token with the ``contribute-repos``
  scope creates repos in its user's namespace and writes only the repos it created; no other token writes in that
  namespace (403), the emulator's own (the Space owner's) included.

Revisions may be a branch, a tag, a full commit sha (or a unique prefix of at least 7 hex digits), or
``refs/heads/...`` / ``refs/tags/...`` / ``refs/pr/N`` (pull requests, seeded with
:meth:`HubEmulator.open_pull_request`); they arrive URL-encoded (``exp%2Frun-1``).

Robustness tests inject faults with :meth:`HubEmulator.fail` and read :attr:`HubEmulator.requests`; content can be
seeded without HTTP with :meth:`HubEmulator.commit_files`, :meth:`HubEmulator.create_branch`,
:meth:`HubEmulator.create_tag`.

The client's calls are not a public contract: this emulator is written against huggingface_hub 2.4.

This module holds :class:`HubEmulator` itself: its state, the seeding helpers and the routing table. The rest lives
in its siblings, which it is assembled from: ``hub_repos`` (the repos and their git-like history), ``hub_read_routes``
and ``hub_write_routes`` (the route handlers), ``hub_server`` (serving, the request handler, fault injection) and
``hub_protocol`` (errors, responses and body parsing they all share).
"""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Iterable, Mapping
from urllib.parse import unquote

from .hub_protocol import (
    _BAD_TOKEN_MESSAGE,
    _NO_AUTH_MESSAGE,
    _Caller,
    _HttpError,
    _json_response,
    _parse_json,
    _Response,
)
from .hub_read_routes import _ReadRoutes
from .hub_repos import _Repo, git_blob_sha1
from .hub_server import _Fault, _Serving
from .hub_write_routes import _WriteRoutes

__all__ = ["HubEmulator", "git_blob_sha1"]

_PLURAL_TO_TYPE = {"models": "model", "datasets": "dataset", "spaces": "space"}


class HubEmulator(_Serving, _ReadRoutes, _WriteRoutes):
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
        self._oauth: dict[str, str] = {}
        """OAuth token -> the signed-in visitor's user name (:meth:`add_oauth_user`)."""
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

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

    def add_oauth_user(self, user: str, token: str) -> None:
        """A visitor signed in with Hugging Face on a Space whose OAuth scope is ``contribute-repos``: ``token``
        creates repos in ``user``'s namespace and writes the repos it created, and nothing else."""
        with self._lock:
            self._oauth[token] = user

    def set_private(self, repo_id: str, private: bool = True, *, repo_type: str = "model") -> None:
        """Flip a repo's visibility."""
        with self._lock:
            self._existing(repo_type, repo_id).private = private

    def set_gated(self, repo_id: str, gated: str | None = "auto", *, granted: bool = True,
                  repo_type: str = "model") -> None:
        """Gate a repo (``"auto"``/``"manual"``; ``None`` opens it); ``granted``: whether the emulator's user has
        accepted its conditions. Anonymous downloads then get 401 and a user without access 403 (``GatedRepo``)."""
        with self._lock:
            repo = self._existing(repo_type, repo_id)
            repo.gated, repo.access_granted = gated, granted

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

    # -- HTTP routing: which handler (in hub_read_routes / hub_write_routes) answers a request -------------------------

    def _auth_state(self, headers: Mapping[str, str]) -> _Caller:
        """``"none"``, ``"valid"`` or ``"invalid"`` for the request's credentials, knowing whose they are."""
        value = headers.get("authorization") or ""
        if not value:
            return _Caller("none")
        if self.token is None:
            return _Caller("valid", self.user)
        if value == f"Bearer {self.token}":
            return _Caller("valid", self.user)
        visitor = self._oauth.get(value.removeprefix("Bearer "))
        return _Caller("valid", visitor, oauth_token=value) if visitor else _Caller("invalid")

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
            return _json_response(self._whoami(auth.user or self.user))
        if seg == ["validate-yaml"] and method == "POST":
            return self._validate_yaml(_parse_json(body))
        if seg == ["repos", "create"] and method == "POST":
            return self._http_create_repo(_parse_json(body), auth)  # checks who may write in its namespace
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
                self._require_write(auth, repo)
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

