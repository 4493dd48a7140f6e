"""``bench sweep``: run one bench per load (a rate or a number of users) as
:class:`~vllm_client.bench._search.LoadSearch` decides, and report every point and the
highest load that meets the SLOs.

The loop is :class:`Sweep`, which turns loads into configs and results into points, so the
sync (:func:`sweep`) and async (:func:`asweep`) drivers are four lines each and the logic is
tested on synthetic results. A point's SLO statistic comes from the result JSON
(``p99_ttft_ms``), its upper confidence bound from the result's ``ci`` or, for a percentile
the result does not carry, from a bootstrap of the run's records (same seed every time).
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._compare import ci_of, samples_of
from ._search import LoadKind, LoadSearch, Point, Slo
from ._stats import bootstrap_ci, percentile

if TYPE_CHECKING:
    from .._async.client import AsyncVllmClient
    from .._sync.client import VllmClient
    from ._config import BenchConfig
    from ._result import BenchResult

__all__ = ["Sweep", "asweep", "point_from_result", "sweep"]


def point_from_result(load: float, result: Mapping[str, Any], records: Sequence[Any], slos: Sequence[Slo], *,
                      resamples: int = 1000, seed: int = 0) -> Point:
    """Reduce one run to the numbers the search decides on (see the module docstring)."""
    estimates: dict[str, float] = {}
    upper: dict[str, float] = {}
    for slo in slos:
        key = slo.key
        if slo.metric == "dispatch_lag":
            lag = result.get("dispatch_lag_ms")
            value = lag.get(f"p{slo.percentile:g}") if isinstance(lag, Mapping) else None
            if value is None and records:
                lags = [1000.0 * v for v in (_get(r, "dispatch_lag_s") for r in records
                                             if _get(r, "kind") != "warmup") if v is not None]
                value = percentile(lags, slo.percentile) if lags else None
            if value is not None:
                estimates[key] = float(value)
            continue
        value = result.get(key)
        found = samples_of(records, key) if records else None
        if value is None and found is not None and found[0]:
            value = percentile(found[0], slo.percentile)
        if value is not None:
            estimates[key] = float(value)
        interval = ci_of(result, key)
        if interval is None and slo.confident and found is not None and found[0] and resamples > 0:
            interval = bootstrap_ci(found[0], found[1], rng=random.Random(seed), resamples=resamples)
        if interval is not None:
            upper[key] = interval[1]
    return Point(
        load=load,
        request_throughput=float(result.get("request_throughput") or 0.0),
        output_throughput=float(result.get("output_throughput") or 0.0),
        request_goodput=_float_or_none(result.get("request_goodput")),
        estimates_ms=estimates,
        upper_ms=upper,
        completed=int(result.get("completed") or 0),
        failed=int(result.get("failed") or 0),
        valid=result.get("valid") is not False,
        invalid_reason=result.get("invalid_reason"),
    )


class Sweep:
    """Loads in, configs out; results in, points and the sweep JSON out."""

    def __init__(self, config: BenchConfig, loads: Iterable[float], slos: Sequence[Slo], *,
                 kind: LoadKind = "rate", refine: int = 0, max_error_rate: float = 0.0) -> None:
        self.config = config
        self.search = LoadSearch(loads, slos, kind=kind, refine=refine, max_error_rate=max_error_rate)
        self.results: list[dict[str, Any]] = []

    def next_config(self) -> BenchConfig | None:
        """The next run's config (the base config at the next load), or None: done."""
        load = self.search.next_load()
        if load is None:
            return None
        return self.config_for(load)

    def config_for(self, load: float) -> BenchConfig:
        base = self.config
        if self.search.kind == "rate":
            new_load = dataclasses.replace(base.load, rate=load)
        else:
            new_load = dataclasses.replace(base.load, users=int(load), rate=math.inf)
        label = f"{base.label + ' ' if base.label else ''}{self.search.kind}={load:g}"
        return dataclasses.replace(base, load=new_load, label=label)

    def add(self, config: BenchConfig, result: Mapping[str, Any], records: Sequence[Any]) -> dict[str, Any]:
        """Record the run of ``config``; returns its entry of the sweep JSON."""
        load = float(config.load.rate if self.search.kind == "rate" else config.load.users or 0)
        point = point_from_result(load, result, records, self.search.slos, resamples=self.config.bootstrap or 1000,
                                  seed=self.config.seed)
        verdict = self.search.record(point)
        entry = {"load": load, "passes": verdict.passes, "reasons": list(verdict.reasons),
                 "estimates_ms": dict(point.estimates_ms), "upper_ms": dict(point.upper_ms), "result": dict(result)}
        self.results.append(entry)
        return entry

    def to_dict(self) -> dict[str, Any]:
        best = self.search.best
        return {
            "kind": self.search.kind,
            "slos": [{"metric": s.metric, "limit_ms": s.limit_ms, "percentile": s.percentile}
                     for s in self.search.slos],
            "best": best.load if best else None,
            "stopped": self.search.stopped,
            "points": self.results,
        }


def sweep(client: VllmClient, config: BenchConfig, loads: Iterable[float], slos: Sequence[Slo], *,
          kind: LoadKind = "rate", refine: int = 0, max_error_rate: float = 0.0, progress: Any = False,
          on_point: Any = None) -> Sweep:
    """Run the sweep with :func:`~vllm_client.bench.run_bench`; ``on_point(entry)`` after each run."""
    from . import run_bench

    state = Sweep(config, loads, slos, kind=kind, refine=refine, max_error_rate=max_error_rate)
    while (cfg := state.next_config()) is not None:
        _report(state, cfg, run_bench(client, cfg, progress=progress), on_point)
    return state


async def asweep(client: AsyncVllmClient, config: BenchConfig, loads: Iterable[float], slos: Sequence[Slo], *,
                 kind: LoadKind = "rate", refine: int = 0, max_error_rate: float = 0.0, progress: Any = False,
                 on_point: Any = None) -> Sweep:
    """:func:`sweep` with :func:`~vllm_client.bench.arun_bench`."""
    from . import arun_bench

    state = Sweep(config, loads, slos, kind=kind, refine=refine, max_error_rate=max_error_rate)
    while (cfg := state.next_config()) is not None:
        _report(state, cfg, await arun_bench(client, cfg, progress=progress), on_point)
    return state


def _report(state: Sweep, config: BenchConfig, result: BenchResult, on_point: Any) -> None:
    entry = state.add(config, result.to_dict(), result.records)
    if on_point is not None:
        on_point(entry)


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _get(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)
