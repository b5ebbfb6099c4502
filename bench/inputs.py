"""What the benchmark measures and on what: its settings (``BenchConfig``), the Spanish corpus, the weights it serves
(real, or random ones of NLLB's shape), the LoRA revisions, and the texts every path translates (``Inputs``).

Everything built here is cached under ``--cache-dir`` and built at most once per content: the synthetic model and
adapters take minutes on a 2-vCPU machine, and ``bench/abuse.py`` reuses the same weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

logger = logging.getLogger("bench")

REPO_ROOT = Path(__file__).resolve().parents[1]
FLORES_SPA = REPO_ROOT.parent / "shared" / "data" / "flores200" / "dev.spa_Latn"
FLORES_ITA = FLORES_SPA.with_name("dev.ita_Latn")
SRC, TGT = "spa_Latn", "ita_Latn"
LOCAL = "local"
"""The engine's model choice for its configured local adapter folder."""
BUILD_VERSION = 2  # 2: filler tokens in the scripts of NLLB's languages (synthetic.filler_pieces)
"""Bump when the synthetic model or adapters are built differently, so stale caches are not reused."""
TOKENIZER_VOCAB = 8_000
"""BPE pieces of the synthetic tokenizer: ~1.4 tokens per Spanish word, like NLLB's real SentencePiece."""


@dataclass(frozen=True)
class BenchConfig:
    """What to measure and how often; ``parse_args`` builds it from the command line."""

    model: str | None = None
    """``--model``: folder or Hub id of real NLLB weights; ``None`` builds random weights of ``shape``."""
    shape: str = "600m"
    """``--shape``: ``600m`` (NLLB-200-distilled-600M's config) or ``tiny`` (smoke tests) when ``model`` is unset."""
    cache_dir: Path = Path(tempfile.gettempdir()) / "nllb-space-bench"
    """``--cache-dir``: where the synthetic model, adapters and served folders are kept between runs."""
    out: Path = REPO_ROOT / "bench" / "results.json"
    """``--out``: the JSON results file."""
    repeats: int = 5
    """``--repeats``: timings per measure; the median is reported."""
    new_tokens: int = 24
    """``--new-tokens``: tokens every path generates per sentence (~ one FLORES sentence)."""
    paragraph_sentences: int = 8
    """Sentences in the paragraph measure."""
    adapter_revisions: int = 5
    """Adapter revisions loaded at once for the memory measure."""
    lora_r: int = 16
    """Rank of the benchmark's adapters (training's default; targets q, k, v, out_proj)."""
    first_repeats: int = 3
    """Fresh subprocesses timed from start to first translation (each loads the model)."""
    data: Path | None = FLORES_SPA
    """``--data``: Spanish sentences, one per line; generated text when missing."""
    threads: int | None = None
    """``--threads``: torch intra-op threads, here and in the subprocesses (default: torch's own choice)."""
    omp_wait_policy: str | None = "PASSIVE"
    """``--omp-wait-policy``: OpenMP threads sleep instead of spinning while they wait (set before torch loads).

    On a shared 2-vCPU machine, spinning OpenMP threads made 2-thread decoding up to 10x slower and erratic whenever
    another process was busy (one sentence: 2.4 s to 30 s); passive waiting keeps timings near the 1-thread ones.
    ``""`` leaves the environment's setting alone."""
    peer: bool = True
    """``--no-peer`` turns it off: also time CTranslate2 int8 (path ``ct2``, ``bench/peer.py``) when installed."""
    vocab_cut: bool = True
    """``--no-vocab-cut`` turns it off: also time the app with ``NLLB_RESTRICT_VOCAB=false`` (path ``app_full``), to
    show what the default cut buys."""
    profile: bool = False
    """``--profile``: also record the top torch ops of one app translation (torch.profiler)."""
    quick: bool = False
    """``--quick``: a smoke run (2 repeats, 8 new tokens, one first-translation process, a small load scenario)."""
    load: bool = True
    """``--no-load`` turns it off: issue 6's concurrent-clients scenario through the served app (``bench/load.py``)."""
    load_clients: int = 16
    """``--load-clients``: concurrent gradio_client clients in the load scenario (issue 6 asks for 16)."""
    load_requests: int = 16
    """``--load-requests``: requests those clients send in all (~2-3 s each on the 600M shape, beam 4)."""

    def __post_init__(self) -> None:
        if self.shape not in ("600m", "tiny"):
            raise ValueError(f"--shape must be 600m or tiny (got {self.shape}).")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"--threads must be at least 1 (got {self.threads}).")
        if self.repeats < 1:
            raise ValueError(f"--repeats must be at least 1 (got {self.repeats}).")
        if self.new_tokens < 2:
            raise ValueError(f"--new-tokens must be at least 2: the first is the language tag (got {self.new_tokens}).")
        if self.adapter_revisions < 2:
            raise ValueError("Measuring memory per extra revision needs at least 2 adapter revisions.")
        if self.load and self.adapter_revisions < 3:
            raise ValueError("The load scenario needs 3 adapter revisions (tag, main, branch).")
        if self.load and not 1 <= self.load_clients <= self.load_requests:
            raise ValueError(f"--load-clients must be at least 1 and at most --load-requests "
                             f"(got {self.load_clients} clients, {self.load_requests} requests).")


@dataclass
class Inputs:
    """The benchmark's texts, chosen by token count with the tokenizer being measured."""

    sentence: str
    paragraph: list[str]
    source: str
    """Where the sentences came from (a file, or ``generated``)."""
    sentence_tokens: int
    paragraph_tokens: list[int]


def _atomic_build(final: Path, build: Callable[[Path], None]) -> Path:
    """Build into a temporary sibling folder, then rename it to ``final`` (a concurrent run may win the race)."""
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-"))
    try:
        build(work)
        os.replace(work, final)
    except OSError:
        if not final.is_dir():
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def corpus(config: BenchConfig) -> tuple[list[str], str]:
    """Spanish sentences to pick inputs from (and, for random weights, to train the tokenizer on)."""
    if config.data is not None and config.data.is_file() and (lines := read_lines(config.data)):
        return lines, str(config.data)
    return generated_sentences(400), "generated"


def generated_sentences(count: int, seed: int = 0) -> list[str]:
    """Spanish-looking sentences of 12–24 words, for when FLORES is not around."""
    words = (
        "el la los las un una de del en con por para que como pero cuando donde porque ciudad gobierno mundo "
        "personas tiempo agua historia nuevo grande pequeño primero último año día noche trabajo casa país "
        "científicos estudio resultados presidente mercado empresa sistema desarrollo proyecto región río "
        "montaña viaje tren avión música libro escuela universidad hospital médico paciente energía ley"
    ).split()
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(words) for _ in range(rng.randint(12, 24))).capitalize() + "."
        for _ in range(count)
    ]


def prepare_weights(config: BenchConfig, sentences: list[str]) -> Path:
    """The folder of the weights to serve: real ones as given, or random ones of ``config.shape`` (built once)."""
    if config.model:
        local = Path(config.model).expanduser()
        if local.is_dir():
            return local
        from huggingface_hub import snapshot_download

        logger.info("Downloading %s from the Hub", config.model)
        return Path(snapshot_download(config.model, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]))

    from nllb_space.testing.synthetic import SHAPES, build_model, build_tokenizer

    shape = SHAPES[config.shape]
    tokenizer_text = sentences + (read_lines(FLORES_ITA) if FLORES_ITA.is_file() else [])
    digest = hashlib.sha1(
        json.dumps([BUILD_VERSION, asdict(shape), TOKENIZER_VOCAB, tokenizer_text]).encode()
    ).hexdigest()[:12]

    def build(folder: Path) -> None:
        logger.info("Building a random-weight NLLB model of shape %s in %s (once; cached)", config.shape, folder)
        tokenizer = build_tokenizer(tokenizer_text, vocab_size=TOKENIZER_VOCAB, total_size=shape.vocab_size)
        model = build_model(tokenizer, shape)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    return _atomic_build(config.cache_dir / f"nllb-{config.shape}-{digest}" / "weights", build)


def read_lines(path: Path) -> list[str]:
    """The non-blank lines of a text file, stripped (FLORES and the training pool: one sentence a line)."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def serving_folder(weights: Path, cache_dir: Path, new_tokens: int) -> Path:
    """``weights`` linked file by file, with a ``generation_config.json`` that forces ``new_tokens`` tokens.

    ``min_new_tokens`` lives in the folder so every path honours it (naive ``generate``, the engine's batches, the
    attention view's translation); each call passes ``max_new_tokens`` equal to it.
    """
    key = hashlib.sha1(str(weights.resolve()).encode()).hexdigest()[:12]

    def build(folder: Path) -> None:
        for item in weights.iterdir():
            if item.is_file() and item.name != "generation_config.json":
                (folder / item.name).symlink_to(item.resolve())
        generation = json.loads((weights / "generation_config.json").read_text())
        generation.pop("max_length", None)  # every call passes max_new_tokens
        generation["min_new_tokens"] = new_tokens
        (folder / "generation_config.json").write_text(json.dumps(generation, indent=2))

    return _atomic_build(cache_dir / "serving" / f"{key}-min{new_tokens}", build)


def make_adapters(weights: Path, cache_dir: Path, count: int, r: int) -> list[Path]:
    """``count`` LoRA revisions with random non-zero weights, r=``r`` on q, k, v, out_proj (built once, cached)."""
    key = hashlib.sha1(f"{BUILD_VERSION}:{weights.resolve()}".encode()).hexdigest()[:12]
    root = cache_dir / "adapters" / f"{key}-r{r}"
    folders = [root / f"rev{i}" for i in range(1, count + 1)]
    if all((folder / "adapter_model.safetensors").is_file() for folder in folders):
        return folders

    import torch
    from peft import get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    from nllb_space.lora_config import LoraSettings

    logger.info("Making %d LoRA adapter revisions (r=%d) in %s (once; cached)", count, r, root)
    model = AutoModelForSeq2SeqLM.from_pretrained(weights, dtype=torch.float32)
    for seed, folder in enumerate(folders, start=1):
        config = LoraSettings(r=r, alpha=2 * r, dropout=0.0).to_peft_config(model)
        config.init_lora_weights = False  # PEFT's default B = 0 would make every revision the base model
        torch.manual_seed(seed)
        peft_model = get_peft_model(model, config)

        def save(work: Path, peft_model=peft_model) -> None:
            peft_model.save_pretrained(work)
            adapter_config = json.loads((work / "adapter_config.json").read_text())
            # The served folder has another name than the one the adapter was made on; shapes are what must fit.
            adapter_config["base_model_name_or_path"] = None
            (work / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2))

        if folder.is_dir():
            shutil.rmtree(folder)
        _atomic_build(folder, save)
        model = peft_model.unload()
    return folders


def build_inputs(config: BenchConfig, tokenizer, sentences: list[str], source: str) -> Inputs:
    """One sentence and a paragraph of ``paragraph_sentences``, each of 20–30 tokens (~ a FLORES sentence).

    Sentences the app's splitter would cut in two (abbreviations, inner full stops) are skipped, so the paragraph
    is exactly ``paragraph_sentences`` pieces for the engine too.
    """
    from nllb_space.text.segment import split_text

    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    wanted = 1 + config.paragraph_sentences
    chosen: list[tuple[str, int]] = []
    for low, high in ((20, 30), (12, 40), (1, 10_000)):  # widen only when the data has too few
        chosen = [
            (s, n) for s in sentences
            if low <= (n := tokens(s)) <= high and split_text(s).pieces == (s,)
        ][:wanted]
        if len(chosen) == wanted:
            break
    if len(chosen) < wanted:
        raise ValueError(f"{source} has fewer than {wanted} usable sentences.")
    (sentence, n_sentence), rest = chosen[0], chosen[1:]
    return Inputs(
        sentence=sentence,
        paragraph=[s for s, _ in rest],
        source=source,
        sentence_tokens=n_sentence,
        paragraph_tokens=[n for _, n in rest],
    )

