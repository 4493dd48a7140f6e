"""``--workers N``: one run spread over N processes, for loads one Python process cannot
drive (the self-audit says when: ``valid: false``).

The parent prepares the workload once (the same prompts as a one-process run), splits the
load (rate / N each, so N independent Gamma processes of rate R/N superpose to rate R;
users, the concurrency cap, the request count and the warm-up divided as evenly as they
go; prompts dealt round-robin; worker ``i`` seeded ``seed + 1000 i``), and gives every worker
the same zero: a ``perf_counter`` instant a moment ahead (``CLOCK_MONOTONIC``, one clock for
every process of the machine). Each worker runs the phases with its own async client and its
own audit; the parent scrapes ``/metrics`` and merges: the records (one timeline), the
dispatch lag over all of them, the busiest worker's CPU.
"""

from __future__ import annotations

import copy
import math
import multiprocessing
import time
from collections.abc import Sequence
from typing import Any

from .._event_loop import run as run_on_loop
from ._audit import Audit
from ._config import BenchConfig
from ._records import RequestRecord
from ._result import BenchResult, build_result

__all__ = ["run_workers", "split_config"]

_LEAD = 3.0  # seconds between the start of the workers and the shared zero (spawn + import)


def _share(total: int | None, n: int, i: int) -> int | None:
    if total is None:
        return None
    return total // n + (1 if i < total % n else 0)


def split_config(config: BenchConfig, n: int, i: int) -> BenchConfig:
    """Worker ``i``'s part of ``config`` (of ``n``)."""
    part = copy.deepcopy(config)
    load = part.load
    if not math.isinf(load.rate):
        load.rate = load.rate / n
    load.ramp_up_from = load.ramp_up_from / n
    load.users = _share(load.users, n, i)
    load.max_concurrency = _share(load.max_concurrency, n, i)
    load.num_requests = _share(load.num_requests, n, i)
    load.warmup = _share(load.warmup, n, i) or 0
    part.seed = config.seed + 1000 * i
    part.scrape_metrics = False
    return part


class _WorkerAudit(Audit):
    """The audits of the workers as one: the busiest worker's CPU, every loop lag."""

    def __init__(self, reports: Sequence[dict[str, Any]]) -> None:
        super().__init__()
        self._reports = list(reports)
        self.lags = [x for r in reports for x in r["lags"]]
        self.cpu_series = [p for r in reports for p in r["cpu_series"]]
        self._cpu_total = max((r["cpu"] for r in reports), default=0.0)
        self.event_loop = next((r["event_loop"] for r in reports), None)

    def report(self) -> dict[str, Any]:
        out = super().report()
        out["client_cpu_util_per_worker"] = [r["cpu"] for r in self._reports]
        return out


def _worker(args: tuple[list[str], str | None, str, BenchConfig, Any, str | None, float, int]) -> dict[str, Any]:
    urls, api_key, routing, config, prepared, model, start_at, connections = args
    from .._async.bench import run_phases
    from .._async.client import AsyncVllmClient
    from .._config import Limits

    async def main() -> dict[str, Any]:
        async with AsyncVllmClient(urls, api_key=api_key, max_retries=0, routing=routing,
                                   limits=Limits(max_connections=connections, max_keepalive=connections)) as client:
            records, audit, _ = await run_phases(client, config, prepared, model, start_at=start_at)
        return {"records": records, "lags": audit.lags, "cpu_series": audit.cpu_series, "cpu": audit.cpu_util,
                "event_loop": audit.event_loop}

    return run_on_loop(main(), config.event_loop)


def worker_routing(client: Any) -> str:
    """The routing policy's name, for worker processes to build their own: a policy given as
    an instance (a custom one, or a stock one with its own settings) cannot be rebuilt there,
    so that is refused rather than silently replaced by the defaults."""
    from .._routing import POLICIES, Policy

    if len(client.base_urls) > 1 and isinstance(client._core.config.routing, Policy):
        raise ValueError("--workers/workers > 1 needs routing by name (one of " + ", ".join(POLICIES)
                         + "): a policy instance cannot be sent to the worker processes")
    return str(client.routing)


def run_workers(client: Any, config: BenchConfig, workers: int) -> BenchResult:
    """Run ``config`` over ``workers`` processes against ``client``'s servers (``client``: a
    :class:`~vllm_client.VllmClient`, used for the preparation and the scrapes)."""
    from .._sync.bench import _metrics_fetch, _served_model, prepare_workload
    from ._server_metrics import Scraper

    config.check()
    if workers < 2:
        raise ValueError("workers must be >= 2 (1 is the plain run)")
    routing = worker_routing(client)
    bench = client.with_options(max_retries=0)
    model = config.workload.model or _served_model(bench)
    prepared = prepare_workload(bench, config)
    parts = [split_config(config, workers, i) for i in range(workers)]
    shares = []
    for i in range(workers):
        mine = copy.copy(prepared)
        mine.prompts = prepared.prompts[i::workers] or prepared.prompts
        mine.turn_texts = prepared.turn_texts[i::workers] or prepared.turn_texts
        shares.append(mine)
    scrapers = [Scraper(_metrics_fetch(url, client), interval=config.scrape_interval)
                for url in client.base_urls] if config.scrape_metrics else []
    for s in scrapers:
        s.first()
    start_at = time.perf_counter() + _LEAD
    connections = max(256, (config.load.max_concurrency or config.load.users or 10_000) // workers + 1)
    # every worker routes its own share by the client's policy (its own counts and caches)
    jobs = [(list(client.base_urls), client.api_key, routing, part, share, model, start_at, connections)
            for part, share in zip(parts, shares, strict=True)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        pending = pool.map_async(_worker, jobs)
        time.sleep(max(0.0, start_at - time.perf_counter()))
        for s in scrapers:
            s.start(start_at)
        outs = pending.get()
    server_metrics = [s.stop() for s in scrapers]
    records: list[RequestRecord] = []
    for w, out in enumerate(outs):
        for r in out["records"]:
            r.worker = w
            records.append(r)
    measured = sorted((r for r in records if r.kind == "measured"), key=lambda r: r.scheduled_s)
    for i, r in enumerate(measured):
        r.index = i  # one run: indexes by schedule
    result = build_result(config, records, audit=_WorkerAudit(outs), server_metrics=server_metrics,
                          base_urls=list(client._core.shown_urls), model=model, routing=client.routing)
    result.data["workers"] = workers
    return result
