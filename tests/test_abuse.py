"""A public Space under abuse: every input bounded, memory and queue bounded, one visitor's job never starves others.

Each test provokes what a hostile (or careless) visitor did to the running app, and checks the Space answers with a
message naming the limit, keeps its memory bounded, and keeps serving everyone else.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from nllb_space.errors import InputError
from nllb_space.testing.pairs import SOURCES
from nllb_space.testing.serve import launch_local
from tests.model_fixtures import ADAPTER_REPO, tiny_settings

SENTENCE = SOURCES[0]


def launch(engine):
    """The app around ``engine`` on loopback; returns (demo, gradio_client.Client)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    from nllb_space.web.page import build_demo

    demo = build_demo(engine)
    return demo, Client(launch_local(demo), verbose=False)


# -- every text parameter is bounded ---------------------------------------------------------------------------------


def test_a_huge_reference_is_refused_before_any_scoring(engine, monkeypatch):
    from nllb_space.web import translate_handlers as handlers
    from nllb_space.web.handlers import Handlers

    scored = []
    monkeypatch.setattr(handlers, "score_comparison", lambda *args: scored.append(args))
    message = _gr_error(Handlers(engine).compare, SENTENCE, "spa_Latn", "ita_Latn", "base", "base", "x" * 4_000_000)
    assert "4,000,000 characters" in message and "NLLB_MAX_CHARS" in message
    assert scored == []


@pytest.mark.parametrize("kwargs, message", [
    (dict(text="Hola. " * 200_000), "NLLB_MAX_CHARS"),
    (dict(text=SENTENCE, translation="ciao " * 300), "NLLB_MAX_NEW_TOKENS"),
    (dict(text=SENTENCE, translation="c" * 1_000_000), "NLLB_MAX_CHARS"),
    (dict(text=SENTENCE, model="m" * 10_000), "The model choice has 10,000 characters"),
    (dict(text=SENTENCE, src_lang="x" * 10_000), "A language name has 10,000 characters"),
])
def test_attention_inputs_are_bounded_before_the_model_runs(kwargs, message, engine, monkeypatch):
    """A 2,001-token forced translation once kept +250 MB per session; the model never writes one that long."""
    calls = []
    monkeypatch.setattr(engine, "run_attention", lambda call: calls.append(call))
    with pytest.raises(InputError, match=message):
        engine.attention(**{"src_lang": "spa_Latn", "tgt_lang": "ita_Latn", **kwargs})
    assert calls == []


def test_attention_views_live_on_the_server_bounded_and_in_half_precision(engine):
    import numpy as np

    from nllb_space.web.handler_inputs import MEAN
    from nllb_space.web.handlers import Handlers

    h = Handlers(engine)
    keys = [h.attention(text, "spa_Latn", "ita_Latn", f"{ADAPTER_REPO}@main")[2]
            for text in SOURCES[:h.views.capacity + 1]]
    assert all(isinstance(key, str) and len(key) == 32 for key in keys)  # all a session keeps
    view = h.views.get(keys[-1])
    assert view.maps.cross.dtype == np.float16 and view.difference.cross.dtype == np.float16
    assert h.views.get(keys[0]) is None  # the oldest was dropped: the server keeps `capacity` views in all
    figure, _, caption, _ = h.attention_views(keys[0], "cross", MEAN, MEAN)
    assert figure is None and "press Show attention again" in caption
    assert h.attention_views(keys[-1], "cross", MEAN, MEAN)[0] is not None


def _gr_error(call, *args) -> str:
    import gradio as gr

    with pytest.raises(gr.Error) as caught:
        call(*args)
    return caught.value.message


# -- time and the queue ---------------------------------------------------------------------------------------------


def test_a_short_request_takes_its_turn_between_the_batches_of_a_long_job(tiny_model_dir, hub_adapters):
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, batch_size=1))
    engine.load()
    long_text = " ".join(SOURCES)  # 40 sentences: 40 batches of one
    calls: list[str] = []
    real = engine.run_generate

    def traced(call):
        calls.append(threading.current_thread().name)
        time.sleep(0.02)  # a batch takes a while, as on the real model
        return real(call)

    engine.run_generate = traced
    long_job = threading.Thread(target=engine.translate, args=(long_text,), name="long")
    long_job.start()
    deadline = time.monotonic() + 60
    while calls.count("long") < 3 and long_job.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    short = threading.Thread(target=engine.translate, args=("Hola.",), name="short")
    short.start()  # one short sentence, while the long job has many batches to go
    short.join()
    long_job.join()
    batches = calls.count("long")
    assert batches >= 30
    # It went in soon after it arrived, with most of the long job still to come (a barging lock ran it last).
    assert calls.index("short") < batches - 10


def test_a_file_job_is_budgeted_as_a_whole(engine, tmp_path):
    import csv

    from nllb_space.web.handlers import Handlers

    path = tmp_path / "rows.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([["text"], *[[" ".join(SOURCES[:4])] for _ in range(100)]])  # 100 rows x 4
    message = _gr_error(Handlers(engine).translate_file, str(path), "spa_Latn", "ita_Latn", "base")
    assert "NLLB_MAX_JOB_SENTENCES" in message and "256" in message


def test_a_job_stops_when_its_visitor_goes_away(tiny_model_dir, hub_adapters):
    """The visitor closes the tab mid-job: the page's event stream drops, and no further batch runs."""
    import httpx

    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, batch_size=1))
    engine.load()
    calls = []
    real = engine.run_generate
    engine.run_generate = lambda call: (calls.append(1), time.sleep(0.05), real(call))[-1]
    demo, client = launch(engine)
    try:
        fn_index = next(i for i, fn in demo.fns.items() if fn.api_name == "translate")
        session = "visitor-who-leaves"
        url = demo.local_url + "gradio_api/queue/"
        httpx.post(url + "join", json={"data": [" ".join(SOURCES), "spa_Latn", "ita_Latn", "base", 1, 24],
                                       "fn_index": fn_index, "session_hash": session}).raise_for_status()
        with httpx.stream("GET", url + f"data?session_hash={session}", timeout=60) as stream:
            for _ in stream.iter_lines():  # what the page receives: queue position, then progress per batch
                if len(calls) >= 3:
                    break  # ...and the tab is closed
        time.sleep(3.0)
        stopped_at = len(calls)
        time.sleep(2.0)
        assert len(calls) == stopped_at < 20  # no batch ran after the visitor left (the text has 40)
        assert client.predict(SENTENCE, "spa_Latn", "ita_Latn", "base", api_name="/translate")  # still serving
    finally:
        demo.close()


def test_a_full_queue_says_busy_at_once(tiny_model_dir, hub_adapters, monkeypatch):
    from nllb_space.service.engine import Engine
    from nllb_space.web import page as ui

    monkeypatch.setattr(ui, "REQUESTS_IN_PROGRESS", 1)
    engine = Engine(tiny_settings(tiny_model_dir, queue_size=1))
    engine.load()
    release = threading.Event()
    real = engine.run_generate
    engine.run_generate = lambda call: (release.wait(30), real(call))[-1]
    demo, client = launch(engine)
    try:
        running = client.submit(SENTENCE, "spa_Latn", "ita_Latn", "base", api_name="/translate")
        time.sleep(1.0)
        waiting = client.submit(SENTENCE, "spa_Latn", "ita_Latn", "base", api_name="/translate")
        time.sleep(1.0)
        with pytest.raises(Exception, match="Queue is full"):
            client.predict(SENTENCE, "spa_Latn", "ita_Latn", "base", api_name="/translate")
        release.set()
        assert running.result(timeout=60) == waiting.result(timeout=60)
    finally:
        release.set()
        demo.close()


# -- a stalled Hub --------------------------------------------------------------------------------------------------


def test_a_stalled_hub_bounds_each_call_and_the_threads_that_wait_on_it(engine, hub, monkeypatch):
    """A Hub that accepts and never answers: page loads once piled up stuck threads until nothing answered."""
    from concurrent.futures import ThreadPoolExecutor

    from nllb_space.hub import calls as hub_calls
    from nllb_space.hub import deadlines as time_bound
    from nllb_space.hub import revisions as hub_client

    monkeypatch.setattr(hub_calls, "CALL_TIMEOUT_S", 0.5)
    monkeypatch.setattr(hub_calls, "RETRY_ATTEMPTS", 1)
    base = engine.translate(SENTENCE).text
    hub.fail(r"/refs", status=0, delay_s=3, times=100)  # listing branches stalls
    try:
        with ThreadPoolExecutor(24) as visitors:  # 24 page views at once, each listing the revisions
            outcomes = list(visitors.map(lambda _: _outcome(engine.list_revisions), range(24)))
            stuck = [t for t in threading.enumerate() if t.name.startswith("hub-call")]
            assert engine.translate(SENTENCE).text == base  # base visitors are served meanwhile
        assert all(isinstance(error, hub_client.HubUnavailable) for error in outcomes), outcomes
        assert len(stuck) <= time_bound.THREADS
    finally:
        hub.clear_faults()
        deadline = time.monotonic() + 15
        while time_bound._places._value < time_bound.THREADS and time.monotonic() < deadline:
            time.sleep(0.1)  # the stuck calls end once the emulator answers; later tests need the threads back


def _outcome(call):
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - the test inspects it
        return error


def test_during_a_stall_a_known_branch_is_served_its_last_commit_without_waiting(tiny_model_dir, hub_adapters,
                                                                                  monkeypatch):
    from nllb_space.hub import revisions as hub_client
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO, revision_ttl_s=0))
    before = engine.translate(SENTENCE, model="main")
    stall = threading.Event()
    real = hub_client.resolve_revision
    monkeypatch.setattr(hub_client, "resolve_revision", lambda *a, **k: (stall.wait(60), real(*a, **k))[-1])
    try:
        during = [engine.translate(SENTENCE, model="main") for _ in range(3)]
        assert not stall.is_set()  # answered while the Hub was still stalled
        assert all((d.text, d.model.sha) == (before.text, before.model.sha) for d in during)
    finally:
        stall.set()


# -- nothing of one visitor shown to another ------------------------------------------------------------------------


def test_the_status_line_never_names_what_other_visitors_loaded(engine, hub, adapter_dirs):
    from nllb_space.web.handlers import Handlers

    h = Handlers(engine)
    hub.commit_files("owner/private-adapter-2", {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()})
    hub.create_branch("owner/private-adapter-2", "secret-customer-acme")
    mine, *_ = h.use_revision("owner/private-adapter-2@secret-customer-acme", [])
    assert "secret-customer-acme" in mine  # a visitor sees their own choice...
    theirs = h.page_load(h.initial_choices())[0]
    assert "secret-customer-acme" not in theirs and "private-adapter-2" not in theirs  # ...and nobody else does
    assert "ready on this server" in theirs


# -- disk -----------------------------------------------------------------------------------------------------------


def test_result_files_are_removed_once_older_than_the_ttl(engine, tmp_path):
    from nllb_space.service import disk
    from nllb_space.web.handlers import Handlers

    source = tmp_path / "rows.tsv"
    source.write_text("text\nHola.\n", encoding="utf-8")
    result, _ = Handlers(engine).translate_file(str(source), "spa_Latn", "ita_Latn", "base")
    assert disk.RESULTS_ROOT in Path(result).parents
    assert disk.sweep_results(3600) == 0 and Path(result).exists()  # fresh: kept
    assert disk.sweep_results(3600, now=time.time() + 7200) == 1 and not Path(result).exists()


def test_visitors_adapters_in_the_cache_are_trimmed_and_what_is_in_use_stays(tiny_model_dir, hub, adapter_dirs,
                                                                             hub_adapters):
    from huggingface_hub import scan_cache_dir

    from nllb_space.service.engine import Engine

    files = {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}
    visitors = [f"visitor/disk-{i}" for i in range(4)]
    for repo in visitors:
        hub.commit_files(repo, files, message=repo)
    room_for_two = 2.5 * sum(len(data) for data in files.values()) / 1e6  # each download makes room, then the janitor
    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO, adapter_cache_size=1,
                                  adapter_disk_mb=room_for_two))
    engine.translate(SENTENCE, model="main")
    for repo in visitors:
        engine.translate(SENTENCE, model=f"{repo}@main")
    engine.clean_disk()
    cached = {repo.repo_id for repo in scan_cache_dir().repos}
    assert not cached & set(visitors[:2])  # least recently used, no longer in use: removed
    assert {visitors[3], ADAPTER_REPO} <= cached  # in use, and the owner's repo: kept
    assert engine.translate(SENTENCE, model=f"{visitors[0]}@main").model.repo == visitors[0]  # fetched again


def test_an_upload_over_the_limit_is_refused_before_it_is_stored(tiny_model_dir, hub_adapters):
    import httpx

    from nllb_space.service.engine import Engine
    from nllb_space.web.page import build_demo, launch_options

    engine = Engine(tiny_settings(tiny_model_dir, max_file_bytes=10_000))
    engine.load()
    demo = build_demo(engine)
    options = {k: v for k, v in launch_options(engine.settings).items() if k == "max_file_size"}
    launch_local(demo, **options)
    try:
        answer = httpx.post(demo.local_url + "gradio_api/upload", files={"files": ("big.txt", b"a" * 50_000)})
        assert answer.status_code == 413, answer.text
        small = httpx.post(demo.local_url + "gradio_api/upload", files={"files": ("small.txt", b"Hola.")})
        assert small.status_code == 200
    finally:
        demo.close()


# -- output safety and clear messages -------------------------------------------------------------------------------


def test_downloaded_tables_cannot_run_as_spreadsheet_formulas(engine, tmp_path):
    import csv

    from nllb_space.web.handlers import Handlers

    source = tmp_path / "rows.csv"
    with source.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([["text", "note"], ["Hola.", '=HYPERLINK("http://evil.example","x")'],
                                   ["Adiós.", "@SUM(A1:A9)"], ["Gracias.", "+1"], ["Buenas.", "-2+3"]])
    result, _ = Handlers(engine).translate_file(str(source), "spa_Latn", "ita_Latn", "base")
    with open(result, encoding="utf-8", newline="") as handle:
        notes = [row[1] for row in csv.reader(handle)][1:]
    assert notes == ['\'=HYPERLINK("http://evil.example","x")', "'@SUM(A1:A9)", "'+1", "'-2+3"]


@pytest.mark.parametrize("call, message", [
    (lambda h: h.translate_text("Hola \ud800 mundo.", "spa_Latn", "ita_Latn"), "not valid Unicode"),
    (lambda h: h.translate_text("Hola.", "spa_Latn", "ita_Latn", "~nosuchuser/x@main"), "not a Hub repo id"),
    (lambda h: h.translate_text("Hola.", "spa_Latn", "ita_Latn", "a" * 200 + "/b@main"), "not a Hub repo id"),
    (lambda h: h.translate_text("Hola.", "spa_Latn", "ita_Latn", "base", "abc"), "Beam size must be a whole number"),
    (lambda h: h.translate_text("Hola.", "spa_Latn", "ita_Latn", "base", 1, "null"), "Max new tokens per sentence must be a whole"),
    (lambda h: h.compare("Hola.", "spa_Latn", "ita_Latn", "base", "base", None, float("nan")), "whole number"),
])
def test_hostile_inputs_get_a_message_that_names_what_to_fix(call, message, engine):
    from nllb_space.web.handlers import Handlers

    text = _gr_error(call, Handlers(engine))
    assert message in text and "Something went wrong" not in text


def test_a_hostile_repo_to_list_gets_its_message_in_the_panel(engine):
    from nllb_space.web.handlers import Handlers

    text = Handlers(engine).list_revisions("~nosuchuser/x").revisions_message  # a failed listing says why inline
    assert "not a Hub repo id" in text and "Something went wrong" not in text


def test_a_server_path_and_a_bad_repo_id_get_the_same_answer(engine):
    """Whether a folder exists on the server must not show in the answer."""
    from nllb_space.web.handlers import Handlers

    h = Handlers(engine)
    existing = _gr_error(h.translate_text, "Hola.", "spa_Latn", "ita_Latn", "/tmp@main")
    missing = _gr_error(h.translate_text, "Hola.", "spa_Latn", "ita_Latn", "/no-such-folder-here@main")
    assert existing.replace("/tmp", "X") == missing.replace("/no-such-folder-here", "X")


@pytest.mark.parametrize("edit, message", [
    (lambda config: config.update(peft_type=None), "only LoRA adapters"),
    (lambda config: config.update(nested=json_bomb(50_000)), "nested too deeply"),
])
def test_odd_adapter_configs_are_refused_with_a_reason(edit, message, engine, hub, adapter_dirs, tmp_path):
    import json

    from nllb_space.errors import AdapterError

    files = {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}
    config = json.loads(files["adapter_config.json"])
    edit(config)
    files["adapter_config.json"] = json.dumps(config) if "nested" not in config else _raw_bomb(config)
    repo = f"stranger/odd-{abs(hash(message)) % 10_000}"
    hub.commit_files(repo, files)
    with pytest.raises(AdapterError, match=message):
        engine.translate("Hola.", model=f"{repo}@main")


def json_bomb(depth: int) -> str:
    return "bomb"  # a marker: _raw_bomb writes the nesting itself (json.dumps would hit the recursion limit first)


def _raw_bomb(config: dict) -> str:
    import json

    config = dict(config)
    config.pop("nested")
    return json.dumps(config)[:-1] + ', "nested": ' + "[" * 50_000 + "]" * 50_000 + "}"
