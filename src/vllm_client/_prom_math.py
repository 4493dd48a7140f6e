"""Windowed math over Prometheus scrapes: counter deltas and rates, and histogram
quantiles from bucket deltas with Prometheus' own rule. Pure: samples in, numbers out.

Shared by ``vllm-client metrics watch`` and the bench's server correlation, so a number
on the live view and one in a bench report mean the same thing.

The quantile is PromQL's ``histogram_quantile`` (``promql/quantile.go`` ``bucketQuantile``):
buckets sorted by ``le``, a ``+Inf`` bucket required, equal bounds coalesced, counts forced
monotonic, rank = q x total, the first bucket whose cumulative count reaches the rank,
linear interpolation inside it (lower bound 0 for the first bucket). A rank in the ``+Inf``
bucket returns the highest finite bound (shown as "> bound": the true value is unknown);
no observations give NaN. Bucket widths in vLLM reach 2.5x (0.1 -> 0.25 s), so present
results as approximate.

Counters: a value lower than the previous scrape's means the server restarted, and the
delta is the new value (Prometheus' ``rate()`` rule). Several series of one metric (one
per ``engine`` with data parallelism, or per model) are summed before quantiles, as
``sum by (le)`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from ._protocol.metrics_text import Sample

__all__ = [
    "bucket_delta",
    "bucket_quantile",
    "counter_delta",
    "histogram_buckets",
    "quantile_overflows",
    "rate",
    "sum_series",
]

INF = math.inf


def counter_delta(before: float | None, after: float | None) -> float | None:
    """``after - before``, or ``after`` when the counter went down (a restart); None if unknown."""
    if after is None:
        return None
    if before is None:
        return None
    return after if after < before else after - before


def rate(before: float | None, after: float | None, seconds: float) -> float | None:
    """Per-second rate of a counter between two scrapes ``seconds`` apart."""
    delta = counter_delta(before, after)
    if delta is None or seconds <= 0:
        return None
    return delta / seconds


def _matches(labels: Mapping[str, str], where: Mapping[str, str] | None) -> bool:
    return where is None or all(labels.get(k) == v for k, v in where.items())


def sum_series(samples: Iterable[Sample], name: str, where: Mapping[str, str] | None = None) -> float | None:
    """The sum of every series named ``name`` (whose labels include ``where``); None if absent."""
    total = None
    for sample_name, labels, value in samples:
        if sample_name == name and _matches(labels, where):
            total = value if total is None else total + value
    return total


def histogram_buckets(samples: Iterable[Sample], name: str,
                      where: Mapping[str, str] | None = None) -> dict[float, float]:
    """``{le: cumulative count}`` of histogram ``name`` (series ``name_bucket``), summed over
    every other label (``sum by (le)``). Empty when the histogram is absent."""
    bucket_name = name + "_bucket"
    out: dict[float, float] = {}
    for sample_name, labels, value in samples:
        if sample_name != bucket_name or not _matches(labels, where):
            continue
        le = labels.get("le")
        if le is None:
            continue
        try:
            bound = float(le)
        except ValueError:
            continue
        out[bound] = out.get(bound, 0.0) + value
    return out


def bucket_delta(before: Mapping[float, float] | None, after: Mapping[float, float]) -> dict[float, float]:
    """Per-bucket increase between two scrapes; after a restart (any count went down, or the
    buckets changed) the new counts themselves."""
    if not before or set(before) != set(after) or any(after[le] < before[le] for le in after):
        return dict(after)
    return {le: after[le] - before[le] for le in after}


def _prepared(buckets: Mapping[float, float]) -> list[tuple[float, float]] | None:
    ordered = sorted(buckets.items())
    if len(ordered) < 2 or ordered[-1][0] != INF:
        return None
    out: list[tuple[float, float]] = []
    highest = 0.0
    for le, count in ordered:  # (bounds are dict keys: already coalesced)
        highest = max(highest, count)  # force monotonic, as Prometheus does
        out.append((le, highest))
    return out


def bucket_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """The ``q``-quantile (0..1) of a histogram given as ``{le: cumulative count}``, by
    PromQL's ``histogram_quantile`` rule; NaN without observations or a ``+Inf`` bucket."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -INF
    if q > 1:
        return INF
    ordered = _prepared(buckets)
    if ordered is None:
        return math.nan
    total = ordered[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    b = next(i for i, (_, count) in enumerate(ordered) if count >= rank)
    if b == len(ordered) - 1:
        return ordered[-2][0]
    if b == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    start, end, count = 0.0, ordered[b][0], ordered[b][1]
    if b > 0:
        start = ordered[b - 1][0]
        count -= ordered[b - 1][1]
        rank -= ordered[b - 1][1]
    if count == 0:
        return math.nan  # q = 0 over an empty first bucket: 0/0 in PromQL too
    return start + (end - start) * (rank / count)


def quantile_overflows(q: float, buckets: Mapping[float, float]) -> bool:
    """Whether the ``q``-quantile falls in the ``+Inf`` bucket (its value is then only a lower
    bound: display "> bound")."""
    ordered = _prepared(buckets)
    if ordered is None or ordered[-1][1] == 0 or not 0 <= q <= 1:
        return False
    rank = q * ordered[-1][1]
    return ordered[-2][1] < rank
