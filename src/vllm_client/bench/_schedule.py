"""Send times of an open-loop run, as absolute offsets from the run's start. Pure, seeded.

Gaps are Gamma(shape=b, scale=1/(rate*b)): mean ``1/rate`` whatever ``b``; coefficient of
variation ``1/sqrt(b)``. ``b = 1`` is a Poisson process, ``b < 1`` burstier, ``b = inf`` an
even (constant) rate. These are ``vllm bench serve``'s gaps; unlike it, the times are not
rescaled so that the last send lands on ``N/rate`` (that makes each gap depend on all the
others, and a duration-bound run has no N).

Each offset is the previous one plus a gap, and the dispatcher waits for ``origin +
offset`` (absolute), so a late wake-up never shifts the requests after it (no drift).

Ramp-up: over ``ramp`` seconds the rate rises linearly from ``start_rate`` to ``rate``. The
arrivals are a Gamma renewal process in *operational time* ``Λ(t) = ∫ rate(s) ds`` (unit
rate there), mapped back through ``Λ⁻¹``, so the instantaneous rate follows the ramp exactly
(``vllm bench serve`` instead steps the rate per request index).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

__all__ = ["arrival_offsets", "ramp_inverse"]


def ramp_inverse(work: float, rate: float, start_rate: float, ramp: float) -> float:
    """The time ``t`` at which ``∫0^t r(s) ds == work`` for ``r`` rising linearly from
    ``start_rate`` to ``rate`` over ``ramp`` seconds, then constant."""
    if ramp <= 0:
        return work / rate
    ramp_work = (start_rate + rate) / 2.0 * ramp
    if work >= ramp_work:
        return ramp + (work - ramp_work) / rate
    slope = (rate - start_rate) / ramp
    if slope == 0:
        return work / rate
    # start_rate * t + slope/2 * t^2 = work
    disc = start_rate * start_rate + 2.0 * slope * work
    return (math.sqrt(disc) - start_rate) / slope


def arrival_offsets(rate: float, burstiness: float, rng: random.Random, *, ramp: float = 0.0,
                    start_rate: float = 0.0) -> Iterator[float]:
    """Endless send offsets (seconds after the start), non-decreasing.

    ``rate = inf``: every request at 0 (the concurrency cap alone paces them)."""
    if math.isinf(rate):
        while True:
            yield 0.0
    if not rate > 0 or not burstiness > 0:
        raise ValueError("rate and burstiness must be > 0")
    even = math.isinf(burstiness)
    shape, scale = burstiness, 1.0 / burstiness
    gamma = rng.gammavariate
    work = 0.0
    first = True
    while True:
        gap = 1.0 if even else gamma(shape, scale)
        # The first request goes at once with an even rate (vllm does the same); random
        # processes start with a gap, as a renewal process observed from t=0 does.
        work = work + (0.0 if (first and even) else gap)
        first = False
        yield ramp_inverse(work, rate, start_rate, ramp)
