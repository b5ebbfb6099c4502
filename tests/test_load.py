"""16 concurrent API clients mixing translate, compare and attention across base and two revisions, while another
client keeps switching revisions: every answer equals the same request served alone, and nothing errors (issue 6).

The adapter cache holds only two revisions here, so the switching client forces evictions while requests are queued.
Throughput and latency of the mix are printed (run with ``-s`` to see them) and saved as JSON under the test's
tmp_path; the test asserts correctness only (machines are shared and noisy; timings are reported, never asserted).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import threading
import time

import pytest

from tests.model_fixtures import ADAPTER_REPO, BRANCH, TAG, tiny_settings

CLIENTS = 16
REQUESTS_PER_CLIENT = 3
SENTENCES = ("Hola, ¿cómo estás?", "El gato duerme en el sofá.", "Mañana vamos a la playa.", "Gracias por tu ayuda.")
MODELS = ("base", f"{ADAPTER_REPO}@main", f"{ADAPTER_REPO}@{BRANCH}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tiny_model_dir, hub_adapters):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from nllb_space.engine import Engine
    from nllb_space.ui import build_demo

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO, adapter_cache_size=2, max_new_tokens=12))
    engine.load()
    demo = build_demo(engine)
    demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


def _request(k: int) -> tuple[str, tuple]:
    """The k-th request of the mix: (endpoint, arguments)."""
    text = SENTENCES[k % len(SENTENCES)]
    model = MODELS[k % len(MODELS)]
    kind = ("/translate", "/compare", "/attention")[(k // len(MODELS)) % 3]
    if kind == "/translate":
        return kind, (text, "spa_Latn", "ita_Latn", model)
    if kind == "/compare":
        return kind, (text, "spa_Latn", "ita_Latn", model, MODELS[(k + 1) % len(MODELS)], "")
    return kind, (text, "spa_Latn", "ita_Latn", model)


def _answer(endpoint: str, result) -> object:
    """The part of an answer that must not depend on load: texts (and the attention figure's data)."""
    if endpoint == "/translate":
        return result
    if endpoint == "/compare":
        return tuple(result[:2])
    translation, plot = result
    figure = json.loads(plot["plot"])
    return translation, json.dumps(figure["data"][0]["z"], sort_keys=True)


def test_sixteen_concurrent_clients_get_what_they_get_alone(server_url, tmp_path):
    from gradio_client import Client

    total = CLIENTS * REQUESTS_PER_CLIENT
    mix = [_request(k) for k in range(total)]
    alone_client = Client(server_url, verbose=False)
    expected = {}
    for endpoint, args in mix:
        if (endpoint, args) not in expected:
            expected[(endpoint, args)] = _answer(endpoint, alone_client.predict(*args, api_name=endpoint))

    latencies: list[float] = []
    errors: list[str] = []
    mismatches: list[tuple] = []
    stop_switching = threading.Event()
    lock = threading.Lock()

    def client_worker(index: int) -> None:
        client = Client(server_url, verbose=False)
        for endpoint, args in mix[index::CLIENTS]:
            start = time.perf_counter()
            try:
                got = _answer(endpoint, client.predict(*args, api_name=endpoint))
            except Exception as error:  # noqa: BLE001 - every failure is collected and reported
                with lock:
                    errors.append(f"{endpoint} {args[3]}: {error!r}")
                continue
            with lock:
                latencies.append(time.perf_counter() - start)
                if got != expected[(endpoint, args)]:
                    mismatches.append((endpoint, args))

    def switcher() -> None:
        """Another visitor flipping between revisions (tag, branch, sha-less main) as fast as the queue allows."""
        client = Client(server_url, verbose=False)
        revisions = [f"{ADAPTER_REPO}@{TAG}", f"{ADAPTER_REPO}@{BRANCH}", "base", f"{ADAPTER_REPO}@main"]
        i = 0
        while not stop_switching.is_set():
            try:
                client.predict(SENTENCES[0], "spa_Latn", "ita_Latn", revisions[i % len(revisions)],
                               api_name="/translate")
            except Exception as error:  # noqa: BLE001
                with lock:
                    errors.append(f"switcher: {error!r}")
            i += 1

    switching = threading.Thread(target=switcher)
    workers = [threading.Thread(target=client_worker, args=(i,)) for i in range(CLIENTS)]
    started = time.perf_counter()
    switching.start()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    elapsed = time.perf_counter() - started
    stop_switching.set()
    switching.join(timeout=120)

    assert not errors, errors[:5]
    assert not mismatches, mismatches[:5]
    assert len(latencies) == total
    ordered = sorted(latencies)
    report = {
        "clients": CLIENTS, "requests": total, "seconds": round(elapsed, 2),
        "requests_per_second": round(total / elapsed, 2),
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
    }
    (tmp_path / "load.json").write_text(json.dumps(report, indent=2))
    print(f"\nload mix on the tiny model: {report}")
