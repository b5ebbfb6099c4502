"""What counts as a Hub repo id and a commit id, and the default branch: one rule for the app, the trainer and the card.

Checked as text only. A visitor's repo id is never looked up on disk, so no answer can tell which server paths exist;
only :func:`names_hub_repo` (for names the owner or the trainer gives) also asks whether the name is a local path.
"""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_BRANCH = "main"
"""The branch new repos start with; other branches are created from it (here so that every hub module can use it)."""

_SHA_RE = re.compile(r"[0-9a-fA-F]{40}")
_REPO_ID_RE = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")


def is_repo_id(name: str) -> bool:
    """True for a Hub repo id as this app accepts it: ``owner/name`` (letters, digits, ``-``, ``_``, ``.``)."""
    return bool(_REPO_ID_RE.fullmatch(name or ""))


def names_hub_repo(name: str) -> bool:
    """True for ``owner/name`` that is not also a local path (``runs/base`` on disk is a folder, not a Hub id)."""
    return is_repo_id(name) and not Path(name).expanduser().exists()


def is_commit_sha(revision: str) -> bool:
    """True for a full 40-hex-digit commit id (which, unlike a branch or tag, can never move)."""
    return bool(_SHA_RE.fullmatch(revision))


def not_a_repo_id(repo: str, language: str = "en") -> str:
    """The one answer for anything a visitor types that is not a Hub repo id (a server path gets the same), in
    ``language`` ("en" or "es"): ``InputError(not_a_repo_id(repo), es=not_a_repo_id(repo, "es"))``."""
    shown = repo if len(repo) <= 60 else repo[:57] + "..."
    if language == "es":
        return (f"'{shown}' no es un id de repositorio del Hub: escribe dueño/nombre "
                "(letras, dígitos, '-', '_' y '.').")
    return f"'{shown}' is not a Hub repo id: write owner/name (letters, digits, '-', '_' and '.')."
