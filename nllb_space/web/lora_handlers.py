"""The "What LoRA changed" tab: where the adapter changed the model, and why a word changed.

Each handler returns the figure, a few lines that say what to look at, and the same numbers as plain JSON (the
API's named endpoints ``/update_map`` and ``/token_probabilities`` return those too).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gradio as gr

from ..results import BASE
from .handler_inputs import model_spec, model_work, user_errors
from .i18n import block_name, visitor_language
from .lora_plots import token_probs_figure, update_map_figure
from .markdown import code, escape
from .messages import say


class UpdateShown(NamedTuple):
    update_plot: Any
    update_summary: str
    update_data: dict
    """rank, alpha, scale, adapted modules, parameters and ``relative_update[block][layer][i]`` (``columns``)."""


class TokensShown(NamedTuple):
    token_plot: Any
    token_summary: str
    token_data: dict
    """Per target token: its probability under base and LoRA, the change, each model's top alternatives."""


SUMMARIES = {
    "en": {
        "update": "**{label}**: rank r = {r}, alpha = {alpha}, so each update is ΔW = {scale}·B·A{rs}. It adapts "
                  "{adapted}: {trainable} trainable parameters beside {total} frozen ones ({share}).",
        "largest": "The largest update is in the {block} of layer {layer}, {projection}: {value} of that weight's "
                   "size. Grey cells are modules the adapter leaves alone (not adapted); the feed-forward blocks "
                   "(fc1, fc2) transform each position, the attention blocks mix them.",
        "read": "Both models read {source} and are given {target} one token at a time; the bars are how likely each "
                "finds the next token.",
        "step": "▼ token {i} {token}: base {base} → LoRA {lora}. Base would write {base_pick} ({base_p}), LoRA "
                "{lora_pick} ({lora_p}).",
        "none": "No token's probability moved by five points or more: here the adapter barely changes the model's "
                "mind.",
    },
    "es": {
        "update": "**{label}**: rango r = {r}, alpha = {alpha}, así que cada cambio es ΔW = {scale}·B·A{rs}. Adapta "
                  "{adapted}: {trainable} parámetros entrenables junto a {total} congelados ({share}).",
        "largest": "El mayor cambio está en la {block} de la capa {layer}, {projection}: {value} del tamaño de ese "
                   "peso. Las celdas grises son módulos que el adaptador no toca (no adaptados); la red feed-forward "
                   "(fc1, fc2) transforma cada posición, la atención las mezcla.",
        "read": "Ambos modelos leen {source} y reciben {target} token a token; las barras son la probabilidad que "
                "cada uno da al token siguiente.",
        "step": "▼ token {i} {token}: base {base} → LoRA {lora}. La base escribiría {base_pick} ({base_p}), LoRA "
                "{lora_pick} ({lora_p}).",
        "none": "Ningún token cambió su probabilidad en cinco puntos o más: aquí el adaptador apenas cambia la "
                "opinión del modelo.",
    },
}
"""What the tab says about a result, per visitor language (i18n.visitor_language)."""


class LoraHandlers:
    """The "What LoRA changed" tab (mixed into ``Handlers``, which holds ``engine``)."""

    @user_errors
    @model_work
    def update_map(self, model: str, request: gr.Request = None) -> UpdateShown:
        """Where a LoRA adapter changed NLLB: the size of its update next to the weight it adds to,
        ‖(alpha/r)·B·A‖ / ‖W‖, for every layer and module (attention q, k, v, out; feed-forward fc1, fc2), read from
        the adapter's tensors.

        Args:
            model: the adapter: a revision of the Space's adapter repo, or owner/name@revision.

        Returns:
            The figure, a short summary, and the numbers as a dict: r, alpha, scale, the adapted modules,
            trainable and total parameters, blocks, each block's columns, and relative_update[block][layer][i] for
            module columns[block][i] (null where the adapter does not adapt it).
        """
        update = self.engine.update_map(model_spec(model))
        language = visitor_language(request)
        words = SUMMARIES[language]
        share = update.trainable / update.total if update.total else 0.0
        lines = [words["update"].format(
            label=code(update.label), r=update.r, alpha=f"{update.alpha:g}", scale=f"{update.scale:g}",
            rs=" (rsLoRA: alpha/√r)" if update.use_rslora else "",
            adapted=", ".join(code(p) for p in update.adapted), trainable=f"{update.trainable:,}",
            total=f"{update.total:,}", share=f"{share:.2%}")]
        largest = update.largest()
        if largest:
            block, layer, projection, value = largest
            lines.append(words["largest"].format(block=escape(block_name(block, language).lower()), layer=layer + 1,
                                               projection=code(projection), value=f"{value:.2%}"))
        title = say("update_title", language, label=update.label)
        return UpdateShown(update_map_figure(update, title, language), "\n\n".join(lines), update.to_json())

    @user_errors
    @model_work
    def token_probabilities(self, text: str, src_lang: str, tgt_lang: str, model: str = BASE,
                            translation: str | None = None, request: gr.Request = None) -> TokensShown:
        """Why a word changed: how likely the base model and the adapter find each token of one translation, both
        reading the same tokens before it (teacher forcing), with each model's top alternatives.

        Args:
            text: one sentence to translate.
            src_lang: its language: a FLORES-200 code such as spa_Latn, or a name such as Spanish.
            tgt_lang: the language to translate into, e.g. ita_Latn.
            model: the adapter: a revision of the Space's adapter repo, or owner/name@revision.
            translation: optional, the translation to score; empty means the adapter's own greedy translation.

        Returns:
            The figure, a short summary of the biggest changes, and per token as a dict: its probability under base
            and LoRA, the change, and each model's top alternatives.
        """
        result = self.engine.token_probabilities(text, src_lang, tgt_lang, model=model_spec(model),
                                                 translation=translation or None)
        marked = result.most_changed()
        language = visitor_language(request)
        words = SUMMARIES[language]
        lines = [words["read"].format(source=code(result.source_text), target=code(result.target_text))]
        for i in marked:
            step = result.steps[i]
            base_pick, lora_pick = step.base_top[0], step.lora_top[0]
            lines.append(words["step"].format(
                i=i + 1, token=code(step.token), base=f"{step.base_probability:.1%}",
                lora=f"{step.lora_probability:.1%}", base_pick=code(base_pick.token),
                base_p=f"{base_pick.probability:.1%}", lora_pick=code(lora_pick.token),
                lora_p=f"{lora_pick.probability:.1%}"))
        if not marked:
            lines.append(words["none"])
        title = say("tokens_title", language, base=result.labels[0], lora=result.labels[1])
        return TokensShown(token_probs_figure(result, title, language), "\n\n".join(lines), result.to_json())
