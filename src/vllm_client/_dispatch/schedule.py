"""When the next job may start, and which running jobs have overrun. Pure.

Three limits, each on absolute times so that a late wake-up never shifts what follows:

- ``concurrency``: at most that many jobs running.
- ``max_rate``: starts per second, as a cell-rate schedule: start k is due at
  ``slot(k-1) + 1/rate``, not at ``wake time + 1/rate``, so the loop's own latency does not
  slow the rate down. A start later than its slot by more than one interval (the source or
  the concurrency cap held it back) restarts the grid from the late start: no burst to
  "catch up", so any window of T seconds holds at most ``rate * T + 2`` starts.
- a job's own send time (bench's schedule: ``origin + send_at``), and a per-job
  ``timeout`` from its start.

Each start also says when the job became *ready* (``Timing.ready``): its slot, or the moment
a concurrency slot freed if that was later (the freed times are kept in a heap: the job
could have taken the one free the longest). So ``ready - scheduled`` is the wait for the
cap and ``start - ready`` the loop's own lateness, which bench reports apart.

Nothing here reads a clock: the loop passes ``now`` (the same clock for every call).

How the loop waits for a due start (:func:`wait_plan`): asyncio's epoll selector rounds a
timer's timeout *up* to whole milliseconds, so a plain timer makes a send 0-1 ms late before
any load (bench measured the p50 dispatch lag at 0.55-1.4 ms that way, both ours and
``vllm bench serve``'s). So the async loop sleeps on a timer only until ``spin`` (1.5 ms)
before the due time, then finishes with zero-length yields (each one still serves the
sockets: a spinning loop reads streams as usual), which bounds the spin's CPU to the last
1.5 ms before each due send. The thread pool's waits are not rounded: its ``spin`` is 0.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

__all__ = ["DispatchTimeout", "Scheduler", "Timing", "wait_plan"]


class DispatchTimeout(TimeoutError):
    """A job ran past the dispatcher's per-job timeout (it was cancelled, or abandoned when
    its thread cannot be cancelled)."""


@dataclass(slots=True)
class Timing:
    """One job's times on the dispatcher's clock. ``scheduled`` is when it was due
    (``start - scheduled`` is the dispatch lag), ``first_token`` is marked by the job itself
    (``timing.first_token = clock()``) when it streams."""

    scheduled: float
    start: float
    first_token: float | None = None
    end: float | None = None
    ready: float | None = None
    """When the job could first have started: ``max(scheduled, a slot free)``."""

    @property
    def latency(self) -> float | None:
        return None if self.end is None else self.end - self.start

    @property
    def lag(self) -> float:
        return self.start - self.scheduled


class Scheduler:
    """Admission and deadlines for the jobs of one dispatch. Tokens are the caller's ints."""

    __slots__ = ("_deadlines", "_free", "_interval", "_next_slot", "_running", "concurrency", "origin", "timeout")

    def __init__(self, concurrency: int, *, max_rate: float | None = None, timeout: float | None = None,
                 origin: float = 0.0) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        if max_rate is not None and not (max_rate > 0 and math.isfinite(max_rate)):
            raise ValueError(f"max_rate must be a positive number of requests per second or None, got {max_rate!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
        self.concurrency = concurrency
        self.timeout = timeout
        self.origin = origin
        self._interval = 0.0 if max_rate is None else 1.0 / max_rate
        self._next_slot = -math.inf
        self._running: dict[int, float] = {}
        self._deadlines: list[tuple[float, int]] = []
        self._free: list[float] = [-math.inf] * concurrency  # when each free slot freed (a heap)

    @property
    def running(self) -> int:
        return len(self._running)

    def has_room(self) -> bool:
        return len(self._running) < self.concurrency

    def slot(self, send_at: float | None = None) -> float:
        """The earliest time the next job may start (``-inf``: now). ``send_at`` is the
        job's own send time, in seconds after ``origin``."""
        due = self._next_slot
        if send_at is not None:
            due = max(due, self.origin + send_at)
        return due

    def start(self, token: int, slot: float, now: float) -> Timing:
        """Record that job ``token``, due at ``slot``, starts at ``now``."""
        if not self.has_room():
            raise RuntimeError("no room: start() past the concurrency cap")
        if now < slot:
            raise RuntimeError(f"start() before the job's slot ({now} < {slot})")
        if self._interval:
            base = slot if now - slot <= self._interval else now  # late by more than a cell: restart the grid
            self._next_slot = base + self._interval
        deadline = math.inf if self.timeout is None else now + self.timeout
        self._running[token] = deadline
        if self.timeout is not None:
            heapq.heappush(self._deadlines, (deadline, token))
        freed = heapq.heappop(self._free) if self._free else -math.inf
        ready = max(slot, freed)
        return Timing(scheduled=now if slot == -math.inf else slot, start=now,
                      ready=now if ready == -math.inf else ready)

    def finish(self, token: int, at: float | None = None) -> bool:
        """Job ``token`` ended (its slot free since ``at``, default: long ago); False if
        it was not running (already expired)."""
        if self._running.pop(token, None) is None:
            return False
        heapq.heappush(self._free, -math.inf if at is None else at)
        return True

    def expired(self, now: float) -> list[int]:
        """Running jobs whose deadline has passed; they count as finished from here on."""
        out: list[int] = []
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, token = heapq.heappop(heap)
            if self._running.get(token) == deadline:
                del self._running[token]
                heapq.heappush(self._free, now)
                out.append(token)
        return out

    def next_deadline(self) -> float | None:
        """The nearest deadline of a running job (stale heap entries dropped), or None."""
        heap = self._deadlines
        while heap and self._running.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None


def wait_plan(remaining: float | None, spin: float) -> tuple[bool, float | None]:
    """How to wait for an event due in ``remaining`` seconds (None: no due time, wait for
    an outcome), given the pool's ``spin`` window: ``(yield_once, timeout)``.

    - ``(False, None)``: wait for an outcome, no timer;
    - ``(False, t)``: wait for an outcome at most ``t`` seconds (``t == 0``: already due,
      do not wait); ``t`` ends ``spin`` before the due time;
    - ``(True, 0.0)``: within the spin window: yield once to the event loop (outcomes and
      socket reads are served), then look again.
    """
    if remaining is None:
        return False, None
    if remaining <= 0.0:
        return False, 0.0
    if remaining > spin:
        return False, remaining - spin
    return True, 0.0
