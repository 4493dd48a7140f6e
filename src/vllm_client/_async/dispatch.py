"""The dispatch loop: keep up to N jobs in flight, start each when the scheduler allows,
enforce the per-job timeout, report every outcome with its timing.

The decisions are in :class:`~vllm_client._dispatch.schedule.Scheduler` (pure); this loop
only pulls jobs, starts them in the pool, waits for the next event (an outcome, a slot, a
deadline) and hands outcomes to the caller. One loop serves ``batch`` (a source gated by
its reorder window) and ``bench`` (a source with send times, calls that mark their first
token).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from .._dispatch import DispatchTimeout, Scheduler, Timing, wait_plan
from .._dispatch.async_pool import AsyncPool

__all__ = ["Dispatch"]

J = TypeVar("J")


class Dispatch(Generic[J]):
    """Run the jobs of ``source`` through ``call(job, timing)``, each outcome to ``done``.

    - ``source`` yields jobs, or None when it made progress without one (a batch line that
      needs no request): the loop then checks ``gate`` again before pulling more.
    - ``gate()`` False holds new jobs back (batch: the reorder window is full).
    - ``send_at(job)``: the job's send time in seconds after the start (bench), or None.
    - ``done(job, result, error, timing)``: exactly one of result/error per job; a job past
      ``timeout`` gets a :class:`DispatchTimeout` (its call is cancelled).
    - ``idle()`` runs before every wait: where a caller flushes what it buffered.
    - ``requeue(job)``: when given, a job pulled but still waiting for its send time is
      handed back after each batch of outcomes (``done`` may have queued an earlier one:
      bench's next turn after think time), and pulled again.
    - ``clock``: the monotonic clock for timings and slots (injectable for tests).
    """

    def __init__(
        self,
        source: Iterator[J | None],
        call: Callable[[J, Timing], Any],
        done: Callable[[J, Any, BaseException | None, Timing], None],
        *,
        concurrency: int,
        max_rate: float | None = None,
        timeout: float | None = None,
        gate: Callable[[], bool] | None = None,
        send_at: Callable[[J], float | None] | None = None,
        idle: Callable[[], None] | None = None,
        requeue: Callable[[J], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._call = call
        self._done = done
        self._gate = gate
        self._send_at = send_at
        self._idle = idle
        self._requeue = requeue
        self._clock = clock
        self.scheduler = Scheduler(concurrency, max_rate=max_rate, timeout=timeout, origin=clock())
        self._running: dict[int, tuple[J, Timing]] = {}
        self._tokens = 0

    async def _timed(self, job: J, timing: Timing) -> Any:
        try:
            return await self._call(job, timing)
        finally:
            if timing.end is None:  # not already ended by the timeout
                timing.end = self._clock()

    async def run(self) -> None:
        sched, clock, running = self.scheduler, self._clock, self._running
        pool = AsyncPool(sched.concurrency)
        pending: J | None = None
        exhausted = False
        try:
            while True:
                now = clock()
                wake: float | None = None
                while sched.has_room():
                    if pending is None:
                        if exhausted or (self._gate is not None and not self._gate()):
                            break
                        try:
                            pending = next(self._source)
                        except StopIteration:
                            exhausted = True
                            break
                        if pending is None:
                            continue
                    slot = sched.slot(None if self._send_at is None else self._send_at(pending))
                    if slot > now:
                        wake = slot
                        break
                    token = self._tokens
                    self._tokens += 1
                    timing = sched.start(token, slot, now)
                    running[token] = (pending, timing)
                    pool.start(token, self._timed, pending, timing)
                    pending = None
                for token in sched.expired(now):
                    pool.cancel(token)
                    job, timing = running.pop(token)
                    timing.end = now
                    self._done(job, None, DispatchTimeout(f"no answer within {sched.timeout:g}s"), timing)
                if exhausted and pending is None and not running:
                    return
                if not running and wake is None:  # only a closed gate can leave nothing to wait for
                    raise RuntimeError("dispatch stalled: the gate is closed with nothing in flight")
                if self._idle is not None:
                    self._idle()
                send_due = wake
                deadline = sched.next_deadline()
                if deadline is not None:
                    wake = deadline if wake is None else min(wake, deadline)
                # A due send is waited for precisely (timer, then yields: see wait_plan); a
                # timeout deadline alone needs no precision.
                spin_now, timeout = wait_plan(None if wake is None else wake - clock(),
                                              pool.spin if wake is not None and wake == send_due else 0.0)
                outcomes = await (pool.yield_once() if spin_now else pool.wait(timeout))
                for token, result, error in outcomes:
                    entry = running.get(token)
                    if entry is None or not sched.finish(token, entry[1].end):
                        continue  # expired meanwhile: already reported
                    del running[token]
                    job, timing = entry
                    if error is not None and not isinstance(error, Exception):
                        raise error  # KeyboardInterrupt, SystemExit, a cancellation not ours
                    self._done(job, result, error, timing)
                if outcomes and pending is not None and self._requeue is not None:
                    self._requeue(pending)
                    pending = None
        finally:
            await pool.aclose()
            if self._idle is not None:
                self._idle()
