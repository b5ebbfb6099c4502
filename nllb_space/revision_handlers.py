"""The status line and the adapters-and-revisions panel: what they show, and what each handler returns, by name.

Other visitors' choices are never named here, only counted: their repos and branch names may be private.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from .choice import spec_of
from .errors import InputError, UserFacingError
from .formatting import BASE_CHOICE, Choice, adapter_summary, code, escape, merge_choices, revision_choices
from .handler_inputs import user_errors
from .i18n import visitor_language
from .messages import both, say
from .results import BASE, ModelRef

PICKERS = ("model", "left", "right", "attention_model", "lora_model")
"""Every tab's model picker, as ``ui.py`` names them."""


class RevisionsListed(NamedTuple):
    revisions_table: list[list[str]]
    revision: Any
    """The revision dropdown's update: the repo's branches, tags and commits."""
    revisions_message: str


class PageLoaded(NamedTuple):
    status: str
    revisions_table: list[list[str]]
    revision: Any
    revisions_message: str
    choices: list[Choice]
    """This session's model choices (its ``gr.State``)."""
    model: Any
    left: Any
    right: Any
    attention_model: Any
    lora_model: Any


class RevisionUsed(NamedTuple):
    status: str
    revisions_message: str
    choices: list[Choice]
    model: Any
    left: Any
    right: Any
    attention_model: Any
    lora_model: Any


class RevisionHandlers:
    """The status line and the revisions panel (mixed into ``Handlers``, which holds ``engine`` and ``settings``)."""

    def status(self, chosen: ModelRef | None = None, language: str = "en") -> str:
        """Which base model, device/dtype and configured adapter commit are live, for the top of the page, and the
        revision this visitor picked (``chosen``)."""
        status = self.engine.status()
        if not status.loaded:
            return say("status_loading", language, model=code(status.base_model))
        line = say("status_base", language, model=code(status.base_model), device=escape(status.device),
                   dtype=escape(status.dtype))
        if status.default_adapter is not None:
            ref = status.default_adapter
            line += say("status_live", language, spec=code(ref.spec), sha=code((ref.sha or "")[:7]))
        elif not self.settings.adapter_repo:
            line += say("status_no_adapter", language)
        if chosen is not None and not chosen.is_base and chosen != status.default_adapter:
            line += say("status_choice", language, label=code(chosen.label))
        if status.adapters:
            line += say("status_ready", language, count=len(status.adapters))
        if self.engine.adapter_error:
            line += say("status_adapter_error", language, error=escape(self.engine.adapter_error.in_language(language)))
        return line

    def initial_choices(self) -> list[Choice]:
        """Model choices before the Hub is asked: base and the configured revision."""
        default = self.default_model()
        configured = [] if default == BASE else [(f"{self.settings.adapter_revision} (configured)", default)]
        return [BASE_CHOICE] + configured

    def default_model(self) -> str:
        """The model the Translate tab starts on: the configured adapter revision when it loaded, else base."""
        if self.settings.adapter_repo and not self.engine.adapter_error:
            return spec_of(self.settings.adapter_repo, self.settings.adapter_revision)
        return BASE

    @user_errors
    def list_revisions(self, repo: str = "", request: gr.Request = None) -> RevisionsListed:
        """Branches, tags and recent commits of ``repo`` (default: the configured one)."""
        return self._list_revisions(repo, visitor_language(request))

    def _list_revisions(self, repo: str, language: str) -> RevisionsListed:
        revisions = self.engine.list_revisions(repo)
        table = [[ref.kind, ref.name, ref.sha[:7], "", ""] for ref in (*revisions.branches, *revisions.tags)]
        table += [["commit", commit.sha[:7], commit.sha[:7], commit.date[:16].replace("T", " "), commit.title]
                  for commit in revisions.commits]
        message = say("listed", language, repo=code(revisions.repo_id), branches=len(revisions.branches),
                      tags=len(revisions.tags), commits=len(revisions.commits))
        return RevisionsListed(table, gr.update(choices=revision_choices(revisions), value=None), message)

    def page_load(self, choices: list[Choice], request: gr.Request = None) -> PageLoaded:
        """At page load: the status and the configured repo's revisions, offered in every model picker."""
        language = visitor_language(request)
        listed = RevisionsListed([], gr.update(), "")
        known = list(choices or self.initial_choices())
        if self.settings.adapter_repo:
            try:
                listed = self._list_revisions("", language)
                known = merge_choices(known, listed.revision["choices"])
                live = self.default_model()
                if any(value == live for _, value in listed.revision["choices"]):  # the panel shows what is live
                    listed = listed._replace(revision=gr.update(choices=listed.revision["choices"], value=live))
                if not self.engine.adapter_error:
                    listed = listed._replace(revisions_message=listed.revisions_message + "\n\n" + adapter_summary(
                        *self.engine.describe(self.default_model()), language))
            except UserFacingError as error:
                listed = listed._replace(revisions_message=say(
                    "list_failed", language, repo=code(self.settings.adapter_repo),
                    error=escape(error.in_language(language))))
        # One update each: Gradio consumes an update dict while applying it.
        pickers = {name: gr.update(choices=known) for name in PICKERS}
        return PageLoaded(self.status(language=language), *listed, choices=known, **pickers)

    @user_errors
    def use_revision(self, spec: str, choices: list[Choice], request: gr.Request = None) -> RevisionUsed:
        """Load the picked revision (cached by commit) and select it in every tab's model picker."""
        language = visitor_language(request)
        if not spec:
            raise InputError(**both("pick_revision"))
        ref, plan = self.engine.describe(spec)
        known = merge_choices(list(choices or self.initial_choices()), [(ref.label, spec)])
        message = say("loaded", language, label=code(ref.label)) + "\n\n" + adapter_summary(ref, plan, language)
        return RevisionUsed(self.status(ref, language), message, known, model=gr.update(choices=known, value=spec),
                            left=gr.update(choices=known), right=gr.update(choices=known, value=spec),
                            attention_model=gr.update(choices=known, value=spec),
                            lora_model=gr.update(choices=known, value=spec))
