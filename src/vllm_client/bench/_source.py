"""Which request goes next, and when: the job source the dispatcher pulls from. Pure
(the clock is passed in).

One source serves every load shape:

- open loop: send offsets from :func:`._schedule.arrival_offsets` (one per request; for
  multi-turn one per *session*, whose later turns follow their answers);
- closed loop: ``users`` users each send their next request when the previous answer
  ended (plus think time between the turns of a session); a ramp-up staggers their starts.

Follow-ups (the next turn, the next request of a closed-loop user) wait in a heap by send
time; the dispatcher hands back a job it pulled too early (``requeue``) when an answer may
have queued an earlier one. A job is due at ``send_at`` seconds after the run's start.

Stops: after ``limit`` requests have been issued, or once the clock passes ``duration``
(requests in flight then finish and count: that is the drain).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._workloads import Prompt

__all__ = ["Job", "Session", "Source"]


@dataclass(slots=True)
class Session:
    """A multi-turn conversation: its history grows with each answer."""

    id: int
    turns: int
    history: list[dict[str, Any]] = field(default_factory=list)
    turn: int = 0


@dataclass(slots=True)
class Job:
    index: int
    kind: str  # "warmup" | "measured"
    send_at: float | None
    prompt: Prompt
    session: Session | None = None
    turn: int | None = None
    user: int | None = None


class Source:
    """Iterator of :class:`Job` for the dispatcher; ``gate``, ``requeue`` and ``answered``
    are its other three hooks."""

    def __init__(self, prompts: list[Prompt], *, kind: str = "measured", limit: int | None,
                 duration: float | None, arrivals: Iterator[float] | None, users: int | None,
                 turns: int | None = None, turn_texts: list[Prompt] | None = None, ramp_up: float = 0.0,
                 think_time: float = 0.0, think_exponential: bool = False, rng: random.Random | None = None,
                 clock: Callable[[], float] = lambda: 0.0) -> None:
        if arrivals is None and users is None:
            raise ValueError("a source needs arrival times (open loop) or users (closed loop)")
        self._prompts = prompts
        self._turn_texts = turn_texts or []
        self._turns = turns
        self._kind = kind
        self._limit = limit
        self._duration = duration
        self._arrivals = arrivals
        self._next_arrival: float | None = None
        self._rng = rng or random.Random(0)
        self._think = think_time
        self._think_exp = think_exponential
        self._clock = clock
        self._heap: list[tuple[float, int, Job]] = []  # follow-ups, not issued yet
        self._back: list[tuple[float, int, Job]] = []  # issued, pulled early and handed back
        self._seq = itertools.count()
        self.issued = 0
        self._sessions = itertools.count()
        self._texts = 0
        self._stopped = False
        self._in_flight = 0
        if users is not None:
            for u in range(users):
                start = ramp_up * u / users if ramp_up > 0 else 0.0
                self._push(self._new_job(start, user=u))

    # -- building jobs --------------------------------------------------------------------
    def _next_text(self) -> Prompt:
        p = self._turn_texts[self._texts % len(self._turn_texts)]
        self._texts += 1
        return p

    def _new_job(self, send_at: float, *, user: int | None = None) -> Job:
        """The next fresh request: a new single-turn prompt, or a new session's first turn."""
        if self._turns is not None:
            session = Session(next(self._sessions), self._turns)
            return Job(-1, self._kind, send_at, self._next_text(), session=session, turn=0, user=user)
        return Job(-1, self._kind, send_at, Prompt(), user=user)

    def _push(self, job: Job) -> None:
        heapq.heappush(self._heap, (job.send_at or 0.0, next(self._seq), job))

    def _think_gap(self) -> float:
        if self._think <= 0:
            return 0.0
        return self._rng.expovariate(1.0 / self._think) if self._think_exp else self._think

    # -- the dispatcher's hooks -----------------------------------------------------------
    def _exhausted(self) -> bool:
        if self._stopped:
            return True
        limit_hit = self._limit is not None and self.issued >= self._limit
        if limit_hit or (self._duration is not None and self._clock() > self._duration):
            self._stopped = True
        return self._stopped

    def gate(self) -> bool:
        """Pull now? (False: nothing is due until an answer queues a follow-up.)"""
        if self._heap or self._back or self._arrivals is not None or self._in_flight == 0:
            return True
        return self._exhausted()

    def requeue(self, job: Job) -> None:
        """A job pulled before its time, handed back (it keeps its index)."""
        self._in_flight -= 1
        heapq.heappush(self._back, (job.send_at or 0.0, next(self._seq), job))

    def __iter__(self) -> Source:
        return self

    def __next__(self) -> Job:
        back = self._back
        if self._exhausted():  # no new requests; one pulled early and handed back still goes
            if back:
                self._in_flight += 1
                return heapq.heappop(back)[2]
            raise StopIteration
        if self._arrivals is not None and self._next_arrival is None:
            self._next_arrival = next(self._arrivals)
        arrival = self._next_arrival
        if arrival is not None and self._duration is not None and arrival > self._duration:
            self._arrivals = None  # the schedule ran past the duration: only follow-ups remain
            self._next_arrival = arrival = None
        heap = self._heap
        due = [(q[0][0], i) for i, q in enumerate((back, heap)) if q]
        if arrival is not None:
            due.append((arrival, 2))
        if not due:
            self._stopped = True  # open loop past its duration with nothing queued
            raise StopIteration
        which = min(due)[1]
        if which == 0:
            self._in_flight += 1
            return heapq.heappop(back)[2]
        if which == 1:
            job = heapq.heappop(heap)[2]
        else:
            self._next_arrival = None
            job = self._new_job(arrival or 0.0)
        if self._duration is not None and job.send_at is not None and job.send_at > self._duration:
            self._stopped = True  # due after the end: the run is over (what is in flight drains)
            raise StopIteration
        self._in_flight += 1
        job.index = self.issued
        self.issued += 1
        if job.session is None:
            job.prompt = self._prompts[job.index % len(self._prompts)]
        return job

    def answered(self, job: Job, end_s: float, answer: str | None, ok: bool) -> None:
        """A job ended at ``end_s`` (seconds since the start): queue what follows it."""
        self._in_flight -= 1
        session = job.session
        if session is not None and ok and job.turn is not None and job.turn + 1 < session.turns:
            session.history.append({"role": "user", "content": job.prompt.text or ""})
            session.history.append({"role": "assistant", "content": answer or ""})
            nxt = Job(-1, self._kind, end_s + self._think_gap(), self._next_text(), session=session,
                      turn=job.turn + 1, user=job.user)
            self._push(nxt)
            return
        if job.user is not None:  # a closed-loop user goes on (a new session after the last turn)
            gap = self._think_gap() if session is not None else 0.0
            self._push(self._new_job(end_s + gap, user=job.user))
