"""Issue 5's benchmark: the app's engine against a naive baseline, measured side by side in ONE run, as ratios.

    python bench/run.py                              # NLLB-600M-shaped random weights, 5 repeats (20-40 min, 2 vCPUs)
    python bench/run.py --quick                      # smoke run: 2 repeats, 8 new tokens
    python bench/run.py --quick --shape tiny --out /tmp/bench.json --threads 1   # ~30 s; what tests/test_bench.py runs
    python bench/run.py --model ./nllb-200-distilled-600M   # real weights (a folder or a Hub id)
    python bench/run.py --profile                    # + the top torch ops of one app translation

Four paths translate the same inputs, interleaved repeat by repeat so that a shared, noisy machine slows them alike:

- ``naive``: float32 ``AutoModelForSeq2SeqLM`` + ``PeftModel.from_pretrained`` used plainly: one ``generate`` per
  sentence; Compare is two calls (base under ``model.disable_adapter()``, then the adapter); Attention is
  ``generate(output_attentions=True)`` with eager attention.
- ``app``: ``nllb_space.engine.Engine`` with its defaults (int8 on CPU): sentences batched per ``generate``, Compare
  in one mixed-adapter batch, Attention from one teacher-forced forward pass.
- ``app_fp32``: the same engine with ``NLLB_DTYPE=float32``, so the int8 gain shows apart from the engine's own.
- ``app_cut``: the int8 engine with ``NLLB_RESTRICT_VOCAB=true`` (output layer cut to Italian's script; off in the
  app by default), with how many output rows it keeps and what share of Italian text's tokens (``--no-vocab-cut``).

Without ``--model`` the model is NLLB-200-distilled-600M's exact configuration with random weights (built once with
``nllb_space.synthetic`` and cached under ``--cache-dir``): the same compute per token as the real model. Random
weights would stop or ramble at random, so every path generates exactly ``--new-tokens`` tokens: the served folder's
``generation_config.json`` carries ``min_new_tokens`` and every call passes ``max_new_tokens`` equal to it. Random
float32 weights also produce denormal numbers, which make CPU timings erratic: ``torch.set_flush_denormal(True)``.
On a shared machine torch's OpenMP threads spin while they wait for each other, and a busy neighbour made 2-thread
timings swing tenfold; the run sets ``OMP_WAIT_POLICY=PASSIVE`` (``--omp-wait-policy``) before torch loads.

Each timing is repeated ``--repeats`` times; the tables show medians, and every ratio is the median of the ratios
taken within each repeat (paired, so load that drifts during the run cancels out). Memory (resident MB per extra
adapter revision) and the time from start to the first translation run in fresh subprocesses.

Issue 6's load scenario (``bench/load.py``, the one ``tests/test_load.py`` runs on the tiny model) runs in one more
fresh subprocess: the app itself (``build_demo`` on the engine's defaults, adapter cache of 2) served on loopback,
its adapter revisions on the tests' loopback Hub emulator, ``--load-clients`` gradio_client clients sending
``--load-requests`` requests while another switches revisions. It reports ratios to the same requests served alone
(``load_*`` keys); an answer under load that differs from alone is a correctness failure: the table says so and the
run exits with status 1 (after writing the results). ``--no-load`` skips it.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

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

PATHS = ("naive", "app", "app_fp32")
CASES = ("sentence", "beam4", "paragraph8", "compare", "attention")
CASE_LABELS = {
    "sentence": "one sentence, greedy",
    "beam4": "one sentence, beam 4",
    "paragraph8": "paragraph of 8 sentences",
    "compare": "Compare base vs LoRA",
    "attention": "Attention (translate + maps)",
}
TARGETS: dict[str, tuple[str, float, str]] = {
    "sentence_speedup": (">=", 3.0, "x"),
    "beam4_over_greedy": ("<=", 1.5, "x"),
    "paragraph8_over_sentence": ("<=", 2.5, "x"),
    "compare_over_translate": ("<=", 1.3, "x"),
    "attention_over_translate": ("<=", 1.5, "x"),
    "adapter_mb": ("<=", 25.0, " MB"),
}
"""Issue 5's targets: (comparison, value, unit) per result key."""


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
    vocab_cut: bool = True
    """``--no-vocab-cut`` turns it off: also time the app with ``NLLB_RESTRICT_VOCAB=true`` (path ``app_cut``)."""
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


@dataclass
class Timings:
    """Seconds per (path, case), one entry per repeat."""

    paths: tuple[str, ...] = PATHS
    seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seconds = {path: {case: [] for case in CASES} for path in self.paths}

    def add(self, path: str, case: str, seconds: float) -> None:
        self.seconds[path][case].append(seconds)

    def median(self, path: str, case: str) -> float:
        return statistics.median(self.seconds[path][case])

    def ratio(self, num: tuple[str, str], den: tuple[str, str]) -> float:
        """Median over repeats of the within-repeat ratio ``num / den``."""
        pairs = zip(self.seconds[num[0]][num[1]], self.seconds[den[0]][den[1]])
        return statistics.median(a / b for a, b in pairs)


# -- set-up ----------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> tuple[BenchConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="folder or Hub id of real NLLB weights (default: random weights of --shape)")
    parser.add_argument("--shape", choices=("600m", "tiny"), default="600m")
    parser.add_argument("--cache-dir", type=Path, default=BenchConfig.cache_dir)
    parser.add_argument("--out", type=Path, default=BenchConfig.out)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--new-tokens", type=int)
    parser.add_argument("--data", type=Path, default=FLORES_SPA)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core)")
    parser.add_argument("--omp-wait-policy", default=BenchConfig.omp_wait_policy, help="'' keeps the environment's")
    parser.add_argument("--no-vocab-cut", action="store_true", help="skip timing the app with NLLB_RESTRICT_VOCAB")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--load-clients", type=int, help="concurrent clients of the load scenario (default 16)")
    parser.add_argument("--load-requests", type=int, help="requests they send in all (default 16)")
    parser.add_argument("--no-load", action="store_true", help="skip the load scenario")
    # Internal: the first-translation, memory and load measures re-run this file in a fresh process.
    parser.add_argument("--child", choices=("first", "load"), help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--adapters", nargs="*", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--sentence", help=argparse.SUPPRESS)
    parser.add_argument("--sentences", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    config = BenchConfig(
        model=args.model,
        shape=args.shape,
        cache_dir=args.cache_dir,
        out=args.out,
        repeats=args.repeats or (2 if quick else BenchConfig.repeats),
        new_tokens=args.new_tokens or (8 if quick else BenchConfig.new_tokens),
        first_repeats=1 if quick else BenchConfig.first_repeats,
        data=args.data,
        threads=args.threads,
        omp_wait_policy=args.omp_wait_policy or None,
        vocab_cut=not args.no_vocab_cut,
        profile=args.profile,
        quick=quick,
        load=not args.no_load,
        load_clients=args.load_clients or (4 if quick else BenchConfig.load_clients),
        load_requests=args.load_requests or (8 if quick else BenchConfig.load_requests),
    )
    return config, args


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, torch and its threads, and the load average when the run started."""
    import psutil
    import torch
    import transformers
    import peft

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "python": platform.python_version(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
    }


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
    if config.data is not None and config.data.is_file() and (lines := _lines(config.data)):
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
    tokenizer_text = sentences + (_lines(FLORES_ITA) if FLORES_ITA.is_file() else [])
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


def _lines(path: Path) -> list[str]:
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

    from nllb_space.lora import LoraSettings

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
    from nllb_space.segment import split_text

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


# -- the three paths -------------------------------------------------------------------------------------------------


class NaivePath:
    """float32 ``AutoModelForSeq2SeqLM`` + PEFT used plainly: one ``generate`` per sentence."""

    def __init__(self, model_dir: Path, adapter_dir: Path, new_tokens: int) -> None:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.tokenizer.src_lang = SRC
        base = AutoModelForSeq2SeqLM.from_pretrained(model_dir, dtype=torch.float32)
        self.model = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
        self.new_tokens = new_tokens
        self.tgt_id = self.tokenizer.convert_tokens_to_ids(TGT)

    def generate(self, sentence: str, num_beams: int = 1, **extra):
        inputs = self.tokenizer(sentence, return_tensors="pt")
        return self.model.generate(
            **inputs, forced_bos_token_id=self.tgt_id, num_beams=num_beams, max_new_tokens=self.new_tokens,
            do_sample=False, **extra,
        )

    def translate(self, sentence: str, num_beams: int = 1) -> str:
        return self.tokenizer.decode(self.generate(sentence, num_beams)[0], skip_special_tokens=True)

    def compare(self, sentence: str) -> tuple[str, str]:
        with self.model.disable_adapter():
            base = self.translate(sentence)
        return base, self.translate(sentence)

    def attention(self, sentence: str):
        inner = self.model.get_base_model()
        previous = inner.config._attn_implementation
        inner.set_attn_implementation("eager")  # SDPA cannot return attention weights
        try:
            return self.generate(sentence, output_attentions=True, return_dict_in_generate=True)
        finally:
            inner.set_attn_implementation(previous)


def load_engine(model_dir: Path, adapter_dir: Path, new_tokens: int, dtype: str = "auto", restrict_vocab=False):
    """The app's engine with its defaults, serving ``adapter_dir``; ``max_new_tokens`` is the forced length.

    ``max_new_tokens`` is a setting because the attention view translates with ``settings.max_new_tokens``.
    """
    from nllb_space.engine import Engine
    from nllb_space.settings import Settings

    settings = Settings(
        base_model=str(model_dir), device="cpu", adapter_repo=str(adapter_dir), dtype=dtype, max_new_tokens=new_tokens,
        restrict_vocab=restrict_vocab,
    )
    engine = Engine(settings)
    engine.load()
    if engine.adapter_error:
        raise RuntimeError(engine.adapter_error)
    return engine


def naive_cases(naive: NaivePath, inputs: Inputs) -> dict[str, Callable[[], Any]]:
    return {
        "sentence": lambda: naive.translate(inputs.sentence),
        "beam4": lambda: naive.translate(inputs.sentence, num_beams=4),
        "paragraph8": lambda: [naive.translate(s) for s in inputs.paragraph],
        "compare": lambda: naive.compare(inputs.sentence),
        "attention": lambda: naive.attention(inputs.sentence),
    }


def app_cases(engine, inputs: Inputs, new_tokens: int) -> dict[str, Callable[[], Any]]:
    paragraph = " ".join(inputs.paragraph)
    decoding = {"max_new_tokens": new_tokens}
    return {
        "sentence": lambda: engine.translate(inputs.sentence, SRC, TGT, model=LOCAL, num_beams=1, **decoding),
        "beam4": lambda: engine.translate(inputs.sentence, SRC, TGT, model=LOCAL, num_beams=4, **decoding),
        "paragraph8": lambda: engine.translate(paragraph, SRC, TGT, model=LOCAL, num_beams=1, **decoding),
        "compare": lambda: engine.compare(inputs.sentence, SRC, TGT, left="base", right=LOCAL, num_beams=1, **decoding),
        "attention": lambda: engine.attention(inputs.sentence, SRC, TGT, model=LOCAL),
    }


def check_outputs(naive: NaivePath, engines: dict[str, Any], inputs: Inputs, new_tokens: int) -> dict[str, Any]:
    """Warm every path up once and check that each generated exactly the forced length (else timings lie)."""
    checks: dict[str, Any] = {}
    input_ids = naive.tokenizer(inputs.sentence)["input_ids"]
    checks["naive_source_starts_with_src_lang"] = input_ids[0] == naive.tokenizer.convert_tokens_to_ids(SRC)
    # generate returns [decoder_start, tgt_lang, tokens...]: new_tokens generated after the start token.
    checks["naive_forced_length"] = all(
        len(naive.generate(inputs.sentence, beams)[0]) == 1 + new_tokens for beams in (1, 4)
    )
    per_sentence = new_tokens - 1  # the engine counts tokens after the language tag
    for name, engine in engines.items():
        cases = app_cases(engine, inputs, new_tokens)
        sentence, beam4, paragraph = cases["sentence"](), cases["beam4"](), cases["paragraph8"]()
        compare, maps = cases["compare"](), cases["attention"]()
        checks[f"{name}_forced_length"] = (
            sentence.new_tokens == beam4.new_tokens == compare.left.new_tokens == compare.right.new_tokens
            == per_sentence and paragraph.new_tokens == per_sentence * len(inputs.paragraph)
        )
        checks[f"{name}_paragraph_pieces"] = len(paragraph.sentences)
        checks[f"{name}_attention_target_tokens"] = len(maps[0].target_tokens)
    for case in naive_cases(naive, inputs).values():
        case()
    bad = [key for key, value in checks.items() if value is False]
    if bad or any(checks[f"{name}_paragraph_pieces"] != len(inputs.paragraph) for name in engines):
        raise RuntimeError(f"A path did not run as the benchmark assumes: {checks}")
    return checks


def time_naive(naive: NaivePath, inputs: Inputs, timings: Timings) -> None:
    """One timing of every naive case."""
    for case, run in naive_cases(naive, inputs).items():
        timings.add("naive", case, _seconds(run))


def time_app(path: str, engine, inputs: Inputs, new_tokens: int, timings: Timings) -> None:
    """One timing of every case through the app's engine (``path`` names its dtype)."""
    for case, run in app_cases(engine, inputs, new_tokens).items():
        timings.add(path, case, _seconds(run))


def vocabulary_cut(tokenizer, rows: int) -> dict[str, Any]:
    """What ``NLLB_RESTRICT_VOCAB`` keeps for Italian: rows of the output layer, and Italian text's tokens kept.

    Italian text is FLORES dev and the 11k-pair pool from ``../shared/data`` when present. With random weights the
    tokenizer is the synthetic one (its filler pieces spread over scripts like NLLB's languages); ``--model`` gives
    the real tokenizer's numbers.
    """
    from nllb_space.vocab import kept_vocabulary

    kept = kept_vocabulary(tokenizer, TGT, rows)
    ids = set(kept.ids)
    pool = FLORES_ITA.parent.parent / "train_pool" / "train_pool.ita"
    texts = [path for path in (FLORES_ITA, pool) if path.is_file()]
    occurrences = [i for path in texts for row in tokenizer(_lines(path), add_special_tokens=False)["input_ids"]
                   for i in row]
    return {
        "scripts": list(kept.scripts),
        "rows_kept": len(kept.ids),
        "rows_total": kept.total,
        "share_kept": round(len(kept.ids) / kept.total, 4),
        "italian_text": [str(path.relative_to(REPO_ROOT.parent)) for path in texts],
        "italian_token_occurrences": len(occurrences),
        "italian_distinct_tokens": len(set(occurrences)),
        "italian_occurrences_kept": round(sum(i in ids for i in occurrences) / max(1, len(occurrences)), 6),
    }


def _seconds(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def module_breakdown(engine, inputs: Inputs, new_tokens: int) -> dict[str, dict[str, float]]:
    """Share of each app case's wall time spent in the encoder, the decoder layers, ``lm_head`` and the rest.

    Forward hooks time each module (CPU work is synchronous, so wall time inside a module is its cost); "other" is
    generate's own work: logits processors, beam search, cache reordering, PEFT's hooks, tokenization.
    """
    model = engine._base.model
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    modules = {"encoder": inner.model.encoder, "decoder": inner.model.decoder, "lm_head": inner.lm_head}
    spent = {name: 0.0 for name in modules}
    handles = []
    for name, module in modules.items():
        started: list[float] = []

        def pre(_module, _args, started=started):
            started.append(time.perf_counter())

        def post(_module, _args, _output, name=name, started=started):
            spent[name] += time.perf_counter() - started.pop()

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    shares: dict[str, dict[str, float]] = {}
    try:
        for case, run in app_cases(engine, inputs, new_tokens).items():
            for name in spent:
                spent[name] = 0.0
            total = _seconds(run)
            shares[case] = {name: round(value / total, 3) for name, value in spent.items()}
            shares[case]["other"] = round(1 - sum(spent.values()) / total, 3)
            shares[case]["seconds"] = round(total, 3)
    finally:
        for handle in handles:
            handle.remove()
    return shares


def profile_ops(engine, inputs: Inputs, new_tokens: int, top: int = 12) -> list[dict[str, Any]]:
    """The ``top`` torch ops by self CPU time over one greedy app translation (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    run = app_cases(engine, inputs, new_tokens)["sentence"]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        total = _seconds(run)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [
        {"op": e.key, "calls": e.count, "self_s": round(e.self_cpu_time_total / 1e6, 4),
         "share": round(e.self_cpu_time_total / 1e6 / total, 3)}
        for e in events
    ]


# -- subprocess measures ---------------------------------------------------------------------------------------------


def _child_env(config: BenchConfig) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    if not config.model or Path(config.model).expanduser().is_dir():
        env["HF_HUB_OFFLINE"] = "1"  # everything is local: never wait on a Hub
    if config.threads:
        env["OMP_NUM_THREADS"] = str(config.threads)
    return env


def measure_first_translation(
    config: BenchConfig, model_dir: Path, adapters: list[Path], sentence: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Seconds from launching a fresh Python to its first translation, and the app's resident memory per revision.

    Each fresh process imports the app, loads the model and ``adapters[0]``, translates ``sentence`` with the app's
    defaults, then (the app alone in the process, as on a Space) loads the other revisions for ``measure_memory``.
    Medians over ``config.first_repeats`` processes; memory is the run with the median ``adapter_mb``.
    """
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", "first", "--model-dir", str(model_dir),
        "--new-tokens", str(config.new_tokens), "--sentence", sentence, "--adapters", *map(str, adapters),
    ]
    runs, memories = [], []
    for _ in range(config.first_repeats):
        started = time.time()
        done = subprocess.run(command, env=_child_env(config), capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"The fresh-process measure failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        runs.append({
            "total_s": result["translated_at"] - started,
            "start_and_import_s": result["imported_at"] - started,
            "load_s": result["loaded_at"] - result["imported_at"],
            "translate_s": result["translated_at"] - result["loaded_at"],
        })
        memories.append(result["memory"])
    first = {
        "first_translation_s": statistics.median(r["total_s"] for r in runs),
        "runs": [{k: round(v, 3) for k, v in r.items()} for r in runs],
    }
    by_adapter_mb = sorted(memories, key=lambda m: m["adapter_mb"])
    memory = {**by_adapter_mb[(len(memories) - 1) // 2], "adapter_mb_runs": [m["adapter_mb"] for m in memories]}
    return first, memory


def _rss_mb() -> float:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def measure_memory(engine, extra_adapters: list[Path], sentence: str) -> dict[str, Any]:
    """Resident MB of ``engine`` with its one adapter, then with ``extra_adapters`` loaded too (after gc)."""
    from nllb_space import worker
    from nllb_space.adapters import FetchedAdapter, local_digest

    run = lambda: engine.translate(sentence, SRC, TGT, model=LOCAL, num_beams=1)  # noqa: E731
    run()  # buffers a greedy call allocates are not adapter cost
    rss_one = _rss_mb()
    steps = []
    slot = worker.slot(engine._slot)
    for folder in extra_adapters:
        # The registry reads no local folder but the configured one (visitors must not read the server's disk),
        # so the bench hands each folder over as fetched, checks it as use_model does and attaches it as a call does.
        fetched = FetchedAdapter(repo=str(folder), revision=LOCAL, sha=local_digest(folder), folder=folder)
        _, files = engine._registry.ready(fetched, engine._shapes)
        with slot._lock, slot._using([files], [files.name]):
            pass
        steps.append(_rss_mb())
    run()
    rss_all = _rss_mb()
    loaded = len(engine.attached())
    if loaded != 1 + len(extra_adapters):
        raise RuntimeError(f"Expected {1 + len(extra_adapters)} adapters loaded, found {loaded}.")
    lora_params = sum(p.numel() for n, p in engine._base.model.named_parameters() if ".lora_" in n) / loaded
    return {
        "rss_1_adapter_mb": round(rss_one, 1),
        "rss_all_adapters_mb": round(rss_all, 1),
        "adapters_loaded": loaded,
        "rss_after_each_extra_mb": [round(x, 1) for x in steps],
        "adapter_mb": round((rss_all - rss_one) / (loaded - 1), 2),
        "lora_float32_mb": round(lora_params * 4 / 2**20, 2),
    }


def child_first(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: import the app, load it, translate once with its defaults; then measure memory."""
    from nllb_space.engine import Engine
    from nllb_space.settings import Settings

    import torch

    torch.set_flush_denormal(True)
    imported = time.time()
    adapters = [Path(a) for a in args.adapters]
    # The app's defaults, but for the forced length and room in the adapter cache for every revision at once.
    settings = Settings(
        base_model=args.model_dir, device="cpu", adapter_repo=str(adapters[0]), max_new_tokens=args.new_tokens,
        adapter_cache_size=max(len(adapters), Settings.adapter_cache_size),
    )
    engine = Engine(settings)
    engine.load()
    if engine.adapter_error:
        raise RuntimeError(engine.adapter_error)
    loaded = time.time()
    engine.translate(args.sentence, model=LOCAL)  # the app's default decoding (beam 4)
    translated = time.time()
    memory = measure_memory(engine, adapters[1:], args.sentence)
    return {"imported_at": imported, "loaded_at": loaded, "translated_at": translated, "memory": memory}


LOAD_REPO = "bench/nllb-lora"
"""The load scenario's adapter repo on the child's Hub emulator: tag ``v1``, ``main`` after it, branch ``exp/run-1``."""
LOAD_CACHE_SIZE = 2
"""Adapter revisions the app keeps loaded in the load scenario: fewer than its three, so switching evicts."""


def measure_load(config: BenchConfig, model_dir: Path, adapters: list[Path], sentences: list[str]) -> dict[str, Any]:
    """Issue 6's load scenario through the served app, in a fresh process; its report and headline ``load_*`` keys.

    A fresh process because huggingface_hub reads ``HF_ENDPOINT`` once, at import, and this one has imported it
    already (through transformers) without a Hub to point at.
    """
    logger.info("Load scenario: %d clients, %d requests, a switcher (fresh process)", config.load_clients,
                config.load_requests)
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", "load", "--model-dir", str(model_dir),
        "--new-tokens", str(config.new_tokens), "--load-clients", str(config.load_clients),
        "--load-requests", str(config.load_requests), "--adapters", *map(str, adapters[:3]),
        "--sentences", *sentences,
    ]
    if config.threads:
        command += ["--threads", str(config.threads)]
    env = {**_child_env(config), "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"The load measure failed:\n{done.stderr[-3000:]}")
    # Gradio prints to stdout too (e.g. when the server closes): the report is the last line that is JSON.
    line = next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{"))
    return json.loads(line)


def child_load(config: BenchConfig, args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process: a loopback Hub with three adapter revisions, the app served on loopback, the scenario.

    The Hub emulator and its environment set-up are the tests' (``nllb_space/testing/hub_emulator.py``, stdlib only,
    and ``hub_env.configure_hub_env``): the same emulator the load test runs against, so the benchmark
    measures the scenario the test checks, and there is no second emulator to keep in step with huggingface_hub.
    """
    from nllb_space.testing.hub_emulator import HubEmulator
    from nllb_space.testing.hub_env import HUB_TOKEN, configure_hub_env

    home = tempfile.mkdtemp(prefix="nllb-space-bench-hf-")
    emulator = HubEmulator(token=HUB_TOKEN)
    try:
        configure_hub_env(emulator.start(), home)  # before anything imports huggingface_hub
        return _serve_and_load(config, args)
    finally:
        emulator.stop()
        shutil.rmtree(home, ignore_errors=True)


def _serve_and_load(config: BenchConfig, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from bench.load import AdapterEvents, LoadScenario, publish_revisions, run_scenario
    from nllb_space.engine import Engine
    from nllb_space.settings import Settings
    from nllb_space.testing.serve import launch_local
    from nllb_space.ui import build_demo

    torch.set_flush_denormal(True)
    if config.threads:
        torch.set_num_threads(config.threads)
    tag, main, branch = (Path(a) for a in args.adapters)
    scenario = LoadScenario(repo=LOAD_REPO, clients=config.load_clients, requests=config.load_requests,
                            sentences=tuple(args.sentences))
    shas = publish_revisions(LOAD_REPO, tag_folder=tag, main_folder=main, branch_folder=branch,
                             branch=scenario.branch, tag=scenario.tag)
    # The app's defaults (int8 on CPU, beam 4), but for the forced length (see load_engine) and a small cache.
    settings = Settings(base_model=args.model_dir, device="cpu", adapter_repo=LOAD_REPO,
                        adapter_cache_size=LOAD_CACHE_SIZE, max_new_tokens=config.new_tokens)
    engine = Engine(settings)
    engine.load()
    if engine.adapter_error:
        raise RuntimeError(engine.adapter_error)
    demo = build_demo(engine)
    url = launch_local(demo)
    try:
        with AdapterEvents() as events:
            report = run_scenario(url, scenario, events)
    finally:
        demo.close()
    return {
        "headline": report.headline(),
        "report": {**asdict(report), "adapter_cache_size": LOAD_CACHE_SIZE, "num_beams": settings.num_beams,
                   "dtype": engine._base.dtype, "shas": shas},
    }


# -- results ---------------------------------------------------------------------------------------------------------


def summarize(
    config: BenchConfig, machine: dict[str, Any], inputs: Inputs, timings: Timings, memory: dict[str, Any],
    first: dict[str, Any], breakdown: dict[str, Any], checks: dict[str, Any], profile: list[dict[str, Any]] | None,
    load: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything ``results.json`` holds: the headline ratios first, then the raw medians and repeats."""
    app = "app"
    results: dict[str, Any] = {
        "sentence_speedup": timings.ratio(("naive", "sentence"), (app, "sentence")),
        "beam4_over_greedy": timings.ratio((app, "beam4"), (app, "sentence")),
        "paragraph8_over_sentence": timings.ratio((app, "paragraph8"), (app, "sentence")),
        "compare_over_translate": timings.ratio((app, "compare"), (app, "sentence")),
        "attention_over_translate": timings.ratio((app, "attention"), (app, "sentence")),
        "adapter_mb": memory["adapter_mb"],
        "first_translation_s": first["first_translation_s"],
        "int8_speedup": timings.ratio(("app_fp32", "sentence"), (app, "sentence")),
        "engine_fp32_speedup": timings.ratio(("naive", "sentence"), ("app_fp32", "sentence")),
        "paragraph8_speedup": timings.ratio(("naive", "paragraph8"), (app, "paragraph8")),
        "naive_compare_over_translate": timings.ratio(("naive", "compare"), ("naive", "sentence")),
    }
    results = {key: round(value, 3) for key, value in results.items()}
    if load is not None:
        results.update(load["headline"])
    results["targets"] = {
        key: {"target": f"{op} {value:g}{unit.strip() and unit}", "pass": _passes(results[key], op, value)}
        for key, (op, value, unit) in TARGETS.items()
    }
    results["machine"] = {**machine, "load_average_end": [round(x, 2) for x in os.getloadavg()]}
    results["config"] = {
        "model": config.model or f"random weights, shape {config.shape}",
        "repeats": config.repeats,
        "new_tokens": config.new_tokens,
        "paragraph_sentences": config.paragraph_sentences,
        "adapter_revisions": config.adapter_revisions,
        "lora_r": config.lora_r,
        "quick": config.quick,
        "threads": config.threads or "torch default",
        "vocab_cut": config.vocab_cut,
        "inputs": asdict(inputs),
    }
    results["median_s"] = {
        path: {case: round(timings.median(path, case), 4) for case in CASES} for path in timings.paths
    }
    results["repeats_s"] = {
        path: {case: [round(s, 4) for s in timings.seconds[path][case]] for case in CASES}
        for path in timings.paths
    }
    results["memory"] = memory
    results["first_translation"] = first
    results["app_time_shares"] = breakdown
    results["checks"] = checks
    if load is not None:
        results["load"] = load["report"]
    if profile is not None:
        results["profile_top_ops"] = profile
    return results


def _passes(value: float, op: str, target: float) -> bool:
    return value >= target if op == ">=" else value <= target


def report(results: dict[str, Any]) -> str:
    """The table the run prints: medians per path, the headline ratios with target and PASS/MISS."""
    med = results["median_s"]
    lines = [
        f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, torch "
        f"{results['machine']['torch']} ({results['machine']['torch_threads']} threads), "
        f"{results['machine']['ram_gb']} GB RAM, load {results['machine']['load_average_start']} -> "
        f"{results['machine']['load_average_end']}",
        f"model: {results['config']['model']}; {results['config']['new_tokens']} new tokens forced; "
        f"{results['config']['repeats']} repeats (medians; ratios are medians of within-repeat ratios)",
        "",
        f"{'median seconds':32} {'naive fp32':>11} {'app fp32':>9} {'app int8':>9}"
        + (f" {'app int8 + NLLB_RESTRICT_VOCAB':>31}" if "app_cut" in med else ""),
    ]
    for case in CASES:
        lines.append(
            f"{CASE_LABELS[case]:32} {med['naive'][case]:11.3f} {med['app_fp32'][case]:9.3f} {med['app'][case]:9.3f}"
            + (f" {med['app_cut'][case]:31.3f}" if "app_cut" in med else "")
        )
    lines += ["", f"{'measure':54} {'value':>9}  {'target':>8}  result"]
    headline = [
        ("sentence_speedup", "one sentence greedy: naive fp32 / app (int8)"),
        ("beam4_over_greedy", "beam 4 / greedy (app)"),
        ("paragraph8_over_sentence", "paragraph of 8 / one sentence (app)"),
        ("compare_over_translate", "Compare base vs LoRA / one translation (app)"),
        ("attention_over_translate", "Attention / one translation (app)"),
        ("adapter_mb", "resident MB per extra adapter revision (app)"),
    ]
    for key, label in headline:
        target = results["targets"][key]
        unit = TARGETS[key][2]
        lines.append(
            f"{label:54} {results[key]:>7.2f}{unit:2}  {target['target']:>8}  {'PASS' if target['pass'] else 'MISS'}"
        )
    memory = results["memory"]
    lines += [
        f"{'  (resident MB with 1 / with %d revisions)' % memory['adapters_loaded']:54} "
        f"{memory['rss_1_adapter_mb']:.0f} / {memory['rss_all_adapters_mb']:.0f}; LoRA float32 "
        f"{memory['lora_float32_mb']:.1f} MB per revision",
        f"{'start to first translation, fresh process (s)':54} {results['first_translation_s']:>7.2f} s",
        f"{'int8 gain: app fp32 / app int8, one sentence':54} {results['int8_speedup']:>7.2f}x",
        f"{'engine gain without int8: naive / app fp32':54} {results['engine_fp32_speedup']:>7.2f}x",
        f"{'paragraph of 8: naive / app':54} {results['paragraph8_speedup']:>7.2f}x",
        f"{'Compare / one translation, naive (two calls)':54} {results['naive_compare_over_translate']:>7.2f}x",
    ]
    vocab = results.get("vocab_cut")
    if vocab:
        lines += [
            "",
            f"NLLB_RESTRICT_VOCAB (off by default): output layer cut to {vocab['rows_kept']:,} of "
            f"{vocab['rows_total']:,} rows ({vocab['share_kept']:.0%}; scripts {', '.join(vocab['scripts'])})",
            f"{'  Italian text tokens kept (%d occurrences)' % vocab['italian_token_occurrences']:54} "
            f"{vocab['italian_occurrences_kept']:>8.2%}",
            f"{'  one sentence: app / app with the cut':54} {vocab['sentence_speedup_over_app']:>7.2f}x",
            f"{'  one sentence: naive fp32 / app with the cut':54} {vocab['sentence_speedup']:>7.2f}x",
            f"{'  beam 4 / greedy, with the cut':54} {vocab['beam4_over_greedy']:>7.2f}x",
            f"{'  paragraph of 8 / one sentence, with the cut':54} {vocab['paragraph8_over_sentence']:>7.2f}x",
        ]
    if "load" in results:
        lines += ["", *load_report(results)]
    lines += ["", "app (int8): share of wall time per module (forward hooks, one run each)"]
    for case, shares in results["app_time_shares"].items():
        parts = "  ".join(f"{k} {v:4.0%}" for k, v in shares.items() if k != "seconds")
        lines.append(f"  {CASE_LABELS[case]:32} {parts}")
    return "\n".join(lines)


def load_report(results: dict[str, Any]) -> list[str]:
    """The load scenario's lines of the table; a wrong or failed answer is shown as a failure, not a number."""
    load = results["load"]
    lines = [
        f"load (issue 6): {load['clients']} clients, {load['requests']} requests of translate/compare/attention over "
        f"{', '.join(m.rsplit('@', 1)[-1] for m in load['models'])};",
        f"  meanwhile a switcher cycled {', '.join(m.rsplit('@', 1)[-1] for m in load['switcher_revisions'])}; "
        f"adapter cache {load['adapter_cache_size']}, beam {load['num_beams']}, {load['dtype']}",
        f"{'  requests per second under load':54} {results['load_requests_per_second']:>7.2f}",
        f"{'  efficiency: sum of alone latencies / wall time':54} {results['load_efficiency']:>7.2f}x",
        f"{'  p50 latency under load / median alone':54} {results['load_p50_over_alone']:>7.2f}x",
        f"{'  p95 latency under load / median alone':54} {results['load_p95_over_alone']:>7.2f}x",
        f"{'  (p50 / p95 under load; median alone, seconds)':54} {load['p50_s']:.2f} / {load['p95_s']:.2f}; "
        f"{load['alone_median_s']:.2f}",
        f"{'  (switcher requests during the run; evictions)':54} {load['switcher_requests']}; {load['evictions']}",
    ]
    mismatches, errors = results["load_mismatches"], results["load_errors"]
    if mismatches or errors:
        lines.append(f"  !! CORRECTNESS FAILURE: {mismatches} answer(s) under load differ from alone, {errors} "
                     f"error(s): see load.mismatches / load.errors in results.json")
    else:
        lines.append(f"{'  answers under load equal to the same request alone':54} all {load['completed']} "
                     f"+ {load['switcher_requests']} switcher, 0 errors")
    return lines


# -- main ------------------------------------------------------------------------------------------------------------


@dataclass
class Timed:
    """What the in-process part of the run measured."""

    timings: Timings
    checks: dict[str, Any]
    breakdown: dict[str, Any]
    profile: list[dict[str, Any]] | None
    vocab: dict[str, Any] | None


def run_timings(config: BenchConfig, model_dir: Path, adapter: Path, inputs: Inputs) -> Timed:
    """Load the three paths, check them, then time every case ``config.repeats`` times, paths interleaved."""
    logger.info("Loading the naive model and the app's engine (int8, float32%s)",
                ", int8 with NLLB_RESTRICT_VOCAB" if config.vocab_cut else "")
    naive = NaivePath(model_dir, adapter, config.new_tokens)
    engines = {
        "app": load_engine(model_dir, adapter, config.new_tokens),
        "app_fp32": load_engine(model_dir, adapter, config.new_tokens, dtype="float32"),
    }
    if config.vocab_cut:
        engines["app_cut"] = load_engine(model_dir, adapter, config.new_tokens, restrict_vocab=True)
    if engines["app"]._base.dtype != "int8":
        raise RuntimeError(f"The app's default dtype on CPU is {engines['app']._base.dtype}, expected int8.")
    checks = check_outputs(naive, engines, inputs, config.new_tokens)

    runners: dict[str, Callable[[Timings], None]] = {"naive": lambda t: time_naive(naive, inputs, t)}
    for path, engine in engines.items():
        runners[path] = lambda t, path=path, engine=engine: time_app(path, engine, inputs, config.new_tokens, t)
    vocab: dict[str, Any] | None = None
    if config.vocab_cut:
        base = engines["app"]._base
        vocab = vocabulary_cut(base.tokenizer, base.model.get_base_model().lm_head.out_features)
        logger.info("NLLB_RESTRICT_VOCAB keeps %d of %d output rows for %s", vocab["rows_kept"], vocab["rows_total"], TGT)

    timings = Timings(tuple(runners))
    order = list(runners.values())
    for repeat in range(config.repeats):
        logger.info("Repeat %d/%d", repeat + 1, config.repeats)
        # Rotate which path goes first, so none always runs on a machine that the previous one left warm.
        shift = repeat % len(order)
        for runner in order[shift:] + order[:shift]:
            runner(timings)
    breakdown = module_breakdown(engines["app"], inputs, config.new_tokens)
    profile = profile_ops(engines["app"], inputs, config.new_tokens) if config.profile else None
    return Timed(timings, checks, breakdown, profile, vocab)


def run_benchmark(config: BenchConfig) -> dict[str, Any]:
    """Everything, in order: set-up, in-process timings, fresh-process measures; returns ``results.json``'s dict."""
    import torch
    from transformers import AutoTokenizer

    torch.set_flush_denormal(True)  # random float32 weights make denormals, which make timings erratic
    if config.threads:
        torch.set_num_threads(config.threads)
    machine = machine_info()
    sentences, source = corpus(config)
    weights = prepare_weights(config, sentences)
    model_dir = serving_folder(weights, config.cache_dir, config.new_tokens)
    adapters = make_adapters(weights, config.cache_dir, config.adapter_revisions, config.lora_r)
    inputs = build_inputs(config, AutoTokenizer.from_pretrained(model_dir), sentences, source)
    logger.info("Inputs: one sentence of %d tokens; paragraph of %s tokens", inputs.sentence_tokens,
                inputs.paragraph_tokens)

    timed = run_timings(config, model_dir, adapters[0], inputs)  # the models are freed when it returns
    gc.collect()

    logger.info("Measuring start to first translation and memory with 1 and %d adapter revisions "
                "(%d fresh processes)", config.adapter_revisions, config.first_repeats)
    first, memory = measure_first_translation(config, model_dir, adapters, inputs.sentence)
    load = measure_load(config, model_dir, adapters, [inputs.sentence, *inputs.paragraph[:3]]) if config.load else None
    results = summarize(config, machine, inputs, timed.timings, memory, first, timed.breakdown, timed.checks,
                        timed.profile, load)
    if timed.vocab is not None:
        timings = timed.timings
        results["vocab_cut"] = {
            **timed.vocab,
            "sentence_speedup_over_app": round(timings.ratio(("app", "sentence"), ("app_cut", "sentence")), 3),
            "sentence_speedup": round(timings.ratio(("naive", "sentence"), ("app_cut", "sentence")), 3),
            "beam4_over_greedy": round(timings.ratio(("app_cut", "beam4"), ("app_cut", "sentence")), 3),
            "paragraph8_over_sentence": round(timings.ratio(("app_cut", "paragraph8"), ("app_cut", "sentence")), 3),
        }
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    config, args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logger.setLevel(logging.INFO)
    if args.child:
        print(json.dumps(child_first(args) if args.child == "first" else child_load(config, args)))
        return {}
    if not config.model:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # random weights are local: never wait on a Hub
    if config.omp_wait_policy:
        if "torch" in sys.modules:
            logger.warning("torch is already imported: --omp-wait-policy cannot take effect in this process")
        os.environ["OMP_WAIT_POLICY"] = config.omp_wait_policy  # read once, when torch loads OpenMP
    results = run_benchmark(config)
    print(report(results))
    config.out.parent.mkdir(parents=True, exist_ok=True)
    config.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    logger.info("Wrote %s", config.out)
    return results


if __name__ == "__main__":
    if str(REPO_ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repo root, on sys.path
        sys.path.insert(0, str(REPO_ROOT))
    outcome = main()
    if outcome.get("load_mismatches") or outcome.get("load_errors"):
        sys.exit(1)  # a wrong or failed answer under load is a correctness failure, not a timing
