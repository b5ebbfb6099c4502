"""Issue 6's load scenario, shared by ``tests/test_load.py`` (tiny model) and ``bench/run.py`` (600M-shaped model).

N concurrent ``gradio_client`` clients send a mix of ``/translate``, ``/compare`` and ``/attention`` requests across
``base``, ``<repo>@main`` and ``<repo>@<branch>``, while one more client (the *switcher*) keeps asking for the tag,
the branch, base and main in turn. Every answer must equal the answer the same request gets when served alone.

The scenario's repo has THREE distinct commits (see :func:`publish_revisions`): the tag is an older commit of
``main``, so with the app's adapter cache at 2 revisions, each switch to the tag evicts an adapter that the mix is
about to need again. (If the tag were ``main``'s commit, the cache would hold all the scenario's adapters at once
and switching would never evict anything.)

:func:`run_scenario` only needs the server's URL; the report it returns holds the timings the benchmark turns into
ratios (:meth:`LoadReport.headline`), and the errors and mismatches the test asserts are empty. ``LoadReport`` and
the arithmetic from raw latencies to it are in ``bench/load_report.py``, what is asked (``LoadScenario``,
``Request``) in ``bench/load_scenario.py``; this file runs the scenario.

Nothing here imports gradio, gradio_client or huggingface_hub at module level: ``huggingface_hub`` reads
``HF_ENDPOINT`` once at import, and the benchmark's child process must point it at its Hub emulator first.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load_report import LoadReport, build_report
from bench.load_scenario import LoadScenario, Request


def publish_revisions(repo: str, *, tag_folder: Path, main_folder: Path, branch_folder: Path,
                      branch: str = "exp/run-1", tag: str = "v1") -> dict[str, str]:
    """Push the scenario's three adapter revisions to ``repo`` on the Hub ``HF_ENDPOINT`` names; returns their shas.

    ``tag_folder`` is pushed to ``main`` and tagged ``tag``; ``main_folder`` is pushed to ``main`` after it, so the
    tag is a release that ``main`` has moved on from; ``branch_folder`` goes to ``branch``. The three folders must
    differ (an unchanged push makes no commit).
    """
    from nllb_space.hub import revisions as hub

    tagged = hub.push_folder(tag_folder, repo, tag=tag, commit_message="release")
    main = hub.push_folder(main_folder, repo, commit_message="after the release")
    other = hub.push_folder(branch_folder, repo, branch=branch, commit_message="experiment")
    shas = {"tag": tagged.sha, "main": main.sha, "branch": other.sha}
    if len(set(shas.values())) != 3:
        raise ValueError(f"The scenario needs three distinct commits, got {shas}: are two folders identical?")
    return shas


def answer(endpoint: str, result: Any) -> object:
    """The part of an answer that must not depend on load: the texts, and the attention figure's data.

    Compare's summary table and every timing are left out: they change from call to call by design.
    """
    if endpoint == "/translate":
        return result
    if endpoint == "/compare":
        return tuple(result[:2])
    translation, plot, _, data = result
    figure = json.loads(plot["plot"])
    return translation, json.dumps(figure["data"][0]["z"], sort_keys=True), json.dumps(data, sort_keys=True)


class AdapterEvents(logging.Handler):
    """Counts the adapter loads and evictions of an app running in THIS process, from ``nllb_space.model.slot``'s log.

    ``with AdapterEvents() as events:`` lowers that logger to INFO for the duration (its records are not emitted
    otherwise). The server's internals are not visible through its API, and the log is the one place the engine
    reports evictions; if those messages change, :attr:`evictions` stays 0 and ``tests/test_load.py`` says so.
    """

    LOGGER = "nllb_space.model.slot"

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.loads = 0
        self.evictions = 0
        self._saved_level = logging.NOTSET

    def emit(self, record: logging.LogRecord) -> None:  # called under the handler's lock: counts are thread-safe
        if str(record.msg).startswith("Attached adapter"):
            self.loads += 1
        elif str(record.msg).startswith("Evicted adapter"):
            self.evictions += 1

    def __enter__(self) -> "AdapterEvents":
        logger = logging.getLogger(self.LOGGER)
        self._saved_level = logger.level
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger(self.LOGGER)
        logger.removeHandler(self)
        logger.setLevel(self._saved_level)


def _brief(value: object, limit: int = 160) -> str:
    """``repr`` cut short: an attention answer holds a whole heatmap."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class Alone:
    """What serving each distinct request alone gave."""

    answers: dict[Request, object]
    seconds: dict[Request, float]
    errors: list[str]
    mismatches: list[str]


def serve_alone(url: str, requests: list[Request]) -> Alone:
    """Each distinct request, one at a time from one client: its answer, its warm latency, and any problem.

    Each is sent twice in a row: the first call loads what it needs (Hub lookup, adapter attach, perhaps an
    eviction) and gives the answer; the second, with everything in place, gives the latency. The two answers must
    agree, or comparing with them under load would mean nothing.
    """
    from nllb_space.testing.serve import visitor_client

    client = visitor_client(url, 0)
    alone = Alone({}, {}, [], [])
    for request in dict.fromkeys(requests):  # distinct, in first-seen order
        try:
            first = answer(request.endpoint, client.predict(*request.args, api_name=request.endpoint))
            start = time.perf_counter()
            second = answer(request.endpoint, client.predict(*request.args, api_name=request.endpoint))
            alone.seconds[request] = time.perf_counter() - start
        except Exception as error:  # noqa: BLE001 - reported with the request it belongs to
            alone.errors.append(f"alone {request.label}: {error!r}")
            continue
        alone.answers[request] = first
        if second != first:
            alone.mismatches.append(f"alone {request.label}: {_brief(first)}, then {_brief(second)}")
    return alone


def run_scenario(url: str, scenario: LoadScenario, events: AdapterEvents | None = None,
                 timeout_s: float = 1800.0) -> LoadReport:
    """Serve the scenario's requests alone, then all at once; compare the answers and time both.

    ``url`` is a running app (``demo.local_url``). ``events``, when the app runs in this process, counts its adapter
    loads and evictions during the concurrent phase. Clients that have not finished after ``timeout_s`` are
    reported as errors (their threads are daemons and are left behind).
    """
    from nllb_space.testing.serve import visitor_client

    mix = scenario.mix()
    cycle = [scenario.switch_request(i) for i in range(len(scenario.switch_models))]
    served = serve_alone(url, mix + cycle)
    expected, alone, errors, mismatches = served.answers, served.seconds, served.errors, served.mismatches
    if errors:  # without every alone answer there is nothing to compare with
        return build_report(scenario, mix, alone, [], [], 0.0, 0, errors, mismatches, None)

    lock = threading.Lock()
    latencies: list[float] = []
    done: list[Request] = []
    switched: list[tuple[float, Request]] = []  # (finished at, request) of the switcher's answered requests
    stop_switching = threading.Event()
    # Clients connect before the clock starts (each Client fetches the app's config), then start together.
    clients = [visitor_client(url, 1 + index) for index in range(scenario.clients + 1)]  # each a visitor
    start_line = threading.Barrier(scenario.clients + 2)

    def check(request: Request, got: object) -> None:
        if got != expected[request]:
            mismatches.append(f"{request.label}: {_brief(got)} under load, {_brief(expected[request])} alone")

    def client_worker(index: int) -> None:
        client = clients[index]
        start_line.wait()
        for request in mix[index::scenario.clients]:
            start = time.perf_counter()
            try:
                got = answer(request.endpoint, client.predict(*request.args, api_name=request.endpoint))
            except Exception as error:  # noqa: BLE001 - every failure is collected and reported
                with lock:
                    errors.append(f"{request.label}: {error!r}")
                continue
            with lock:
                latencies.append(time.perf_counter() - start)
                done.append(request)
                check(request, got)

    def switcher() -> None:
        """Another visitor flipping between revisions as fast as the queue lets it, until the clients are done and
        it has gone once through every revision (when the clients are quick, it would otherwise stop before the
        switches evict anything, and the scenario would not test what it is for)."""
        client = clients[-1]
        start_line.wait()
        i = 0
        while not stop_switching.is_set() or i < len(cycle):
            request = cycle[i % len(cycle)]
            i += 1
            try:
                got = answer(request.endpoint, client.predict(*request.args, api_name=request.endpoint))
            except Exception as error:  # noqa: BLE001
                with lock:
                    errors.append(f"{request.label}: {error!r}")
                continue
            with lock:
                switched.append((time.perf_counter(), request))
                check(request, got)

    workers = [threading.Thread(target=client_worker, args=(i,), daemon=True) for i in range(scenario.clients)]
    switching = threading.Thread(target=switcher, daemon=True)
    for thread in (*workers, switching):
        thread.start()
    loads_before, evictions_before = (events.loads, events.evictions) if events else (0, 0)
    start_line.wait()
    started = time.perf_counter()
    deadline = started + timeout_s
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.perf_counter()))
    finished = time.perf_counter()
    stop_switching.set()
    switching.join(timeout=max(60.0, deadline - time.perf_counter()))
    with lock:
        stuck = sum(worker.is_alive() for worker in workers)
        if stuck:
            errors.append(f"{stuck} client(s) still waiting after {timeout_s:.0f} s")
        if switching.is_alive():
            errors.append("the switcher's last request never finished")
        # Only what finished while the clients ran counts toward the efficiency; a switcher request still in flight
        # when they finished is checked above but not counted.
        within = [request for at, request in switched if at <= finished]
        counted = (events.loads - loads_before, events.evictions - evictions_before) if events else None
        return build_report(scenario, mix, alone, list(latencies), done + within, finished - started, len(within),
                            errors, mismatches, counted)
