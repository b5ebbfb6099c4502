"""The page: Gradio components wired to ``Handlers``. Layout only; what each button does lives in ``handlers.py``.

Shape of the page: the live model status and the adapters/revisions panel at the top (shared by all tabs), the
language pair and decoding options under it (shared too, so switching tabs keeps them), then the Translate,
Compare and Attention tabs.

Public API: exactly three endpoints, ``/translate``, ``/compare`` and ``/attention`` (the tabs' main buttons);
every other event is ``api_visibility="private"`` so the API page stays clean. Requests share one concurrency
group of ``REQUESTS_IN_PROGRESS``: their input checks and Hub work run side by side, and the engine admits only as
many model calls at once as the hardware serves (1 on a CPU or a dedicated GPU, more on ZeroGPU).
"""

from __future__ import annotations

from typing import Any, Mapping

import gradio as gr

from .attention_handlers import AttentionShown, MapControls, MapViews, ReusedPair
from .engine import Engine
from .formatting import DIFF_COLOURS
from .handler_inputs import MEAN
from .handlers import Handlers
from .hardware import REQUESTS_IN_PROGRESS
from .languages import language_choices
from .results import BASE
from .revision_handlers import PageLoaded, RevisionsListed, RevisionUsed
from .settings import Settings
from .translate_handlers import Compared, FileScored, FileTranslated, Translated

EXAMPLES = [
    "El gato duerme en el sofá.",
    "Mañana vamos a la playa.",
    "¿Dónde está la estación de tren?",
    "Me llamo Ana y vivo en Madrid. Mi hermano estudia medicina.\n\nGracias por tu ayuda.",
]
"""Spanish sentences offered under the Translate box."""

TITLE = "NLLB-200 · Spanish → Italian with LoRA"
PRIVATE = dict(api_visibility="private")
CSS = """
#swap-languages { align-self: center; max-width: 64px; }
.status-line { font-size: 0.92em; }
.button-row { align-items: end; }
.button-row button { max-height: 3.2em; margin-bottom: 0.6em; }
"""


def outputs(result: type, components: Mapping[str, Any]) -> list:
    """The components a handler's result names, in the order of its fields: the page and the handler agree by name,
    and a field the page lacks fails when the page is built."""
    return [components[name] for name in result._fields]


def launch_options(settings: Settings) -> dict:
    """Options for ``demo.launch()`` that belong to the page (Gradio 6 takes theme and CSS at launch), and the
    upload limit: a larger file is refused as it arrives, before it is stored.

    Host and port are not here: Gradio reads ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT`` (Spaces sets them).
    """
    return dict(theme=gr.themes.Soft(primary_hue="indigo"), css=CSS, show_error=False,
                max_file_size=settings.max_file_bytes)


def build_demo(engine: Engine) -> gr.Blocks:
    """The whole app around ``engine``. Cheap: builds components only (no model load, no Hub call)."""
    h = Handlers(engine)
    settings = engine.settings
    # Requests run side by side (their Hub work too); the engine lets only as many into the model as the hardware
    # serves at once (hardware.model_concurrency).
    model_work = dict(concurrency_id="requests", concurrency_limit=REQUESTS_IN_PROGRESS)
    default_model = h.default_model()
    model_info = "base, a revision of the adapter repo (branch, tag, sha), or owner/name@revision"

    # Gradio's copies of uploads and outputs are deleted once as old as the Space's own result files.
    with gr.Blocks(title=TITLE, delete_cache=(600, int(settings.file_ttl_s))) as demo:
        gr.Markdown(f"# {TITLE}\nMeta's NLLB-200-distilled-600M with LoRA adapters pulled from the Hugging Face Hub "
                    "by revision. Translate, compare the base model with an adapter, and look at attention.")
        status = gr.Markdown(h.status(), elem_id="status", elem_classes="status-line")
        choices = gr.State(h.initial_choices())  # this session's model picker choices (grows as it loads revisions)

        with gr.Accordion("Adapters and revisions", open=False, elem_id="revisions-panel"):
            with gr.Row(equal_height=False, elem_classes="button-row"):
                repo = gr.Textbox(
                    value=settings.adapter_repo or "", label="Adapter repo", scale=3, elem_id="revisions-repo",
                    interactive=settings.allow_custom_repos,
                    info=("Type another public repo id (owner/name) to list its revisions."
                          if settings.allow_custom_repos
                          else "Other repos are turned off on this Space (NLLB_ALLOW_CUSTOM_REPOS=false)."),
                )
                list_button = gr.Button("List revisions", scale=1, elem_id="revisions-list")
            revision = gr.Dropdown(choices=[], value=None, label="Revision", elem_id="revision-picker",
                                   info="Pick a branch, tag or commit: it is loaded and selected in every tab.")
            revisions_message = gr.Markdown(elem_id="revisions-message")
            revisions_table = gr.Dataframe(headers=["kind", "name", "commit", "date", "title"], interactive=False,
                                           wrap=True, elem_id="revisions-table")

        with gr.Row(equal_height=True):
            src = gr.Dropdown(language_choices(), value=settings.src_lang, label="From", filterable=True,
                              allow_custom_value=True, elem_id="src-lang", info="Type a name or a code (spa_Latn).")
            swap = gr.Button("⇄", elem_id="swap-languages", scale=0, min_width=56)
            tgt = gr.Dropdown(language_choices(), value=settings.tgt_lang, label="To", filterable=True,
                              allow_custom_value=True, elem_id="tgt-lang", info="All 202 FLORES-200 languages.")
        with gr.Accordion("Decoding options", open=False):
            with gr.Row():
                num_beams = gr.Slider(1, settings.max_beams, value=settings.num_beams, step=1, label="Beam size",
                                      info="1 = greedy; more beams are slower and often a little better.")
                max_new_tokens = gr.Slider(1, settings.max_new_tokens, value=settings.max_new_tokens, step=1,
                                           label="Max new tokens per sentence")

        with gr.Tabs():
            with gr.Tab("Translate", id="translate"):
                with gr.Row(equal_height=True):
                    text = gr.Textbox(lines=9, max_lines=40, label="Text", elem_id="translate-input",
                                      placeholder="Escribe o pega aquí el texto…",
                                      info=f"Up to {settings.max_chars:,} characters and {settings.max_sentences} "
                                           "sentences; paragraphs and line breaks are kept.")
                    output = gr.Textbox(lines=9, max_lines=40, label="Translation", interactive=False,
                                        buttons=["copy"], elem_id="translate-output")
                with gr.Row(equal_height=False, elem_classes="button-row"):
                    model = gr.Dropdown(h.initial_choices(), value=default_model, label="Model", scale=3,
                                        filterable=True, allow_custom_value=True, elem_id="translate-model",
                                        info=model_info)
                    translate_button = gr.Button("Translate", variant="primary", scale=1, elem_id="translate-button")
                translate_info = gr.Markdown(elem_id="translate-info")
                last_translation = gr.State(None)
                gr.Examples(EXAMPLES, inputs=[text], api_visibility="private", label="Examples (Spanish)")
                with gr.Accordion("Translate a file (.txt, .csv, .tsv)", open=False):
                    gr.Markdown(
                        "A **.txt** is translated as one text. In a **.csv/.tsv**, each row is translated: the column "
                        "named `text` or `source` if the first row has one, else the first column; you get the table "
                        f"back with a `translation` column. UTF-8, up to {settings.max_file_bytes / 1e6:g} MB and "
                        f"{settings.max_rows:,} rows."
                    )
                    upload = gr.File(file_types=[".txt", ".csv", ".tsv"], type="filepath", label="File",
                                     elem_id="translate-file")
                    file_button = gr.Button("Translate file", elem_id="translate-file-button")
                    file_message = gr.Markdown()
                    file_result = gr.File(label="Translated file", interactive=False, elem_id="translate-file-result")

            with gr.Tab("Compare", id="compare"):
                compare_text = gr.Textbox(lines=5, max_lines=30, label="Text", value=EXAMPLES[0],
                                          elem_id="compare-input")
                reference = gr.Textbox(lines=2, label="Reference translation (optional)", elem_id="compare-reference",
                                       info="Gives each side's chrF++ and BLEU (sacreBLEU).")
                with gr.Row(equal_height=False, elem_classes="button-row"):
                    left = gr.Dropdown(h.initial_choices(), value=BASE, label="Left model", filterable=True,
                                       allow_custom_value=True, elem_id="compare-left", info=model_info)
                    right = gr.Dropdown(h.initial_choices(), value=default_model, label="Right model",
                                        filterable=True, allow_custom_value=True, elem_id="compare-right")
                    compare_button = gr.Button("Compare", variant="primary", elem_id="compare-button")
                with gr.Row(equal_height=True):
                    left_output = gr.Textbox(lines=5, label="Left", interactive=False, buttons=["copy"],
                                             elem_id="compare-left-output")
                    right_output = gr.Textbox(lines=5, label="Right", interactive=False, buttons=["copy"],
                                              elem_id="compare-right-output")
                differences = gr.HighlightedText(label="Word differences", color_map=DIFF_COLOURS,
                                                 show_legend=True, elem_id="compare-diff")
                compare_summary = gr.Markdown(label="Times and scores", elem_id="compare-summary")
                last_comparison = gr.State(None)
                with gr.Accordion("Batch: score a file of source<TAB>reference lines", open=False):
                    gr.Markdown(f"One `source<TAB>reference` per line (.tsv or .txt; the reference may be missing), "
                                f"up to {settings.max_rows:,} lines. Both models translate every line; you get corpus "
                                "chrF++/BLEU per model and a per-sentence table to download.")
                    batch_file = gr.File(file_types=[".tsv", ".txt", ".csv"], type="filepath", label="File",
                                         elem_id="compare-file")
                    batch_button = gr.Button("Translate and score", elem_id="compare-file-button")
                    batch_summary = gr.Markdown(elem_id="compare-file-summary")
                    batch_table = gr.Dataframe(interactive=False, wrap=True, elem_id="compare-file-table")
                    batch_csv = gr.File(label="Per-sentence scores (CSV)", interactive=False)

            with gr.Tab("Attention", id="attention"):
                with gr.Row(equal_height=True):
                    attention_text = gr.Textbox(lines=2, label="Sentence", value=EXAMPLES[0], scale=3,
                                                elem_id="attention-input")
                    attention_pair = gr.Textbox(lines=2, label="Translation to inspect (optional)", scale=3,
                                                info="Empty: the model's own greedy translation.",
                                                elem_id="attention-pair")
                with gr.Row(equal_height=False, elem_classes="button-row"):
                    attention_model = gr.Dropdown(h.initial_choices(), value=default_model, label="Model", scale=3,
                                                  filterable=True, allow_custom_value=True, elem_id="attention-model",
                                                  info="An adapter also shows its difference from base.")
                    reuse_button = gr.Button("Use the last translation", scale=1, elem_id="attention-reuse")
                    attention_button = gr.Button("Show attention", variant="primary", scale=1,
                                                 elem_id="attention-button")
                attention_target = gr.Textbox(label="Translation shown in the maps", interactive=False,
                                              elem_id="attention-target")
                with gr.Row(equal_height=True):
                    kind = gr.Radio([("Cross-attention", "cross"), ("Encoder self-attention", "encoder"),
                                     ("Decoder self-attention", "decoder")], value="cross", label="Map",
                                    elem_id="attention-kind")
                    layer = gr.Dropdown([("mean over layers", MEAN)], value=MEAN, label="Layer",
                                        elem_id="attention-layer")
                    head = gr.Dropdown([("mean over heads", MEAN)], value=MEAN, label="Head", elem_id="attention-head")
                attention_caption = gr.Markdown(elem_id="attention-caption")
                heatmap = gr.Plot(label="Attention", elem_id="attention-plot")
                difference = gr.Plot(label="LoRA minus base", visible=False, elem_id="attention-difference")
                attention_view = gr.State(None)

        # -- events: the three public endpoints ----------------------------------------------------------------------
        translate_button.click(
            h.translate, [text, src, tgt, model, num_beams, max_new_tokens], outputs(Translated, locals()),
            api_name="translate", **model_work,
        ).success(h.translation_info, last_translation, translate_info, **PRIVATE)
        compare_button.click(
            h.compare, [compare_text, src, tgt, left, right, reference, num_beams, max_new_tokens],
            outputs(Compared, locals()), api_name="compare", **model_work,
        ).success(h.differences, last_comparison, differences, **PRIVATE)
        # Redraws share one queue slot, so they finish in the order the visitor clicked (a stale one never wins).
        view_inputs = [attention_view, kind, layer, head]
        views = dict(fn=h.attention_views, inputs=view_inputs, outputs=outputs(MapViews, locals()),
                     concurrency_id="attention-views", concurrency_limit=1, **PRIVATE)
        controls = dict(fn=h.attention_controls, inputs=view_inputs, outputs=outputs(MapControls, locals()),
                        concurrency_id="attention-views", concurrency_limit=1, **PRIVATE)
        attention_button.click(
            h.attention, [attention_text, src, tgt, attention_model, attention_pair],
            outputs(AttentionShown, locals()), api_name="attention", **model_work,
        ).success(**controls).success(**views)

        # -- events: private helpers -----------------------------------------------------------------------------------
        kind.input(**controls).success(**views)
        for control in (layer, head):
            control.input(**views)
        swap.click(lambda a, b: (b, a), [src, tgt], [src, tgt], queue=False, **PRIVATE)
        file_button.click(h.translate_file, [upload, src, tgt, model, num_beams, max_new_tokens],
                          outputs(FileTranslated, locals()), **model_work, **PRIVATE)
        batch_button.click(h.compare_file, [batch_file, src, tgt, left, right, num_beams, max_new_tokens],
                           outputs(FileScored, locals()), **model_work, **PRIVATE)
        reuse_button.click(h.reuse_translation, last_translation, outputs(ReusedPair, locals()),
                           concurrency_limit=None, **PRIVATE)  # queued: gr.Info needs the queue
        demo.load(h.page_load, choices, outputs(PageLoaded, locals()), concurrency_limit=None, **PRIVATE)
        list_button.click(h.list_revisions, repo, outputs(RevisionsListed, locals()),
                          concurrency_limit=None, **PRIVATE)
        # Loading a revision is Hub work and a check of its files; it attaches nothing, so it waits for no model.
        revision.input(h.use_revision, [revision, choices], outputs(RevisionUsed, locals()),
                       **model_work, **PRIVATE)
    # A full queue answers "Queue is full! Please try again." at once, instead of a wait of unbounded length.
    demo.queue(max_size=settings.queue_size)
    return demo
