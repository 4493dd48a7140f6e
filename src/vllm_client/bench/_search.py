"""Which load to try next, when to stop, which load passes: the decisions of ``bench sweep``
and ``bench calibrate``, pure (no clock, no I/O), so they are tested on synthetic points.

A sweep answers "how much load can this server take before an SLO breaks?" (vllm#7935).
Three rules, each from what the anchors get wrong or leave out (research/bench-anchors.md
section 8, item 7):

- **Pass with confidence.** A point passes an SLO when the *upper* bound of the bootstrap
  confidence interval of the percentile (p99 TTFT by default) is within the limit, not the
  point estimate: with 200 requests the p99 rests on two samples, and a rate that "passes"
  on them fails the next run. Failed requests and an invalid run (the client was the
  bottleneck) fail the point too; an error rate above ``max_error_rate`` fails it.
- **Stop once saturated.** More offered load past saturation only grows queues, so the
  search stops when throughput rose by less than ``min_gain`` of what the load rose
  (rate 8 -> 16 should double it; +10% is saturation), when an open-loop point delivered
  less than ``min_delivery`` of its offered rate, or when goodput fell.
- **Refine between the last pass and the first fail.** The given loads are usually
  geometric (1, 2, 4, 8); ``refine`` bisection steps (geometric midpoints) narrow the
  answer without running every rate in between.

:class:`LoadSearch` is driven by the caller: ``next_load()``, run it, ``record(point)``,
until ``next_load()`` is None; ``best`` is then the highest passing load.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["LoadSearch", "Point", "Slo", "Verdict", "judge", "saturation"]

LoadKind = Literal["rate", "concurrency"]
@dataclass(frozen=True)
class Slo:
    """``metric``'s ``percentile`` must be at most ``limit_ms``; with ``confident`` the upper
    bound of its confidence interval must be (when the point has one). ``metric`` is a latency
    of the result JSON (``ttft``, ``tpot``, ``itl``, ``e2el``) or ``dispatch_lag`` (calibrate)."""

    metric: str
    limit_ms: float
    percentile: float = 99.0
    confident: bool = True

    @property
    def key(self) -> str:
        """The result JSON's key for the statistic, e.g. ``p99_ttft_ms``."""
        return f"p{_fmt(self.percentile)}_{self.metric}_ms"

    def __str__(self) -> str:
        return f"p{_fmt(self.percentile)} {self.metric} <= {_fmt(self.limit_ms)} ms"


@dataclass(frozen=True)
class Point:
    """One finished run, reduced to what the search decides on.

    ``estimates_ms`` and ``upper_ms`` are keyed like the result JSON (``p99_ttft_ms``): the
    statistic and the upper bound of its confidence interval (absent: no interval).
    """

    load: float
    request_throughput: float
    output_throughput: float = 0.0
    request_goodput: float | None = None
    estimates_ms: Mapping[str, float] = field(default_factory=dict)
    upper_ms: Mapping[str, float] = field(default_factory=dict)
    completed: int = 0
    failed: int = 0
    valid: bool = True
    invalid_reason: str | None = None

    @property
    def error_rate(self) -> float:
        total = self.completed + self.failed
        return self.failed / total if total else 0.0


@dataclass(frozen=True)
class Verdict:
    passes: bool
    reasons: tuple[str, ...] = ()


def judge(point: Point, slos: Sequence[Slo], *, max_error_rate: float = 0.0, kind: LoadKind = "concurrency",
          min_delivery: float = 0.9) -> Verdict:
    """Does ``point`` meet every SLO (with confidence), with no more errors than allowed, in a
    valid run? An open-loop point (``kind="rate"``) must also have delivered ``min_delivery``
    of its offered rate: a rate the server cannot sustain does not pass, whatever its
    latencies said while the queue was still short. The reasons say why not (empty: it passes).
    """
    reasons: list[str] = []
    if kind == "rate" and point.load > 0 and not math.isinf(point.load):
        delivered = point.request_throughput / point.load
        if delivered < min_delivery:
            reasons.append(f"delivered {point.request_throughput:.3g} req/s of {_fmt(point.load)} offered "
                           f"({delivered:.0%})")
    if not point.valid:
        reasons.append(f"invalid run: {point.invalid_reason or 'the client was the bottleneck'}")
    if point.completed == 0:
        reasons.append("no request completed")
    if point.error_rate > max_error_rate:
        reasons.append(f"error rate {point.error_rate:.1%} > {max_error_rate:.1%}")
    for slo in slos:
        value = point.upper_ms.get(slo.key) if slo.confident else None
        bound = "CI upper bound"
        if value is None:
            value, bound = point.estimates_ms.get(slo.key), "estimate"
        if value is None or math.isnan(value):
            reasons.append(f"{slo.key} not measured")
        elif value > slo.limit_ms:
            reasons.append(f"{slo.key} {bound} {value:.3g} ms > {_fmt(slo.limit_ms)} ms")
    return Verdict(not reasons, tuple(reasons))


def saturation(previous: Point | None, point: Point, kind: LoadKind, *, min_gain: float = 0.25,
               min_delivery: float = 0.9) -> str | None:
    """Why ``point`` shows the server saturated (None: it does not).

    Throughput is compared in relative terms: from load L1 to L2 it should rise by
    ``L2/L1 - 1``; rising by less than ``min_gain`` of that is saturation. An open-loop point
    that delivered less than ``min_delivery`` of its offered rate is saturated by itself
    (the queue grew during the run). Falling goodput is saturation too.
    """
    if kind == "rate" and point.load > 0 and not math.isinf(point.load):
        delivered = point.request_throughput / point.load
        if delivered < min_delivery:
            return f"delivered {point.request_throughput:.3g} req/s of {_fmt(point.load)} offered ({delivered:.0%})"
    if previous is None or previous.load <= 0 or point.load <= previous.load:
        return None
    if previous.request_throughput > 0 and not math.isinf(point.load):
        expected = point.load / previous.load - 1
        actual = point.request_throughput / previous.request_throughput - 1
        if actual < min_gain * expected:
            return (f"throughput rose {actual:+.0%} from load {_fmt(previous.load)} to {_fmt(point.load)} "
                    f"(load {expected:+.0%})")
    if previous.request_goodput is not None and point.request_goodput is not None \
            and point.request_goodput < previous.request_goodput:
        return (f"goodput fell from {previous.request_goodput:.3g} to {point.request_goodput:.3g} req/s "
                f"at load {_fmt(point.load)}")
    return None


class LoadSearch:
    """The sweep's state: the loads still to try, the points seen, why it stopped."""

    def __init__(self, loads: Iterable[float], slos: Sequence[Slo], *, kind: LoadKind = "rate",
                 refine: int = 0, max_error_rate: float = 0.0, min_gain: float = 0.25,
                 min_delivery: float = 0.9, stop_on_fail: bool = True) -> None:
        ordered = sorted(set(loads))
        if not ordered or ordered[0] <= 0:
            raise ValueError("a sweep needs at least one positive load")
        if kind == "concurrency" and any(math.isinf(x) or x != int(x) for x in ordered):
            raise ValueError("concurrencies are whole numbers")
        self.kind: LoadKind = kind
        self.slos = tuple(slos)
        self.refine = refine
        self.max_error_rate = max_error_rate
        self.min_gain = min_gain
        self.min_delivery = min_delivery
        self.stop_on_fail = stop_on_fail
        self._pending = list(ordered)
        self.points: list[tuple[Point, Verdict]] = []
        self.stopped: str | None = None
        self._refined = 0
        self._finished = False

    def next_load(self) -> float | None:
        """The load to run next, or None when the search is over (``stopped`` says why the
        given loads were cut short; refinement steps may still follow a stop)."""
        if self._finished:
            return None
        if self._pending:
            return self._pending[0]
        midpoint = self._midpoint()
        if midpoint is None:
            self._finished = True
            self.stopped = self.stopped or "all loads run"
        return midpoint

    def record(self, point: Point) -> Verdict:
        """Take ``point`` (the run of the load ``next_load()`` gave) and decide what follows."""
        verdict = judge(point, self.slos, max_error_rate=self.max_error_rate, kind=self.kind,
                        min_delivery=self.min_delivery)
        if self._pending and self._pending[0] == point.load:
            self._pending.pop(0)
        elif not self._pending:
            self._refined += 1
        previous = self._highest_below(point.load)
        self.points.append((point, verdict))
        saturated = saturation(previous, point, self.kind, min_gain=self.min_gain, min_delivery=self.min_delivery)
        if self._pending:
            if saturated is not None:
                self._pending.clear()
                self.stopped = f"saturated: {saturated}"
            elif not verdict.passes and self.stop_on_fail:
                self._pending.clear()
                self.stopped = f"SLO failed at load {_fmt(point.load)}: {'; '.join(verdict.reasons)}"
        return verdict

    @property
    def best(self) -> Point | None:
        """The highest load that passed (below every failing one), or None."""
        first_fail = min((p.load for p, v in self.points if not v.passes), default=math.inf)
        passing = [p for p, v in self.points if v.passes and p.load < first_fail]
        return max(passing, key=lambda p: p.load, default=None)

    def _highest_below(self, load: float) -> Point | None:
        below = [p for p, _ in self.points if p.load < load]
        return max(below, key=lambda p: p.load, default=None)

    def _midpoint(self) -> float | None:
        if self._refined >= self.refine:
            return None
        best = self.best
        fails = [p.load for p, v in self.points if not v.passes and (best is None or p.load > best.load)]
        if best is None or not fails or math.isinf(min(fails)):
            return None
        low, high = best.load, min(fails)
        mid = math.sqrt(low * high)
        if self.kind == "concurrency":
            mid = float(round(mid))
            if mid <= low or mid >= high:
                return None
        elif high / low < 1.02:  # closer than 2%: finer than a run can tell apart
            return None
        return mid


def _fmt(value: float) -> str:
    return f"{value:g}"
