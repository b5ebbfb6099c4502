"""The Hub emulator's write routes: who may write, repo create / delete / settings, ``validate-yaml``,
``preupload``, the NDJSON ``commit``, and branch and tag create / delete.

:class:`_WriteRoutes` is a mixin of :class:`~nllb_space.testing.hub_emulator.HubEmulator`; its routing table
(``_route_api``) picks these handlers, which parse what the client sends and apply it through the store.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from .hub_protocol import (
    _NO_AUTH_MESSAGE,
    _flag,
    _HttpError,
    _json_response,
    _parse_json,
    _Response,
)
from .hub_repos import _URL_PREFIX, _Repo, _RepoStore, git_blob_sha1


class _WriteRoutes(_RepoStore):
    """Handlers of the routes that write (``validate-yaml`` too: it is part of uploading a model card)."""

    # Set by HubEmulator.__init__; declared here for readers and type checkers.
    token: str | None

    def _require_write(self, auth: str, repo: _Repo | None = None, namespace: str | None = None) -> None:
        """Refuse a write the caller may not make: without credentials; in a signed-in visitor's namespace with
        anyone else's; with a visitor's OAuth token, anywhere but in repos that token created."""
        if self.token is not None and auth != "valid":
            raise _HttpError(401, "You must be authenticated to perform this action. " + _NO_AUTH_MESSAGE)
        namespace = repo.repo_id.split("/")[0] if repo is not None else namespace
        user, oauth = getattr(auth, "user", None), getattr(auth, "oauth_token", None)
        visitors = set(getattr(self, "_oauth", {}).values())
        if namespace in visitors and user != namespace:
            raise _HttpError(403, f"You don't have the rights to write in the namespace '{namespace}'")
        if oauth and (namespace != user or (repo is not None and repo.created_by != oauth)):
            raise _HttpError(403, "This OAuth app can only write the repos it created (scope contribute-repos)")

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

    def _http_create_repo(self, payload: dict[str, Any], auth: str = "valid") -> _Response:
        name = str(payload.get("name") or "")
        namespace = payload.get("organization") or getattr(auth, "user", None) or self.user
        self._require_write(auth, namespace=namespace)
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
            repo = self._new_repo(repo_type, repo_id, private=private, sdk=payload.get("sdk"))
            repo.created_by = getattr(auth, "oauth_token", None)
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


def _check_path(path: str) -> str:
    # A path the client sends must stay inside the repo: no absolute path, empty part, "." or "..".
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in path.rstrip("/").split("/")):
        raise _HttpError(400, f"Invalid path in repo: {path!r}")
    return path
