"""A load generator for vLLM that measures the server, not itself.

    from vllm_client import VllmClient
    from vllm_client.bench import BenchConfig, Load, Workload, run_bench

    config = BenchConfig(workload=Workload("random", input_len=512, output_len=128),
                         load=Load(rate=8, max_concurrency=64, num_requests=500), slos={"ttft": 0.5})
    result = run_bench(VllmClient("http://localhost:8000"), config)
    result["p99_ttft_ms"], result.valid, result.records[0].ttft_s
    result.write_json("out.json"); result.write_records("out.jsonl")

``arun_bench(AsyncVllmClient(...), config)`` is the same, async (the CLI uses it: the async
client is the cheaper one per request). Every metric is defined by its formula in
docs/bench.md and in the module docstrings of :mod:`._records` and :mod:`._metrics`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._calibrate import calibrate
from ._compare import Comparison, MetricDelta, compare
from ._config import BenchConfig, Limits, Load, Workload, parse_slo
from ._plots import plot_run, plot_sweep
from ._records import RequestRecord
from ._result import BenchResult
from ._search import Slo
from ._stats import bootstrap_ci, bootstrap_diff_ci, percentile, summary
from ._sweep import Sweep, asweep, sweep

if TYPE_CHECKING:
    from .._async.client import AsyncVllmClient
    from .._sync.client import VllmClient
    from ._progress import ProgressSetting

__all__ = ["BenchConfig", "BenchResult", "Comparison", "Limits", "Load", "MetricDelta", "RequestRecord", "Slo", "Sweep",
           "Workload", "arun_bench", "asweep", "bootstrap_ci", "bootstrap_diff_ci", "calibrate", "compare",
           "parse_slo", "percentile", "plot_run", "plot_sweep", "run_bench", "summary", "sweep"]


def run_bench(client: VllmClient, config: BenchConfig, *, progress: ProgressSetting = None) -> BenchResult:
    """Run ``config`` against the server(s) of ``client`` (threads: one per request in
    flight). ``progress``: None (rich on a terminal, plain lines in a pipe), False, "rich",
    "plain", or a function of a snapshot dict. ``config.workers > 1`` spreads the load over
    that many processes (no live progress then)."""
    if config.workers > 1:
        from ._workers import run_workers

        return run_workers(client, config, config.workers)
    from .._sync.bench import arun_bench as run_sync

    return run_sync(client, config, progress=progress)


async def arun_bench(client: AsyncVllmClient, config: BenchConfig, *,
                     progress: ProgressSetting = None) -> BenchResult:
    """:func:`run_bench` for an :class:`~vllm_client.AsyncVllmClient`, on the running loop
    (with ``config.workers > 1``: the worker processes, waited for in a thread)."""
    if config.workers > 1:
        import asyncio

        from .._sync.client import VllmClient
        from ._workers import run_workers, worker_routing

        routing = worker_routing(client)  # (refused here, before any process starts)

        def spread() -> BenchResult:
            with VllmClient(list(client.base_urls), api_key=client.api_key, routing=routing) as sync:
                return run_workers(sync, config, config.workers)

        return await asyncio.to_thread(spread)
    from .._async.bench import arun_bench as run_async

    return await run_async(client, config, progress=progress)
