"""The Attention tab: what its buttons do, and what each returns, by name (see translate_handlers.py)."""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from .formatting import code
from .handler_inputs import MEAN, map_index, model_spec, user_errors
from .plots import attention_figure
from .results import BASE, Translation
from .view_store import AttentionView


class AttentionShown(NamedTuple):
    attention_target: str
    """The translation the maps are of (the model's own, or the one given)."""
    heatmap: Any
    """The mean cross-attention figure."""
    attention_view: str
    """The key of the maps kept on the server (the session's state holds only this)."""


class MapControls(NamedTuple):
    layer: Any
    head: Any


class MapViews(NamedTuple):
    heatmap: Any
    difference: Any
    """The "LoRA minus base" figure, visible only for an adapter."""
    attention_caption: str


class ReusedPair(NamedTuple):
    attention_text: str
    attention_pair: str
    attention_model: str


class AttentionHandlers:
    """The Attention tab (mixed into ``Handlers``, which holds ``engine``, ``settings`` and ``views``)."""

    @user_errors
    def attention(self, text: str, src_lang: str, tgt_lang: str, model: str = BASE,
                  translation: str | None = None) -> AttentionShown:
        """Attention maps of ``model`` for ``text`` and its translation (the model's own greedy one, or
        ``translation`` when given)."""
        model = model_spec(model)
        also = [] if model.lower() == BASE else [BASE]
        maps = self.engine.attention(text, src_lang, tgt_lang, model=model, translation=translation or None,
                                     also=also)
        view = AttentionView(maps[0], maps[0].minus(maps[1]) if also else None)
        return AttentionShown(maps[0].target_text, attention_figure(view.maps, "cross"), self.views.put(view))

    def attention_controls(self, key: str | None, kind: str, layer: str, head: str) -> MapControls:
        """Layer and head choices for this kind of map (the selection is kept when this map has it, else "mean").

        Separate from ``attention_views`` so that redrawing never rewrites a dropdown the visitor just changed.
        """
        view = self.views.get(key)
        if view is None:
            return MapControls(gr.update(), gr.update())
        layers, heads = view.maps.weights(kind).shape[:2]
        layer_i, head_i = map_index(layer, layers), map_index(head, heads)
        layer_choices = [("mean over layers", MEAN)] + [(f"layer {i + 1}", str(i)) for i in range(layers)]
        head_choices = [("mean over heads", MEAN)] + [(f"head {i + 1}", str(i)) for i in range(heads)]
        return MapControls(gr.update(choices=layer_choices, value=MEAN if layer_i is None else str(layer_i)),
                           gr.update(choices=head_choices, value=MEAN if head_i is None else str(head_i)))

    def attention_views(self, key: str | None, kind: str, layer: str, head: str) -> MapViews:
        """The heatmap and the "LoRA minus base" heatmap for the chosen kind, layer and head (``"mean"`` averages)."""
        view = self.views.get(key)
        if view is None:
            expired = ("This view is no longer kept (the Space keeps the last "
                       f"{self.views.capacity} attention views): press Show attention again." if key else "")
            return MapViews(None, gr.update(visible=False), expired)
        layers, heads = view.maps.weights(kind).shape[:2]
        layer_i, head_i = map_index(layer, layers), map_index(head, heads)
        figure = attention_figure(view.maps, kind, layer_i, head_i)
        if view.difference is not None:
            difference = gr.update(value=attention_figure(view.difference, kind, layer_i, head_i, difference_of=BASE),
                                   visible=True)
        else:
            difference = gr.update(value=None, visible=False)
        caption = (
            f"{code(view.maps.source_text)} → {code(view.maps.target_text)} by {code(view.maps.model.label)}. "
            "Rows are the positions that attend, columns what they attend to; each row sums to 1. "
            "Grey ⟨…⟩ labels are language tags and end-of-sentence; ·piece continues the previous word."
        )
        if view.difference is not None:
            caption += " The second map is the adapter's weights minus the base model's on the same pair (red: more)."
        return MapViews(figure, difference, caption)

    def reuse_translation(self, last: Translation | None) -> ReusedPair:
        """The last translation of this session as an attention pair: (source sentence, its translation, model)."""
        if last is None or not last.sentences:
            raise gr.Error("Translate something in the Translate tab first.", print_exception=False)
        pair = last.sentences[0]
        if len(last.sentences) > 1:
            gr.Info("The attention view takes one sentence: using the first one of the last translation.")
        return ReusedPair(pair.source, pair.target, last.model.spec)
