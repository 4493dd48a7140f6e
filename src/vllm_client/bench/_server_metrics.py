"""The server's side of a run: ``/metrics`` scraped at the start, every ``interval`` and at
the end, reduced to counter deltas and gauge series beside the client's numbers.

The scrape runs on its own thread with its own (sync) client, so it never waits in the
dispatch loop nor on the event loop: one small GET a second costs the load generator
nothing measurable. Parsing is the shared :func:`~vllm_client._protocol.metrics_text.parse_prometheus`;
a sample's value is the sum over its label sets (engines, models, finish reasons).
:func:`summarize` is pure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["COUNTERS", "GAUGES", "Scraper", "summarize", "total"]

COUNTERS = {
    "prefix_cache_queries": "vllm:prefix_cache_queries_total",
    "prefix_cache_hits": "vllm:prefix_cache_hits_total",
    "preemptions": "vllm:num_preemptions_total",
    "generation_tokens": "vllm:generation_tokens_total",
    "prompt_tokens": "vllm:prompt_tokens_total",
    "request_success": "vllm:request_success_total",
}
GAUGES = {
    "running": "vllm:num_requests_running",
    "waiting": "vllm:num_requests_waiting",
    "kv_cache_usage": "vllm:kv_cache_usage_perc",
}


def total(sample: Mapping[str, float], name: str) -> float | None:
    """The sum of ``name``'s values over its label sets, None when absent."""
    found = False
    value = 0.0
    prefix = name + "{"
    for key, v in sample.items():
        if key == name or key.startswith(prefix):
            found = True
            value += v
    return value if found else None


def summarize(snapshots: list[tuple[float, Mapping[str, float]]]) -> dict[str, Any] | None:
    """Deltas (last minus first snapshot) of :data:`COUNTERS`, the prefix-cache hit rate
    (hits / queries, both in tokens), and the series and peaks of :data:`GAUGES`."""
    if not snapshots:
        return None
    first, last = snapshots[0][1], snapshots[-1][1]
    deltas: dict[str, float | None] = {}
    for key, name in COUNTERS.items():
        a, b = total(first, name), total(last, name)
        deltas[key] = None if a is None or b is None else b - a
    queries, hits = deltas.get("prefix_cache_queries"), deltas.get("prefix_cache_hits")
    series: dict[str, list[tuple[float, float]]] = {}
    peaks: dict[str, float | None] = {}
    for key, name in GAUGES.items():
        points = [(t, v) for t, s in snapshots if (v := total(s, name)) is not None]
        series[key] = points
        peaks[key] = max((v for _, v in points), default=None)
    return {
        "scrapes": len(snapshots),
        "deltas": deltas,
        "prefix_cache_hit_rate": hits / queries if hits is not None and queries else None,
        "series": series,
        "max": peaks,
    }


class Scraper:
    """Scrapes with ``fetch()`` (a ``{"name{labels}": value}`` dict) at :meth:`start`,
    every ``interval`` seconds (0: never in between) and at :meth:`stop`. A failing scrape
    is counted, not raised: a server without ``/metrics`` still gets benchmarked."""

    def __init__(self, fetch: Callable[[], Mapping[str, float]], *, interval: float,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._fetch = fetch
        self._interval = interval
        self._clock = clock
        self._origin = clock()
        self.snapshots: list[tuple[float, Mapping[str, float]]] = []
        self.failures = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _scrape(self) -> None:
        try:
            sample = self._fetch()
        except Exception as exc:  # a scrape is best effort
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return
        self.snapshots.append((self._clock() - self._origin, sample))

    def first(self) -> None:
        """The start snapshot, taken before the run's clock starts (a blocking GET)."""
        self._scrape()

    def start(self, origin: float) -> None:
        """The run started at ``origin``: scrape every ``interval`` from now (a thread)."""
        self.snapshots = [(t + self._origin - origin, s) for t, s in self.snapshots]
        self._origin = origin
        if self._interval > 0:
            self._thread = threading.Thread(target=self._run, name="vllm-client-bench-scrape", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._scrape()

    def stop(self) -> dict[str, Any] | None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._scrape()
        out = summarize(self.snapshots)
        if out is not None:
            out["scrape_failures"] = self.failures
        elif self.failures:
            out = {"scrapes": 0, "scrape_failures": self.failures, "error": self.last_error}
        return out
