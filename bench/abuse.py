"""Issue 15's abuse scenario: one visitor at every limit while others translate, through the served app.

One visitor uploads a file that fills the job budget (``NLLB_MAX_JOB_SENTENCES``) and asks for attention over a pair
at the token limits (``NLLB_MAX_INPUT_TOKENS`` source, ``NLLB_MAX_NEW_TOKENS`` target), while ``others`` clients
each send a few one-sentence ``/translate`` requests. The report gives the others' p95 latency over the same
requests served alone and over the same requests sent all at once without the abuser, and the server's peak
resident memory over its resident memory before the scenario.
``tests/test_abuse_load.py`` runs it on the tiny model; ``python bench/abuse.py`` on the NLLB-600M shape::

    python bench/abuse.py --shape 600m --out bench/abuse.json

The file job runs through the app's own handler in the server's process (file uploads are not an API endpoint),
so it takes the model the way the page's "Translate file" button does; everything else goes through
``gradio_client``. Timings are for reading, never asserted: machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `python bench/abuse.py` from the repository root
    sys.path.insert(0, str(REPO_ROOT))

from bench.load import Request, serve_alone  # noqa: E402
from bench.load_report import percentile  # noqa: E402
from nllb_space.text.segment import split_text  # noqa: E402

logger = logging.getLogger(__name__)


@dataclass
class AbuseReport:
    """What the abuse scenario measured."""

    others: int
    requests: int
    others_p95_s: float
    alone_p95_s: float
    p95_over_alone: float
    """The others' p95 latency under abuse over the p95 of the same requests served alone."""
    crowd_p95_s: float
    """The others' p95 latency when they come all at once without the abuser (the queueing they cause each other)."""
    p95_over_crowd: float
    """What the abuser adds: the others' p95 under abuse over their p95 without it."""
    rss_before_mb: float
    rss_peak_mb: float
    file_sentences: int
    file_seconds: float
    attention_tokens: tuple[int, int]
    """(source tokens, target tokens) of the attention request."""
    errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)


def job_file(folder: Path, sentences: list[str], budget: int, per_row: int = 4) -> Path:
    """A CSV whose rows hold ``budget`` sentences in all (``per_row`` each): a file job exactly at the limit."""
    path = folder / "maximal-job.csv"
    picked = [sentences[i % len(sentences)] for i in range(budget)]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text"])
        for start in range(0, budget, per_row):
            writer.writerow([" ".join(picked[start:start + per_row])])
    return path


def at_token_limit(tokenizer, words: list[str], limit: int) -> str:
    """As many of ``words`` (cycled) as fit in ``limit`` tokens."""
    text, i = "", 0
    while True:
        candidate = f"{text} {words[i % len(words)]}".strip()
        if len(tokenizer(candidate, add_special_tokens=False)["input_ids"]) > limit:
            return text
        text, i = candidate, i + 1


def rss_mb() -> float:
    """This process's resident memory (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_abuse(url: str, engine, sentences: list[str], others: int = 8, per_other: int = 3,
              src: str = "spa_Latn", tgt: str = "ita_Latn", folder: Path | None = None) -> AbuseReport:
    """Serve the others' requests alone, then again while one visitor runs a maximal file job and attention."""
    import tempfile

    from nllb_space.service.files import read_upload
    from nllb_space.testing.serve import visitor_client

    settings = engine.settings
    mix = [Request("/translate", (sentences[i % len(sentences)], src, tgt, "base"), f"s{i % len(sentences)}")
           for i in range(others * per_other)]
    alone = serve_alone(url, mix)
    folder = Path(folder or tempfile.mkdtemp(prefix="nllb-abuse-"))
    # Sentences the app translates as one piece each, so the file holds exactly the job budget.
    single = [s for s in sentences if len(split_text(s, max_chars=settings.max_sentence_chars).pieces) == 1]
    path = job_file(folder, single, settings.max_job_sentences)
    tokenizer = engine.load().tokenizer
    words = " ".join(sentences).split()
    source = at_token_limit(tokenizer, words, settings.max_input_tokens)
    target = at_token_limit(tokenizer, words, settings.max_new_tokens)
    report = AbuseReport(others, len(mix), 0.0, percentile(list(alone.seconds.values()), 0.95), 0.0, 0.0, 0.0,
                         rss_mb(), 0.0, settings.max_job_sentences, 0.0,
                         (len(tokenizer(source)["input_ids"]) - 2, len(tokenizer(target)["input_ids"]) - 2),
                         list(alone.errors), list(alone.mismatches))
    peak, stop = [report.rss_before_mb], threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak.append(rss_mb())

    def abuser() -> None:
        start = time.perf_counter()
        try:
            # What the Translate tab's file upload runs: the file's rows through the engine, in shared batches.
            engine.translate_many(read_upload(path, settings.max_file_bytes, settings.max_rows).texts, src, tgt)
            report.file_seconds = time.perf_counter() - start
        except Exception as error:  # noqa: BLE001 - reported
            report.errors.append(f"abuser's file: {error!r}")
        try:
            visitor_client(url, 0).predict(source, src, tgt, "base", target, api_name="/attention")
        except Exception as error:  # noqa: BLE001 - reported
            report.errors.append(f"abuser's attention: {error!r}")

    latencies: list[float] = []
    lock = threading.Lock()

    def other(k: int) -> None:
        client = visitor_client(url, 1 + k)  # each of the others a visitor of its own
        for request in mix[k::others]:
            start = time.perf_counter()
            try:
                got = client.predict(*request.args, api_name=request.endpoint)
            except Exception as error:  # noqa: BLE001 - reported
                report.errors.append(f"{request.label}: {error!r}")
                continue
            with lock:
                latencies.append(time.perf_counter() - start)
            if got != alone.answers.get(request):
                report.mismatches.append(f"{request.label}: {got!r} != {alone.answers.get(request)!r}")

    def crowd() -> list[float]:
        threads = [threading.Thread(target=other, args=(k,)) for k in range(others)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        taken = list(latencies)
        latencies.clear()
        return taken

    report.crowd_p95_s = percentile(crowd(), 0.95)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    heavy = threading.Thread(target=abuser)
    heavy.start()
    time.sleep(0.5)  # the job has started: the others arrive while it holds the model batch after batch
    report.others_p95_s = percentile(crowd(), 0.95)
    heavy.join()
    stop.set()
    sampler.join()
    report.p95_over_alone = report.others_p95_s / report.alone_p95_s if report.alone_p95_s else float("nan")
    report.p95_over_crowd = report.others_p95_s / report.crowd_p95_s if report.crowd_p95_s else float("nan")
    report.rss_peak_mb = max(peak)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="600m", choices=("tiny", "600m"), help="random-weight NLLB shape")
    parser.add_argument("--new-tokens", type=int, default=24, help="NLLB_MAX_NEW_TOKENS (and the forced length)")
    parser.add_argument("--others", type=int, default=8, help="clients translating one sentence at a time")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "abuse.json")
    parser.add_argument("--concurrency", type=int, default=0,
                        help="NLLB_CONCURRENCY for issue 23's scenarios (2 on a CPU: a second copy of the model)")
    parser.add_argument("--only-round-two", action="store_true", help="skip issue 15's scenario")
    parser.add_argument("--no-round-two", action="store_true",
                        help="skip issue 23's scenarios (bench/abuse_round_two.py)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from nllb_space.testing.hub_env import start_session_hub

    start_session_hub()  # before anything imports huggingface_hub: the cache burst's repos live on a loopback Hub

    from app import page
    from bench.inputs import FLORES_SPA, BenchConfig, generated_sentences, prepare_weights, serving_folder
    from nllb_space.service.engine import Engine
    from nllb_space.settings import Settings
    from nllb_space.testing.serve import launch_local

    config = BenchConfig(shape=args.shape, new_tokens=args.new_tokens)
    sentences = (FLORES_SPA.read_text(encoding="utf-8").splitlines()[:64] if FLORES_SPA.is_file()
                 else generated_sentences(64))
    weights = prepare_weights(config, sentences)
    model = serving_folder(weights, config.cache_dir, args.new_tokens)
    result: dict[str, Any] = {"shape": args.shape, "new_tokens": args.new_tokens}
    failed = False
    if not args.only_round_two:
        engine = Engine(Settings(base_model=str(model), device="cpu", max_new_tokens=args.new_tokens, num_beams=1))
        engine.load()
        demo = page(engine)
        url = launch_local(demo)
        try:
            report = run_abuse(url, engine, sentences, others=args.others)
        finally:
            demo.close()
        failed = bool(report.errors or report.mismatches)
        result.update({"dtype": engine.load().dtype, "limits": {k: getattr(engine.settings, k) for k in (
            "max_job_sentences", "max_input_tokens", "max_new_tokens", "attention_views", "batch_size")},
            **asdict(report)})
    if not args.no_round_two:
        from bench.abuse_round_two import run_round_two

        result["round_two"] = run_round_two(model, weights, config.cache_dir, sentences, args.new_tokens, rss_mb,
                                            concurrency=args.concurrency)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
