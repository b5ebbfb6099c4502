"""What one run of issue 6's load scenario measured (``LoadReport``) and how it is computed from the raw latencies
(``build_report``): throughput, nearest-rank p50/p95, the efficiency against the same requests served alone, and the
errors and mismatches ``tests/test_load.py`` asserts are empty.

``bench/load.py`` runs the scenario and hands its raw observations here; ``LoadReport.headline`` gives the
benchmark's top-level ``load_*`` keys (``bench/report.py`` prints them).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations
    from bench.load_scenario import LoadScenario, Request


@dataclass
class LoadReport:
    """What one run of the scenario measured. Seconds are wall-clock, seen by the clients (HTTP + queue + model)."""

    clients: int
    requests: int
    """Requests the clients were to send under load."""
    completed: int
    """Of those, answered without error."""
    wall_s: float
    """From the moment every client (and the switcher) was released until the last client had its last answer."""
    requests_per_second: float
    """``completed / wall_s``: the clients' requests only."""
    p50_s: float
    """Median latency of the clients' completed requests under load (the switcher's are left out)."""
    p95_s: float
    """95th percentile (nearest rank) of the same latencies."""
    latencies_s: list[float]
    """Every completed client request's latency under load, in completion order."""
    alone_s: dict[str, float]
    """Latency of each distinct request (mix and switcher) served alone, warm, keyed by :attr:`Request.label`."""
    alone_median_s: float
    """Median of the alone latencies over the mix, each request counted as often as the mix sends it."""
    models: list[str]
    """What the mix asked for: base and two revisions."""
    switcher_requests: int
    """The switcher's requests answered while the clients were running (kept out of p50/p95; in the efficiency)."""
    switcher_revisions: list[str]
    errors: list[str] = field(default_factory=list)
    """Failed requests (clients' and switcher's), and clients that never finished."""
    mismatches: list[str] = field(default_factory=list)
    """Requests whose answer differed from the same request served alone (or whose two alone answers differed)."""
    adapter_loads: int | None = None
    """Adapters the engine attached during the concurrent phase; ``None`` when the server runs in another process."""
    evictions: int | None = None
    """Adapters the engine evicted during the concurrent phase; ``None`` likewise."""
    load_efficiency: float = math.nan
    """Sum of the alone latencies of every request completed under load (clients' and switcher's) / ``wall_s``.

    1.0 means the model was busy the whole time with nothing lost to queueing, switching or evictions: the app
    runs model work one request at a time, so that is the most it can do. Below 1.0 is overhead. Slightly above
    1.0 is possible when per-request HTTP and queue overhead of one request overlaps another's model work (which
    the alone latency counts in full); that only shows on the tiny model, where the model's share is small.
    """
    p50_over_alone: float = math.nan
    """``p50_s / alone_median_s``: how much waiting in the queue adds to a typical request."""
    p95_over_alone: float = math.nan
    """``p95_s / alone_median_s``: the same for the slow tail."""

    def headline(self) -> dict[str, float | int]:
        """The benchmark's top-level ``load_*`` keys."""
        return {
            "load_efficiency": round(self.load_efficiency, 3),
            "load_p50_over_alone": round(self.p50_over_alone, 3),
            "load_p95_over_alone": round(self.p95_over_alone, 3),
            "load_requests_per_second": round(self.requests_per_second, 3),
            "load_mismatches": len(self.mismatches),
            "load_errors": len(self.errors),
        }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1): an actual observed latency, never an interpolation."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def build_report(scenario: LoadScenario, mix: list[Request], alone: dict[Request, float], latencies: list[float],
                 completed: list[Request], wall_s: float, switcher_requests: int, errors: list[str],
                 mismatches: list[str], events: tuple[int, int] | None) -> LoadReport:
    """The report of one run: ``latencies`` of the clients' completed requests, ``completed`` every request answered
    while they ran (the switcher's too), ``alone`` each distinct request's latency served alone, ``events`` the
    adapter (loads, evictions) counted meanwhile, or ``None`` when the server runs in another process."""
    alone_mix = [alone[r] for r in mix if r in alone]
    alone_median = statistics.median(alone_mix) if alone_mix else math.nan
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    busy = sum(alone[r] for r in completed)
    return LoadReport(
        clients=scenario.clients,
        requests=len(mix),
        completed=len(latencies),
        wall_s=round(wall_s, 3),
        requests_per_second=len(latencies) / wall_s if wall_s > 0 else math.nan,
        p50_s=round(p50, 4),
        p95_s=round(p95, 4),
        latencies_s=[round(s, 4) for s in latencies],
        alone_s={r.label: round(s, 4) for r, s in alone.items()},
        alone_median_s=round(alone_median, 4),
        models=list(scenario.models),
        switcher_requests=switcher_requests,
        switcher_revisions=list(scenario.switch_models),
        errors=errors,
        mismatches=mismatches,
        adapter_loads=events[0] if events else None,
        evictions=events[1] if events else None,
        load_efficiency=busy / wall_s if wall_s > 0 else math.nan,
        p50_over_alone=p50 / alone_median,
        p95_over_alone=p95 / alone_median,
    )
