"""The status line and the adapters-and-revisions panel: what they show, and what each handler returns, by name.

Other visitors' choices are never named here, only counted: their repos and branch names may be private.

The panel loads a revision when the Revision dropdown's value *changes* (a pick by mouse or keyboard) or when a row
of its table is clicked. Not on ``input``: Gradio 6's dropdown sends ``input`` when an option is picked and again
when it then loses focus, so each pick loaded twice and a failing one showed its error twice. A change the page
makes itself (the live revision set at page load, a row click, a new listing) is told apart by
``revision_loaded``, the revision the panel last loaded, and loads nothing. A revision that cannot load says why in
the panel's message, once, and leaves everything else as it was.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from .. import visitors
from ..errors import InputError, UserFacingError
from ..hub.model_choice import spec_of
from ..hub.revisions import Revisions, RunScores
from ..results import BASE, ModelRef
from .handler_inputs import user_errors
from ..text.languages import language_choices
from .examples import example_labels
from .handler_inputs import mean_choice
from .i18n import visitor_language
from .markdown import Choice, adapter_summary, base_choice, code, escape, merge_choices, revision_choices
from .messages import both, say

PICKERS = ("model", "left", "right", "attention_model", "lora_model")
"""Every tab's model picker, as ``web/page.py`` names them."""


COLUMNS = ("col_kind", "col_name", "col_commit", "col_date", "col_title", "col_base_chrf", "col_lora_chrf",
           "col_gain", "col_bleu")
"""The revisions table's columns, as keys of web/messages.py (the headers follow the visitor's language)."""

Rows = dict[tuple[str, str], str]
"""The revisions table's rows by (kind, name) as shown, to the value a click on one loads (``repo@revision``)."""


class RevisionsListed(NamedTuple):
    revisions_table: Any
    """``{"headers", "data"}`` for the Dataframe; ``gr.update()`` (unchanged) when the listing failed."""
    revision: Any
    """The revision dropdown's update: the repo's branches, tags and commits that hold an adapter."""
    revision_rows: Rows | Any
    """What a click on each table row loads (``gr.State``)."""
    revisions_message: str


class PageLoaded(NamedTuple):
    status: str
    revisions_table: Any
    revision: Any
    revision_rows: Rows | Any
    revisions_message: str
    revision_loaded: str
    """The revision the panel shows as loaded (``gr.State``): its own changes of the dropdown load nothing."""
    choices: list[Choice]
    """This session's model choices (its ``gr.State``)."""
    model: Any
    left: Any
    right: Any
    attention_model: Any
    lora_model: Any
    src: Any
    """The language pickers: the same codes, labelled in the visitor's language (the page is built in English)."""
    tgt: Any
    examples: Any
    """The Translate tab's examples, labelled in the visitor's language."""
    layer: Any
    """The attention tab's layer and head pickers: "mean over ..." in the visitor's language until maps are shown."""
    head: Any


class RevisionUsed(NamedTuple):
    status: str
    revisions_message: str
    revision_loaded: str | Any
    choices: list[Choice]
    model: Any
    left: Any
    right: Any
    attention_model: Any
    lora_model: Any


class RowPicked(NamedTuple):
    revision: Any
    """The dropdown, set to the clicked row's revision."""
    status: str
    revisions_message: str
    revision_loaded: str | Any
    choices: list[Choice]
    model: Any
    left: Any
    right: Any
    attention_model: Any
    lora_model: Any


def _unchanged(result: type) -> Any:
    """``result`` with every component left as it is."""
    return result(*(gr.update() for _ in result._fields))


def _score_cells(scores: RunScores | None) -> list[str]:
    """base chrF++, LoRA chrF++, LoRA − base, BLEU base → LoRA; blanks where metrics.json said nothing."""
    if scores is None:
        return ["", "", "", ""]
    if scores.lora_chrf is None or scores.lora_bleu is None:
        return [f"{scores.base_chrf:.1f}", "", "", f"{scores.base_bleu:.1f}"]
    return [f"{scores.base_chrf:.1f}", f"{scores.lora_chrf:.1f}", f"{scores.lora_chrf - scores.base_chrf:+.1f}",
            f"{scores.base_bleu:.1f} → {scores.lora_bleu:.1f}"]


def revisions_table(revisions: Revisions, language: str) -> tuple[dict[str, list], Rows]:
    """The table of branches, tags and commits, and what a click on each row loads."""
    repo, data, rows = revisions.repo_id, [], {}
    for ref in (*revisions.branches, *revisions.tags):
        kind = say("kind_" + ref.kind, language)
        data.append([kind, ref.name, ref.sha[:7], ref.date[:16].replace("T", " "), ref.title,
                     *_score_cells(revisions.scores.get(ref.sha))])
        rows[(kind, ref.name)] = f"{repo}@{ref.name}"
    for commit in revisions.commits:
        kind = say("kind_commit", language)
        data.append([kind, commit.sha[:7], commit.sha[:7], commit.date[:16].replace("T", " "), commit.title,
                     *_score_cells(revisions.scores.get(commit.sha))])
        rows[(kind, commit.sha[:7])] = f"{repo}@{commit.sha}"
    return {"headers": [say(column, language) for column in COLUMNS], "data": data}, rows


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
            error = self.engine.adapter_error.in_language(language)
            line += say("status_adapter_error", language, error=escape(error))
        return line

    def initial_choices(self, language: str = "en") -> list[Choice]:
        """Model choices before the Hub is asked: base and the configured revision, labelled in ``language``."""
        default = self.default_model()
        configured = [] if default == BASE else [
            (say("configured_choice", language, revision=self.settings.adapter_revision), default)]
        return [base_choice(language)] + configured

    def default_model(self) -> str:
        """The model the Translate tab starts on: the configured adapter revision when it loaded, else base."""
        if self.settings.adapter_repo and not self.engine.adapter_error:
            return spec_of(self.settings.adapter_repo, self.settings.adapter_revision)
        return BASE

    @user_errors
    def list_revisions(self, repo: str = "", request: gr.Request = None) -> RevisionsListed:
        """Branches, tags and recent commits of ``repo`` (default: the configured one) that hold an adapter.

        When they cannot be listed, the table and the dropdown keep what they showed and the message says why: an
        error toast would leave the panel marked "Error" and its message stale.
        """
        language = visitor_language(request)
        try:
            return self._list_revisions(repo, language)
        except UserFacingError as error:
            failed = self._list_failed((repo or "").strip() or self.settings.adapter_repo or "", error, language)
            return _unchanged(RevisionsListed)._replace(revisions_message=failed)

    def _list_revisions(self, repo: str, language: str) -> RevisionsListed:
        revisions = self.engine.list_revisions(repo)
        table, rows = revisions_table(revisions, language)
        message = say("listed", language, repo=code(revisions.repo_id), branches=len(revisions.branches),
                      tags=len(revisions.tags), commits=len(revisions.commits))
        if revisions.hidden:
            message += say("listed_hidden", language, hidden=revisions.hidden)
        if revisions.scores:
            message += say("listed_scores", language)
        return RevisionsListed(table, gr.update(choices=revision_choices(revisions, language), value=None), rows,
                               message)

    @staticmethod
    def _list_failed(repo: str, error: UserFacingError, language: str) -> str:
        shown = repo if len(repo) <= 120 else repo[:119] + "…"  # whatever a visitor typed, one line of it
        return say("list_failed", language, repo=code(shown), error=escape(error.in_language(language)))

    def page_load(self, choices: list[Choice], request: gr.Request = None) -> PageLoaded:
        """At page load: the status and the configured repo's revisions, offered in every model picker, and every
        picker's and example's labels in the visitor's language (their values stay as they are)."""
        language = visitor_language(request)
        empty = {"headers": [say(column, language) for column in COLUMNS], "data": []}
        listed = RevisionsListed(empty, gr.update(), {}, "")
        # The visitor's labels first: merging keeps the first label of each value, so base, the configured revision
        # and the listed ones are relabelled, and the session's other choices kept after them.
        known = self.initial_choices(language)
        live = self.default_model()
        if self.settings.adapter_repo:
            try:
                listed = self._list_revisions("", language)
                known = merge_choices(known, listed.revision["choices"])
                if any(value == live for _, value in listed.revision["choices"]):  # the panel shows what is live
                    listed = listed._replace(revision=gr.update(choices=listed.revision["choices"], value=live))
                if not self.engine.adapter_error:
                    listed = listed._replace(revisions_message=listed.revisions_message + "\n\n" + adapter_summary(
                        *self.engine.describe(live), language))
            except UserFacingError as error:
                listed = listed._replace(revisions_message=self._list_failed(self.settings.adapter_repo, error,
                                                                             language))
        known = merge_choices(known, self.trained_choices(visitors.of_request(request), language))  # kept for an hour
        # One update each: Gradio consumes an update dict while applying it.
        known = merge_choices(known, choices or [])
        pickers = {name: gr.update(choices=known) for name in PICKERS}
        return PageLoaded(status=self.status(language=language), **listed._asdict(), revision_loaded=live,
                          choices=known, **pickers, src=gr.update(choices=language_choices(language)),
                          tgt=gr.update(choices=language_choices(language)),
                          examples=gr.update(sample_labels=example_labels(language)),
                          layer=gr.update(choices=mean_choice("layers", language)),
                          head=gr.update(choices=mean_choice("heads", language)))

    @user_errors
    def use_revision(self, spec: str, choices: list[Choice], request: gr.Request = None) -> RevisionUsed:
        """Load the picked revision (cached by commit) and select it in every tab's model picker."""
        return self._use_revision(spec, choices, visitor_language(request))

    def _use_revision(self, spec: str, choices: list[Choice], language: str) -> RevisionUsed:
        if not spec:
            raise InputError(**both("pick_revision"))
        ref, plan = self.engine.describe(spec)
        known = merge_choices(list(choices or self.initial_choices()), [(ref.label, spec)])
        message = say("loaded", language, label=code(ref.label)) + "\n\n" + adapter_summary(ref, plan, language)
        return RevisionUsed(self.status(ref, language), message, spec, known,
                            model=gr.update(choices=known, value=spec), left=gr.update(choices=known),
                            right=gr.update(choices=known, value=spec),
                            attention_model=gr.update(choices=known, value=spec),
                            lora_model=gr.update(choices=known, value=spec))

    @user_errors
    def revision_changed(self, spec: str, loaded: str, choices: list[Choice],
                         request: gr.Request = None) -> RevisionUsed:
        """The Revision dropdown changed: load its revision as :meth:`use_revision` does, unless the page itself set
        it to what the panel loaded already (``loaded``) or emptied it for a new listing."""
        if not spec or spec == loaded:
            return _unchanged(RevisionUsed)
        return self._use_in_panel(spec, choices, visitor_language(request))

    @user_errors
    def use_row(self, rows: Rows, choices: list[Choice], event: gr.SelectData,
                request: gr.Request = None) -> RowPicked:
        """A click on a row of the revisions table: load its revision as picking it in the dropdown does, and show
        it picked there (the dropdown is left as it was when the revision cannot load)."""
        row = list(event.row_value or [])
        spec = (rows or {}).get((str(row[0]), str(row[1]))) if len(row) > 1 else None
        if not spec:  # a header, or a table from before the last listing
            return _unchanged(RowPicked)
        used = self._use_in_panel(spec, choices, visitor_language(request))
        loaded = isinstance(used.revision_loaded, str)  # else it could not load: the message says why
        return RowPicked(gr.update(value=spec) if loaded else gr.update(), *used)

    def _use_in_panel(self, spec: str, choices: list[Choice], language: str) -> RevisionUsed:
        """:meth:`use_revision` for the panel: a revision that cannot load says why in the panel, once. A toast
        would also mark the status line and every tab's model picker "Error", though they still hold what works."""
        try:
            return self._use_revision(spec, choices, language)
        except UserFacingError as error:
            return _unchanged(RevisionUsed)._replace(revisions_message=say(
                "load_failed", language, spec=code(spec), error=escape(error.in_language(language))))
