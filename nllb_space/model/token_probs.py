"""Why a word changed: the probability the base model and the adapter give each token of the same translation.

Both models read the same source and are *teacher-forced* on the same target: at each position the decoder is
given the true previous tokens and says how likely it finds the next one. So the two columns are comparable token
by token, and where they differ most is where the adapter changed the model's mind; a Compare difference usually
starts there. Each model's top alternatives show what it would have written instead.
"""

from __future__ import annotations

from dataclasses import dataclass

MOST_CHANGED = 3
"""How many tokens the view marks as the ones the two models disagree on most."""
MIN_CHANGE = 0.05
"""A probability change below this is not marked (five percentage points)."""


@dataclass(frozen=True)
class Alternative:
    token: str
    probability: float


@dataclass(frozen=True)
class TokenStep:
    """One target token, as each model scores it."""

    token: str
    """The token the target has here (``</s>`` at the end: how sure each model is that the sentence ends)."""
    base_probability: float
    lora_probability: float
    base_top: tuple[Alternative, ...]
    """The base model's most likely tokens at this position."""
    lora_top: tuple[Alternative, ...]

    @property
    def change(self) -> float:
        """LoRA's probability minus the base's."""
        return self.lora_probability - self.base_probability


@dataclass(frozen=True)
class TokenComparison:
    """A sentence pair scored token by token by the base model and by one adapter."""

    source_text: str
    target_text: str
    labels: tuple[str, str]
    """(base, adapter) as the page names them."""
    steps: tuple[TokenStep, ...]

    def most_changed(self, count: int = MOST_CHANGED) -> list[int]:
        """Indexes of the steps whose probability changed most (at least :data:`MIN_CHANGE`), largest first."""
        ranked = sorted(range(len(self.steps)), key=lambda i: -abs(self.steps[i].change))
        return [i for i in ranked[:count] if abs(self.steps[i].change) >= MIN_CHANGE]

    def to_json(self) -> dict:
        """Plain JSON for the API: tokens and numbers."""
        return {
            "source": self.source_text, "target": self.target_text, "models": list(self.labels),
            "most_changed": self.most_changed(),
            "tokens": [
                {"token": s.token, "base": s.base_probability, "lora": s.lora_probability, "change": s.change,
                 "base_top": [[a.token, a.probability] for a in s.base_top],
                 "lora_top": [[a.token, a.probability] for a in s.lora_top]}
                for s in self.steps
            ],
        }


def comparison(source_text: str, target_text: str, labels: tuple[str, str], tokens: list[str],
               probabilities: tuple, top: tuple) -> TokenComparison:
    """Assemble a :class:`TokenComparison` from a model call's output: per model (base first), the probability of
    each target token and the ``(token, probability)`` alternatives at each position."""
    (base_p, lora_p), (base_top, lora_top) = probabilities, top
    steps = tuple(
        TokenStep(token, float(bp), float(lp), tuple(Alternative(t, float(p)) for t, p in bt),
                  tuple(Alternative(t, float(p)) for t, p in lt))
        for token, bp, lp, bt, lt in zip(tokens, base_p, lora_p, base_top, lora_top, strict=True)
    )
    return TokenComparison(source_text, target_text, labels, steps)
