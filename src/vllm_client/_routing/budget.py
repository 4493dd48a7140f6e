"""A retry budget: retries may add at most ``ratio`` of the calls, plus ``min_per_s`` a
second, over a sliding ``ttl`` window (Finagle's ``RetryBudget``: 20 %, 10/s, 10 s; research
``routing-anchors.md`` §12). Why: when a server goes down, every call it held fails at
once, and unbounded retries multiply the load on the servers left exactly when they are
short of capacity; a budget keeps the extra at a fifth. Pure: the clock is passed in.

The window is ``ttl`` one-second buckets of (calls, retries), so the cost per call is an
index and an increment, not a list of timestamps.
"""

from __future__ import annotations

import math

__all__ = ["RetryBudget"]


class RetryBudget:
    def __init__(self, ratio: float = 0.2, min_per_s: float = 10.0, ttl: int = 10) -> None:
        if ratio < 0 or min_per_s < 0 or ttl < 1:
            raise ValueError("retry budget: ratio and min_per_s must be >= 0, ttl >= 1")
        self.ratio = ratio
        self.min_per_s = min_per_s
        self.ttl = ttl
        self._calls = [0] * ttl
        self._retries = [0] * ttl
        self._second = [0] * ttl  # which second each bucket holds

    def _bucket(self, now: float) -> int:
        second = math.floor(now)
        i = second % self.ttl
        if self._second[i] != second:
            self._second[i] = second
            self._calls[i] = 0
            self._retries[i] = 0
        return i

    def _window(self, now: float) -> tuple[int, int]:
        second = math.floor(now)
        calls = retries = 0
        for i in range(self.ttl):
            if second - self._second[i] < self.ttl:
                calls += self._calls[i]
                retries += self._retries[i]
        return calls, retries

    def deposit(self, now: float) -> None:
        """A call started."""
        self._calls[self._bucket(now)] += 1

    def withdraw(self, now: float) -> bool:
        """A retry would be sent: True (and counted) if the budget allows it."""
        i = self._bucket(now)
        calls, retries = self._window(now)
        if retries + 1 > self.ratio * calls + self.min_per_s * self.ttl:
            return False
        self._retries[i] += 1
        return True
