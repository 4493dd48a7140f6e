"""The self-audit: is the load generator, not the server, the bottleneck?

A load generator that cannot keep up sends late and reads late, and every latency it
reports then includes its own queueing (vllm#39963, aiperf#1424, inference-perf#86). So
the run measures itself while it runs:

- **CPU**: this process's CPU time (``time.process_time``, all threads) over wall time,
  sampled every ``interval``; one Python thread can use at most one core, so a value near
  1.0 means the loop had no idle time left;
- **loop lag**: a timer due every ``interval`` on the event loop (async) or on a thread
  (sync: there the lag is GIL and scheduler contention) notes how late it fires;
- **dispatch lag** (from the records): ``start - ready`` of each request, the time between
  the moment a request could have been sent and the moment it was.

The verdict (:func:`verdict`) marks the result ``valid: false`` when the dispatch lag p99
exceeds ``lag_p99`` (default 10 ms: small against a TTFT yet far above the ~0.1 ms a
healthy loop shows) or the mean CPU use over the run exceeds ``cpu`` (default 0.90 of a
core). Each reason is spelled out; the console prints them in red.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from .._event_loop import describe as describe_loop
from ._stats import summary

__all__ = ["Audit", "verdict"]


class Audit:
    """Samples CPU and loop lag from :meth:`start` to :meth:`stop` (seconds on ``clock``,
    relative to ``origin``)."""

    def __init__(self, *, interval: float = 0.05, clock: Callable[[], float] = time.perf_counter,
                 cpu: Callable[[], float] = time.process_time) -> None:
        self.interval = interval
        self._clock = clock
        self._cpu = cpu
        self.origin = clock()
        self.lags: list[float] = []
        self.cpu_series: list[tuple[float, float]] = []  # (t, cpu util over the last second)
        self._cpu_start = (0.0, 0.0)
        self._cpu_last = (0.0, 0.0)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0
        self.event_loop: str | None = None  # what ran the run: "asyncio", "uvloop 0.23.0" or "threads"

    def start(self, origin: float) -> None:
        self.origin = origin
        now = self._clock()
        self._cpu_start = self._cpu_last = (now, self._cpu())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self.event_loop = describe_loop(loop) if loop is not None else "threads"
        if loop is not None:
            self._due = now + self.interval
            self._handle = loop.call_later(self.interval, self._tick, loop)
        else:
            self._thread = threading.Thread(target=self._run_thread, name="vllm-client-bench-audit", daemon=True)
            self._thread.start()

    def _note(self, now: float) -> None:
        last_t, last_cpu = self._cpu_last
        if now - last_t >= 1.0:
            cpu = self._cpu()
            self.cpu_series.append((now - self.origin, (cpu - last_cpu) / (now - last_t)))
            self._cpu_last = (now, cpu)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        now = self._clock()
        self.lags.append(max(0.0, now - self._due))
        self._note(now)
        if not self._stop.is_set():
            self._due = now + self.interval
            self._handle = loop.call_later(self.interval, self._tick, loop)

    def _run_thread(self) -> None:
        while True:
            due = self._clock() + self.interval
            if self._stop.wait(self.interval):
                return
            now = self._clock()
            self.lags.append(max(0.0, now - due))
            self._note(now)

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        now = self._clock()
        t0, cpu0 = self._cpu_start
        self._cpu_total = (self._cpu() - cpu0) / (now - t0) if now > t0 else 0.0

    @property
    def cpu_util(self) -> float:
        """Mean CPU use over the run, in cores (1.0 = one core busy all the time)."""
        return getattr(self, "_cpu_total", 0.0)

    def report(self) -> dict[str, Any]:
        return {
            "event_loop": self.event_loop,
            "client_cpu_util": self.cpu_util,
            "client_cpu_series": self.cpu_series,
            "event_loop_lag_ms": {k: (None if v is None else v * 1000.0) for k, v in summary(self.lags).items()},
        }


def verdict(dispatch_lag_p99_s: float | None, cpu_util: float, *, lag_p99: float, cpu: float,
            loop_lag_p99_s: float | None = None) -> tuple[bool, str | None]:
    """(valid, reason): invalid when the client was the bottleneck. ``loop_lag_p99_s`` only
    explains: a late loop with little CPU used means the machine did not run this process."""
    reasons = []
    if dispatch_lag_p99_s is not None and dispatch_lag_p99_s > lag_p99:
        why = "requests were sent late by this client, so its latencies include its own queueing"
        if loop_lag_p99_s is not None and loop_lag_p99_s > lag_p99 and cpu_util < cpu / 2:
            why += (f" (event-loop lag p99 {loop_lag_p99_s * 1000:.0f} ms while using {cpu_util:.0%} of a core: "
                    "the machine gave this process too little CPU; other load on it?)")
        reasons.append(f"dispatch lag p99 {dispatch_lag_p99_s * 1000:.1f} ms > {lag_p99 * 1000:.1f} ms: {why}")
    if cpu_util > cpu:
        reasons.append(f"client CPU {cpu_util:.0%} of a core > {cpu:.0%}: the load generator had no idle time "
                       "left (use --workers, a faster machine, or a lower rate)")
    return (not reasons, "; ".join(reasons) or None)
