"""#13: a visitor whose browser asks for Spanish reads the server's messages in Spanish too, not only the labels.

The rule lives where messages are written: every user-facing error is raised with its Spanish text beside the English
one (``es=``). The first test checks that rule over the package's source, so a new English-only message fails it;
the others check what a visitor actually receives, in both languages.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import nllb_space
from nllb_space import errors
from nllb_space.hub import calls as hub_calls

PACKAGE = Path(nllb_space.__file__).parent
# Operator-facing: settings are read at start-up from the Space's variables and reported in its logs.
OPERATOR_ONLY = {"settings.py"}


def _error_classes() -> set[str]:
    """Names of ``UserFacingError`` and all its subclasses in the package (each module imported: none loads a model)."""
    for path in PACKAGE.rglob("*.py"):
        if "testing" not in path.relative_to(PACKAGE).parts and path.name != "__init__.py":
            importlib.import_module("nllb_space." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    found, todo = set(), [errors.UserFacingError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def _constructions():
    error_classes = _error_classes()
    for path in sorted(PACKAGE.rglob("*.py")):
        if "testing" in path.relative_to(PACKAGE).parts or path.name in OPERATOR_ONLY:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name in error_classes:
                    yield f"{path.relative_to(PACKAGE)}:{node.lineno}", node


def test_every_user_facing_error_is_raised_with_its_spanish_text():
    sites = list(_constructions())
    assert len(sites) > 40  # the scan sees the package's raise sites
    missing = [where for where, node in sites
               if not any(keyword.arg in ("es", None) for keyword in node.keywords)]  # None: **messages.both(...)
    assert not missing, "raised without es=: " + ", ".join(missing)


def test_the_spanish_text_survives_pickling_as_through_a_zerogpu_worker():
    import pickle

    error = hub_calls.RevisionNotFound("Revision 'x' not found.", es="No se encontró la revisión 'x'.")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is hub_calls.RevisionNotFound
    assert back.in_language("es") == "No se encontró la revisión 'x'."
    assert back.in_language("en") == str(back) == "Revision 'x' not found."


def test_english_is_the_fallback_where_no_spanish_text_exists():
    assert errors.InputError("Only English.").in_language("es") == "Only English."


class Browser:
    """What a handler reads of a request: its headers (Gradio passes a ``gr.Request``)."""

    def __init__(self, accept_language: str) -> None:
        self.headers = {"accept-language": accept_language}


SPANISH, ENGLISH = Browser("es-ES,es;q=0.9,en;q=0.8"), Browser("en-US,en;q=0.9")
SENTENCE = "El gato duerme en el sofá."


@pytest.fixture(scope="module")
def h(engine):
    from nllb_space.web.handlers import Handlers

    return Handlers(engine)


def _error(call, *args, **kwargs) -> str:
    import gradio as gr

    with pytest.raises(gr.Error) as caught:
        call(*args, **kwargs)
    return caught.value.message


@pytest.mark.parametrize("args, english, spanish", [
    (("   ", "spa_Latn", "ita_Latn", "base"), "Enter some text", "Escribe"),
    ((SENTENCE, "klingon", "ita_Latn", "base"), "Unknown language 'klingon'", "klingon"),
    ((SENTENCE, "spa_Latn", "ita_Latn", "base", "abc"), "Beam size must be a whole number",
     "Tamaño del haz (beam) debe ser un número entero"),
])
def test_a_spanish_browser_reads_the_errors_in_spanish(h, args, english, spanish):
    in_spanish, in_english = _error(h.translate_text, *args, request=SPANISH), _error(h.translate_text, *args, request=ENGLISH)
    assert spanish in in_spanish and english not in in_spanish
    assert english in in_english and in_english == _error(h.translate_text, *args)  # the API (no request) reads English


def test_hub_and_file_errors_reach_a_spanish_visitor_in_spanish(h, hub_adapters, tmp_path):
    from tests.model_fixtures import ADAPTER_REPO

    missing = _error(h.translate_text, SENTENCE, "spa_Latn", "ita_Latn", f"{ADAPTER_REPO}@no-such-branch", request=SPANISH)
    assert "no-such-branch" in missing and "revisión" in missing
    assert "Primero sube un archivo" in _error(h.translate_file, None, "spa_Latn", "ita_Latn", request=SPANISH)
    empty = tmp_path / "vacío.txt"
    empty.write_text("")
    assert "vacío.txt" in _error(h.translate_file, str(empty), "spa_Latn", "ita_Latn", request=SPANISH)
    assert "is empty" in _error(h.translate_file, str(empty), "spa_Latn", "ita_Latn", request=ENGLISH)
    assert "Primero elige una revisión" in _error(h.use_revision, "", [], request=SPANISH)


def test_the_status_line_and_the_revisions_panel_in_spanish(h, hub_adapters):
    from tests.model_fixtures import ADAPTER_REPO, BRANCH

    loaded = h.page_load([], request=SPANISH)
    assert "**Modelo base**" in loaded.status and "**Adaptador activo**" in loaded.status
    assert "rama(s)" in loaded.revisions_message and "adapta" in loaded.revisions_message
    assert "**Base model**" in h.page_load([], request=ENGLISH).status
    used = h.use_revision(f"{ADAPTER_REPO}@{BRANCH}", [], request=SPANISH)
    assert "Se cargó" in used.revisions_message and "**Tu elección**" in used.status
    assert "rama(s)" in h.list_revisions("", request=SPANISH).revisions_message


def test_page_load_gives_each_visitor_pickers_and_examples_in_their_language(h, hub_adapters):
    """#26: the language pickers, the model pickers, the examples and the attention tab's layer and head pickers were
    English in the Spanish page. Labels follow the visitor; values (codes, model specs) are the same for both."""
    from nllb_space.text.languages import language_choices
    from nllb_space.web.handler_inputs import MEAN

    spanish, english = h.page_load(h.initial_choices(), request=SPANISH), h.page_load(h.initial_choices(),
                                                                                         request=ENGLISH)
    for side in ("src", "tgt"):
        assert getattr(spanish, side)["choices"] == language_choices("es") and "value" not in getattr(spanish, side)
        assert getattr(english, side)["choices"] == language_choices("en")
    assert ("español (spa_Latn)", "spa_Latn") in spanish.src["choices"]
    assert ("italiano (ita_Latn)", "ita_Latn") in spanish.tgt["choices"]
    assert spanish.choices[0] == ("base: NLLB-200 sin adaptador", "base")
    assert english.choices[0] == ("base: NLLB-200 without adapter", "base")
    assert [value for _, value in spanish.choices] == [value for _, value in english.choices]
    assert "main (configurada)" in [label for label, _ in spanish.choices]
    assert not [label for label, _ in spanish.choices if "configured" in label or "without" in label]
    for picker in ("model", "left", "right", "attention_model", "lora_model"):
        assert getattr(spanish, picker)["choices"] == spanish.choices
    assert spanish.examples["sample_labels"][0].startswith("concordancia: cansadas → stanche (femenino plural)")
    assert english.examples["sample_labels"][0].startswith("agreement: cansadas → stanche (feminine plural)")
    assert not [label for label in spanish.examples["sample_labels"] if "polite" in label or "kept" in label]
    assert (spanish.layer["choices"], spanish.head["choices"]) == ([("media de las capas", MEAN)],
                                                                   [("media de las cabezas", MEAN)])
    # A session that already holds the English labels (the page as built) is relabelled too.
    again = h.page_load(english.choices, request=SPANISH)
    assert again.choices == spanish.choices


def test_translate_and_compare_summaries_in_spanish(h, tmp_path):
    text = "Hola, ¿cómo estás? Gracias por tu ayuda."
    _, result = h.translate_text(text, "spa_Latn", "ita_Latn", "base", 1, 2, request=SPANISH)
    info = h.translation_info(result, request=SPANISH)
    assert info.startswith("Traducido por") and "2 de 2 oración(es) se detuvieron en el límite de 2 tokens" in info
    assert h.translation_info(result, request=ENGLISH).startswith("Translated by")
    compared = h.compare(SENTENCE, "spa_Latn", "ita_Latn", "base", "base", "Il gatto dorme.", request=SPANISH)
    summary = h.compare_views(compared.last_comparison, request=SPANISH).compare_summary
    assert "| | izquierda | derecha | derecha − izquierda |" in summary and "| tiempo |" in summary
    assert "Los dos lados son" in h.same_model_note("base", "base", request=SPANISH)
    lines = tmp_path / "pares.tsv"
    lines.write_text(f"{SENTENCE}\tIl gatto dorme sul divano.\n", encoding="utf-8")
    scored = h.compare_file(str(lines), "spa_Latn", "ita_Latn", "base", "base", request=SPANISH)
    assert "Puntuaciones de corpus sobre las 1 de 1 líneas" in scored.batch_summary
    assert "| izquierda: " in scored.batch_summary


def test_figures_and_map_controls_speak_the_visitors_language(h):
    from nllb_space.web.handler_inputs import MEAN
    from tests.model_fixtures import TAG

    view = h.attention(SENTENCE, "spa_Latn", "ita_Latn", TAG, request=SPANISH)
    assert view.alignment_plot.layout.title.text.startswith("Qué palabras de origen")
    title = view.heatmap.layout.title.text
    assert "Atención cruzada" in title and "media de las capas" in title
    shown = h.attention_views(view.attention_view, "decoder", MEAN, MEAN, request=SPANISH)
    assert "menos base" in shown.difference["value"].layout.title.text
    assert shown.heatmap.layout.yaxis.ticktext[0].startswith("al predecir")
    assert shown.head_grid.layout.xaxis.ticktext[0] == "cabeza 1"
    assert h.attention_views(view.attention_view, "decoder", MEAN, MEAN,
                             request=ENGLISH).head_grid.layout.xaxis.ticktext[0] == "head 1"
    controls = h.attention_controls(view.attention_view, "cross", MEAN, MEAN, request=SPANISH)
    assert controls.layer["choices"][:2] == [("media de las capas", MEAN), ("capa 1", "0")]
    update = h.update_map(TAG, request=SPANISH)
    assert update.update_plot.layout.title.text.startswith("Dónde cambió")
    titles = [a.text.replace("<br>", " ") for a in update.update_plot.layout.annotations]  # titles on two lines
    assert "Autoatención del codificador" in titles and "Red feed-forward del codificador" in titles
    tokens = h.token_probabilities(SENTENCE, "spa_Latn", "ita_Latn", TAG, request=SPANISH)
    assert tokens.token_plot.layout.yaxis.title.text == "probabilidad de este token (%)"
