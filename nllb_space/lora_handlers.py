"""The "What LoRA changed" tab: where the adapter changed the model, and why a word changed.

Each handler returns the figure, a few lines that say what to look at, and the same numbers as plain JSON (the
API's named endpoints ``/update_map`` and ``/token_probabilities`` return those too).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .formatting import code, escape
from .handler_inputs import model_spec, user_errors
from .lora_plots import token_probs_figure, update_map_figure
from .results import BASE


class UpdateShown(NamedTuple):
    update_plot: Any
    update_summary: str
    update_data: dict
    """rank, alpha, scale, adapted projections, parameters and ``relative_update[block][layer][projection]``."""


class TokensShown(NamedTuple):
    token_plot: Any
    token_summary: str
    token_data: dict
    """Per target token: its probability under base and LoRA, the change, each model's top alternatives."""


class LoraHandlers:
    """The "What LoRA changed" tab (mixed into ``Handlers``, which holds ``engine``)."""

    @user_errors
    def update_map(self, model: str) -> UpdateShown:
        """How big the adapter's update is in every attention projection, relative to the weight it adds to:
        ‖(alpha/r)·B·A‖ / ‖W‖, read from the adapter's tensors (no translation needed)."""
        update = self.engine.update_map(model_spec(model))
        ref, _ = self.engine.describe(model_spec(model))
        share = 100 * update.trainable / update.total if update.total else 0.0
        lines = [
            f"**{code(ref.label)}**: rank r = {update.r}, alpha = {update.alpha:g}, so each update is "
            f"ΔW = {update.scale:g}·B·A{' (rsLoRA: alpha/√r)' if update.use_rslora else ''}. It adapts "
            f"{', '.join(code(p) for p in update.adapted)}: {update.trainable:,} trainable parameters beside "
            f"{update.total:,} frozen ones ({share:.2f}%).",
        ]
        largest = update.largest()
        if largest:
            block, layer, projection, value = largest
            lines.append(f"The largest update is in the {escape(block)} of layer {layer + 1}, "
                         f"{code(projection)}: {value:.2%} of that weight's size. Empty cells are layers the adapter "
                         "leaves alone.")
        title = f"Where {ref.label} changed the model: ‖ΔW‖ / ‖W‖ per layer and projection"
        return UpdateShown(update_map_figure(update, title), "\n\n".join(lines), update.to_json())

    @user_errors
    def token_probabilities(self, text: str, src_lang: str, tgt_lang: str, model: str = BASE,
                            translation: str | None = None) -> TokensShown:
        """How likely the base model and ``model`` find each token of one translation of ``text`` (the
        adapter's own greedy one, or ``translation``), both reading the same tokens before it."""
        result = self.engine.token_probabilities(text, src_lang, tgt_lang, model=model_spec(model),
                                                 translation=translation or None)
        marked = result.most_changed()
        lines = [f"Both models read {code(result.source_text)} and are given {code(result.target_text)} one token "
                 "at a time; the bars are how likely each finds the next token."]
        for i in marked:
            step = result.steps[i]
            base_pick, lora_pick = step.base_top[0], step.lora_top[0]
            lines.append(
                f"▼ token {i + 1} {code(step.token)}: base {step.base_probability:.1%} → LoRA "
                f"{step.lora_probability:.1%}. Base would write {code(base_pick.token)} "
                f"({base_pick.probability:.1%}), LoRA {code(lora_pick.token)} ({lora_pick.probability:.1%})."
            )
        if not marked:
            lines.append("No token's probability moved by five points or more: here the adapter barely changes "
                         "the model's mind.")
        title = f"Why a word changed: {result.labels[0]} vs {result.labels[1]}"
        return TokensShown(token_probs_figure(result, title), "\n\n".join(lines), result.to_json())
