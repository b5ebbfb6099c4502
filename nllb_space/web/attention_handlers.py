"""The Attention tab: what its buttons do, and what each returns, by name (see web/translate_handlers.py)."""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from ..errors import InputError
from ..model.attention import word_alignment
from ..results import BASE, Translation
from ..service.request_limits import languages
from .attention_plots import alignment_figure, attention_figure, head_grid_figure
from .handler_inputs import MEAN, decoding_options, map_index, mean_choice, model_spec, model_work, user_errors
from .i18n import visitor_language
from .markdown import code
from .messages import say
from .session_views import AttentionView

EXPLANATIONS = {
    "en": {
        "cross": "**Cross-attention** is how the decoder reads the source. While predicting each target token (a "
                 "row), its query (Q) is compared with the key (K) of every encoder output (the columns), and it "
                 "takes a weighted mix of their values (V). A bright cell is the source token it looked at to write "
                 "that word; in a good translation the bright cells often follow the word alignment.",
        "encoder": "**Encoder self-attention**: every source token (a row) looks at every source token (the "
                   "columns), in both directions, to build its meaning in context. Heads specialise (one reads the "
                   "next token, one the word a pronoun refers to); the mean over heads hides that, so pick single "
                   "heads or read the grid of heads below.",
        "decoder": "**Decoder self-attention**: while predicting each token (a row), the decoder looks back at the "
                   "tokens it has already written (the columns). Grey cells are masked: the causal mask hides the "
                   "future, so a position only ever sees what comes before it, which is what lets the decoder "
                   "write one token at a time.",
        "shift": "Rows are named by the token being predicted: the decoder's input is the translation shifted right "
                 "by one, starting with ⟨/s⟩ and the language tag. Each row sums to 100%.",
        "rows": "Each row sums to 100%.",
        "labels": "Grey ⟨…⟩ labels are language tags and end-of-sentence; ·piece continues the previous word.",
        "difference": "The second map is the adapter's attention weight minus the base model's on the same pair, "
                      "in percentage points (red: the adapter looks there more).",
        "by": "by",
    },
    "es": {
        "cross": "La **atención cruzada** es cómo el decodificador lee el origen. Al predecir cada token de destino "
                 "(una fila), su consulta (Q) se compara con la clave (K) de cada salida del codificador (las "
                 "columnas) y toma una mezcla ponderada de sus valores (V). Una celda clara es el token de origen "
                 "que miró para escribir esa palabra; en una buena traducción suele seguir la alineación de palabras.",
        "encoder": "**Autoatención del codificador**: cada token de origen (una fila) mira a todos los tokens de "
                   "origen (las columnas), en ambas direcciones, para construir su significado en contexto. Las "
                   "cabezas se especializan (una lee el token siguiente, otra la palabra a la que remite un "
                   "pronombre); la media lo oculta, así que elige cabezas sueltas o mira la cuadrícula de abajo.",
        "decoder": "**Autoatención del decodificador**: al predecir cada token (una fila), el decodificador mira los "
                   "tokens que ya ha escrito (las columnas). Las celdas grises están enmascaradas: la máscara causal "
                   "oculta el futuro, así que una posición solo ve lo anterior, y por eso el decodificador escribe "
                   "un token cada vez.",
        "shift": "Cada fila lleva el nombre del token que se predice: la entrada del decodificador es la traducción "
                 "desplazada una posición, empezando por ⟨/s⟩ y la etiqueta de idioma. Cada fila suma 100%.",
        "rows": "Cada fila suma 100%.",
        "labels": "Las etiquetas grises ⟨…⟩ son etiquetas de idioma y fin de oración; ·pieza continúa la palabra "
                  "anterior.",
        "difference": "El segundo mapa es el peso de atención del adaptador menos el del modelo base en el mismo par, "
                      "en puntos porcentuales (rojo: el adaptador mira más ahí).",
        "by": "por",
    },
}
"""Two or three lines per kind of map, matched to the course notes' encoder, decoder, Q/K/V and causal mask."""


class AttentionShown(NamedTuple):
    attention_target: str
    """The translation the maps are of (the model's own, or the one given)."""
    heatmap: Any
    """The mean cross-attention figure."""
    attention_view: str
    """The key of the maps kept on the server (the session's state holds only this)."""
    alignment_plot: Any
    """Lines from each target word to the source words it reads most."""
    attention_data: dict
    """Plain JSON: the tokens, the mean cross-attention weights, and the word alignment."""


class MapControls(NamedTuple):
    layer: Any
    head: Any


class MapViews(NamedTuple):
    heatmap: Any
    difference: Any
    """The "LoRA minus base" figure, visible only for an adapter."""
    attention_caption: str
    head_grid: Any
    """Every layer's and head's map of the chosen kind, as small tiles."""


class ReusedPair(NamedTuple):
    attention_text: str
    attention_pair: str
    attention_model: str


class AttentionHandlers:
    """The Attention tab (mixed into ``Handlers``, which holds ``engine``, ``settings`` and ``views``)."""

    @user_errors
    @model_work
    def attention(self, text: str, src_lang: str, tgt_lang: str, model: str = BASE,
                  translation: str | None = None, num_beams: int | None = None, max_new_tokens: int | None = None,
                  last_translation: Translation | None = None, request: gr.Request = None) -> AttentionShown:
        """Attention inside NLLB for one sentence and its translation: the maps, and which source words each target
        word reads most.

        Args:
            text: one sentence to translate.
            src_lang: its language: a FLORES-200 code such as spa_Latn, or a name such as Spanish.
            tgt_lang: the language to translate into, e.g. ita_Latn.
            model: 'base', or an adapter: a revision of the Space's adapter repo, or owner/name@revision.
            translation: optional, the translation to look at; empty means the model's own, with these options.
            num_beams: beam size of the model's own translation; 1 is greedy decoding.
            max_new_tokens: the most tokens the model's own translation may have.

        Returns:
            The translation shown, the mean cross-attention figure, the word-alignment figure, and the numbers as a
            dict: source_tokens, target_tokens, cross_attention_mean (target × source), layers, heads, alignment.
        """
        model = model_spec(model)
        also = [] if model.lower() == BASE else [BASE]
        if not translation:
            translation = self._shown_translation(text, src_lang, tgt_lang, model, last_translation)
        maps = self.engine.attention(text, src_lang, tgt_lang, model=model, translation=translation, also=also,
                                     **decoding_options(num_beams, max_new_tokens))
        view = AttentionView(maps[0], maps[0].minus(maps[1]) if also else None)
        alignment = word_alignment(maps[0])
        data = {
            "source_tokens": [t.text for t in maps[0].source_tokens],
            "target_tokens": [t.text for t in maps[0].target_tokens],
            "cross_attention_mean": maps[0].cross.mean(axis=(0, 1)).round(4).tolist(),
            "layers": int(maps[0].cross.shape[0]), "heads": int(maps[0].cross.shape[1]),
            "alignment": alignment.to_json(),
        }
        language = visitor_language(request)
        return AttentionShown(
            maps[0].target_text, attention_figure(view.maps, "cross", language=language), self.views.put(view),
            alignment_figure(alignment, say("alignment_title", language, model=maps[0].model.label)), data,
        )

    def _shown_translation(self, text: str, src_lang: str, tgt_lang: str, model: str,
                           last: Translation | None) -> str | None:
        """What this visitor's Translate tab showed for this sentence by this model, if it did: the maps are then of
        the very translation the visitor read (else the engine translates it with the visitor's options)."""
        if last is None or last.model.spec != model:
            return None
        try:
            if (last.src_lang, last.tgt_lang) != languages(self.settings, src_lang, tgt_lang):
                return None
        except InputError:
            return None  # the engine says what is wrong with the languages
        return next((pair.target for pair in last.sentences if pair.source == (text or "").strip()), None)

    def attention_controls(self, key: str | None, kind: str, layer: str, head: str,
                           request: gr.Request = None) -> MapControls:
        """Layer and head choices for this kind of map (the selection is kept when this map has it, else "mean").

        Separate from ``attention_views`` so that redrawing never rewrites a dropdown the visitor just changed.
        """
        view = self.views.get(key)
        if view is None:
            return MapControls(gr.update(), gr.update())
        layers, heads = view.maps.weights(kind).shape[:2]
        layer_i, head_i = map_index(layer, layers), map_index(head, heads)
        language = visitor_language(request)
        layer_choices = mean_choice("layers", language) + [(say("layer_n", language, n=i + 1), str(i))
                                                           for i in range(layers)]
        head_choices = mean_choice("heads", language) + [(say("head_n", language, n=i + 1), str(i))
                                                         for i in range(heads)]
        return MapControls(gr.update(choices=layer_choices, value=MEAN if layer_i is None else str(layer_i)),
                           gr.update(choices=head_choices, value=MEAN if head_i is None else str(head_i)))

    def attention_views(self, key: str | None, kind: str, layer: str, head: str,
                        request: gr.Request = None) -> MapViews:
        """The heatmap and the "LoRA minus base" heatmap for the chosen kind, layer and head (``"mean"`` averages)."""
        view = self.views.get(key)
        if view is None:
            expired = say("view_expired", visitor_language(request), capacity=self.views.capacity) if key else ""
            return MapViews(None, gr.update(visible=False), expired, None)
        layers, heads = view.maps.weights(kind).shape[:2]
        layer_i, head_i = map_index(layer, layers), map_index(head, heads)
        language = visitor_language(request)
        figure = attention_figure(view.maps, kind, layer_i, head_i, language=language)
        if view.difference is not None:
            difference = gr.update(value=attention_figure(view.difference, kind, layer_i, head_i, difference_of=BASE,
                                                          language=language), visible=True)
        else:
            difference = gr.update(value=None, visible=False)
        explain = EXPLANATIONS[language]
        caption = (
            f"{explain[kind]}\n\n{code(view.maps.source_text)} → {code(view.maps.target_text)} {explain['by']} "
            f"{code(view.maps.model.label)}. " + (explain["shift"] if kind != "encoder" else explain["rows"])
            + " " + explain["labels"]
        )
        if view.difference is not None:
            caption += " " + explain["difference"]
        return MapViews(figure, difference, caption, head_grid_figure(view.maps, kind, language))

    def reuse_translation(self, last: Translation | None, request: gr.Request = None) -> ReusedPair:
        """The last translation of this session as an attention pair: (source sentence, its translation, model)."""
        language = visitor_language(request)
        if last is None or not last.sentences:
            raise gr.Error(say("translate_first", language), print_exception=False)
        pair = last.sentences[0]
        if len(last.sentences) > 1:
            gr.Info(say("first_sentence", language))
        return ReusedPair(pair.source, pair.target, last.model.spec)
