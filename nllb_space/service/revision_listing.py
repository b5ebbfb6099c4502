"""The revisions panel's listing: which branches, tags and commits of a repo a visitor may see and load.

Mixed into ``Engine`` (service/engine.py), whose settings, model-choice policy, adapter registry and remembered
revision facts it uses.
"""

from __future__ import annotations

from ..errors import InputError
from ..hub import revisions as hub
from ..hub.ids import is_repo_id, not_a_repo_id
from ..hub.model_choice import LOCAL_REVISION, MAX_NAME_CHARS, local_folder
from . import request_limits as limits


class RevisionListing:
    """``list_revisions`` (``Engine`` provides the rest)."""

    def list_revisions(self, repo: str | None = None) -> hub.Revisions:
        """Branches, tags and recent commits of ``repo`` (default: the configured adapter repo) that may hold an
        adapter, with the dates and scores that are known (hub/revision_facts.py)."""
        repo = (repo or "").strip() or self.settings.adapter_repo
        limits.bounded(("The repo id", "El id del repositorio"), repo or "", MAX_NAME_CHARS)
        if not repo:
            raise InputError("No adapter repo is configured (NLLB_ADAPTER_REPO); type a repo id to list.",
                             es="No hay ningún repositorio de adaptadores configurado (NLLB_ADAPTER_REPO); escribe "
                                "el id de un repositorio para listar sus revisiones.")
        if repo != self.settings.adapter_repo and not self.settings.allow_custom_repos:
            raise InputError("Other adapter repos are turned off on this Space (NLLB_ALLOW_CUSTOM_REPOS=false).",
                             es="Los demás repositorios de adaptadores están desactivados en este Space "
                                "(NLLB_ALLOW_CUSTOM_REPOS=false).")
        if repo == self.settings.adapter_repo and local_folder(repo):
            fetched = self._registry.fetch(repo, LOCAL_REVISION)
            return hub.Revisions(repo, (hub.Ref(LOCAL_REVISION, "branch", fetched.sha),), (), ())
        if not is_repo_id(repo):
            raise InputError(not_a_repo_id(repo), es=not_a_repo_id(repo, "es"))
        token = self._registry.token_for(repo)
        listed = hub.list_revisions(repo, token=token)
        allowed = self._policy.allowed_revisions if repo == self.settings.adapter_repo else None
        if allowed is not None:  # NLLB_VISITOR_REVISIONS: only what visitors may run, and no commit titles
            listed = hub.Revisions(repo, tuple(r for r in listed.branches if r.name in allowed),
                                   tuple(r for r in listed.tags if r.name in allowed), ())
        return self._revision_facts.annotate(listed, token)
