"""One request of a run, its timeline and the per-request metrics derived from it. Pure.

Times are seconds since the run's start on one monotonic clock (``perf_counter``):

- ``scheduled_s``: when the schedule said to send it (open loop: the arrival time; closed
  loop: when its user became ready);
- ``ready_s``: when it could first have been sent: ``max(scheduled, a concurrency slot
  free)``; ``queue_s = ready - scheduled`` is the wait for the cap, reported, never hidden;
- ``start_s``: when the client began the call; ``dispatch_lag_s = start - ready`` is the
  load generator's own lateness (the self-audit's measure);
- ``first_token_s``: the socket read that brought the first *real* token (content,
  reasoning or a tool-call piece, or, by the running usage, a token whose text is still
  empty; vLLM's role-only first chunk is not one);
- ``chunk_times_s``: every read that brought tokens, ``chunk_tokens`` how many tokens each
  brought (from ``stream_options.continuous_usage_stats``: the running ``completion_tokens``
  of the last chunk of the read, minus the previous read's; without it, token chunks);
- ``end_s``: the end of the stream (``[DONE]``) or the failure.

Formulas (documented in docs/bench.md):

- ``ttft = first_token - start``, ``ttft_from_scheduled = first_token - scheduled``;
- ``e2el = end - start`` (``e2el_from_scheduled = end - scheduled``);
- ``tpot = (e2el - ttft) / (output_tokens - 1)`` when ``output_tokens > 1``;
- ``itl_s`` per token: a read ``i > 0`` that brought ``k`` tokens after a gap ``g`` gives
  ``k`` gaps of ``g / k``; the first read's extra tokens gap 0. So ``sum(itl) = last token
  read - first token read``, ``len(itl) = tokens - 1`` and a multi-token chunk (speculative
  decoding, ``stream_interval``) cannot look like a fast single token;
- ``chunk_itl_s`` per read: the gaps between token reads (what ``vllm bench serve`` calls ITL).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestRecord", "per_token_gaps"]


def per_token_gaps(times: list[float], tokens: list[int]) -> list[float]:
    """Per-token inter-token latencies from token reads (see the module docstring)."""
    out: list[float] = []
    if not times:
        return out
    first = tokens[0] if tokens else 1
    if first > 1:
        out.extend([0.0] * (first - 1))
    prev = times[0]
    for t, k in zip(times[1:], tokens[1:], strict=False):
        gap = t - prev
        prev = t
        if k <= 0:
            continue
        if k == 1:
            out.append(gap)
        else:
            out.extend([gap / k] * k)
    return out


@dataclass(slots=True)
class RequestRecord:
    """One request (warm-up or measured): its timeline, counts and outcome. Also one line of
    the per-request JSONL (:meth:`to_dict`)."""

    index: int
    kind: str = "measured"  # "warmup" | "measured"
    session: int | None = None
    turn: int | None = None
    scheduled_s: float = 0.0
    ready_s: float | None = None
    start_s: float | None = None
    first_token_s: float | None = None
    end_s: float | None = None
    chunk_times_s: list[float] = field(default_factory=list)
    chunk_tokens: list[int] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    expected_output_tokens: int | None = None
    cached_tokens: int | None = None
    finish_reason: str | None = None
    ok: bool = False
    error_kind: str | None = None
    error: str | None = None
    status: int | None = None
    server: str | None = None
    worker: int | None = None  # --workers: which process sent it

    # -- derived --------------------------------------------------------------------------
    @property
    def queue_s(self) -> float | None:
        return None if self.ready_s is None else max(0.0, self.ready_s - self.scheduled_s)

    @property
    def dispatch_lag_s(self) -> float | None:
        if self.start_s is None:
            return None
        ready = self.scheduled_s if self.ready_s is None else self.ready_s
        return max(0.0, self.start_s - ready)

    @property
    def ttft_s(self) -> float | None:
        if self.first_token_s is None or self.start_s is None:
            return None
        return self.first_token_s - self.start_s

    @property
    def ttft_from_scheduled_s(self) -> float | None:
        return None if self.first_token_s is None else self.first_token_s - self.scheduled_s

    @property
    def e2el_s(self) -> float | None:
        if self.end_s is None or self.start_s is None:
            return None
        return self.end_s - self.start_s

    @property
    def e2el_from_scheduled_s(self) -> float | None:
        return None if self.end_s is None else self.end_s - self.scheduled_s

    @property
    def tpot_s(self) -> float | None:
        ttft, e2el, n = self.ttft_s, self.e2el_s, self.output_tokens
        if ttft is None or e2el is None or n is None or n < 2:
            return None
        return (e2el - ttft) / (n - 1)

    @property
    def itl_s(self) -> list[float]:
        return per_token_gaps(self.chunk_times_s, self.chunk_tokens)

    @property
    def chunk_itl_s(self) -> list[float]:
        t = self.chunk_times_s
        return [b - a for a, b in itertools.pairwise(t)]

    def to_dict(self) -> dict[str, Any]:
        """The JSONL line: the stored fields, then the derived metrics."""
        return {
            "index": self.index, "kind": self.kind, "session": self.session, "turn": self.turn,
            "scheduled_s": self.scheduled_s, "ready_s": self.ready_s, "start_s": self.start_s,
            "first_token_s": self.first_token_s, "end_s": self.end_s,
            "queue_s": self.queue_s, "dispatch_lag_s": self.dispatch_lag_s,
            "ttft_s": self.ttft_s, "ttft_from_scheduled_s": self.ttft_from_scheduled_s,
            "tpot_s": self.tpot_s, "e2el_s": self.e2el_s, "e2el_from_scheduled_s": self.e2el_from_scheduled_s,
            "itl_s": self.itl_s, "chunk_times_s": self.chunk_times_s, "chunk_tokens": self.chunk_tokens,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "expected_output_tokens": self.expected_output_tokens, "cached_tokens": self.cached_tokens,
            "finish_reason": self.finish_reason, "ok": self.ok, "error_kind": self.error_kind,
            "error": self.error, "status": self.status, "server": self.server,
            "worker": self.worker,
        }
