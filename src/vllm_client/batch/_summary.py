"""The typed result of a batch run, and the tallies it is built from. Pure.

Latency percentiles come from a log-bucketed histogram (2% wide buckets from 0.1 ms), so
the tally is a few kilobytes whatever the number of lines, and a percentile is within 1%
of the exact one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["BatchSummary", "LatencyHistogram", "Tally"]

_LOW = 1e-4
_RATIO = math.log(1.02)


class LatencyHistogram:
    __slots__ = ("_counts", "count")

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self.count = 0

    def add(self, seconds: float) -> None:
        bucket = 0 if seconds <= _LOW else int(math.log(seconds / _LOW) / _RATIO) + 1
        self._counts[bucket] = self._counts.get(bucket, 0) + 1
        self.count += 1

    def merge(self, other: LatencyHistogram) -> None:
        for bucket, n in other._counts.items():
            self._counts[bucket] = self._counts.get(bucket, 0) + n
        self.count += other.count

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0..1), as the geometric middle of its bucket; None if empty."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for bucket in sorted(self._counts):
            seen += self._counts[bucket]
            if seen >= rank:
                return _LOW if bucket == 0 else _LOW * math.exp(_RATIO * (bucket - 0.5))
        raise AssertionError("unreachable")

    def to_dict(self) -> dict[str, int]:
        return {str(k): v for k, v in self._counts.items()}

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> LatencyHistogram:
        h = cls()
        for k, v in data.items():
            h._counts[int(k)] = v
            h.count += v
        return h


@dataclass
class Tally:
    """Counters of one run (or one shard), merged for a Ray job."""

    total: int = 0
    succeeded: int = 0
    skipped: int = 0
    invalid: int = 0
    failed_by_kind: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    @property
    def failed(self) -> int:
        return sum(self.failed_by_kind.values())

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.invalid

    def fail(self, kind: str) -> None:
        self.failed_by_kind[kind] = self.failed_by_kind.get(kind, 0) + 1

    def count_usage(self, body: Any) -> None:
        usage = body.get("usage") if isinstance(body, dict) else None
        if isinstance(usage, dict):
            p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
            self.prompt_tokens += p if isinstance(p, int) else 0
            self.completion_tokens += c if isinstance(c, int) else 0

    def merge(self, other: Tally) -> None:
        for name in ("total", "succeeded", "skipped", "invalid", "prompt_tokens", "completion_tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.failed_by_kind.items():
            self.failed_by_kind[kind] = self.failed_by_kind.get(kind, 0) + n
        self.latency.merge(other.latency)

    def summary(self, wall_s: float, output_path: str, errors_path: str | None) -> BatchSummary:
        return BatchSummary(
            total=self.total, succeeded=self.succeeded, failed=self.failed, skipped=self.skipped,
            invalid=self.invalid, failed_by_kind=dict(sorted(self.failed_by_kind.items())),
            prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens, wall_s=wall_s,
            latency_p50_s=self.latency.quantile(0.5), latency_p95_s=self.latency.quantile(0.95),
            output_path=output_path, errors_path=errors_path,
        )


@dataclass(frozen=True)
class BatchSummary:
    """What a run did. ``succeeded``, ``failed`` and ``invalid`` count the lines this run
    wrote; ``skipped`` the lines an earlier run had written (a resume); ``total`` every
    non-blank input line. ``failed_by_kind``: ``http_<status>`` or an error code
    (``timeout``, ``connection_error``, ``stream_error``). Latencies cover the lines sent."""

    total: int
    succeeded: int
    failed: int
    skipped: int
    invalid: int
    failed_by_kind: dict[str, int]
    prompt_tokens: int
    completion_tokens: int
    wall_s: float
    latency_p50_s: float | None
    latency_p95_s: float | None
    output_path: str
    errors_path: str | None = None

    @property
    def complete(self) -> bool:
        """Every input line has its output line."""
        return self.succeeded + self.failed + self.invalid + self.skipped == self.total

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        parts = [f"{self.succeeded} succeeded", f"{self.failed} failed"]
        if self.failed_by_kind:
            parts[-1] += " (" + ", ".join(f"{k} {v}" for k, v in self.failed_by_kind.items()) + ")"
        parts += [f"{self.invalid} invalid", f"{self.skipped} skipped (done before)"]
        lat = ""
        if self.latency_p50_s is not None and self.latency_p95_s is not None:
            lat = f", latency p50 {self.latency_p50_s * 1000:.0f} ms p95 {self.latency_p95_s * 1000:.0f} ms"
        return (f"{self.total} lines: " + ", ".join(parts) + f"; tokens {self.prompt_tokens} prompt + "
                f"{self.completion_tokens} completion; {self.wall_s:.1f} s{lat} -> {self.output_path}")
