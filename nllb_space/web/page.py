"""The page: Gradio components wired to ``Handlers``. Layout only; what each button does lives in ``web/handlers.py``.

Shape of the page: the live model status and the adapters/revisions panel at the top (shared by all tabs), the
language pair and decoding options under it (shared too, so switching tabs keeps them), then the Translate,
Compare, Attention and "What LoRA changed" tabs (web/tabs.py). Every text is a key of web/i18n.py, so the page reads in
English or Spanish.

Public API: the tabs' main buttons, ``/translate``, ``/compare``, ``/attention``, ``/update_map`` and
``/token_probabilities``;
every other event is ``api_visibility="private"`` so the API page stays clean. An endpoint returns only what its
caller reads; what the page's session keeps of it (``gr.State``) reaches the session through a private event chained
after it (:class:`Handoff` says why). Requests share one concurrency
group of ``REQUESTS_IN_PROGRESS``: their input checks and Hub work run side by side, and the engine admits only as
many model calls at once as the hardware serves (1 on a CPU or a dedicated GPU, more on ZeroGPU).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict
from typing import Any, Callable, Mapping, Sequence

import gradio as gr

from ..model.hardware import REQUESTS_IN_PROGRESS
from ..service.engine import Engine
from ..settings import Settings
from ..text.languages import language_choices
from .api_components import LANGUAGE_NOTE, english_api_labels, example_slider, open_dropdown
from .attention_handlers import AttentionShown, MapControls, MapViews, ReusedPair
from .handlers import Handlers
from .i18n import TEXTS, interface, t
from .lora_handlers import TokensShown, UpdateShown
from .messages import say
from .revision_handlers import COLUMNS, PageLoaded, RevisionsListed, RevisionUsed, RowPicked
from .tabs import attention_tab, compare_tab, lora_tab, translate_tab
from .train_handlers import TrainShown, TrainSourceShown
from .train_tab import train_tab
from .translate_handlers import Compared, CompareViews, FileScored, FileTranslated, Translated

TITLE = TEXTS["title"][0]
PRIVATE = dict(api_visibility="private")
CSS = """
#swap-languages { align-self: center; max-width: 64px; }
.status-line { font-size: 0.92em; }
.button-row { align-items: end; }
.button-row button { max-height: 3.2em; margin-bottom: 0.6em; }
#compare-rows .compare-rows-scroll { overflow-x: auto; }
#compare-rows table.compare-rows { border-collapse: collapse; width: 100%; font-size: 0.92em; }
#compare-rows th, #compare-rows td { border-bottom: 1px solid #e5e7eb; padding: 4px 6px; vertical-align: top;
  text-align: left; }
#compare-rows tr.same td { color: #6b7280; }
mark.diff-left { background: #fca5a5; }
mark.diff-right { background: #86efac; }
/* A phone: one column, each control as wide as the screen, so labels are not cut and buttons stay near inputs. */
@media (max-width: 640px) {
  .gradio-container .row { flex-direction: column !important; align-items: stretch !important; }
  .gradio-container .row > * { width: 100% !important; max-width: none !important; min-width: 0 !important; }
  #swap-languages { align-self: center; }
}
"""


HANDOFF_CAPACITY = 256
"""How many session-state values the endpoints may leave for chained events that never come (API and MCP callers run
none): a translation or a comparison of at most ``max_chars`` characters (tens of kB), or an attention view's key."""


def outputs(result: type, components: Mapping[str, Any]) -> list:
    """The components a handler's result names, in the order of its fields: the page and the handler agree by name,
    and a field the page lacks fails when the page is built."""
    return [components[name] for name in result._fields]


def kept_fields(result: type, components: Mapping[str, Any]) -> list[str]:
    """The fields of a handler's result that fill the session's ``gr.State`` (what the session keeps, not shows)."""
    return [name for name in result._fields if isinstance(components[name], gr.State)]


def _is_skip(value: Any) -> bool:
    return isinstance(value, dict) and value == gr.skip()


class Handoff:
    """What an endpoint's handler returns for the session's ``gr.State``, held until the private event chained after
    the endpoint puts it there.

    Gradio's MCP server cannot answer for an endpoint with a ``gr.State`` output: it drops State outputs from the
    answer by index while it iterates over them (``gradio/mcp.py``, ``pop_returned_state``), and without a progress
    token the answer it drops them from is a single item, so every such tool failed with "pop index out of range".
    So an endpoint returns only what its caller reads. Its handler still returns every component it fills, State
    ones too (the result's field names stay the one source of the order); :meth:`public` holds the State fields here,
    under the session's hash, and :meth:`take`, the private event chained after the endpoint, moves them into the
    session. Only the page runs chained events (API and MCP callers never do), so what callers leave is dropped,
    oldest first, once ``capacity`` values are held. Two events of one session that leave the same field (the
    Translate button and the strength slider) share its place: the session keeps the last one left.
    """

    def __init__(self, capacity: int = HANDOFF_CAPACITY) -> None:
        self.capacity = capacity
        self._held: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def public(self, fn: Callable, kept: Sequence[str]) -> Callable:
        """``fn`` as an endpoint's function: its result (each one, if it streams) without the ``kept`` fields, which
        wait here for the session. ``fn``'s signature and docstring are kept: Gradio reads the API's parameters,
        ``gr.Request`` and ``gr.Progress`` from them, and the MCP tool's description."""
        signature = inspect.signature(fn)

        def shown(result: Any, args: tuple, kwargs: dict) -> Any:
            values = result._asdict()
            request = signature.bind_partial(*args, **kwargs).arguments.get("request")
            session = getattr(request, "session_hash", None)
            for name in kept:
                value = values.pop(name)
                if session and not _is_skip(value):
                    self._leave(session, name, value)
            answer = tuple(values.values())
            return answer[0] if len(answer) == 1 else answer

        if inspect.isgeneratorfunction(fn):  # the Translate tab streams: each partial text, then the whole result
            @functools.wraps(fn)
            def stream(*args, **kwargs):
                for result in fn(*args, **kwargs):
                    yield shown(result, args, kwargs)

            return stream

        @functools.wraps(fn)
        def call(*args, **kwargs):
            return shown(fn(*args, **kwargs), args, kwargs)

        return call

    def take(self, kept: Sequence[str]) -> Callable:
        """The chained event's function: the values the endpoint left for this session, in the order of ``kept``
        (``gr.skip()``, keeping the session's value, where none was left)."""

        def take(request: gr.Request) -> Any:
            session = getattr(request, "session_hash", None)
            with self._lock:
                values = tuple(self._held.pop((session, name), gr.skip()) for name in kept)
            return values[0] if len(values) == 1 else values

        return take

    def _leave(self, session: str, name: str, value: Any) -> None:
        with self._lock:
            self._held[(session, name)] = value
            self._held.move_to_end((session, name))
            while len(self._held) > self.capacity:
                self._held.popitem(last=False)


def endpoint(fn: Callable, result: type, components: Mapping[str, Any], handoff: Handoff) -> tuple[dict, dict]:
    """A handler as a public endpoint (``fn`` and ``outputs``: the components its caller reads), and the private event
    to chain right after it, which puts the handler's State fields into the session (nothing when it has none)."""
    kept = kept_fields(result, components)
    public = dict(fn=handoff.public(fn, kept),
                  outputs=[c for name, c in zip(result._fields, outputs(result, components)) if name not in kept])
    keep = dict(fn=handoff.take(kept), inputs=None, outputs=[components[name] for name in kept], queue=False,
                **PRIVATE)
    return public, keep


def launch_options(settings: Settings) -> dict:
    """Options for ``demo.launch()`` that belong to the page (Gradio 6 takes theme and CSS at launch), and the
    upload limit: a larger file is refused as it arrives, before it is stored.

    ``mcp_server``: the named endpoints are also MCP tools, at ``/gradio_api/mcp/`` (README "API").
    Host and port are not here: Gradio reads ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT`` (Spaces sets them).
    """
    return dict(theme=gr.themes.Soft(primary_hue="indigo"), css=CSS, show_error=False,
                max_file_size=settings.max_file_bytes, i18n=interface(settings), mcp_server=True)


def build_demo(engine: Engine) -> gr.Blocks:
    """The whole app around ``engine``. Cheap: builds components only (no model load, no Hub call)."""
    h = Handlers(engine)
    settings = engine.settings
    # Requests run side by side (their Hub work too); the engine lets only as many into the model as the hardware
    # serves at once (hardware.model_concurrency).
    model_work = dict(concurrency_id="requests", concurrency_limit=REQUESTS_IN_PROGRESS)

    # Gradio's copies of uploads and outputs are deleted once as old as the Space's own result files.
    with gr.Blocks(title=TITLE, delete_cache=(600, int(settings.file_ttl_s))) as demo:
        gr.Markdown(t("heading"), elem_id="title")
        gr.Markdown(t("intro"))
        status = gr.Markdown(h.status(), elem_id="status", elem_classes="status-line")
        choices = gr.State(h.initial_choices())  # this session's model picker choices (grows as it loads revisions)

        with gr.Accordion(t("revisions"), open=False, elem_id="revisions-panel"):
            with gr.Row(equal_height=False, elem_classes="button-row"):
                repo = gr.Textbox(
                    value=settings.adapter_repo or "", label=t("adapter_repo"), scale=3, elem_id="revisions-repo",
                    interactive=settings.allow_custom_repos,
                    info=t("repo_info" if settings.allow_custom_repos else "repo_info_locked"),
                )
                list_button = gr.Button(t("list_revisions"), scale=1, elem_id="revisions-list")
            revision = gr.Dropdown(choices=[], value=None, label=t("revision"), elem_id="revision-picker",
                                   info=t("revision_info"))
            revisions_message = gr.Markdown(elem_id="revisions-message")
            # A click on a row loads its revision (use_row); page load sets the headers in the visitor's language.
            revisions_table = gr.Dataframe(headers=[say(column, "en") for column in COLUMNS], interactive=False,
                                           wrap=True, elem_id="revisions-table")
            revision_rows = gr.State({})  # what a click on each row loads
            revision_loaded = gr.State("")  # what the panel last loaded: the page's own changes load nothing

        with gr.Row(equal_height=True):
            src = open_dropdown(language_choices(), value=settings.src_lang, label=t("from"), filterable=True,
                               api_note=LANGUAGE_NOTE, elem_id="src-lang", info=t("from_info"))
            swap = gr.Button("⇄", elem_id="swap-languages", scale=0, min_width=56)
            tgt = open_dropdown(language_choices(), value=settings.tgt_lang, label=t("to"), filterable=True,
                               api_note=LANGUAGE_NOTE, elem_id="tgt-lang", info=t("to_info"))
        language_note = gr.Markdown(elem_id="language-note")
        with gr.Accordion(t("decoding"), open=False):
            with gr.Row():
                # precision=0: whole numbers, typed int on the API page.
                num_beams = example_slider(1, settings.max_beams, value=settings.num_beams, step=1, precision=0,
                                      label=t("beams"), info=t("beams_info"), elem_id="decoding-beams")
                max_new_tokens = example_slider(1, settings.max_new_tokens, value=settings.max_new_tokens, step=1,
                                           precision=0, label=t("max_new_tokens"), elem_id="decoding-max-tokens")

        c = dict(locals())  # every component by name: handlers' results name the ones they fill
        with gr.Tabs():
            for tab in (translate_tab, compare_tab, attention_tab, lora_tab):
                c.update(tab(h, settings))
            if settings.allow_training:
                c.update(train_tab(h, settings, engine.training.on_gpu))
        wire(demo, h, c, model_work)
    english_api_labels(demo)
    for fn in demo.fns.values():
        if fn.name == "_check_login_status":  # the LoginButton's own check at each page load: not part of the API
            fn.api_visibility = "private"
    # A full queue answers "Queue is full! Please try again." at once, instead of a wait of unbounded length.
    demo.queue(max_size=settings.queue_size)
    return demo


def wire(demo: gr.Blocks, h: Handlers, c: Mapping[str, Any], model_work: dict) -> None:
    """Every event of the page: the public endpoints first, then the private helpers.

    An endpoint's outputs hold no ``gr.State``: what the session keeps of its answer (the last translation, the last
    comparison, the attention maps' key) is put there by the private event chained right after it (``Handoff``)."""
    handoff = Handoff()
    shared = [c["src"], c["tgt"]]
    translated, keep_translation = endpoint(h.translate, Translated, c, handoff)
    translate = dict(inputs=[c["text"], *shared, c["model"], c["num_beams"], c["max_new_tokens"], c["adapter_scale"]],
                     **translated, **model_work)
    c["translate_button"].click(api_name="translate", **translate).success(**keep_translation).success(
        h.translation_info, c["last_translation"], c["translate_info"], **PRIVATE)
    # Moving the strength slider translates again at the new strength (for this visitor only).
    c["adapter_scale"].release(**translate, **PRIVATE).success(**keep_translation).success(
        h.translation_info, c["last_translation"], c["translate_info"], **PRIVATE)
    compared, keep_comparison = endpoint(h.compare, Compared, c, handoff)
    c["compare_button"].click(
        inputs=[c["compare_text"], *shared, c["left"], c["right"], c["reference"], c["num_beams"],
                c["max_new_tokens"]],
        api_name="compare", **compared, **model_work,
    ).success(**keep_comparison).success(h.compare_views, c["last_comparison"], outputs(CompareViews, c), **PRIVATE)
    # Redraws share one queue slot, so they finish in the order the visitor clicked (a stale one never wins).
    view_inputs = [c["attention_view"], c["kind"], c["layer"], c["head"]]
    views = dict(fn=h.attention_views, inputs=view_inputs, outputs=outputs(MapViews, c),
                 concurrency_id="attention-views", concurrency_limit=1, **PRIVATE)
    controls = dict(fn=h.attention_controls, inputs=view_inputs, outputs=outputs(MapControls, c),
                    concurrency_id="attention-views", concurrency_limit=1, **PRIVATE)
    shown, keep_view = endpoint(h.attention, AttentionShown, c, handoff)
    c["attention_button"].click(
        inputs=[c["attention_text"], *shared, c["attention_model"], c["attention_pair"], c["num_beams"],
                c["max_new_tokens"], c["last_translation"]],
        api_name="attention", **shown, **model_work,
    ).success(**keep_view).success(**controls).success(**views)
    # Reads the adapter's tensors (no model call), but its cost grows with the adapter: it shares the requests' slots.
    c["update_button"].click(h.update_map, c["lora_model"], outputs(UpdateShown, c), api_name="update_map",
                             **model_work)
    c["token_button"].click(
        h.token_probabilities, [c["token_text"], *shared, c["lora_model"], c["token_pair"]],
        outputs(TokensShown, c), api_name="token_probabilities", **model_work,
    )

    for side in (c["left"], c["right"]):
        side.change(h.same_model_note, [c["left"], c["right"]], c["compare_note"], queue=False, **PRIVATE)
    # The layer and head pickers redraw on .change, not .input: Gradio's dropdown sends input twice per pick (see the
    # revision picker below), so each pick redrew twice. attention_controls' updates keep a pick the new maps have
    # (NLLB's maps all have the same layers and heads), so they change no value and start no redraw of their own (a
    # pick the maps lacked would be reset to the mean and redrawn once more); views set no control, so nothing loops.
    # The kind stays on .input: a radio sends it once per click, while its .change also fires when the tab is first
    # shown, which would redraw an empty view for nothing.
    c["kind"].input(**controls).success(**views)
    for control in (c["layer"], c["head"]):
        control.change(**views)
    c["swap"].click(lambda a, b: (b, a), shared, shared, queue=False, **PRIVATE)
    # An unknown or doubled language is said when its field loses focus, not only after pressing a button.
    for language in shared:
        language.blur(h.check_languages, shared, c["language_note"], queue=False, **PRIVATE)
    c["file_button"].click(h.translate_file, [c["upload"], *shared, c["model"], c["num_beams"], c["max_new_tokens"]],
                           outputs(FileTranslated, c), **model_work, **PRIVATE)
    c["batch_button"].click(h.compare_file, [c["batch_file"], *shared, c["left"], c["right"], c["num_beams"],
                                             c["max_new_tokens"]], outputs(FileScored, c), **model_work, **PRIVATE)
    c["reuse_button"].click(h.reuse_translation, c["last_translation"], outputs(ReusedPair, c),
                            concurrency_limit=None, **PRIVATE)  # queued: gr.Info needs the queue
    demo.load(h.page_load, c["choices"], outputs(PageLoaded, c), concurrency_limit=None, **PRIVATE)
    c["list_button"].click(h.list_revisions, c["repo"], outputs(RevisionsListed, c), concurrency_limit=None,
                           **PRIVATE)
    # Loading a revision is Hub work and a check of its files; it attaches nothing, so it waits for no model.
    # On .change, not .input: Gradio's dropdown sends input twice per pick (web/revision_handlers.py says why).
    c["revision"].change(h.revision_changed, [c["revision"], c["revision_loaded"], c["choices"]],
                         outputs(RevisionUsed, c), **model_work, **PRIVATE)
    c["revisions_table"].select(h.use_row, [c["revision_rows"], c["choices"]], outputs(RowPicked, c), **model_work,
                                **PRIVATE)
    if "train_button" in c:
        wire_training(demo, h, c)


def wire_training(demo: gr.Blocks, h: Handlers, c: Mapping[str, Any]) -> None:
    """The Train tab's events. A run is the service's, in a process or GPU call of its own: it takes none of the
    model's request slots, and its own limits (one per visitor, ``NLLB_TRAIN_RUNS`` in all) are the service's."""
    c["train_source"].change(h.train_source_changed, c["train_source"], outputs(TrainSourceShown, c), queue=False,
                             **PRIVATE)
    c["train_set"].change(h.train_set_changed, c["train_set"], c["train_look_for"], **PRIVATE)
    inputs = [c[name] for name in ("train_source", "train_set", "train_pasted", "train_upload", "train_rank",
                                   "train_alpha", "train_targets", "train_lr", "train_steps", "choices")]
    training = c["train_button"].click(h.train_adapter, inputs, outputs(TrainShown, c), concurrency_limit=None,
                                       **PRIVATE)
    c["train_stop"].click(h.stop_training, None, c["train_status"], cancels=[training], queue=False, **PRIVATE)
    if "publish_button" in c:  # only where signing in can work (web/train_tab.py: can_sign_in)
        c["publish_button"].click(h.publish_adapter, [c[name] for name in ("trained_spec", "publish_name",
                                                                           "publish_branch", "publish_tag")],
                                  c["publish_result"], concurrency_limit=None, **PRIVATE)
    demo.unload(h.page_closed)
