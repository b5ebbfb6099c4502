"""A model choice as visitors type it, parsed once into a value the rest of the app carries.

The grammar (what a model picker, the API's ``model`` and the trainer's ``--adapter`` accept):

- ``base``: the base model, no adapter;
- a branch, tag or sha of the configured ``NLLB_ADAPTER_REPO`` (``main``, ``v1``, ``exp/run-1``, ``1a2b3c4...``);
- ``owner/name@revision``: another repo, only with ``NLLB_ALLOW_CUSTOM_REPOS``; a bare ``owner/name`` means its
  ``main`` when no repo is configured. Branch names may hold slashes, so another repo is always written with ``@``;
- ``trained@<sha256>``: an adapter the visitor trained in the Train tab, named by its content hash (no Hub id has
  no slash, so the name cannot clash with a repo).

Here also live the two rules every caller shares: whether a name is a folder on this machine or a Hub id
(:func:`local_folder`), and how a repo and a revision are written together (:func:`spec_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .ids import is_repo_id, not_a_repo_id

BASE = "base"
"""What users type (UI, API) to pick the base model without any adapter."""
LOCAL_REVISION = "local"
"""The only revision of an adapter that lives in a local directory."""
TRAINED_REPO = "trained"
"""Where visitors' own adapters from the Train tab live, as a model choice: ``trained@<sha256>``."""

MAX_NAME_CHARS = 300
"""The longest model choice, repo id or language name accepted (real ones are well under 100 characters)."""


def local_folder(name: str | None) -> Path | None:
    """The folder ``name`` names on this machine, or ``None`` when it is to be read as a Hub id.

    Only the Space owner's settings and the trainer's flags go through this: what a visitor types is never looked
    up on disk (see :func:`parse_choice`), so an answer can't tell which server paths exist.
    """
    if not name:
        return None
    path = Path(name).expanduser()
    return path if path.is_dir() else None


def spec_of(repo: str, revision: str) -> str:
    """``repo@revision``: how a model choice is written; :func:`parse_choice` reads it back."""
    return f"{repo}@{revision}"


@dataclass(frozen=True)
class ModelChoice:
    """The base model (``repo is None``) or one adapter repo at one revision (not yet resolved to a commit)."""

    repo: str | None = None
    revision: str | None = None

    @property
    def is_base(self) -> bool:
        return self.repo is None

    @property
    def spec(self) -> str:
        """What a model picker sends for this choice."""
        return BASE if self.repo is None else spec_of(self.repo, self.revision or "main")


BASE_CHOICE = ModelChoice()


@dataclass(frozen=True)
class ChoicePolicy:
    """Which choices this Space serves (from its settings)."""

    configured_repo: str | None
    """``NLLB_ADAPTER_REPO``: a Hub id or the owner's local folder."""
    configured_revision: str
    """``NLLB_ADAPTER_REVISION``."""
    allow_custom_repos: bool
    """``NLLB_ALLOW_CUSTOM_REPOS``: other repos may be named."""
    allowed_revisions: frozenset[str] | None = None
    """The configured repo's revisions visitors may run (``NLLB_VISITOR_REVISIONS``); ``None``: every one."""

    @classmethod
    def of(cls, settings, private: bool | None = None) -> "ChoicePolicy":
        """The policy of ``settings``; ``private`` is whether the configured repo is private (``None``: unknown)."""
        return cls(settings.adapter_repo, settings.adapter_revision, settings.allow_custom_repos,
                   allowed_revisions(settings.visitor_revisions, settings.adapter_revision, private))

    @property
    def configured(self) -> ModelChoice | None:
        """The configured adapter as a choice (``None`` when the Space serves the base model only)."""
        if not self.configured_repo:
            return None
        local = local_folder(self.configured_repo)
        return ModelChoice(self.configured_repo, LOCAL_REVISION if local else self.configured_revision)


def allowed_revisions(setting: str, configured: str, private: bool | None) -> frozenset[str] | None:
    """``NLLB_VISITOR_REVISIONS`` read: ``None`` for every revision, else the revisions visitors may run. ``auto``
    opens a repo only once the Hub said it is public: a private repo's branches and commit titles may be work the
    owner never meant to show."""
    value = setting.strip()
    if value.lower() == "all" or (value.lower() == "auto" and private is False):
        return None
    if value.lower() in ("auto", "configured"):
        return frozenset({configured})
    return frozenset({configured, *(name.strip() for name in value.split(",") if name.strip())})


def parse_choice(text: str | None, policy: ChoicePolicy) -> ModelChoice:
    """``text`` as the model it names, or an ``InputError`` that says what this Space accepts."""
    text = (text or "").strip()
    if len(text) > MAX_NAME_CHARS:
        raise InputError(f"The model choice has {len(text):,} characters; the limit is {MAX_NAME_CHARS:,}.",
                         es=f"La elección de modelo tiene {len(text):,} caracteres; el límite es {MAX_NAME_CHARS:,}.")
    if not text or text.lower() == BASE:
        return BASE_CHOICE
    configured = policy.configured_repo
    if "@" in text or (not configured and "/" in text):
        repo, _, revision = text.partition("@")
        repo, revision = repo.strip(), revision.strip() or "main"
        if repo == TRAINED_REPO:
            if len(revision) != 64 or not all(c in "0123456789abcdef" for c in revision):
                raise InputError(f"'{text}' names no trained adapter: it is trained@ and 64 hex digits.",
                                 es=f"'{text}' no nombra ningún adaptador entrenado: es trained@ y 64 dígitos "
                                    "hexadecimales.")
            return ModelChoice(TRAINED_REPO, revision)
        if repo != configured:
            if not policy.allow_custom_repos:
                raise InputError(
                    f"This Space only serves {configured or 'the base model'}; other adapter repos are turned off "
                    "(NLLB_ALLOW_CUSTOM_REPOS=false).",
                    es=f"Este Space solo sirve {configured or 'el modelo base'}; los demás repositorios de "
                       "adaptadores están desactivados (NLLB_ALLOW_CUSTOM_REPOS=false).",
                )
            if not is_repo_id(repo):
                # Checked as text only: the server's own folders are never looked at for a visitor.
                raise InputError(not_a_repo_id(repo), es=not_a_repo_id(repo, "es"))
            return ModelChoice(repo, revision)
        text = revision
    if text == configured:
        text = policy.configured_revision
    if not configured:
        raise InputError(
            f"No adapter repo is configured (NLLB_ADAPTER_REPO), so '{text}' is not a model here. "
            "Choose 'base' or give owner/name@revision.",
            es=f"No hay ningún repositorio de adaptadores configurado (NLLB_ADAPTER_REPO), así que '{text}' no es un "
               "modelo aquí. Elige 'base' o escribe dueño/nombre@revisión.",
        )
    if local_folder(configured):
        if text not in (LOCAL_REVISION, policy.configured_revision):
            raise InputError(f"The configured adapter is the local folder {configured}: choose 'local' or 'base'.",
                             es=f"El adaptador configurado es la carpeta local {configured}: elige 'local' o 'base'.")
        return ModelChoice(configured, LOCAL_REVISION)
    allowed = policy.allowed_revisions
    if allowed is not None and text not in allowed:
        # Checked before the Hub is asked: an unknown name must not get an answer that lists the repo's branches.
        served = ", ".join(sorted(allowed))
        raise InputError(f"This Space serves its adapter repo at {served} only (NLLB_VISITOR_REVISIONS).",
                         es=f"Este Space solo sirve su repositorio de adaptadores en {served} "
                            "(NLLB_VISITOR_REVISIONS).")
    return ModelChoice(configured, text)
