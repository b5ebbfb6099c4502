"""The peer (issue 27): CTranslate2 int8, a dedicated CPU inference engine for the same model, timed beside the app.

The app's own ratios (naive / app, beam 4 / greedy) say how far the engine came from plain transformers, not how far
it is from what the hardware allows; a specialised runtime on the same weights, the same machine and the same inputs
says that. CTranslate2 is optional (``pip install ctranslate2``; the Space does not need it): without it the run
records that the peer was skipped and why, and every other measure still runs.

The model is converted once from the weights the app serves (cached under ``--cache-dir``). The app's timed cases
apply the benchmark's LoRA adapter unmerged; CTranslate2 has no run-time adapters, so its fair counterpart is the
adapter merged into the weights, which costs exactly what the base weights cost: the peer runs the base weights.
Only greedy and beam 4 on one sentence are timed: the app's other cases (paragraph batching, Compare, Attention)
have no CTranslate2 counterpart that does the same work.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.inputs import SRC, TGT, Inputs, _atomic_build
from bench.paths import Timings, wall_seconds

logger = logging.getLogger("bench")

PEER = "ct2"
"""The peer's path name in ``Timings``."""
PEER_CASES = ("sentence", "beam4")
"""The cases the peer is timed on; its other cases stay empty in ``Timings``."""
COMPUTE_TYPE = "int8"


def peer_available() -> str | None:
    """``None`` when CTranslate2 imports, else why the peer is skipped."""
    try:
        import ctranslate2  # noqa: F401
    except ModuleNotFoundError:
        return "ctranslate2 is not installed (pip install ctranslate2)"
    except (ImportError, OSError) as error:  # installed, but its compiled library does not load here
        return f"ctranslate2 does not import: {error}"
    return None


def peer_version() -> str:
    import ctranslate2

    return ctranslate2.__version__


def convert(weights: Path, cache_dir: Path) -> Path:
    """``weights`` converted to CTranslate2's int8 format, once per weights folder and CTranslate2 version."""
    import ctranslate2

    key = hashlib.sha1(f"{weights.resolve()}:{ctranslate2.__version__}".encode()).hexdigest()[:12]

    def build(folder: Path) -> None:
        logger.info("Converting %s to CTranslate2 %s in %s (once; cached)", weights, COMPUTE_TYPE, folder)
        # force: _atomic_build hands over an empty folder that already exists
        ctranslate2.converters.TransformersConverter(str(weights)).convert(
            str(folder), quantization=COMPUTE_TYPE, force=True
        )

    return _atomic_build(cache_dir / "ctranslate2" / f"{key}-{COMPUTE_TYPE}", build)


class PeerPath:
    """One CTranslate2 translator, used as a visitor's request would: tokenize, translate, detokenize."""

    def __init__(self, folder: Path, model_dir: Path, new_tokens: int) -> None:
        import ctranslate2
        import torch
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.tokenizer.src_lang = SRC
        # --threads, or torch's default (every usable core): CTranslate2's fastest here (2 vCPUs: greedy 1.08 s on
        # two threads, 1.44 s on one), so the peer runs at its best, whatever the app's own threads.
        self.threads = torch.get_num_threads()
        self.translator = ctranslate2.Translator(
            str(folder), device="cpu", compute_type=COMPUTE_TYPE, intra_threads=self.threads, inter_threads=1
        )
        self.new_tokens = new_tokens

    def info(self) -> dict[str, Any]:
        """What ``results.json`` says about the peer."""
        return {"name": "CTranslate2", "version": peer_version(), "compute_type": COMPUTE_TYPE,
                "intra_threads": self.threads}

    def source_tokens(self, sentence: str) -> list[str]:
        ids = self.tokenizer(sentence, add_special_tokens=False)["input_ids"]
        return [SRC, *self.tokenizer.convert_ids_to_tokens(ids), "</s>"]

    def hypothesis(self, sentence: str, num_beams: int) -> list[str]:
        """The target tokens, language tag first: exactly ``new_tokens`` of them, like the app's decoder steps."""
        result = self.translator.translate_batch(
            [self.source_tokens(sentence)], target_prefix=[[TGT]], beam_size=num_beams,
            min_decoding_length=self.new_tokens, max_decoding_length=self.new_tokens,
        )
        return result[0].hypotheses[0]

    def translate(self, sentence: str, num_beams: int = 1) -> str:
        tokens = self.hypothesis(sentence, num_beams)[1:]
        return self.tokenizer.decode(self.tokenizer.convert_tokens_to_ids(tokens), skip_special_tokens=True)

    def check(self, sentence: str) -> dict[str, Any]:
        """The peer reads the source the app's tokenizer makes and generates the forced length (else timings lie)."""
        made = self.tokenizer.convert_ids_to_tokens(self.tokenizer(sentence)["input_ids"])
        # The app counts tokens after the language tag (new_tokens - 1); the hypothesis starts with the tag.
        lengths = [self.hypothesis(sentence, beams) for beams in (1, 4)]
        return {
            f"{PEER}_source_matches_app": self.source_tokens(sentence) == made,
            f"{PEER}_forced_length": all(
                len(tokens) == self.new_tokens and tokens[0] == TGT and "</s>" not in tokens for tokens in lengths
            ),
        }


def peer_cases(peer: PeerPath, inputs: Inputs) -> dict[str, Callable[[], Any]]:
    return {
        "sentence": lambda: peer.translate(inputs.sentence),
        "beam4": lambda: peer.translate(inputs.sentence, num_beams=4),
    }


def time_peer(peer: PeerPath, inputs: Inputs, timings: Timings) -> None:
    """One timing of the peer's cases."""
    for case, run in peer_cases(peer, inputs).items():
        timings.add(PEER, case, wall_seconds(run))
