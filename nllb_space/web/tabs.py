"""The four tabs' components: Translate, Compare, Attention, What LoRA changed. Layout only.

Each builder adds its tab's components to the page being built and returns them by name; ``web/page.py`` wires the
events with those names (the handlers' results are named the same).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..results import BASE
from ..service.request_limits import MAX_ADAPTER_SCALE
from ..settings import Settings
from .api_components import MODEL_NOTE, example_slider, example_textbox, open_dropdown
from .examples import EXAMPLES, example_labels
from .handler_inputs import MEAN, mean_choice
from .i18n import t

Components = dict[str, Any]


def picker(h, value: str, label: str, elem_id: str, info: str | None = None, **more) -> gr.Dropdown:
    """A model picker: base, the revisions loaded, or anything typed."""
    return open_dropdown(h.initial_choices(), value=value, label=t(label), filterable=True, api_note=MODEL_NOTE,
                        elem_id=elem_id, info=t(info) if info else None, **more)


def translate_tab(h, settings: Settings) -> Components:
    default_model = h.default_model()
    with gr.Tab(t("tab_translate"), id="translate"):
        # Two columns side by side on a desktop; on a phone they stack, and the button stays under the input.
        with gr.Row(equal_height=False):
            with gr.Column(min_width=320):
                text = example_textbox(lines=9, max_lines=40, label=t("text"), elem_id="translate-input",
                                  placeholder=t("text_placeholder"), info=t("text_info"))
                with gr.Row(equal_height=False, elem_classes="button-row"):
                    model = picker(h, default_model, "model", "translate-model", "model_info", scale=3)
                    translate_button = gr.Button(t("translate_button"), variant="primary", scale=1,
                                                 elem_id="translate-button")
                adapter_scale = example_slider(0.0, MAX_ADAPTER_SCALE, value=1.0, step=0.1, label=t("strength"),
                                          info=t("strength_info"), elem_id="translate-strength")
            with gr.Column(min_width=320):
                output = gr.Textbox(lines=9, max_lines=40, label=t("translation"), interactive=False,
                                    buttons=["copy"], elem_id="translate-output")
                translate_info = gr.Markdown(elem_id="translate-info")
        last_translation = gr.State(None)
        # Built in English; the page-load event relabels the examples in the visitor's language.
        examples = gr.Examples([[text_] for text_, _ in EXAMPLES], inputs=[text], api_visibility="private",
                               example_labels=example_labels("en"), label=t("examples")).dataset
        with gr.Accordion(t("file_accordion"), open=False):
            gr.Markdown(t("file_help"))
            upload = gr.File(file_types=[".txt", ".csv", ".tsv"], type="filepath", label=t("file"),
                             elem_id="translate-file")
            file_button = gr.Button(t("file_button"), elem_id="translate-file-button")
            file_message = gr.Markdown()
            file_result = gr.File(label=t("file_result"), interactive=False, elem_id="translate-file-result")
    return dict(locals())


def compare_tab(h, settings: Settings) -> Components:
    with gr.Tab(t("tab_compare"), id="compare"):
        compare_text = example_textbox(lines=5, max_lines=30, label=t("text"), value=EXAMPLES[0][0],
                                  elem_id="compare-input")
        reference = example_textbox(lines=2, api_example="Il gatto dorme sul divano.", label=t("reference"),
                                    elem_id="compare-reference", info=t("reference_info"))
        with gr.Row(equal_height=False, elem_classes="button-row"):
            left = picker(h, BASE, "left_model", "compare-left", "model_info")
            right = picker(h, h.default_model(), "right_model", "compare-right", "model_info")
            compare_button = gr.Button(t("compare_button"), variant="primary", elem_id="compare-button")
        compare_note = gr.Markdown(elem_id="compare-note")
        with gr.Row(equal_height=True):
            left_output = gr.Textbox(lines=5, label=t("left"), interactive=False, buttons=["copy"],
                                     elem_id="compare-left-output")
            right_output = gr.Textbox(lines=5, label=t("right"), interactive=False, buttons=["copy"],
                                      elem_id="compare-right-output")
        compare_summary = gr.Markdown(elem_id="compare-summary")
        compare_rows = gr.HTML(elem_id="compare-rows", label=t("sentence_rows"))
        with gr.Accordion(t("data"), open=False):
            compare_scores = gr.JSON(elem_id="compare-scores")
        last_comparison = gr.State(None)
        with gr.Accordion(t("batch_accordion"), open=False):
            gr.Markdown(t("batch_help"))
            batch_file = gr.File(file_types=[".tsv", ".txt", ".csv"], type="filepath", label=t("file"),
                                 elem_id="compare-file")
            batch_button = gr.Button(t("batch_button"), elem_id="compare-file-button")
            batch_summary = gr.Markdown(elem_id="compare-file-summary")
            batch_table = gr.Dataframe(interactive=False, wrap=True, elem_id="compare-file-table")
            batch_csv = gr.File(label=t("batch_csv"), interactive=False)
    return dict(locals())


def attention_tab(h, settings: Settings) -> Components:
    with gr.Tab(t("tab_attention"), id="attention"):
        with gr.Row(equal_height=True):
            attention_text = example_textbox(lines=2, label=t("sentence"), value=EXAMPLES[0][0], scale=3,
                                        elem_id="attention-input")
            attention_pair = example_textbox(lines=2, api_example="", label=t("pair"), scale=3, info=t("pair_info"),
                                        elem_id="attention-pair")
        with gr.Row(equal_height=False, elem_classes="button-row"):
            attention_model = picker(h, h.default_model(), "model", "attention-model", "attention_model_info",
                                     scale=3)
            reuse_button = gr.Button(t("reuse"), scale=1, elem_id="attention-reuse")
            attention_button = gr.Button(t("attention_button"), variant="primary", scale=1,
                                         elem_id="attention-button")
        attention_target = gr.Textbox(label=t("attention_target"), interactive=False, elem_id="attention-target")
        with gr.Row(equal_height=True):
            kind = gr.Radio([(t("cross"), "cross"), (t("encoder"), "encoder"), (t("decoder"), "decoder")],
                            value="cross", label=t("map"), elem_id="attention-kind")
            # In English until the page-load event (or the first maps) relabels them in the visitor's language.
            layer = gr.Dropdown(mean_choice("layers", "en"), value=MEAN, label=t("layer"), elem_id="attention-layer")
            head = gr.Dropdown(mean_choice("heads", "en"), value=MEAN, label=t("head"), elem_id="attention-head")
        attention_caption = gr.Markdown(elem_id="attention-caption")
        heatmap = gr.Plot(label=t("attention_plot"), elem_id="attention-plot")
        difference = gr.Plot(label=t("difference_plot"), visible=False, elem_id="attention-difference")
        alignment_plot = gr.Plot(label=t("alignment"), elem_id="attention-alignment")
        head_grid = gr.Plot(label=t("head_grid"), elem_id="attention-heads")
        with gr.Accordion(t("data"), open=False):
            attention_data = gr.JSON(elem_id="attention-data")
        attention_view = gr.State(None)
    return dict(locals())


def lora_tab(h, settings: Settings) -> Components:
    with gr.Tab(t("tab_lora"), id="lora"):
        gr.Markdown(t("lora_intro"))
        with gr.Row(equal_height=False, elem_classes="button-row"):
            lora_model = picker(h, h.default_model(), "lora_model", "lora-model", "model_info", scale=3)
            update_button = gr.Button(t("update_button"), variant="primary", scale=1, elem_id="lora-update-button")
        update_summary = gr.Markdown(elem_id="lora-update-summary")
        update_plot = gr.Plot(label=t("update_plot"), elem_id="lora-update-plot")
        with gr.Accordion(t("data"), open=False):
            update_data = gr.JSON(elem_id="lora-update-data")
        gr.Markdown(t("why_heading"))
        with gr.Row(equal_height=True):
            token_text = example_textbox(lines=2, label=t("sentence"), value=EXAMPLES[0][0], scale=3,
                                    elem_id="lora-token-input")
            token_pair = example_textbox(lines=2, api_example="", label=t("pair"), scale=3, info=t("token_pair_info"),
                                    elem_id="lora-token-pair")
        token_button = gr.Button(t("token_button"), variant="primary", elem_id="lora-token-button")
        token_summary = gr.Markdown(elem_id="lora-token-summary")
        token_plot = gr.Plot(label=t("token_plot"), elem_id="lora-token-plot")
        with gr.Accordion(t("data"), open=False):
            token_data = gr.JSON(elem_id="lora-token-data")
    return dict(locals())
