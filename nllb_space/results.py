"""Plain results the engine hands to the UI: no torch, no gradio; numpy arrays at most."""

from __future__ import annotations

from dataclasses import dataclass

from .hub.model_choice import BASE, ModelChoice


@dataclass(frozen=True)
class ModelRef:
    """One model the engine can run: the base, or the base plus one LoRA adapter at one commit."""

    adapter_name: str
    """PEFT adapter name, or ``"__base__"`` for the base model (PEFT's name in mixed batches)."""
    repo: str | None = None
    """Hub repo id or local directory of the adapter; ``None`` for the base model."""
    revision: str | None = None
    """The branch, tag or sha the user asked for."""
    sha: str | None = None
    """The commit the revision resolved to (for a local directory: a digest of its files)."""

    @property
    def is_base(self) -> bool:
        return self.repo is None

    @property
    def spec(self) -> str:
        """What a model picker sends to choose this model again: ``base`` or ``repo@revision``."""
        return ModelChoice(self.repo, self.revision).spec

    @property
    def label(self) -> str:
        """Short human-readable name: ``base`` or ``owner/name@v1 (1a2b3c4)``."""
        if self.is_base:
            return BASE
        short = (self.sha or "")[:7]
        return f"{self.repo}@{self.revision} ({short})" if self.revision != self.sha else f"{self.repo}@{short}"


BASE_MODEL = ModelRef(adapter_name="__base__")


@dataclass(frozen=True)
class SentencePair:
    source: str
    target: str


@dataclass(frozen=True)
class Translation:
    """A text translated by one model, in the input's layout."""

    text: str
    """The translation, with the input's paragraphs, line breaks and spacing."""
    sentences: tuple[SentencePair, ...]
    """Each piece that went through the model and what it became, in input order."""
    model: ModelRef
    src_lang: str
    tgt_lang: str
    num_beams: int
    max_new_tokens: int
    seconds: float
    """Wall time of the model work for this text (for a batched compare: the shared batch's time)."""
    new_tokens: int
    """Tokens generated, summed over sentences (language tag and ``</s>`` excluded)."""
    adapter_scale: float = 1.0
    """How strongly the adapter applied its update (0: the base model, 1: as trained)."""
    stopped_at_limit: int = 0
    """Sentences that used every token ``max_new_tokens`` allows: most likely cut off."""


@dataclass(frozen=True)
class Comparison:
    """The same input through two models with the same decoding."""

    left: Translation
    right: Translation
    batched: bool
    """True when both ran in ONE generate call (PEFT mixed-adapter batch); their ``seconds`` are then shared."""
    seconds: float
    """Wall time of the whole comparison."""


@dataclass(frozen=True)
class RowTranslations:
    """Many short texts (a file's rows) through one or more models, in shared batches."""

    models: tuple[ModelRef, ...]
    outputs: tuple[tuple[str, ...], ...]
    """``outputs[model][row]``: each row's translation in its own layout; an empty row stays empty."""
    seconds: float


@dataclass(frozen=True)
class EngineStatus:
    """What is live: shown on the page so users know which commit answered."""

    base_model: str
    device: str
    dtype: str
    loaded: bool
    adapters: tuple[ModelRef, ...]
    """Adapter revisions loaded now, most recently used last."""
    default_adapter: ModelRef | None
    """The configured ``NLLB_ADAPTER_REPO`` at ``NLLB_ADAPTER_REVISION``, once loaded."""
