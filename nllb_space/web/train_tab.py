"""The Train tab's components: where the pairs come from, the LoRA settings, Train and Stop, the live loss curve and
the result. Layout only; web/page.py wires the events (web/train_handlers.py)."""

from __future__ import annotations

import os

import gradio as gr

from ..hub import revisions
from ..lora_config import DEFAULT_TARGETS
from ..settings import Settings
from ..training.page_runs import PageRun, defaults
from ..training.teaching import TEACHING_SETS
from .i18n import t

TARGET_CHOICES = (*DEFAULT_TARGETS, "fc1", "fc2")
"""What a learner may adapt: the four attention projections, and the feed-forward block's two layers."""
SOURCES = ("set", "paste", "file")
"""Where the training pairs come from: a curated teaching set, pasted lines, or an uploaded file."""


def can_sign_in() -> bool:
    """Whether this page can offer "Sign in with Hugging Face": on a Space with OAuth on (``hf_oauth: true``, which
    sets ``OAUTH_CLIENT_ID``), or locally where this machine is logged in (Gradio's local sign-in uses that login,
    and without one the page would fail to start)."""
    if os.environ.get("SPACE_ID"):
        return bool(os.environ.get("OAUTH_CLIENT_ID"))
    return revisions.signed_in_user() is not None


def train_tab(h, settings: Settings, on_gpu: bool) -> dict:
    run = PageRun(train_file="", base_model=settings.base_model, **defaults(on_gpu))
    with gr.Tab(t("tab_train"), id="train"):
        gr.Markdown(t("train_intro"))
        with gr.Row(equal_height=False):
            with gr.Column(min_width=320):
                train_source = gr.Radio([(t(f"train_source_{key}"), key) for key in SOURCES], value="set",
                                        label=t("train_source"), elem_id="train-source")
                train_set = gr.Dropdown([(t(f"train_set_{found.key}"), found.key) for found in TEACHING_SETS],
                                        value=TEACHING_SETS[0].key, label=t("train_set"), elem_id="train-set")
                train_look_for = gr.Markdown(t(f"train_look_{TEACHING_SETS[0].key}"), elem_id="train-look-for")
                train_pasted = gr.Textbox(lines=6, max_lines=20, label=t("train_pasted"), visible=False,
                                          placeholder="¿Puedes ayudarme?\tPuò aiutarmi?", elem_id="train-pasted")
                train_upload = gr.File(label=t("train_file"), file_types=[".tsv", ".csv", ".jsonl"], visible=False,
                                       elem_id="train-upload")
                with gr.Accordion(t("train_settings"), open=False, elem_id="train-settings"):
                    train_rank = gr.Slider(1, 64, value=run.r, step=1, label=t("train_rank"),
                                           info=t("train_rank_info"), elem_id="train-rank")
                    train_alpha = gr.Slider(1, 128, value=run.alpha, step=1, label=t("train_alpha"),
                                            info=t("train_alpha_info"), elem_id="train-alpha")
                    train_targets = gr.CheckboxGroup(list(TARGET_CHOICES), value=list(run.targets),
                                                     label=t("train_targets"), info=t("train_targets_info"),
                                                     elem_id="train-targets")
                    train_lr = gr.Number(value=run.learning_rate, minimum=1e-6, maximum=1e-1, label=t("train_lr"),
                                         elem_id="train-lr")
                    train_steps = gr.Slider(1, settings.train_max_steps, value=run.steps, step=1,
                                            label=t("train_steps"), info=t("train_steps_info"),
                                            elem_id="train-steps")
                with gr.Row(elem_classes="button-row"):
                    train_button = gr.Button(t("train_button"), variant="primary", elem_id="train-button")
                    train_stop = gr.Button(t("train_stop"), variant="stop", elem_id="train-stop")
            with gr.Column(min_width=320):
                train_status = gr.Markdown(elem_id="train-status")
                train_plot = gr.Plot(label=t("train_plot"), elem_id="train-plot")
                train_result = gr.Markdown(elem_id="train-result")
        trained_spec = gr.State("")  # the adapter this session trained last: what Publish pushes
        if not can_sign_in():
            return dict(locals())
        with gr.Accordion(t("publish_heading"), open=False, elem_id="train-publish"):
            gr.Markdown(t("publish_intro"))
            # One label for both languages (Gradio's own are English, and its sign-in script compares the label as
            # given): the Hugging Face logo and name, then the signed-in user's name; the intro says what it does.
            train_login = gr.LoginButton("Hugging Face", logout_value="{} ✕", elem_id="train-login")
            with gr.Row(equal_height=False):
                publish_name = gr.Textbox(value="nllb-600m-spa-ita-lora", label=t("publish_name"), scale=2,
                                          elem_id="publish-name")
                publish_branch = gr.Textbox(value="main", label=t("publish_branch"), elem_id="publish-branch")
                publish_tag = gr.Textbox(value="v1", label=t("publish_tag"), elem_id="publish-tag")
            publish_button = gr.Button(t("publish_button"), variant="primary", elem_id="publish-button")
            publish_result = gr.Markdown(elem_id="publish-result")
    return dict(locals())
