"""The paths the benchmark compares and the cases each runs: ``naive`` (float32 transformers + PEFT used plainly)
and the app's engine (``app``, ``app_fp32``, ``app_full``, ``app_base``), the check that each generates the forced length, and one
timing of every case, kept in ``Timings``. The CTranslate2 peer (``ct2``) is in ``bench/peer.py``.

A path's cases are zero-argument callables, so the timed code is exactly the call a visitor's request makes.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from bench.inputs import LOCAL, SRC, TGT, Inputs

PATHS = ("naive", "app", "app_fp32")
CASES = ("sentence", "beam4", "paragraph8", "compare", "attention")


def wall_seconds(run: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call (CPU work is synchronous, so wall time is its cost)."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


@dataclass
class Timings:
    """Seconds per (path, case), one entry per repeat; a path timed on only some cases (the peer) keeps the
    others empty, and ``timed`` says which are not."""

    paths: tuple[str, ...] = PATHS
    seconds: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.seconds = {path: {case: [] for case in CASES} for path in self.paths}

    def add(self, path: str, case: str, seconds: float) -> None:
        self.seconds[path][case].append(seconds)

    def timed(self, path: str, case: str) -> bool:
        return bool(self.seconds.get(path, {}).get(case))

    def median(self, path: str, case: str) -> float:
        if not self.timed(path, case):
            raise ValueError(f"{path} was not timed on {case}.")
        return statistics.median(self.seconds[path][case])

    def ratio(self, num: tuple[str, str], den: tuple[str, str]) -> float:
        """Median over repeats of the within-repeat ratio ``num / den``."""
        if not (self.timed(*num) and self.timed(*den)):
            raise ValueError(f"{num} / {den}: a side was not timed.")
        pairs = zip(self.seconds[num[0]][num[1]], self.seconds[den[0]][den[1]])
        return statistics.median(a / b for a, b in pairs)


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
        # Plain transformers runs on torch's default threads (--threads, or every core); the app's engine sets its
        # own per call (NLLB_CPU_THREADS), on this same thread, so the naive path sets its own back before each call.
        self.threads = torch.get_num_threads()
        self.new_tokens = new_tokens
        self.tgt_id = self.tokenizer.convert_tokens_to_ids(TGT)

    def generate(self, sentence: str, num_beams: int = 1, **extra):
        import torch

        torch.set_num_threads(self.threads)
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


def load_engine(model_dir: Path, adapter_dir: Path, new_tokens: int, dtype: str = "auto",
                restrict_vocab: bool | None = None, cpu_threads: int = 0):
    """The app's engine with its defaults, serving ``adapter_dir``; ``max_new_tokens`` is the forced length.
    ``restrict_vocab`` overrides ``NLLB_RESTRICT_VOCAB``'s default (on); ``cpu_threads`` is ``NLLB_CPU_THREADS``
    (``--threads``; 0 = the app's own choice).

    ``max_new_tokens`` is a setting because the attention view translates with ``settings.max_new_tokens``.
    """
    from nllb_space.service.engine import Engine
    from nllb_space.settings import Settings

    # One copy of the model: these paths time one request at a time, and a second lane would only take memory.
    settings = Settings(
        base_model=str(model_dir), device="cpu", adapter_repo=str(adapter_dir), dtype=dtype, max_new_tokens=new_tokens,
        concurrency=1, cpu_threads=cpu_threads,
    )
    if restrict_vocab is not None:
        settings = replace(settings, restrict_vocab=restrict_vocab)
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


def check_outputs(
    naive: NaivePath, engines: dict[str, Any], inputs: Inputs, new_tokens: int, peer: Any = None
) -> dict[str, Any]:
    """Warm every path up once and check that each generated exactly the forced length (else timings lie).

    ``peer`` (``bench.peer.PeerPath``, when timed) checks itself: its checks join these, and fail the run alike.
    """
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
    if peer is not None:
        checks.update(peer.check(inputs.sentence))
    bad = [key for key, value in checks.items() if value is False]
    if bad or any(checks[f"{name}_paragraph_pieces"] != len(inputs.paragraph) for name in engines):
        raise RuntimeError(f"A path did not run as the benchmark assumes: {checks}")
    return checks


def time_naive(naive: NaivePath, inputs: Inputs, timings: Timings) -> None:
    """One timing of every naive case."""
    for case, run in naive_cases(naive, inputs).items():
        timings.add("naive", case, wall_seconds(run))


BASE_CASES = ("sentence", "beam4")
"""``app_base``'s cases: the app's engine translating with the base model, beside the peer, which runs the base."""


def time_app_base(engine, inputs: Inputs, new_tokens: int, timings: Timings) -> None:
    """One timing of greedy and beam 4 through the app's engine with no adapter (path ``app_base``)."""
    for case, beams in zip(BASE_CASES, (1, 4)):
        timings.add("app_base", case, wall_seconds(lambda: engine.translate(
            inputs.sentence, SRC, TGT, model="base", num_beams=beams, max_new_tokens=new_tokens)))


def time_app(path: str, engine, inputs: Inputs, new_tokens: int, timings: Timings) -> None:
    """One timing of every case through the app's engine (``path`` names its dtype)."""
    for case, run in app_cases(engine, inputs, new_tokens).items():
        timings.add(path, case, wall_seconds(run))
