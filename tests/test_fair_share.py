"""One visitor cannot starve everyone (issue 23, section 3): a visitor is a client address, not a session; its
requests queue behind each other, not in front of strangers'; it holds at most its share of the request slots, of
the Hub-call threads and of the kept attention views."""

from __future__ import annotations

import threading
import time

import pytest

from nllb_space.testing.pairs import SOURCES
from tests.model_fixtures import ADAPTER_REPO, tiny_settings


def test_the_visitor_key_is_the_address_the_proxy_saw():
    from nllb_space.visitors import visitor_of

    assert visitor_of({"x-forwarded-for": "203.0.113.9"}, "10.16.3.80") == "203.0.113.9"  # Spaces' proxy
    # Whatever a client writes itself comes first; the proxy appends what it saw, last.
    assert visitor_of({"x-forwarded-for": "1.2.3.4, 5.6.7.8, 203.0.113.9"}, "10.16.3.80") == "203.0.113.9"
    assert visitor_of({}, "127.0.0.1") == "127.0.0.1"
    # Straight from the internet, no proxy in between: the header is the client's own words, and would let it mint
    # a visitor per request. The connection's address counts.
    assert visitor_of({"x-forwarded-for": "203.0.113.9"}, "81.2.69.160") == "81.2.69.160"


def test_a_newcomer_goes_ahead_of_a_busy_visitors_queued_batches():
    from nllb_space.service.fair_gate import FairGate

    gate = FairGate(1)
    order: list[str] = []
    gate.acquire("busy")  # the busy visitor's batch is running

    def wait_then_record(visitor: str) -> None:
        gate.acquire(visitor)
        order.append(visitor)
        gate.release(visitor)

    threads = [threading.Thread(target=wait_then_record, args=(v,)) for v in ("busy", "busy", "busy", "newcomer")]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # arrival order: the busy visitor's three, then the newcomer
    gate.release("busy")
    for thread in threads:
        thread.join(10)
    assert order == ["newcomer", "busy", "busy", "busy"]


def test_with_several_slots_one_visitor_leaves_one_for_others():
    """ZeroGPU's four GPU slots: one visitor's many requests take three; a newcomer gets the fourth at once."""
    from nllb_space.service.fair_gate import FairGate

    gate = FairGate(4)
    for _ in range(3):
        gate.acquire("busy")
    blocked = threading.Thread(target=gate.acquire, args=("busy",), daemon=True)
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive()  # the busy visitor's fourth waits although a slot is free
    newcomer = threading.Thread(target=gate.acquire, args=("newcomer",))
    newcomer.start()
    newcomer.join(2)
    assert not newcomer.is_alive()  # the newcomer took the free slot at once
    gate.release("busy")
    blocked.join(2)
    assert not blocked.is_alive()  # the busy visitor's next goes when one of its own is done


def test_a_newcomers_sentence_runs_right_after_the_batch_in_progress(tiny_model_dir, hub_adapters):
    """One visitor runs two long jobs (from two tabs); a newcomer's sentence runs next, not after their queue."""
    from nllb_space.service.engine import Engine
    from nllb_space.visitors import visiting

    engine = Engine(tiny_settings(tiny_model_dir, batch_size=1))
    engine.load()
    calls: list[str] = []
    real = engine.run_generate

    def traced(call):
        calls.append(threading.current_thread().name)
        time.sleep(0.3)  # a batch takes a while, as on the real model
        return real(call)

    engine.run_generate = traced

    def as_visitor(visitor: str, text: str) -> None:
        with visiting(visitor):
            engine.translate(text)

    jobs = [threading.Thread(target=as_visitor, args=("busy", " ".join(SOURCES[:6])), name=f"busy-{i}")
            for i in range(2)]
    for job in jobs:
        job.start()
    while len(calls) < 4:
        time.sleep(0.01)
    newcomer = threading.Thread(target=as_visitor, args=("newcomer", "Hola."), name="newcomer")
    newcomer.start()
    time.sleep(0.1)  # the newcomer is waiting for the gate, behind the batch in progress and the other tab's
    arrived = len(calls)
    newcomer.join(60)
    for job in jobs:
        job.join(60)
    assert calls.index("newcomer") == arrived, calls  # the very next batch: not after the busy visitor's queue


def test_one_visitor_holds_at_most_its_share_of_the_hub_threads():
    from nllb_space.hub import deadlines as time_bound
    from nllb_space.visitors import visiting

    stalled = threading.Event()

    def slow_download() -> str:
        stalled.wait(30)
        return "late"

    results: list = []

    def call_as(visitor: str) -> None:
        with visiting(visitor):
            try:
                results.append(time_bound.within(slow_download, 30))
            except time_bound.Saturated as refused:
                results.append(refused)

    hogs = [threading.Thread(target=call_as, args=("hog",)) for _ in range(time_bound.THREADS)]
    for thread in hogs:
        thread.start()
    time.sleep(0.3)
    try:
        refused = [r for r in results if isinstance(r, time_bound.Saturated)]
        assert len(refused) == time_bound.THREADS - time_bound.PER_VISITOR  # the hog's own share only
        with visiting("stranger"):
            assert time_bound.within(lambda: "served", 5) == "served"  # a stranger still gets a thread
    finally:
        stalled.set()
        for thread in hogs:
            thread.join(30)


def test_another_visitors_many_views_never_drop_yours():
    import numpy as np

    from nllb_space.model.attention import AttentionMaps
    from nllb_space.results import BASE_MODEL
    from nllb_space.web.session_views import AttentionView, ViewStore

    def tiny_maps() -> AttentionMaps:
        weights = np.full((1, 1, 2, 2), 0.5, dtype=np.float32)
        return AttentionMaps((), (), weights, weights, weights, BASE_MODEL, "Hola.", "Ciao.")

    store = ViewStore(capacity=8)
    mine = store.put(AttentionView(tiny_maps(), None), visitor="me")
    others = [store.put(AttentionView(tiny_maps(), None), visitor="hog") for _ in range(8)]
    assert store.get(mine) is not None
    assert sum(store.get(key) is not None for key in others) == 2  # the hog keeps its own share


@pytest.fixture()
def busy_app(tiny_model_dir, hub_adapters, hub):
    """The app on loopback, with one adapter repo whose resolve stalls: a request for it stays in progress."""
    from gradio_client import Client

    from nllb_space.service.engine import Engine
    from nllb_space.testing.serve import launch_local
    from nllb_space.web.page import build_demo

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO, visitor_requests=2))
    engine.load()
    demo = build_demo(engine)
    url = launch_local(demo)
    hub.fail(r"stranger/stalled-lora", status=0, delay_s=6, times=20)
    yield lambda visitor: Client(url, headers={"X-Forwarded-For": visitor}, verbose=False)
    hub.clear_faults()
    demo.close()


def test_a_visitor_beyond_its_requests_in_progress_is_refused_at_once_and_others_are_served(busy_app):
    hog = busy_app("198.51.100.7")
    slow = [hog.submit("Hola.", "spa_Latn", "ita_Latn", "stranger/stalled-lora@main", api_name="/translate")
            for _ in range(2)]
    time.sleep(1.0)  # both are in progress, waiting on the stalled Hub
    started = time.monotonic()
    with pytest.raises(Exception, match="already have 2 requests running"):
        busy_app("198.51.100.7").predict("Hola.", "spa_Latn", "ita_Latn", "base", api_name="/translate")
    assert time.monotonic() - started < 3  # refused at once, not after the stalled ones
    assert busy_app("192.0.2.50").predict("Hola.", "spa_Latn", "ita_Latn", "base", api_name="/translate")
    for job in slow:
        with pytest.raises(Exception):
            job.result(timeout=60)  # the stalled Hub's answer: a clear error, not a hang


def test_on_a_cpu_a_model_call_carries_at_most_the_batch_size_in_rows_times_beams(tiny_model_dir, hub_adapters):
    """A call holds the one CPU model slot until its last step: wide beams shorten the visitor's own batches."""
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, batch_size=8, max_beams=8))
    engine.load()
    rows: list[int] = []
    real = engine.run_generate
    engine.run_generate = lambda call: rows.append(len(call.ids)) or real(call)
    text = " ".join(SOURCES[:8])
    for beams, most in ((1, 8), (4, 2), (8, 1)):
        rows.clear()
        engine.translate(text, num_beams=beams, max_new_tokens=4)
        assert max(rows) == most and sum(rows) == 8, (beams, rows)


def test_with_two_lanes_on_a_cpu_a_newcomer_runs_beside_a_busy_visitor(tiny_model_dir, hub_adapters):
    """NLLB_CONCURRENCY=2 on a CPU loads a second copy: the newcomer's sentence starts while the busy visitor's
    batch is still running, on the other copy, and gets the same answer as with one lane."""
    from nllb_space.service.engine import Engine
    from nllb_space.visitors import visiting

    engine = Engine(tiny_settings(tiny_model_dir, batch_size=1, concurrency=2, adapter_repo=ADAPTER_REPO))
    engine.load()
    assert len(engine._lanes.keys) == 2
    spans: dict[str, list[tuple[float, float, str]]] = {}
    real = engine.run_generate

    def traced(call):
        start = time.monotonic()
        time.sleep(0.3)
        out = real(call)
        spans.setdefault(threading.current_thread().name, []).append((start, time.monotonic(), call.slot))
        return out

    engine.run_generate = traced

    def as_visitor(visitor: str, text: str, model: str = "base") -> None:
        with visiting(visitor):
            engine.translate(text, model=model)

    busy = [threading.Thread(target=as_visitor, args=("busy", " ".join(SOURCES[:6])), name=f"busy-{i}")
            for i in range(2)]
    for job in busy:
        job.start()
    time.sleep(0.5)
    newcomer = threading.Thread(target=as_visitor, args=("newcomer", "Hola.", "main"), name="newcomer")
    newcomer.start()
    for job in (*busy, newcomer):
        job.join(60)
    (start, end, lane), = spans["newcomer"]
    overlapping = [s for name in ("busy-0", "busy-1") for s in spans[name] if s[0] < start < s[1]]
    assert overlapping and all(s[2] != lane for s in overlapping)  # beside a busy batch, on the other copy
    alone = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO)).translate("Hola.", model="main").text
    assert engine.translate("Hola.", model="main").text == alone
