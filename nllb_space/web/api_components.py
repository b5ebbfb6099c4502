"""Components whose entry on the API page (and in the MCP tools' schemas) says what the endpoint really takes.

Written by hand because Gradio types a dropdown's value as a ``Literal`` of its choices, even with
``allow_custom_value=True``: the model pickers take any revision (a branch, tag or sha, or owner/name@revision) and the
language pickers any of 202 codes or names, so on the API page they are strings with a description. Gradio also
shows every text box with the example "Hello!!", a dropdown with its first choice and a slider with its minimum, so
the generated snippet read ``client.predict("Hello!!", "ace_Arab", ..., max_new_tokens=1)``; here the example is the
component's own value (a Spanish sentence, spa_Latn → ita_Latn, the default decoding) or one given.

These are plain Gradio components with their API description replaced on the instance, not subclasses: Gradio's
component metaclass writes a ``.pyi`` stub beside the module of every subclass when it is imported.

The components' labels are ``gr.I18n`` keys, which the page translates in the browser; Gradio copies them into the
API description as they are, so the API page named every parameter by i18n metadata (``__i18n__{...}``).
:func:`english_api_labels` gives the API description (the API page, ``/gradio_api/info``, ``gradio_client`` and the
MCP server, which all read ``Blocks.get_api_info``) the English text instead.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import gradio as gr

from .i18n import TEXTS

I18N_PREFIX = "__i18n__"
"""How Gradio writes an I18n key as text (``gradio.i18n.I18nData.__str__``)."""
SAMPLE_TEXT = "El gato duerme en el sofá."
"""The API page's example sentence where a text box starts empty."""
MODEL_NOTE = ("'base', or an adapter: a branch, tag or commit sha of the Space's adapter repo, or "
              "owner/name@revision for any public adapter repo")
LANGUAGE_NOTE = "a FLORES-200 code (spa_Latn, ita_Latn) or a language name in English, Spanish or its own language"


def open_dropdown(choices: list | None = None, *, api_note: str, **kwargs: Any) -> gr.Dropdown:
    """A dropdown that also takes values it does not list; on the API page, a string described by ``api_note``."""
    dropdown = gr.Dropdown(choices, allow_custom_value=True, **kwargs)
    # "additional_description" is the key the API page shows; MCP's tool schema reads it too.
    dropdown.api_info = lambda: {"type": "string", "description": api_note, "additional_description": api_note}
    return _example(dropdown, lambda: dropdown.value)


def example_textbox(value: str | None = None, *, api_example: str | None = None, **kwargs: Any) -> gr.Textbox:
    """A text box whose API example is ``api_example`` (else its value, else :data:`SAMPLE_TEXT`)."""
    textbox = gr.Textbox(value, **kwargs)
    return _example(textbox, lambda: api_example if api_example is not None else (
        textbox.value if isinstance(textbox.value, str) and textbox.value else SAMPLE_TEXT))


def example_slider(minimum: float, maximum: float, **kwargs: Any) -> gr.Slider:
    """A slider whose API example is its value (the default), not its minimum.

    Its value reaches the handler as sent: Gradio's own check of a slider's value fails on what API callers send for
    an optional number (``None``, ``"4"``) and, with ``show_error=False``, says nothing. The handlers read it
    (``handler_inputs.whole_number``/``number``: ``None`` is the default) and the engine checks its limits, each with
    a message that names the field."""
    slider = gr.Slider(minimum, maximum, **kwargs)
    slider.preprocess = lambda payload: payload
    return _example(slider, lambda: slider.value)


def _example(component, example):
    component.example_payload = component.example_value = example
    return component


def english_api_labels(demo: gr.Blocks) -> None:
    """Make ``demo``'s API description name each parameter and return value by its English label, not by its
    translation key; the page keeps its translated labels. Call before ``launch()``: the MCP server reads the
    description once, when it starts."""
    describe = demo.get_api_info

    @functools.wraps(describe)  # keeps its signature: Gradio checks it for a ``page`` parameter
    def get_api_info(*args: Any, **kwargs: Any):
        info = describe(*args, **kwargs)
        for endpoints in (info.get("named_endpoints", {}), info.get("unnamed_endpoints", {})):
            for endpoint in endpoints.values():
                for item in (*endpoint.get("parameters", ()), *endpoint.get("returns", ())):
                    item["label"] = english(item.get("label"))
        return info

    demo.get_api_info = get_api_info


def english(label: Any) -> Any:
    """A label as the API page shows it: an I18n key becomes its English text (anything else is kept)."""
    key = None
    if isinstance(label, gr.i18n.I18nData):
        key = label.key
    elif isinstance(label, str) and label.startswith(I18N_PREFIX):  # the form it takes once serialized
        try:
            key = json.loads(label[len(I18N_PREFIX):]).get("key")
        except (ValueError, AttributeError):
            return label
    if key is None:
        return label
    return TEXTS[key][0] if key in TEXTS else key
