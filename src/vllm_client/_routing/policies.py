"""Routing policies: which server takes the next attempt. Pure (no I/O, no clock).

Every policy sees the same inputs: the in-flight counts of THIS client per server (the
load signal every LLM router balances on, research ``routing-anchors.md`` §12), the
candidate servers (healthy, not yet tried by this call) and a :class:`RouteRequest`
(session id, prefix block hashes). Randomness is an injected ``random.Random``.

- ``least_outstanding`` (the default for several servers): the fewest in flight; ties by
  a rotating start, never "the first", because ties are the common case at low load and
  "first" sends all of them to one server (sgl#27547, research §9).
- ``round_robin``: in turn over the candidates.
- ``session_affinity``: rendezvous (highest-random-weight) hashing of the session id over
  the candidates, so a server that leaves only moves its own sessions; a bounded-load
  escape to the next server in that session's order when the chosen one is overloaded
  (see :func:`overloaded`). No session id: least outstanding.
- ``prefix_affinity``: the server whose prefix index holds the longest leading run of the
  request's block hashes (``prefix.py``), if it covers at least ``min_match`` of the prompt
  and the server is not overloaded; else least outstanding. The choice is then recorded in
  the index, which is what makes later requests with that prefix stick.

Overload (shared by both affinity policies, SGLang's balance rule): a server is
overloaded when it has more than ``balance_abs`` requests above the least loaded
candidate AND more than ``balance_rel`` times its count. Defaults 4 and 1.5: a client
typically keeps a handful of requests in flight, so SGLang's gateway values (64 / 1.5) would
never trigger; 4 lets affinity absorb a burst of one conversation before spilling.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from .prefix import PrefixIndex

__all__ = ["POLICIES", "LeastOutstanding", "Policy", "PrefixAffinity", "RoundRobin", "RouteRequest",
           "SessionAffinity", "check_routing", "make_policy", "overloaded", "rendezvous_order"]


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What a policy may know about a request: its session id and prefix block hashes."""

    session_id: str | None = None
    blocks: tuple[int, ...] = ()


class Policy:
    """Base: ``pick`` chooses among ``candidates`` (never empty); ``chosen`` is told the
    final choice (after the fleet's own checks); ``forget`` that a server's state is gone."""

    name = "policy"
    #: whether the fleet must compute prefix block hashes for it
    wants_blocks = False

    def __init__(self, servers: Sequence[str], rng: random.Random) -> None:
        self.servers = tuple(servers)
        self.rng = rng
        self._turn = rng.randrange(len(self.servers)) if self.servers else 0

    def pick(self, inflight: Sequence[int], candidates: Sequence[int], request: RouteRequest) -> int:
        raise NotImplementedError

    def chosen(self, server: int, request: RouteRequest) -> None:
        return None

    def forget(self, server: int) -> None:
        return None

    def least(self, inflight: Sequence[int], candidates: Sequence[int]) -> int:
        """Least outstanding among ``candidates``; ties by rotation."""
        best = min(inflight[c] for c in candidates)
        ties = [c for c in candidates if inflight[c] == best]
        self._turn += 1
        return ties[self._turn % len(ties)]


class LeastOutstanding(Policy):
    name = "least_outstanding"

    def pick(self, inflight: Sequence[int], candidates: Sequence[int], request: RouteRequest) -> int:
        return self.least(inflight, candidates)


class RoundRobin(Policy):
    name = "round_robin"

    def pick(self, inflight: Sequence[int], candidates: Sequence[int], request: RouteRequest) -> int:
        # The next server after the last one in the full list, among the candidates.
        n = len(self.servers)
        allowed = set(candidates)
        for step in range(1, n + 1):
            server = (self._turn + step) % n
            if server in allowed:
                self._turn = server
                return server
        return candidates[0]  # unreachable: candidates is never empty


def overloaded(load: int, least: int, balance_abs: int, balance_rel: float) -> bool:
    """SGLang's imbalance rule: more than ``balance_abs`` above the least loaded AND more
    than ``balance_rel`` times it."""
    return load - least > balance_abs and load > balance_rel * least


def _weight(key: str, server: str) -> int:
    digest = hashlib.blake2b(f"{key}\0{server}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rendezvous_order(key: str, servers: Sequence[str], candidates: Sequence[int]) -> list[int]:
    """``candidates`` by decreasing rendezvous weight for ``key`` (weights hash the server's
    URL, not its index, so the order does not depend on the list's order)."""
    return sorted(candidates, key=lambda c: _weight(key, servers[c]), reverse=True)


class SessionAffinity(Policy):
    name = "session_affinity"

    def __init__(self, servers: Sequence[str], rng: random.Random, *, balance_abs: int = 4,
                 balance_rel: float = 1.5) -> None:
        super().__init__(servers, rng)
        self.balance_abs = balance_abs
        self.balance_rel = balance_rel

    def pick(self, inflight: Sequence[int], candidates: Sequence[int], request: RouteRequest) -> int:
        if request.session_id is None or len(candidates) == 1:
            return self.least(inflight, candidates)
        least = min(inflight[c] for c in candidates)
        order = rendezvous_order(request.session_id, self.servers, candidates)
        for server in order:
            if not overloaded(inflight[server], least, self.balance_abs, self.balance_rel):
                return server
        return order[0]  # unreachable: the least loaded is never overloaded


class PrefixAffinity(Policy):
    name = "prefix_affinity"
    wants_blocks = True

    def __init__(self, servers: Sequence[str], rng: random.Random, *, balance_abs: int = 4,
                 balance_rel: float = 1.5, min_match: float = 0.5, capacity: int = 16384) -> None:
        super().__init__(servers, rng)
        self.balance_abs = balance_abs
        self.balance_rel = balance_rel
        self.min_match = min_match
        self.index = PrefixIndex(len(self.servers), capacity)
        self._cold_at = [0] * len(self.servers)  # when each server last took a cold prompt
        self._cold_clock = 0

    def pick(self, inflight: Sequence[int], candidates: Sequence[int], request: RouteRequest) -> int:
        blocks = request.blocks
        if blocks and len(candidates) > 1:
            least = min(inflight[c] for c in candidates)
            best, best_len = -1, 0
            for server in candidates:
                matched = self.index.match(server, blocks)
                if matched > best_len or (matched == best_len and best >= 0 and inflight[server] < inflight[best]):
                    best, best_len = server, matched
            if best >= 0 and best_len >= self.min_match * len(blocks) and not overloaded(
                    inflight[best], least, self.balance_abs, self.balance_rel):
                return best
            # A cold prompt: to the server that least recently took one (llm-d's no-hit-LRU),
            # unless it is overloaded, so new prefixes spread evenly over the servers whatever
            # their momentary load (least outstanding alone gave 167/33 on real servers).
            fresh = [c for c in candidates if not overloaded(inflight[c], least, self.balance_abs, self.balance_rel)]
            server = min(fresh, key=lambda c: self._cold_at[c])
            self._cold_clock += 1
            self._cold_at[server] = self._cold_clock
            return server
        return self.least(inflight, candidates)

    def chosen(self, server: int, request: RouteRequest) -> None:
        if request.blocks:
            self.index.insert(server, request.blocks)

    def forget(self, server: int) -> None:
        self.index.clear(server)


POLICIES: dict[str, type[Policy]] = {
    p.name: p for p in (LeastOutstanding, RoundRobin, SessionAffinity, PrefixAffinity)
}


def check_routing(routing: object) -> None:
    """``routing=`` is a policy instance or one of the names in :data:`POLICIES`, else ValueError
    (for every place that takes it: the client, ``with_options``, the CLI's ``--routing``)."""
    if not isinstance(routing, Policy) and (not isinstance(routing, str) or routing not in POLICIES):
        raise ValueError(f"routing must be one of {', '.join(POLICIES)}; got {routing!r}")


def make_policy(routing: str | Policy, servers: Sequence[str], rng: random.Random) -> Policy:
    """A policy from its name (``routing=``) or an instance (returned as is)."""
    check_routing(routing)
    if isinstance(routing, Policy):
        return routing
    return POLICIES[routing](servers, rng)
