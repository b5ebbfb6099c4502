"""Everything a Space owner can set, read once from the environment at start-up.

Each field documents its environment variable. ``Settings.from_env()`` validates every value and raises
``SettingsError`` naming the variable, so a typo fails the Space's start-up with a readable message instead of a
traceback deep inside a request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Mapping

from .text.languages import UnknownLanguageError, resolve_language
from .text.segment import DEFAULT_MAX_CHARS

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16", "int8")


class SettingsError(ValueError):
    """A setting has a value the app cannot use; the message names the environment variable."""


@dataclass(frozen=True)
class Settings:
    """Configuration of the app and its engine. Defaults are the single source of truth for every knob."""

    base_model: str = "facebook/nllb-200-distilled-600M"
    """``NLLB_BASE_MODEL``: Hub id or local directory of the NLLB checkpoint (safetensors, or ``pytorch_model.bin``
    loaded as tensors only: the published checkpoint has nothing else on ``main``)."""
    base_revision: str = "main"
    """``NLLB_BASE_REVISION``: branch, tag, commit or ``refs/pr/N`` of a Hub ``base_model``; its safetensors are
    used when that revision has them (for NLLB-600M a bot's unmerged copy sits on ``refs/pr/45``)."""
    adapter_repo: str | None = None
    """``NLLB_ADAPTER_REPO``: Hub id or local directory of a LoRA adapter; unset serves the base model only."""
    adapter_revision: str = "main"
    """``NLLB_ADAPTER_REVISION``: branch, tag or commit sha of ``adapter_repo`` that is live at start-up."""
    src_lang: str = "spa_Latn"
    """``NLLB_SRC_LANG``: default source language (FLORES-200 code or English name)."""
    tgt_lang: str = "ita_Latn"
    """``NLLB_TGT_LANG``: default target language."""
    device: str = "auto"
    """``NLLB_DEVICE``: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    dtype: str = "auto"
    """``NLLB_DTYPE``: ``auto`` (bfloat16 or float16 on CUDA, int8 on CPU), ``float32``, ``bfloat16``, ``float16``
    or ``int8`` (CPU only: the frozen base's linear layers in int8, LoRA adapters in float32; see
    model/quantization.py)."""
    num_beams: int = 4
    """``NLLB_NUM_BEAMS``: default beam size (1 = greedy)."""
    max_beams: int = 8
    """``NLLB_MAX_BEAMS``: the largest beam size a request may ask for."""
    max_new_tokens: int = 256
    """``NLLB_MAX_NEW_TOKENS``: default and upper limit of tokens generated per sentence."""
    max_chars: int = 5_000
    """``NLLB_MAX_CHARS``: the longest text (in characters) one request may translate."""
    max_sentences: int = 64
    """``NLLB_MAX_SENTENCES``: the most sentences one request may hold after splitting."""
    max_sentence_chars: int = DEFAULT_MAX_CHARS
    """``NLLB_MAX_SENTENCE_CHARS``: sentences longer than this are split at commas or spaces before translation."""
    max_input_tokens: int = 200
    """``NLLB_MAX_INPUT_TOKENS``: pieces longer than this many tokens are split further (NLLB saw at most 512)."""
    restrict_vocab: bool = True
    """``NLLB_RESTRICT_VOCAB``: compute output logits only for tokens written in the target language's script (plus
    Latin and script-neutral ones): less work per generated token, the same output wherever the full model picks such
    a token, and a Latin-script target can no longer copy a word in another script; ``false`` keeps the full output
    layer (model/vocab.py)."""
    batch_size: int = 16
    """``NLLB_BATCH_SIZE``: sentences per ``generate`` call (on ZeroGPU also per GPU call, each sized to its batch)."""
    concurrency: int = 0
    """``NLLB_CONCURRENCY``: model requests served at once; ``0`` picks for the hardware (model/hardware.py):
    ``CPU_LANES`` (2) on a CPU, each a copy of the model (service/model_copies.py), so a newcomer never waits for
    another visitor's
    batch; 1 on a dedicated GPU; ``ZERO_GPU_CONCURRENCY`` on ZeroGPU (each call runs in a worker process of its own,
    on a GPU of its own)."""
    cpu_threads: int = 0
    """``NLLB_CPU_THREADS``: torch threads each model call uses on a CPU; ``0`` = the usable cores shared out among
    the model copies (``NLLB_CONCURRENCY``): 1 on a 2-vCPU Space with its two copies (model/hardware.py)."""
    max_file_bytes: int = 1_000_000
    """``NLLB_MAX_FILE_BYTES``: the largest uploaded file accepted."""
    max_job_sentences: int = 256
    """``NLLB_MAX_JOB_SENTENCES``: the most sentences one uploaded file may hold in all (its rows together); a job
    runs batch by batch, and other visitors' requests take turns with it between batches."""
    queue_size: int = 64
    """``NLLB_QUEUE_SIZE``: requests that may wait in the queue; beyond it a visitor is told the Space is busy."""
    file_ttl_s: float = 3600.0
    """``NLLB_FILE_TTL``: seconds result files and uploads are kept before the clean-up removes them."""
    upload_disk_mb: float = 1000.0
    """``NLLB_UPLOAD_DISK_MB``: disk all visitors' uploads may take together; beyond it an upload is refused (413)
    until the clean-up frees room (web/uploads.py)."""
    visitor_upload_mb: float = 50.0
    """``NLLB_VISITOR_UPLOAD_MB``: disk one visitor's (one client address's) uploads may take; beyond it that visitor's
    next upload is refused (413). At least ``NLLB_MAX_FILE_BYTES``."""
    upload_unused_s: float = 300.0
    """``NLLB_UPLOAD_UNUSED_TTL``: seconds an upload that no request has used is kept; one a request used stays for
    ``NLLB_FILE_TTL``."""
    adapter_disk_mb: float = 1000.0
    """``NLLB_ADAPTER_DISK_MB``: disk the Hub cache may give to adapters visitors typed (least recently used go
    first; the base model and ``NLLB_ADAPTER_REPO`` are never removed)."""
    max_rows: int = 200
    """``NLLB_MAX_ROWS``: the most rows of an uploaded file translated or scored in one request."""
    max_adapter_mb: float = 200.0
    """``NLLB_MAX_ADAPTER_MB``: the largest ``adapter_model.safetensors`` fetched, checked from the Hub's file
    metadata before downloading (an r=16 adapter of NLLB-600M is about 18 MB)."""
    visitor_requests: int = 2
    """``NLLB_VISITOR_REQUESTS``: model requests one visitor (one client address) may have in progress at once; one
    more is refused at once, so a visitor's many tabs never hold every request slot (visitors.py)."""
    max_adapter_rank: int = 256
    """``NLLB_MAX_ADAPTER_RANK``: the largest LoRA rank ``r`` served. The update map's and a model call's cost grow
    with ``r`` (r=8,000 took 21 s and 1.5 GB for one map); PEFT recipes rarely go above 256."""
    attention_views: int = 8
    """``NLLB_ATTENTION_VIEWS``: attention views the server keeps for redrawing, for all visitors together (oldest
    dropped first; each at most ~122 MB on NLLB-600M, see web/session_views.py)."""
    adapter_cache_size: int = 4
    """``NLLB_ADAPTER_CACHE_SIZE``: adapter revisions kept loaded at once (least recently used is evicted)."""
    revision_ttl_s: float = 60.0
    """``NLLB_REVISION_TTL``: seconds a branch or tag name stays resolved to its commit before asking the Hub again."""
    visitor_revisions: str = "auto"
    """``NLLB_VISITOR_REVISIONS``: which revisions of ``NLLB_ADAPTER_REPO`` visitors may list and run: ``all``,
    ``configured`` (``NLLB_ADAPTER_REVISION`` only), a comma-separated allow-list (the configured one is always in
    it), or ``auto``: ``configured`` for a private repo (or one whose privacy the Hub cannot tell at start-up),
    ``all`` for a public one."""
    allow_custom_repos: bool = True
    """``NLLB_ALLOW_CUSTOM_REPOS``: let visitors type another adapter repo id into the UI (``false`` locks it)."""
    allow_training: bool = True
    """``NLLB_ALLOW_TRAINING``: the Train tab. On ZeroGPU a run takes the visitor's own GPU quota; on a CPU it runs
    in a separate, low-priority process with a float32 copy of the model (a 3.7 GB peak for NLLB-600M while it runs)."""
    train_max_pairs: int = 200
    """``NLLB_TRAIN_MAX_PAIRS``: the most training pairs one run may paste or upload."""
    train_max_steps: int = 200
    """``NLLB_TRAIN_MAX_STEPS``: the most optimizer steps one run may ask for."""
    train_runs: int = 1
    """``NLLB_TRAIN_RUNS``: training runs at once, for all visitors together (one per visitor at any time)."""
    trained_ttl_s: float = 3600.0
    """``NLLB_TRAINED_TTL``: seconds a trained adapter is kept for the visitor who trained it."""
    trained_max: int = 8
    """``NLLB_TRAINED_MAX``: trained adapters kept on the server in all (two per visitor; the oldest go first)."""
    hf_token: str | None = field(default=None, repr=False)
    """``HF_TOKEN``: Hub token for private adapter repos and pushing; never logged or shown."""

    def __post_init__(self) -> None:
        for name in ("num_beams", "max_beams", "max_new_tokens", "max_chars", "max_sentences",
                     "max_sentence_chars", "max_input_tokens", "batch_size", "max_file_bytes", "max_rows",
                     "adapter_cache_size", "attention_views", "max_job_sentences", "queue_size", "max_adapter_rank",
                     "visitor_requests", "train_max_pairs", "train_max_steps", "train_runs", "trained_max"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{ENV_NAMES[name]} must be at least 1 (got {getattr(self, name)}).")
        if self.num_beams > self.max_beams:
            raise SettingsError(
                f"NLLB_NUM_BEAMS ({self.num_beams}) cannot exceed NLLB_MAX_BEAMS ({self.max_beams})."
            )
        if self.file_ttl_s <= 0 or self.adapter_disk_mb < 0:
            raise SettingsError("NLLB_FILE_TTL must be positive and NLLB_ADAPTER_DISK_MB at least 0.")
        if self.upload_unused_s <= 0:
            raise SettingsError(f"NLLB_UPLOAD_UNUSED_TTL must be positive (got {self.upload_unused_s}).")
        if self.visitor_upload_mb * 1_000_000 < self.max_file_bytes:
            raise SettingsError(
                f"NLLB_VISITOR_UPLOAD_MB ({self.visitor_upload_mb:g}) must hold at least one file of "
                f"NLLB_MAX_FILE_BYTES ({self.max_file_bytes:,} bytes).")
        if self.upload_disk_mb < self.visitor_upload_mb:
            raise SettingsError(f"NLLB_UPLOAD_DISK_MB ({self.upload_disk_mb:g}) cannot be less than "
                                f"NLLB_VISITOR_UPLOAD_MB ({self.visitor_upload_mb:g}).")
        if self.max_adapter_mb <= 0:
            raise SettingsError(f"NLLB_MAX_ADAPTER_MB must be positive (got {self.max_adapter_mb}).")
        if self.trained_ttl_s <= 0:
            raise SettingsError(f"NLLB_TRAINED_TTL must be positive (got {self.trained_ttl_s}).")
        if self.revision_ttl_s < 0:
            raise SettingsError(f"NLLB_REVISION_TTL must be >= 0 seconds (got {self.revision_ttl_s}).")
        if self.concurrency < 0:
            raise SettingsError(f"NLLB_CONCURRENCY must be 0 (automatic) or more (got {self.concurrency}).")
        if self.cpu_threads < 0:
            raise SettingsError(f"NLLB_CPU_THREADS must be 0 (automatic) or more (got {self.cpu_threads}).")
        if not self.base_revision.strip():
            raise SettingsError("NLLB_BASE_REVISION is empty: set it to a branch, tag or commit (default main).")
        if not self.visitor_revisions.strip():
            raise SettingsError("NLLB_VISITOR_REVISIONS is empty: set it to auto, all, configured or a list of "
                                "revisions.")
        if not self.base_model.strip():
            raise SettingsError("NLLB_BASE_MODEL is empty: set it to a Hub id or a local directory.")
        device_kind = self.device.split(":", 1)[0]
        if device_kind not in DEVICES or (":" in self.device and not self.device.split(":", 1)[1].isdigit()):
            raise SettingsError(f"NLLB_DEVICE={self.device!r} is not one of {', '.join(DEVICES)} or cuda:N.")
        if self.dtype not in DTYPES:
            raise SettingsError(f"NLLB_DTYPE={self.dtype!r} is not one of {', '.join(DTYPES)}.")
        for name in ("src_lang", "tgt_lang"):
            try:
                object.__setattr__(self, name, resolve_language(getattr(self, name)))
            except UnknownLanguageError as error:
                raise SettingsError(f"{ENV_NAMES[name]}: {error}") from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Read every ``ENV_NAMES`` variable that is set (and not empty); the rest keep their defaults."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(ENV_NAMES[f.name], "").strip()
            if raw:
                kind = str if f.default is None else type(f.default)
                values[f.name] = _parse(ENV_NAMES[f.name], raw, kind)
        return cls(**values)


ENV_NAMES: dict[str, str] = {
    "base_model": "NLLB_BASE_MODEL",
    "base_revision": "NLLB_BASE_REVISION",
    "adapter_repo": "NLLB_ADAPTER_REPO",
    "adapter_revision": "NLLB_ADAPTER_REVISION",
    "src_lang": "NLLB_SRC_LANG",
    "tgt_lang": "NLLB_TGT_LANG",
    "device": "NLLB_DEVICE",
    "dtype": "NLLB_DTYPE",
    "num_beams": "NLLB_NUM_BEAMS",
    "max_beams": "NLLB_MAX_BEAMS",
    "max_new_tokens": "NLLB_MAX_NEW_TOKENS",
    "max_chars": "NLLB_MAX_CHARS",
    "max_sentences": "NLLB_MAX_SENTENCES",
    "max_sentence_chars": "NLLB_MAX_SENTENCE_CHARS",
    "max_input_tokens": "NLLB_MAX_INPUT_TOKENS",
    "restrict_vocab": "NLLB_RESTRICT_VOCAB",
    "batch_size": "NLLB_BATCH_SIZE",
    "concurrency": "NLLB_CONCURRENCY",
    "cpu_threads": "NLLB_CPU_THREADS",
    "max_file_bytes": "NLLB_MAX_FILE_BYTES",
    "max_job_sentences": "NLLB_MAX_JOB_SENTENCES",
    "queue_size": "NLLB_QUEUE_SIZE",
    "file_ttl_s": "NLLB_FILE_TTL",
    "upload_disk_mb": "NLLB_UPLOAD_DISK_MB",
    "visitor_upload_mb": "NLLB_VISITOR_UPLOAD_MB",
    "upload_unused_s": "NLLB_UPLOAD_UNUSED_TTL",
    "adapter_disk_mb": "NLLB_ADAPTER_DISK_MB",
    "max_rows": "NLLB_MAX_ROWS",
    "max_adapter_mb": "NLLB_MAX_ADAPTER_MB",
    "max_adapter_rank": "NLLB_MAX_ADAPTER_RANK",
    "visitor_requests": "NLLB_VISITOR_REQUESTS",
    "attention_views": "NLLB_ATTENTION_VIEWS",
    "adapter_cache_size": "NLLB_ADAPTER_CACHE_SIZE",
    "revision_ttl_s": "NLLB_REVISION_TTL",
    "allow_custom_repos": "NLLB_ALLOW_CUSTOM_REPOS",
    "visitor_revisions": "NLLB_VISITOR_REVISIONS",
    "allow_training": "NLLB_ALLOW_TRAINING",
    "train_max_pairs": "NLLB_TRAIN_MAX_PAIRS",
    "train_max_steps": "NLLB_TRAIN_MAX_STEPS",
    "train_runs": "NLLB_TRAIN_RUNS",
    "trained_ttl_s": "NLLB_TRAINED_TTL",
    "trained_max": "NLLB_TRAINED_MAX",
    "hf_token": "HF_TOKEN",
}


def _parse(variable: str, raw: str, kind: type) -> object:
    """Convert one environment value to the field's type, naming the variable when it cannot."""
    if kind is bool:
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{variable}={raw!r} is not a boolean: use true or false.")
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise SettingsError(f"{variable}={raw!r} is not a{'n integer' if kind is int else ' number'}.") from None
    return raw
