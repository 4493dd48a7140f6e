"""``bench compare``: is run B better or worse than run A, metric by metric, beyond the noise?
Pure: two result dicts (and optionally their per-request records) in, a :class:`Comparison` out.

Nobody ships this (guidellm#924 open; GenAI-Perf's ``compare`` deprecated): CI pipelines diff
two JSON numbers and page someone on a 3% swing that the next run reverses. Here a change
is a **regression** only when it is both

- *significant*: the confidence interval of the difference B - A excludes 0, and
- *large*: the relative change in the bad direction exceeds ``threshold`` (5%: a change
  too small to matter is not paged, however significant).

The interval of the difference comes, best first, from

1. **a bootstrap of the difference** when both runs' per-request records are given:
   each run resampled independently (``_stats.bootstrap_diff_ci``); latency metrics only,
   since throughput is one number per run;
2. **the runs' own intervals** (their ``ci`` key): independent estimates, so the half widths
   combine in quadrature, on each side separately (the intervals of a p99 are skewed):
   ``lo = d - sqrt((b - b_lo)^2 + (a_hi - a)^2)``, ``hi = d + sqrt((b_hi - b)^2 + (a - a_lo)^2)``;
3. **none**: then the verdict rests on the threshold alone and says so ("no CI").

Direction: latencies (``*_ms``) lower is better, throughputs and goodput higher is better.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._stats import bootstrap_diff_ci

__all__ = ["DEFAULT_METRICS", "Comparison", "MetricDelta", "compare", "samples_of"]

Direction = Literal["lower", "higher"]
VerdictText = Literal["better", "worse", "no significant change", "not comparable"]

LATENCIES = ("ttft", "tpot", "itl", "e2el")
THROUGHPUTS = ("request_throughput", "output_throughput", "total_token_throughput", "request_goodput")
#: What ``compare`` looks at unless told otherwise: throughputs, then mean/median/p90/p99 of each latency.
DEFAULT_METRICS: tuple[str, ...] = THROUGHPUTS + tuple(
    f"{stat}_{name}_ms" for name in LATENCIES for stat in ("mean", "median", "p90", "p99")
)


@dataclass(frozen=True)
class MetricDelta:
    """One metric of A (baseline) against B (candidate)."""

    metric: str
    direction: Direction
    baseline: float | None
    candidate: float | None
    verdict: VerdictText
    regression: bool = False
    ci: tuple[float, float] | None = None  # of candidate - baseline
    ci_source: Literal["bootstrap", "intervals"] | None = None

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate - self.baseline

    @property
    def relative(self) -> float | None:
        """``delta / baseline`` (None when the baseline is 0 or missing)."""
        delta = self.delta
        if delta is None or not self.baseline:
            return None
        return delta / abs(self.baseline)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "direction": self.direction, "baseline": self.baseline,
            "candidate": self.candidate, "delta": self.delta, "relative": self.relative,
            "ci": list(self.ci) if self.ci else None, "ci_source": self.ci_source,
            "verdict": self.verdict, "regression": self.regression,
        }


@dataclass(frozen=True)
class Comparison:
    deltas: tuple[MetricDelta, ...]
    threshold: float
    level: float
    warnings: tuple[str, ...] = field(default=())

    @property
    def regressions(self) -> tuple[MetricDelta, ...]:
        return tuple(d for d in self.deltas if d.regression)

    @property
    def exit_status(self) -> int:
        """1 when any metric regressed beyond the threshold (for CI), else 0."""
        return 1 if self.regressions else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold, "level": self.level, "warnings": list(self.warnings),
            "regressions": [d.metric for d in self.regressions],
            "metrics": [d.to_dict() for d in self.deltas],
        }


def direction_of(metric: str) -> Direction:
    """Latencies (``..._ms``, ``..._s``) lower is better; everything else (throughputs) higher."""
    return "lower" if metric.endswith(("_ms", "_s")) else "higher"


def samples_of(records: Iterable[Any], metric: str) -> tuple[list[float], str] | None:
    """The per-request samples (in ms) behind a latency statistic such as ``p99_ttft_ms``, and the
    statistic's name for ``_stats`` (``"p99"``); None for a metric without per-request samples.
    Records are :class:`RequestRecord` objects or their JSONL dicts; only measured, successful
    requests count (as in the result)."""
    stat, _, rest = metric.partition("_")
    name = rest.removesuffix("_ms")
    is_quantile = stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit()
    if name not in LATENCIES or not rest.endswith("_ms") or not (is_quantile or stat in ("mean", "median")):
        return None
    out: list[float] = []
    for record in records:
        if _get(record, "kind") == "warmup" or not _get(record, "ok"):
            continue
        if name == "itl":
            out.extend(1000.0 * gap for gap in _get(record, "itl_s") or ())
        else:
            value = _get(record, f"{name}_s")
            if value is not None:
                out.append(1000.0 * value)
    return out, stat


def compare(
    baseline: Mapping[str, Any],
    candidate: Mapping[str, Any],
    *,
    threshold: float = 0.05,
    metrics: Sequence[str] | None = None,
    baseline_records: Sequence[Any] | None = None,
    candidate_records: Sequence[Any] | None = None,
    level: float = 0.95,
    resamples: int = 1000,
    rng: random.Random | None = None,
) -> Comparison:
    """Compare two result dicts (``BenchResult.to_dict()`` or the saved JSON); see the module
    docstring for the rules. ``threshold`` is a fraction (0.05 = 5%)."""
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0, got {threshold!r}")
    rng = rng if rng is not None else random.Random(0)
    warnings = list(_warnings(baseline, candidate))
    names = list(metrics) if metrics is not None else [m for m in DEFAULT_METRICS if m in baseline or m in candidate]
    deltas = []
    for name in names:
        deltas.append(_one(name, baseline, candidate, baseline_records, candidate_records, threshold=threshold,
                           level=level, resamples=resamples, rng=rng))
    return Comparison(tuple(deltas), threshold, level, tuple(warnings))


def _one(name: str, a: Mapping[str, Any], b: Mapping[str, Any], records_a: Sequence[Any] | None,
         records_b: Sequence[Any] | None, *, threshold: float, level: float, resamples: int,
         rng: random.Random) -> MetricDelta:
    direction = direction_of(name)
    va, vb = _number(a.get(name)), _number(b.get(name))
    if va is None or vb is None:
        return MetricDelta(name, direction, va, vb, "not comparable")
    ci: tuple[float, float] | None = None
    source: Literal["bootstrap", "intervals"] | None = None
    if records_a is not None and records_b is not None:
        pair = samples_of(records_a, name), samples_of(records_b, name)
        if pair[0] is not None and pair[1] is not None and pair[0][0] and pair[1][0]:
            ci = bootstrap_diff_ci(pair[0][0], pair[1][0], pair[0][1], rng=rng, resamples=resamples, level=level)
            source = "bootstrap"
    if ci is None:
        ia, ib = ci_of(a, name), ci_of(b, name)
        if ia is not None and ib is not None:
            d = vb - va
            ci = (d - math.hypot(vb - ib[0], ia[1] - va), d + math.hypot(ib[1] - vb, va - ia[0]))
            source = "intervals"
    delta = vb - va
    gain = -delta if direction == "lower" else delta  # > 0: B is better
    relative = abs(delta) / abs(va) if va else (math.inf if delta else 0.0)
    # without an interval the threshold is all there is
    significant = (ci[0] > 0 or ci[1] < 0) if ci is not None else relative > threshold
    verdict: VerdictText = "no significant change" if not significant or gain == 0 else (
        "better" if gain > 0 else "worse")
    regression = verdict == "worse" and relative > threshold
    return MetricDelta(name, direction, va, vb, verdict, regression, ci, source)


def ci_of(result: Mapping[str, Any], metric: str) -> tuple[float, float] | None:
    """The interval a result gives for ``metric``: the result JSON's nested form
    (``ci["ttft_ms"]["p99"]`` for ``p99_ttft_ms``; ``median`` is ``p50``), or a flat
    ``ci[metric]``; each as ``[lo, hi]`` or ``{"lo": .., "hi": ..}`` (also ``low``/``high``)."""
    table = result.get("ci")
    if not isinstance(table, Mapping):
        return None
    entry = table.get(metric)
    stat, _, rest = metric.partition("_")
    nested = table.get(rest)
    if entry is None and isinstance(nested, Mapping):
        entry = nested.get(stat)
        if entry is None and stat in ("median", "p50"):
            entry = nested.get("p50" if stat == "median" else "median")
    if isinstance(entry, Mapping):
        lo = entry.get("lo", entry.get("low"))
        hi = entry.get("hi", entry.get("high"))
    elif isinstance(entry, (list, tuple)) and len(entry) == 2:
        lo, hi = entry
    else:
        return None
    lo, hi = _number(lo), _number(hi)
    return None if lo is None or hi is None else (lo, hi)


def _warnings(a: Mapping[str, Any], b: Mapping[str, Any]) -> Iterable[str]:
    for label, result in (("A", a), ("B", b)):
        if result.get("valid") is False:
            reason = result.get("invalid_reason") or "the client was the bottleneck"
            yield f"run {label} is marked invalid ({reason}): its numbers measure the client, not the server"
    ca, cb = a.get("config"), b.get("config")
    if isinstance(ca, Mapping) and isinstance(cb, Mapping):
        for section in ("workload", "load"):
            sa, sb = ca.get(section), cb.get(section)
            if isinstance(sa, Mapping) and isinstance(sb, Mapping):
                differing = sorted(k for k in set(sa) | set(sb) if sa.get(k) != sb.get(k))
                if differing:
                    yield f"the runs' {section} differs ({', '.join(differing)}): not a like-for-like comparison"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _get(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)
