"""The Hub emulator's read routes: who may read a repo (and a gated repo's files), ``whoami``, repo info, ``refs``,
``commits``, ``tree``, ``paths-info`` (with ``expand``: each path's last commit, as the Hub answers it) and file
downloads (``HEAD``/``GET .../resolve/{rev}/{path}``, with ``Range``).

:class:`_ReadRoutes` is a mixin of :class:`~nllb_space.testing.hub_emulator.HubEmulator`; its routing table
(``_route_api``) picks these handlers, which answer from the store without changing it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Mapping
from urllib.parse import parse_qs

from .hub_protocol import (
    _NO_AUTH_MESSAGE,
    _flag,
    _HttpError,
    _json_response,
    _parse_json,
    _Response,
)
from .hub_repos import _Commit, _Repo, _RepoStore, git_blob_sha1


class _ReadRoutes(_RepoStore):
    """Handlers of the routes that read; all but :meth:`_resolve_file` are called with ``self._lock`` held."""

    # Set by HubEmulator (class attribute and __init__); declared here for readers and type checkers.
    token: str | None
    commits_page_size: int

    def _readable_repo(self, repo_type: str, repo_id: str, auth: str) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and self.token is not None and auth != "valid"):
            # Like the Hub: without credentials, "missing" and "private" are both 401 RepoNotFound;
            # with valid credentials that cannot see it, 404 RepoNotFound. Never confirm a private repo exists.
            if auth == "valid":
                raise _HttpError(404, "Repository not found", "RepoNotFound")
            raise _HttpError(401, _NO_AUTH_MESSAGE, "RepoNotFound")
        return repo

    def _check_gate(self, repo: _Repo, auth: str) -> None:
        """Refuse a gated repo's files as the Hub does: 401 to a caller without a token, 403 to one whose account has
        not accepted the conditions (``X-Error-Code: GatedRepo`` either way). Its info and file listing stay open."""
        if not repo.gated or (auth == "valid" and repo.access_granted):
            return
        kind = repo.repo_type
        if auth != "valid":
            raise _HttpError(401, f"Access to {kind} {repo.repo_id} is restricted. You must have access to it and be "
                                  "authenticated to access it. Please log in.", "GatedRepo")
        page = self._repo_url(repo.repo_type, repo.repo_id)
        raise _HttpError(403, f"Access to {kind} {repo.repo_id} is restricted and you are not in the authorized list. "
                              f"Visit {page} to ask for access.", "GatedRepo")

    def _whoami(self, user: str) -> dict[str, Any]:
        return {
            "type": "user",
            "id": hashlib.sha1(user.encode()).hexdigest()[:24],
            "name": user,
            "fullname": "Test User",
            "email": f"{user}@example.com",
            "avatarUrl": f"/avatars/{hashlib.sha1(user.encode()).hexdigest()[:12]}.svg",
            "emailVerified": True,
            "isPro": False,
            "orgs": [],
            "auth": {"type": "access_token", "accessToken": {"displayName": "hub-emulator", "role": "write"}},
        }

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
            "gated": repo.gated or False,
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
        expand = _flag(form, "expand")
        if not paths and body.strip().startswith(b"{"):
            data = _parse_json(body)
            paths, expand = list(data.get("paths", [])), bool(data.get("expand"))
        out = []
        for p in paths:
            p = p.strip("/")
            if p in files:
                entry = _file_entry(p, files[p])
            elif any(f.startswith(p + "/") for f in files):
                entry = _folder_entry(p, files)
            else:
                continue
            if expand:  # as the Hub: the newest commit up to `revision` that changed the path
                entry["lastCommit"] = self._last_commit(repo, sha, p, entry["oid"])
            out.append(entry)
        return _json_response(out)

    def _last_commit(self, repo: _Repo, sha: str, path: str, oid: str) -> dict[str, str]:
        """``{id, title, date}`` of the newest ancestor of ``sha`` (itself included) whose parent lacks ``path`` or
        holds it with another object id (``oid``: the path's id at ``sha``)."""
        commit = repo.commits[sha]
        while commit.parent is not None and _path_oid(repo.commits[commit.parent].files, path) == oid:
            commit = repo.commits[commit.parent]
        return {"id": commit.sha, "title": commit.title, "date": commit.date}

    def _resolve_file(self, repo_type: str, repo_id: str, revision: str, path: str, auth: str,
                      headers: Mapping[str, str]) -> _Response:
        with self._lock:
            repo = self._readable_repo(repo_type, repo_id, auth)
            self._check_gate(repo, auth)
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


def _path_oid(files: Mapping[str, bytes], path: str) -> str | None:
    """The object id of ``path`` (a file or a folder) in a snapshot, ``None`` where it is absent."""
    if path in files:
        return git_blob_sha1(files[path])
    if any(f.startswith(path + "/") for f in files):
        return _folder_entry(path, files)["oid"]
    return None


def _file_entry(path: str, content: bytes) -> dict[str, Any]:
    return {"type": "file", "oid": git_blob_sha1(content), "size": len(content), "path": path}


def _folder_entry(folder: str, files: Mapping[str, bytes]) -> dict[str, Any]:
    h = hashlib.sha1()
    for p in sorted(p for p in files if p.startswith(folder + "/")):
        h.update(f"{p} {git_blob_sha1(files[p])}\n".encode())
    return {"type": "directory", "oid": h.hexdigest(), "size": 0, "path": folder}
