"""Components whose entry on the API page (and in the MCP tools' schemas) says what the endpoint really takes.

Written by hand because Gradio types a dropdown's value as a ``Literal`` of its choices, even with
``allow_custom_value=True``: the model pickers take any revision (a branch, tag or sha, or owner/name@revision) and the
language pickers any of 202 codes or names, so on the API page they are strings with a description. Gradio also
shows every text box with the example "Hello!!", a dropdown with its first choice and a slider with its minimum, so
the generated snippet read ``client.predict("Hello!!", "ace_Arab", ..., max_new_tokens=1)``; here the example is the
component's own value (a Spanish sentence, spa_Latn → ita_Latn, the default decoding) or one given.

These are plain Gradio components with their API description replaced on the instance, not subclasses: Gradio's
component metaclass writes a ``.pyi`` stub beside the module of every subclass when it is imported.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

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
    """A slider whose API example is its value (the default), not its minimum."""
    slider = gr.Slider(minimum, maximum, **kwargs)
    return _example(slider, lambda: slider.value)


def _example(component, example):
    component.example_payload = component.example_value = example
    return component
