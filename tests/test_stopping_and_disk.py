"""A public Space under abuse, stopping and disk (issue 23, section 4): a cancelled job stops, uploads and visitors'
adapters in the Hub cache stay within their budgets.

Each test provokes what a hostile visitor did to the running app (on loopback, with the tiny model and the loopback
Hub) and checks the limit holds while everyone else is still served.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from nllb_space.testing.pairs import SOURCES, TARGETS
from nllb_space.testing.serve import launch_local
from tests.model_fixtures import tiny_settings

SENTENCE = SOURCES[0]


def launch(engine, **options):
    """The app around ``engine`` on loopback; returns (demo, gradio_client.Client)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    from nllb_space.web.page import build_demo

    demo = build_demo(engine)
    return demo, Client(launch_local(demo, **options), verbose=False)


def slow_engine(tiny_model_dir, calls: list, **overrides):
    """An engine whose every model call (one batch) is counted and takes a while, as on the real model."""
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, batch_size=1, **overrides))
    engine.load()
    real = engine.run_generate
    engine.run_generate = lambda call: (calls.append(1), time.sleep(0.1), real(call))[-1]
    return engine


# -- cancel ---------------------------------------------------------------------------------------------------------


ROWS = 40


@pytest.mark.parametrize("event", ["translate_file", "compare_file"])
def test_a_cancelled_file_job_stops_at_the_next_batch_and_writes_no_file(event, tiny_model_dir, hub_adapters,
                                                                          own_results):
    """The page's Stop button (POST /gradio_api/cancel, the page still open): 12 of 12 such jobs once ran to the end
    and wrote their files, because the liveness check looked for the event where cancel had already removed it."""
    import httpx

    calls: list[int] = []
    engine = slow_engine(tiny_model_dir, calls)
    demo, client = launch(engine)
    try:
        url = demo.local_url + "gradio_api/"
        if event == "translate_file":  # 40 rows of one sentence: 40 batches of one
            name, content = "rows.csv", "text\n" + "\n".join(SOURCES[:ROWS]) + "\n"
            options, batches = ["base"], ROWS
        else:  # source<TAB>reference, both models on every row: 80 batches of one
            name, content = "rows.tsv", "".join(f"{s}\t{t}\n" for s, t in zip(SOURCES[:ROWS], TARGETS[:ROWS]))
            options, batches = ["base", "base"], 2 * ROWS
        uploaded = httpx.post(url + "upload", files={"files": (name, content.encode())})
        uploaded.raise_for_status()
        file = {"path": uploaded.json()[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}
        fn_index = next(i for i, fn in demo.fns.items() if fn.name == event)
        session = f"visitor-who-cancels-{event}"
        joined = httpx.post(url + "queue/join", json={
            "data": [file, "spa_Latn", "ita_Latn", *options, 1, 24], "fn_index": fn_index, "session_hash": session})
        joined.raise_for_status()
        event_id = joined.json()["event_id"]

        def page() -> None:  # the page stays open: its event stream is read to the end
            with httpx.stream("GET", url + f"queue/data?session_hash={session}", timeout=60) as stream:
                for _ in stream.iter_lines():
                    pass

        threading.Thread(target=page, daemon=True).start()
        deadline = time.monotonic() + 60
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        # What the page's Stop button sends.
        cancelled = httpx.post(url + "cancel", json={"session_hash": session, "fn_index": fn_index,
                                                     "event_id": event_id})
        assert cancelled.status_code == 200, cancelled.text
        time.sleep(2.0)
        stopped_at = len(calls)
        time.sleep(2.0)
        assert len(calls) == stopped_at <= 6 < batches  # at most the batch under way ran after the cancel
        written = [path for path in own_results.rglob("*") if path.is_file()] if own_results.exists() else []
        assert written == []  # and no result file was written
        assert client.predict(SENTENCE, "spa_Latn", "ita_Latn", "base", api_name="/translate")  # others are served
    finally:
        demo.close()


# -- uploads --------------------------------------------------------------------------------------------------------


def upload_settings(tiny_model_dir):
    """Small budgets: files of at most 10 kB, 50 kB a visitor, 120 kB in all."""
    return tiny_settings(tiny_model_dir, max_file_bytes=10_000, visitor_upload_mb=0.05, upload_disk_mb=0.12)


def guarded_app(settings):
    """The app as app.py serves it: the upload limit and the upload budgets in front of Gradio's routes."""
    from nllb_space.service.engine import Engine
    from nllb_space.web.page import launch_options
    from nllb_space.web.uploads import UploadBudget

    engine = Engine(settings)
    engine.load()
    budget = UploadBudget.for_settings(settings)
    options = {k: v for k, v in launch_options(settings).items() if k == "max_file_size"}
    demo, client = launch(engine, **options, app_kwargs=budget.app_kwargs())
    return demo, client, budget


def upload(url: str, visitor: str, name: str, content: bytes, **extra):
    import httpx

    return httpx.post(url + "gradio_api/upload", files={"files": (name, content)},
                      headers={"X-Forwarded-For": visitor, **extra}, timeout=30)


def on_disk(paths) -> int:
    return sum(os.path.getsize(path) for path in paths if os.path.exists(path))


def test_uploads_are_bounded_per_visitor_and_in_all(tiny_model_dir, hub_adapters):
    """One client stored 300 files of 999 kB in 2.3 s, all kept for NLLB_FILE_TTL: disk bounded by rate x TTL only."""
    import hashlib

    from nllb_space.visitors import visitor_of

    demo, _, budget = guarded_app(upload_settings(tiny_model_dir))
    try:
        stored: dict[str, list[str]] = {}

        def fill(visitor: str, tries: int = 20):
            """Upload distinct 9 kB files as ``visitor`` until refused; returns the refusal."""
            for i in range(tries):
                answer = upload(demo.local_url, visitor, f"rows{i}.txt", f"{visitor} {i}\n".encode() * 600)
                if answer.status_code != 200:
                    return answer
                stored.setdefault(visitor, []).extend(answer.json())
            pytest.fail(f"{tries} uploads of 9 kB were all kept for {visitor}")

        refused = fill("203.0.113.1")
        assert refused.status_code == 413 and "NLLB_VISITOR_UPLOAD_MB" in refused.text, refused.text
        assert len(stored["203.0.113.1"]) == 5 and on_disk(stored["203.0.113.1"]) <= 50_000
        # The visitor is the last X-Forwarded-For address (what Spaces' proxy saw), not anything earlier it wrote.
        assert upload(demo.local_url, "198.51.100.9, 203.0.113.1", "x.txt", b"x" * 9000).status_code == 413
        assert visitor_of({"x-forwarded-for": "198.51.100.9, 203.0.113.1"}, "10.0.0.1") == "203.0.113.1"
        refused = fill("203.0.113.2")  # another visitor still uploads...
        assert len(stored["203.0.113.2"]) == 5 and "NLLB_VISITOR_UPLOAD_MB" in refused.text
        refused = fill("203.0.113.3")  # ...until everyone's uploads fill their disk
        assert refused.status_code == 413 and "NLLB_UPLOAD_DISK_MB" in refused.text, refused.text
        everything = [path for paths in stored.values() for path in paths]
        assert on_disk(everything) <= 120_000 and budget.usage() <= 120_000
        assert upload(demo.local_url, "203.0.113.4", "late.txt", b"late").status_code == 413
        # Many tiny files in one request are charged a disk block each, and removed when they do not fit.
        tiny = [(f"t{i}.txt", f"tiny {i}".encode()) for i in range(20)]
        import httpx

        answer = httpx.post(demo.local_url + "gradio_api/upload", files=[("files", file) for file in tiny],
                            headers={"X-Forwarded-For": "203.0.113.2"})
        assert answer.status_code == 413, answer.text
        upload_dir = os.environ["GRADIO_TEMP_DIR"]
        assert not any(os.path.exists(os.path.join(upload_dir, hashlib.sha256(content).hexdigest(), name))
                       for name, content in tiny)
        # An upload that does not say its size is refused before it is read.
        chunked = httpx.post(demo.local_url + "gradio_api/upload", content=iter([b"--x\r\n"]),
                             headers={"content-type": "multipart/form-data; boundary=x"})
        assert chunked.status_code == 411
    finally:
        demo.close()


def test_an_upload_no_request_used_is_removed_within_minutes(tiny_model_dir, hub_adapters):
    import httpx

    demo, _, budget = guarded_app(upload_settings(tiny_model_dir))
    try:
        visitor = "203.0.113.7"
        used = upload(demo.local_url, visitor, "used.csv", ("text\n" + SENTENCE + "\n").encode()).json()[0]
        unused = [upload(demo.local_url, visitor, f"unused{i}.txt", f"{i} ".encode() * 5000).json()[0]
                  for i in range(4)]
        assert upload(demo.local_url, visitor, "one-more.txt", b"y" * 9000).status_code == 413  # budget full
        fn_index = next(i for i, fn in demo.fns.items() if fn.name == "translate_file")

        def translate_file(path: str, session: str) -> str:
            """The Translate tab's file event on ``path``, as the page sends it; its final message."""
            file = {"path": path, "orig_name": os.path.basename(path), "meta": {"_type": "gradio.FileData"}}
            httpx.post(demo.local_url + "gradio_api/queue/join", headers={"X-Forwarded-For": visitor}, json={
                "data": [file, "spa_Latn", "ita_Latn", "base", 1, 24], "fn_index": fn_index, "session_hash": session,
            }).raise_for_status()
            with httpx.stream("GET", demo.local_url + f"gradio_api/queue/data?session_hash={session}",
                              timeout=60) as stream:
                return next(line for line in stream.iter_lines() if "process_completed" in line)

        assert '"success":true' in translate_file(used, "visitor-who-uploads").replace(" ", "")
        assert budget.sweep() == 0  # nothing is old yet
        later = time.time() + budget.unused_s + 1
        assert budget.sweep(now=later) == 4  # a few minutes on: the uploads no request used are gone...
        assert not any(os.path.exists(path) for path in unused)
        assert os.path.exists(used)  # ...the one a request used stays, for NLLB_FILE_TTL
        # A page that kept a removed upload and sends it now is told to upload it again.
        assert "upload it again" in translate_file(unused[0], "visitor-who-waited")
        assert upload(demo.local_url, visitor, "one-more.txt", b"y" * 9000).status_code == 200  # room again
        assert budget.sweep(now=time.time() + budget.kept_s + 1) == 2 and not os.path.exists(used)
        assert budget.usage(visitor) == 0 and budget.usage() == 0
    finally:
        demo.close()


# -- the Hub cache --------------------------------------------------------------------------------------------------


def test_a_burst_of_visitors_adapters_never_takes_the_hub_cache_over_its_budget(tiny_model_dir, hub, adapter_dirs,
                                                                               hub_adapters):
    """Twelve 45 MB adapters through /update_map took the cache from 12 to 557 MB against a 100 MB budget."""
    from concurrent.futures import ThreadPoolExecutor

    from huggingface_hub import scan_cache_dir

    from nllb_space.service.engine import Engine
    from nllb_space.visitors import visiting
    from tests.model_fixtures import ADAPTER_REPO

    files = {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}
    adapter = sum(len(data) for data in files.values())
    repos = [f"visitor/burst-{i}" for i in range(12)]
    for repo in repos:
        hub.commit_files(repo, files, message=repo)
    limit = int(2.5 * adapter)  # room for two visitors' adapters, not three
    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO, adapter_cache_size=1,
                                  adapter_disk_mb=limit / 1e6))
    engine.load()
    keep = {ADAPTER_REPO, engine.settings.base_model}

    def visitors_bytes() -> int:
        return sum(repo.size_on_disk for repo in scan_cache_dir().repos
                   if repo.repo_type == "model" and repo.repo_id not in keep)

    def listing() -> list:
        return sorted((repo.repo_id, repo.size_on_disk) for repo in scan_cache_dir().repos if repo.repo_id not in keep)

    engine.translate(SENTENCE, model="main")  # the owner's adapter: never counted, never removed
    for repo in repos[:6]:  # one after the other
        assert engine.describe(f"{repo}@main")[0].repo == repo
        assert visitors_bytes() <= limit, listing()
    def visit(index: int):  # three visitors at once (one visitor may hold only two of the Hub-call threads)
        with visiting(f"198.18.0.{index % 3}"):
            return engine.describe(f"{repos[index]}@main")

    peak, done, at_peak = [0], threading.Event(), [[]]

    def watch() -> None:  # the cache measured all along the burst, not only between downloads
        while not done.is_set():
            try:
                now = visitors_bytes()
                if now > peak[0]:
                    peak[0], at_peak[0] = now, listing()  # what was cached then, for a failure to show
            except Exception:  # noqa: BLE001 - a revision removed while it was being scanned: measure again
                pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(3) as burst:
            for ref, _ in burst.map(visit, range(6, len(repos))):
                assert visitors_bytes() <= limit, listing()
    finally:
        done.set()
        watcher.join()
    assert 0 < peak[0] <= limit, (limit, at_peak[0])
    assert ref.repo == repos[-1]
    cached = {repo.repo_id for repo in scan_cache_dir().repos}
    assert repos[-1] in cached and ADAPTER_REPO in cached  # in use, and the owner's: kept
    assert engine.translate(SENTENCE, model=f"{repos[0]}@main").model.repo == repos[0]  # evicted: fetched again


def test_an_adapter_larger_than_the_whole_budget_is_refused_before_downloading(tiny_model_dir, hub, adapter_dirs,
                                                                               hub_adapters):
    from huggingface_hub import scan_cache_dir

    from nllb_space.errors import UserFacingError
    from nllb_space.service.engine import Engine

    files = {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}
    hub.commit_files("visitor/too-big-for-the-disk", files, message="big")
    engine = Engine(tiny_settings(tiny_model_dir, adapter_disk_mb=1000 / 1e6))  # 1 kB for visitors' adapters
    engine.load()
    with pytest.raises(UserFacingError, match="NLLB_ADAPTER_DISK_MB"):
        engine.describe("visitor/too-big-for-the-disk@main")
    assert "visitor/too-big-for-the-disk" not in {repo.repo_id for repo in scan_cache_dir().repos}


def test_a_fresh_machine_has_room_for_its_first_visitors_adapter(tmp_path, monkeypatch):
    """A fresh Space has no Hub cache folder until its first download: making room for it must not fail there."""
    from huggingface_hub.utils import _cache_manager

    from nllb_space.service import disk

    monkeypatch.setattr(_cache_manager, "HF_HUB_CACHE", str(tmp_path / "no-cache-yet"))
    budget = disk.AdapterDisk(1_000_000, (), lambda: ())
    with budget.room(500_000):
        pass
    assert budget.trim() == 0


def test_copies_of_one_repo_are_each_removed_to_stay_in_budget(tiny_model_dir, hub, adapter_dirs, hub_adapters):
    """A duplicated repo has the very same commits: removing by commit hash alone removed one copy of several, and
    the cache stayed over its budget."""
    from huggingface_hub import scan_cache_dir

    from nllb_space.service.engine import Engine

    files = {p.name: p.read_bytes() for p in adapter_dirs["b"].iterdir()}
    copies = [f"copier/same-commits-{i}" for i in range(4)]
    shas = {hub.commit_files(repo, files, message="the same commit") for repo in copies}
    assert len(shas) == 1  # one commit, four repos
    size = sum(len(data) for data in files.values())
    engine = Engine(tiny_settings(tiny_model_dir, adapter_cache_size=1, adapter_disk_mb=4.5 * size / 1e6))
    for repo in copies:
        assert engine.describe(f"{repo}@main")[0].repo == repo

    def held() -> int:
        return sum(r.size_on_disk for r in scan_cache_dir().repos if r.repo_id.startswith("copier/"))

    assert held() >= 4 * size  # all four fit the budget
    engine._adapter_disk.limit_bytes = int(1.5 * size)  # a smaller budget: three copies must go at once
    engine.clean_disk()
    assert held() <= 1.5 * size
