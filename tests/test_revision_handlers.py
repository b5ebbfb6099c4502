"""#14: the adapters-and-revisions panel's handlers against the Hub emulator: only revisions that hold an adapter
are offered, branch and tag rows are dated, metrics.json scores fill the table and the labels, labels are cut between
whole words, a failed listing says why in the panel, and a row click loads its revision.

The listing, picking and page-load basics are in test_handlers.py; the browser's side in test_app_e2e.py.
"""

from __future__ import annotations

import gradio as gr
import pytest

from nllb_space.web.handlers import Handlers
from tests.model_fixtures import ADAPTER_REPO, BRANCH, LONG_TITLE, SCORED_REPO, TAG

MAIN = f"{ADAPTER_REPO}@main"
EXP = f"{ADAPTER_REPO}@{BRANCH}"


@pytest.fixture(scope="module")
def h(engine) -> Handlers:
    return Handlers(engine)


class Clicked:
    """What Gradio hands a Dataframe's ``.select`` listener: the clicked row's cells as shown (``gr.SelectData``)."""

    def __init__(self, *row: str) -> None:
        self.row_value, self.index, self.value = list(row), [0, 1], row[1]


class Browser:
    """What a handler reads of a ``gr.Request``: the browser's languages."""

    def __init__(self, accept_language: str) -> None:
        self.headers = {"accept-language": accept_language}


def unchanged(result) -> bool:
    return all(field == gr.update() for field in result)


def test_revisions_without_an_adapter_are_not_offered_and_each_commit_is_checked_once(h, hub, scored_repo):
    """"initial commit" (and a branch at it) were offered, and picking one could only fail, with two toasts."""
    from nllb_space.hub import revisions as hub_client
    from nllb_space.hub.revision_facts import RevisionFacts

    listed = h.list_revisions(SCORED_REPO)
    names = [row[1] for row in listed.revisions_table["data"]]
    assert {"main", "no-metrics", "bad-metrics", "v1", scored_repo["run"][:7]} <= set(names)
    assert "empty" not in names and scored_repo["initial"][:7] not in names
    assert not [label for label, _ in listed.revision["choices"] if "initial commit" in label or "empty" in label]
    assert "2 revision(s) without an adapter" in listed.revisions_message
    # One paths-info call per commit, at most one metrics.json download per branch or tag; none again for a
    # commit already seen: a commit never changes.
    facts, revisions = RevisionFacts(), hub_client.list_revisions(SCORED_REPO)
    before = len(hub.requests)
    facts.annotate(revisions)
    asked = [path for _, path in hub.requests[before:]]
    checks = [path for path in asked if "/paths-info/" in path]
    assert len(checks) == len(set(checks)) == len({ref.sha for ref in (*revisions.branches, *revisions.tags)})
    assert len({path for path in asked if path.endswith("/metrics.json")}) <= 3  # main, v1, bad-metrics
    before = len(hub.requests)
    assert facts.annotate(revisions) == facts.annotate(revisions) and hub.requests[before:] == []


def test_branch_and_tag_rows_show_the_date_and_title_of_their_commit(h, hub_adapters):
    rows = {(row[0], row[1]): row for row in h.list_revisions("").revisions_table["data"]}
    main, tag, commit = rows[("branch", "main")], rows[("tag", TAG)], rows[("commit", hub_adapters["main"][:7])]
    assert main[3:5] == tag[3:5] == commit[3:5] and main[4] == "adapter a" and main[3][:2] == "20"
    branch = rows[("branch", BRANCH)]  # not among main's commits: its date and title come from its own check
    assert branch[4] == "adapter b" and branch[3][:2] == "20"


def test_scores_from_metrics_json_fill_the_table_and_the_labels(h, scored_repo):
    listed = h.list_revisions(SCORED_REPO)
    assert listed.revisions_table["headers"][5:] == ["base chrF++", "LoRA chrF++", "LoRA − base", "BLEU base → LoRA"]
    rows = {(row[0], row[1]): row[5:] for row in listed.revisions_table["data"]}
    assert rows[("tag", "v1")] == ["40.0", "43.5", "+3.5", "10.0 → 12.5"] == rows[("commit", scored_repo["run"][:7])]
    assert rows[("branch", "main")] == rows[("tag", "v1")]  # the README edit kept the run's metrics.json
    assert rows[("branch", "no-metrics")] == rows[("branch", "bad-metrics")] == ["", "", "", ""]
    labels = dict((value, label) for label, value in listed.revision["choices"])
    assert labels[f"{SCORED_REPO}@v1"] == f"v1 · tag · {scored_repo['run'][:7]} · chrF++ 43.5 (base 40.0)"
    assert "Scores: chrF++ and BLEU" in listed.revisions_message
    spanish = h.list_revisions(SCORED_REPO, request=Browser("es")).revisions_table
    assert spanish["headers"][5] == "chrF++ base" and spanish["data"][0][0] == "rama"


def test_commit_labels_are_cut_between_whole_words_outside_parentheses(h, scored_repo):
    from nllb_space.web.markdown import shorten

    labels = dict((value, label) for label, value in h.list_revisions(SCORED_REPO).revision["choices"])
    label = labels[f"{SCORED_REPO}@{scored_repo['run']}"]
    assert label.startswith(f"{scored_repo['run'][:7]} · commit · LoRA r=4 spa_Latn->ita_Latn: BLEU 12.5… · chrF++")
    assert shorten(LONG_TITLE, 64) == "LoRA r=4 spa_Latn->ita_Latn: BLEU 12.5 (base 10.0), chrF++ 43.5…"
    assert shorten("Short title") == "Short title" and shorten("x" * 60, 10) == "x" * 60 + "…"  # no word is cut


def test_a_failed_listing_keeps_the_table_and_says_why_in_the_panel(h):
    listed = h.list_revisions("nobody/nothing")  # no toast, no red "Error" badges: the table stays as it was
    assert unchanged(listed[:3])
    assert "Could not list the revisions of <code>nobody/nothing</code>" in listed.revisions_message
    assert "was not found" in listed.revisions_message
    spanish = h.list_revisions("nobody/nothing", request=Browser("es-ES")).revisions_message
    assert "No se pudieron listar las revisiones" in spanish and "No se encontró el repositorio" in spanish


def test_clicking_a_row_loads_its_revision_as_picking_it_does(h, hub_adapters):
    rows = h.list_revisions("").revision_rows
    picked = h.use_row(rows, h.initial_choices(), Clicked("branch", BRANCH, hub_adapters["branch"][:7], "", ""))
    assert picked.revision["value"] == EXP and picked.revision_loaded == EXP
    assert picked[1:] == h.use_revision(EXP, h.initial_choices())
    assert unchanged(h.use_row(rows, [], Clicked("kind", "name")))  # not a revision's row
    commit = h.use_row(rows, [], Clicked("commit", hub_adapters["main"][:7]))
    assert commit.revision["value"] == f"{ADAPTER_REPO}@{hub_adapters['main']}"


def test_the_pages_own_changes_of_the_revision_dropdown_load_nothing(h):
    assert unchanged(h.revision_changed(MAIN, MAIN, []))  # page load set it to what is live
    assert unchanged(h.revision_changed(None, MAIN, []))  # a new listing emptied it
    assert h.revision_changed(EXP, MAIN, h.initial_choices()).revision_loaded == EXP  # the visitor picked one


def test_a_revision_that_cannot_load_says_why_in_the_panel_once(h, hub_adapters):
    """#14: a failing pick showed its error twice, as toasts that also marked every tab's picker "Error"."""
    failed = h.revision_changed(f"{ADAPTER_REPO}@no-such", MAIN, [], request=Browser("es"))
    assert unchanged(failed._replace(revisions_message=gr.update()))
    assert failed.revisions_message.startswith("⚠️ No se pudo cargar") and "no-such" in failed.revisions_message
    rows = {("commit", "abcdef1"): f"{ADAPTER_REPO}@no-such"}
    clicked = h.use_row(rows, [], Clicked("commit", "abcdef1"))
    assert clicked.revision == gr.update() and "Could not load" in clicked.revisions_message  # the dropdown stays


def test_a_hub_failing_the_checks_still_lists_every_revision_unchecked(hub, scored_repo):
    from nllb_space.hub import revisions as hub_client
    from nllb_space.hub.revision_facts import RevisionFacts

    revisions = hub_client.list_revisions(SCORED_REPO)
    hub.fail(r"/paths-info/", status=503, times=100)
    try:
        before = len(hub.requests)
        shown = RevisionFacts().annotate(revisions)
        checks = [path for _, path in hub.requests[before:] if "/paths-info/" in path]
    finally:
        hub.clear_faults()
    assert shown.commits == revisions.commits and shown.hidden == 0 and not shown.scores  # offered as before
    assert len(checks) == 1  # the first failure stops the rest: a failing Hub costs the listing one short call


def test_page_loads_at_once_check_each_commit_once(hub, scored_repo):
    """Many visitors listing at once share one set of checks (and time_bound's threads stay free for them)."""
    from concurrent.futures import ThreadPoolExecutor

    from nllb_space.hub import revisions as hub_client
    from nllb_space.hub.revision_facts import RevisionFacts

    facts, revisions = RevisionFacts(), hub_client.list_revisions(SCORED_REPO)
    before = len(hub.requests)
    with ThreadPoolExecutor(8) as visitors:
        shown = list(visitors.map(lambda _: facts.annotate(revisions), range(8)))
    checks = [path for _, path in hub.requests[before:] if "/paths-info/" in path]
    assert len(checks) == len(set(checks)) and all(each == shown[0] for each in shown) and shown[0].hidden == 2
