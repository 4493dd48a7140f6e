"""The fleet: per-server state (in-flight count, breaker, tallies), the routing policy,
the retry budget, and the call observer that keeps them right. Pure except for the lock
(threads of a sync client share it); the clock and the random source are injected.

The retry loop asks :meth:`Fleet.pick` which server takes each attempt (the servers this
call already tried are avoided while others are left) and :meth:`Fleet.retry_now` whether
and how to retry; everything else arrives through the observer protocol (``_call.py``):
``attempt_started`` counts a request in flight, ``attempt_ended`` counts it out (exactly
once: the call object guarantees it) and gives the breaker its verdict.

Verdicts: no error, or any HTTP answer below 500 -> success (the server works); a
transport failure, a timeout, a 5xx -> failure; a 503 with vLLM's error body (admission
control: "Please try again later or on a different instance"; a retryable request error)
or a 429 -> load shed: no verdict, and the retry goes to another server at once;
cancelled or closed by the caller -> no verdict.

One server: ``pick`` returns 0 at once (no lock, no scan); the observer only counts.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import APIConnectionError, APIError, StreamError, VllmError
from .breaker import CLOSED, OPEN, Breaker, BreakerConfig
from .budget import RetryBudget
from .policies import Policy, RouteRequest, make_policy
from .prefix import block_hashes, canonical_text

if TYPE_CHECKING:
    from .._call import Call
    from .._protocol.requests import RequestSpec

__all__ = ["Fleet", "ServerStatus", "is_load_shed", "verdict"]

SESSION_HEADER = "X-Session-ID"


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """One server as this client sees it (``client.servers``)."""

    url: str
    state: str  # "closed" | "open" | "half_open"
    inflight: int
    requests: int
    failures: int
    last_error: str | None


def is_load_shed(error: BaseException | None) -> bool:
    """A 503 from vLLM itself (its JSON error body: admission control or a retryable
    request error) or a 429: the server is busy, not broken; go elsewhere now."""
    if not isinstance(error, APIError):
        return False
    if error.status_code == 429:
        return True
    return error.status_code == 503 and error.error_type is not None


def verdict(error: BaseException | None) -> str | None:
    """What an attempt's end says about its server: "success", "failure" or None."""
    if error is None:
        return "success"
    if isinstance(error, APIError):
        if is_load_shed(error):
            return None
        return "failure" if error.status_code >= 500 else "success"
    if isinstance(error, APIConnectionError):
        return "failure"
    if isinstance(error, StreamError):
        return "failure" if isinstance(error.__cause__, APIConnectionError) else "success"
    return None  # cancelled, a bug of ours, a body we could not encode...


def _session_of(headers: Any, defaults: Any) -> str | None:
    for source in (headers, defaults):
        if source:
            for k, v in source.items():
                if k.lower() == "x-session-id":
                    return str(v)
    return None


class Fleet:
    """The servers of one client (and its ``with_options`` copies)."""

    def __init__(self, urls: Sequence[str], routing: str | Policy | None = None, *,
                 breaker: BreakerConfig | None = None, budget: RetryBudget | None = None,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
        self.urls = tuple(urls)
        n = self.n = len(self.urls)
        self.rng = rng or random.Random()
        self.policy = make_policy(routing or "least_outstanding", self.urls, self.rng)
        # ``with_options(routing=...)`` copies route by their own policy over the same
        # servers, counts and breakers: one policy per name (or instance), told of every
        # ejection, so a copy's prefix index forgets a restarted server like the parent's.
        self._policies: dict[Any, Policy] = {self.policy.name: self.policy, id(self.policy): self.policy}
        self.clock = clock
        self.budget = budget or RetryBudget()
        self.breakers = [Breaker(breaker) for _ in range(n)]
        self.inflight = [0] * n
        self.requests = [0] * n
        self.failures = [0] * n
        self.last_error: list[str | None] = [None] * n
        self._probed_at = [float("-inf")] * n
        # Reentrant: an abandoned stream's end runs in the garbage collector, which can
        # start on this thread while it holds the lock (inside pick); a plain Lock deadlocks
        # there (found by the randomized 10,000-request test).
        self.lock = threading.RLock()

    def policy_for(self, routing: str | Policy | None) -> Policy:
        """The policy a client configured with ``routing`` picks by (None: the fleet's own)."""
        if routing is None:
            return self.policy
        key = id(routing) if isinstance(routing, Policy) else routing
        with self.lock:
            policy = self._policies.get(key)
            if policy is None:
                policy = self._policies[key] = make_policy(routing, self.urls, self.rng)
            return policy

    # -- choosing ---------------------------------------------------------------------------
    def route_request(self, spec: RequestSpec, default_headers: Any = None,
                      policy: Policy | None = None) -> RouteRequest:
        session = _session_of(spec.headers, default_headers)
        blocks: tuple[int, ...] = ()
        if (policy or self.policy).wants_blocks and spec.body:
            blocks = block_hashes(canonical_text(spec.body))
        return RouteRequest(session, blocks)

    def pick(self, spec: RequestSpec, tried: Sequence[int] = (), default_headers: Any = None,
             policy: Policy | None = None) -> int:
        """The server for the next attempt of ``spec``'s call (by ``policy``, else the fleet's)."""
        if self.n == 1:
            return 0
        request = self.route_request(spec, default_headers, policy)
        return self.pick_for(request, tried, policy)

    def pick_for(self, request: RouteRequest, tried: Sequence[int] = (), policy: Policy | None = None) -> int:
        policy = policy or self.policy
        with self.lock:
            now = self.clock()
            breakers = self.breakers
            admitted = [i for i in range(self.n) if breakers[i].admits(now)]
            candidates = [i for i in admitted if i not in tried] or admitted
            if candidates:
                server = policy.pick(self.inflight, candidates, request)
            else:  # every server open: never none, the one whose cooldown ends first
                pool = [i for i in range(self.n) if i not in tried] or list(range(self.n))
                server = min(pool, key=lambda i: (breakers[i].reopen_at, self.inflight[i]))
            breakers[server].sending()
            policy.chosen(server, request)
            return server

    def retry_now(self, error: VllmError, server: int, tried: Sequence[int]) -> tuple[bool, bool]:
        """May this call retry after ``error`` on ``server``, and at once (no backoff)?
        At once: load shed, or a connection that failed, when another server is left."""
        if self.n == 1:
            return True, False
        with self.lock:
            if not self.budget.withdraw(self.clock()):
                return False, False
            now = self.clock()
            others = any(i != server and i not in tried and self.breakers[i].admits(now) for i in range(self.n))
        immediate = others and (is_load_shed(error) or
                                (isinstance(error, APIConnectionError) and not isinstance(error, APIError)))
        return True, immediate

    # -- active health probes (health_check_interval) ---------------------------------------
    def probes_due(self, interval: float) -> list[int]:
        """Servers not closed whose last active probe is ``interval`` old (each is then
        marked probed: one probe per interval, whatever the traffic)."""
        with self.lock:
            now = self.clock()
            due = [i for i, b in enumerate(self.breakers)
                   if b.state != CLOSED and now - self._probed_at[i] >= interval]
            for i in due:
                self._probed_at[i] = now
            return due

    def probe_result(self, server: int, healthy: bool) -> None:
        """An active ``/health`` probe answered: a healthy open server becomes half-open at
        once (its next request is the one probe), instead of waiting out its cooldown."""
        with self.lock:
            breaker = self.breakers[server]
            if healthy and breaker.state == OPEN:
                breaker.reopen_at = self.clock()
                breaker.refresh(breaker.reopen_at)

    # -- the observer -----------------------------------------------------------------------
    def call_started(self, call: Call) -> None:
        if self.n > 1:
            with self.lock:
                self.budget.deposit(self.clock())

    def attempt_started(self, call: Call, server: int) -> None:
        with self.lock:
            self.inflight[server] += 1
            self.requests[server] += 1

    def _ended_one(self, error: BaseException | None) -> None:
        """``attempt_ended`` of a one-server client: only the tallies."""
        with self.lock:
            self.inflight[0] -= 1
            if error is not None and (verdict(error) == "failure" or is_load_shed(error)):
                self.failures[0] += 1
                self.last_error[0] = f"{type(error).__name__}: {error}"[:300]

    def attempt_ended(self, call: Call, server: int, error: BaseException | None) -> None:
        if self.n == 1:
            self._ended_one(error)
            return
        judged = verdict(error)
        with self.lock:
            self.inflight[server] -= 1
            if judged == "failure" or is_load_shed(error):
                self.failures[server] += 1
                self.last_error[server] = f"{type(error).__name__}: {error}"[:300]
            breaker = self.breakers[server]
            if judged == "success":
                breaker.success()
            elif judged == "failure":
                if breaker.state == CLOSED and not self._others_alive(server):
                    breaker.failures += 1  # the last server is never ejected
                else:
                    breaker.failure(self.clock())
                    if breaker.state == OPEN:
                        for known in set(self._policies.values()):
                            known.forget(server)  # a restarted server has an empty cache
            else:
                breaker.abandon()

    def first_token(self, call: Call) -> None:
        return None

    def call_ended(self, call: Call, error: BaseException | None) -> None:
        return None

    def _others_alive(self, server: int) -> bool:
        return any(b.state != OPEN for i, b in enumerate(self.breakers) if i != server)

    # -- visibility -------------------------------------------------------------------------
    def statuses(self) -> list[ServerStatus]:
        with self.lock:
            now = self.clock()
            for b in self.breakers:
                b.refresh(now)
            return [ServerStatus(url, b.public_state, self.inflight[i], self.requests[i], self.failures[i],
                                 self.last_error[i])
                    for i, (url, b) in enumerate(zip(self.urls, self.breakers, strict=True))]
