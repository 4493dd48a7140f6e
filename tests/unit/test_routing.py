"""Routing policies, the breaker, the retry budget and the fleet's bookkeeping: pure, on
simulated arrivals (injected clock and RNG, no server)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client._errors import (
    APIConnectionError,
    APIError,
    BadRequestError,
    InternalServerError,
    ServiceUnavailableError,
)
from vllm_client._protocol.requests import RequestSpec
from vllm_client._routing import Breaker, BreakerConfig, Fleet, RetryBudget, RouteRequest
from vllm_client._routing.breaker import TRANSITIONS, IllegalTransition
from vllm_client._routing.fleet import is_load_shed, verdict
from vllm_client._routing.policies import (
    LeastOutstanding,
    PrefixAffinity,
    RoundRobin,
    SessionAffinity,
    make_policy,
    overloaded,
    rendezvous_order,
)
from vllm_client._routing.prefix import BLOCK_BYTES, PrefixIndex, block_hashes, canonical_text

URLS = [f"http://10.0.0.{i}:8000/v1" for i in range(1, 6)]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- least outstanding ------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(2, 5), steps=st.integers(1, 300))
def test_least_outstanding_picks_a_minimum_on_simulated_arrivals(seed: int, n: int, steps: int) -> None:
    rng = random.Random(seed)
    policy = LeastOutstanding(URLS[:n], random.Random(seed))
    inflight = [0] * n
    running: list[int] = []
    for _ in range(steps):
        if running and rng.random() < 0.45:  # a random request finishes
            inflight[running.pop(rng.randrange(len(running)))] -= 1
            continue
        candidates = [i for i in range(n) if rng.random() < 0.8] or [rng.randrange(n)]
        server = policy.pick(inflight, candidates, RouteRequest())
        assert server in candidates
        assert inflight[server] == min(inflight[c] for c in candidates)
        inflight[server] += 1
        running.append(server)


def test_least_outstanding_ties_rotate_never_first() -> None:
    policy = LeastOutstanding(URLS[:3], random.Random(1))
    picks = Counter(policy.pick([0, 0, 0], [0, 1, 2], RouteRequest()) for _ in range(300))
    assert set(picks) == {0, 1, 2} and max(picks.values()) == 100


def test_round_robin_in_turn_and_skips_non_candidates() -> None:
    policy = RoundRobin(URLS[:3], random.Random(0))
    seq = [policy.pick([0, 0, 0], [0, 1, 2], RouteRequest()) for _ in range(6)]
    assert sorted(seq[:3]) == [0, 1, 2] and seq[:3] == seq[3:]
    assert all(policy.pick([0, 0, 0], [0, 2], RouteRequest()) in (0, 2) for _ in range(5))


# -- session affinity -------------------------------------------------------------------------

def test_session_affinity_sticky() -> None:
    policy = SessionAffinity(URLS, random.Random(0))
    req = RouteRequest(session_id="user-42")
    first = policy.pick([0] * 5, range(5), req)
    assert all(policy.pick([0] * 5, range(5), req) == first for _ in range(20))


@settings(max_examples=50, deadline=None)
@given(gone=st.integers(0, 4))
def test_rendezvous_stability_when_a_server_leaves(gone: int) -> None:
    sessions = [f"s{i}" for i in range(400)]
    before = {s: rendezvous_order(s, URLS, range(5))[0] for s in sessions}
    left = [i for i in range(5) if i != gone]
    after = {s: rendezvous_order(s, URLS, left)[0] for s in sessions}
    moved = [s for s in sessions if before[s] != after[s]]
    assert all(before[s] == gone for s in moved)  # only the leaving server's sessions move
    assert all(before[s] == after[s] for s in sessions if before[s] != gone)
    assert Counter(before.values())[gone] == len(moved)


def test_rendezvous_spreads_sessions() -> None:
    counts = Counter(rendezvous_order(f"s{i}", URLS, range(5))[0] for i in range(1000))
    assert len(counts) == 5 and min(counts.values()) > 120


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), loads=st.lists(st.integers(0, 40), min_size=3, max_size=5))
def test_session_bounded_load(seed: int, loads: list[int]) -> None:
    n = len(loads)
    policy = SessionAffinity(URLS[:n], random.Random(seed), balance_abs=4, balance_rel=1.5)
    req = RouteRequest(session_id=f"user-{seed}")
    server = policy.pick(loads, range(n), req)
    assert not overloaded(loads[server], min(loads), 4, 1.5)
    order = rendezvous_order(req.session_id or "", URLS[:n], range(n))
    # the first server in the session's own order that is not overloaded (a stable secondary)
    assert server == next(s for s in order if not overloaded(loads[s], min(loads), 4, 1.5))


def test_session_without_id_is_least_outstanding() -> None:
    policy = SessionAffinity(URLS[:3], random.Random(0))
    assert policy.pick([3, 1, 2], range(3), RouteRequest()) == 1


# -- prefix affinity --------------------------------------------------------------------------

def chat_body(system: str, user: str) -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}


def test_block_hashes_chain_and_whole_blocks() -> None:
    a = block_hashes("x" * (BLOCK_BYTES * 3 + 10))
    b = block_hashes("x" * (BLOCK_BYTES * 3) + "y" * BLOCK_BYTES)
    assert len(a) == 3 and len(b) == 4 and a == b[:3]
    c = block_hashes("z" + "x" * (BLOCK_BYTES * 3 - 1))
    assert not set(a) & set(c)  # a change in block 0 changes every later hash


def test_canonical_text_covers_history_tools_and_parts() -> None:
    body = {"messages": [{"role": "system", "content": "S"},
                         {"role": "user", "content": [{"type": "text", "text": "T"},
                                                      {"type": "image_url", "image_url": {"url": "u"}}]}],
            "tools": [{"type": "function", "function": {"name": "f"}}], "cache_salt": "salt"}
    text = canonical_text(body)
    assert "salt" in text and '"name": "f"' in text and "\nsystem\nS" in text and "T" in text and "image_url" in text
    assert canonical_text({"prompt": "abc"}).endswith("abc")
    assert canonical_text(None) == ""


def test_prefix_index_lru_evicts_oldest() -> None:
    index = PrefixIndex(2, capacity=4)
    index.insert(0, [1, 2, 3])
    index.insert(0, [4, 5])
    assert index.size(0) == 4 and index.match(0, [1]) == 0 and index.match(0, [2, 3]) == 2
    assert index.match(1, [2]) == 0


def test_prefix_affinity_sticks_and_spreads_cold_prompts() -> None:
    policy = PrefixAffinity(URLS[:2], random.Random(0))
    systems = [f"system prompt {i} " * 100 for i in range(6)]
    home: dict[int, int] = {}
    for rnd in range(5):
        for i, system in enumerate(systems):
            req = RouteRequest(blocks=block_hashes(canonical_text(chat_body(system, f"q{rnd}"))))
            server = policy.pick([0, 0], [0, 1], req)
            policy.chosen(server, req)
            assert home.setdefault(i, server) == server
    assert Counter(home.values()) == Counter({0: 3, 1: 3})  # cold prompts took turns


def test_prefix_affinity_breaks_stickiness_when_overloaded() -> None:
    policy = PrefixAffinity(URLS[:2], random.Random(0), balance_abs=4, balance_rel=1.5)
    req = RouteRequest(blocks=block_hashes("p" * 4096))
    policy.chosen(0, req)
    assert policy.pick([4, 0], [0, 1], req) == 0  # 4 above: still even enough
    assert policy.pick([5, 0], [0, 1], req) == 1  # 5 above and > 1.5x: least outstanding
    assert policy.pick([0, 0], [1], req) == 1  # not a candidate: elsewhere


def test_prefix_affinity_needs_min_match() -> None:
    policy = PrefixAffinity(URLS[:2], random.Random(0), min_match=0.5)
    shared = "shared " * 40  # about 1 block in common, of 8
    first = RouteRequest(blocks=block_hashes(shared + "a" * 2048))
    home = policy.pick([0, 0], [0, 1], first)
    policy.chosen(home, first)
    short_match = RouteRequest(blocks=block_hashes(shared + "b" * 2048))
    assert policy.pick([0, 0], [0, 1], short_match) == 1 - home  # below half: cold, to the other server
    assert policy.pick([0, 0], [0, 1], first) == home  # the full match still sticks


def test_make_policy_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="least_outstanding"):
        make_policy("fastest", URLS, random.Random(0))


# -- breaker ----------------------------------------------------------------------------------

def test_breaker_opens_after_threshold_and_cooldown_grows() -> None:
    b = Breaker(BreakerConfig(threshold=3, base_cooldown=10, max_cooldown=25))
    for _ in range(2):
        b.failure(0)
    assert b.state == "closed"
    b.failure(0)
    assert b.state == "open" and b.reopen_at == 10
    assert not b.admits(5) and b.admits(10) and b.state == "half_open"
    b.sending()
    assert b.state == "probing" and b.public_state == "half_open" and not b.admits(11)
    b.failure(11)
    assert b.state == "open" and b.reopen_at == 11 + 20
    b.refresh(31)
    b.sending()
    b.failure(31)
    assert b.reopen_at == 31 + 25  # capped
    b.refresh(56)
    b.sending()
    b.success()
    assert b.state == "closed" and b.ejections == 0 and b.failures == 0


def test_breaker_success_resets_consecutive_count() -> None:
    b = Breaker(BreakerConfig(threshold=2))
    b.failure(0)
    b.success()
    b.failure(0)
    assert b.state == "closed"


def test_breaker_abandoned_probe_allows_another() -> None:
    b = Breaker(BreakerConfig(threshold=1, base_cooldown=1))
    b.failure(0)
    b.refresh(1)
    b.sending()
    b.abandon()
    assert b.state == "half_open" and b.admits(1)


def test_breaker_table_is_closed_under_its_events() -> None:
    states = {s for s, _ in TRANSITIONS} | set(TRANSITIONS.values())
    assert states == {"closed", "open", "half_open", "probing"}
    b = Breaker()
    with pytest.raises(IllegalTransition):
        b._apply("probe")  # closed has no probe


@settings(max_examples=80, deadline=None)
@given(events=st.lists(st.sampled_from(["fail", "ok", "tick", "send", "abandon"]), max_size=60))
def test_breaker_random_event_sequences_stay_legal(events: list[str]) -> None:
    b = Breaker(BreakerConfig(threshold=2, base_cooldown=1, max_cooldown=4))
    now = 0.0
    for e in events:
        if e == "fail":
            b.failure(now)
        elif e == "ok":
            b.success()
        elif e == "tick":
            now += 1.5
            b.refresh(now)
        elif e == "send" and b.admits(now):
            b.sending()
        elif e == "abandon":
            b.abandon()
        assert b.public_state in ("closed", "open", "half_open")
        if b.state == "open":
            assert b.reopen_at - now <= 4


# -- retry budget -----------------------------------------------------------------------------

def test_retry_budget_share_plus_rate() -> None:
    budget = RetryBudget(ratio=0.2, min_per_s=1.0, ttl=10)
    for _ in range(100):
        budget.deposit(5.0)
    allowed = sum(budget.withdraw(5.0) for _ in range(100))
    assert allowed == 20 + 10
    assert budget.withdraw(30.0)  # the window moved on


# -- fleet ------------------------------------------------------------------------------------

def spec(session: str | None = None) -> RequestSpec:
    headers = {"X-Session-ID": session} if session else {}
    return RequestSpec("POST", "/chat/completions", body=chat_body("s", "u"), headers=headers)


class FakeCall:
    pass


def test_verdicts() -> None:
    shed = ServiceUnavailableError("The engine is currently busy ... on a different instance.", status_code=503,
                                   error_type="Service Unavailable")
    bare_503 = ServiceUnavailableError("no upstream", status_code=503)
    assert is_load_shed(shed) and not is_load_shed(bare_503)
    assert verdict(shed) is None and verdict(bare_503) == "failure"
    assert verdict(InternalServerError("x", status_code=500)) == "failure"
    assert verdict(BadRequestError("x", status_code=400)) == "success"
    assert verdict(APIConnectionError("refused")) == "failure"
    assert verdict(None) == "success"
    assert verdict(KeyboardInterrupt()) is None


def test_fleet_opens_breaker_avoids_server_and_never_ejects_the_last() -> None:
    clock = Clock()
    fleet = Fleet(URLS[:2], "least_outstanding", breaker=BreakerConfig(threshold=2, base_cooldown=10),
                  clock=clock, rng=random.Random(0))
    call: Any = FakeCall()
    for _ in range(2):
        fleet.attempt_started(call, 0)
        fleet.attempt_ended(call, 0, APIConnectionError("refused"))
    assert fleet.statuses()[0].state == "open"
    assert all(fleet.pick(spec()) == 1 for _ in range(10))
    for _ in range(5):  # the last server left is never ejected
        fleet.attempt_started(call, 1)
        fleet.attempt_ended(call, 1, APIConnectionError("refused"))
    assert fleet.statuses()[1].state == "closed"
    clock.now += 10
    assert fleet.statuses()[0].state == "half_open"
    assert fleet.pick(spec()) == 0 and fleet.pick(spec()) == 1  # one probe at a time
    fleet.attempt_started(call, 0)
    fleet.attempt_ended(call, 0, None)
    st0 = fleet.statuses()[0]
    assert st0.state == "closed" and st0.inflight == 0 and st0.failures == 2 and "refused" in (st0.last_error or "")


def test_fleet_policies_per_copy_share_the_servers_and_all_forget_an_ejected_one() -> None:
    fleet = Fleet(URLS[:2], "prefix_affinity", breaker=BreakerConfig(threshold=1), rng=random.Random(0))
    assert fleet.policy_for(None) is fleet.policy is fleet.policy_for("prefix_affinity")
    rr = fleet.policy_for("round_robin")
    assert rr is fleet.policy_for("round_robin") and rr.name == "round_robin"  # one per name
    mine = PrefixAffinity(URLS[:2], random.Random(1))
    assert fleet.policy_for(mine) is mine
    assert [fleet.pick(spec(), policy=rr) for _ in range(4)] in ([0, 1, 0, 1], [1, 0, 1, 0])
    blocks = (1, 2, 3, 4)
    for p in (fleet.policy, mine):
        p.chosen(0, RouteRequest(None, blocks))
    call: Any = FakeCall()
    fleet.attempt_started(call, 0)
    fleet.attempt_ended(call, 0, APIConnectionError("refused"))  # ejected: its cache is gone
    assert fleet.statuses()[0].state == "open"
    assert all(p.index.match(0, blocks) == 0 for p in (fleet.policy, mine))  # type: ignore[attr-defined]


def test_fleet_all_open_still_sends_to_the_soonest() -> None:
    clock = Clock()
    fleet = Fleet(URLS[:3], breaker=BreakerConfig(threshold=1, base_cooldown=10), clock=clock)
    call: Any = FakeCall()
    for server, t in ((0, 0.0), (1, 5.0)):
        clock.now = 1000 + t
        fleet.attempt_started(call, server)
        fleet.attempt_ended(call, server, APIConnectionError("down"))
    fleet.breakers[2].state = "open"
    fleet.breakers[2].reopen_at = 1000 + 50
    assert fleet.pick(spec()) == 0


def test_fleet_load_shed_is_not_a_breaker_failure_and_goes_elsewhere_now() -> None:
    fleet = Fleet(URLS[:2], breaker=BreakerConfig(threshold=1))
    call: Any = FakeCall()
    shed = ServiceUnavailableError("busy", status_code=503, error_type="Service Unavailable")
    for _ in range(5):
        fleet.attempt_started(call, 0)
        fleet.attempt_ended(call, 0, shed)
    assert fleet.statuses()[0].state == "closed" and fleet.statuses()[0].failures == 5
    assert fleet.retry_now(shed, 0, ()) == (True, True)
    error = APIError("boom", status_code=500)
    assert fleet.retry_now(error, 0, ()) == (True, False)  # backoff kept for 5xx


def test_fleet_session_header_routes_sticky() -> None:
    fleet = Fleet(URLS, "session_affinity")
    picks = {fleet.pick(spec("user-7")) for _ in range(10)}
    assert len(picks) == 1
    assert fleet.pick(spec("user-7"), tried=tuple(picks)) not in picks  # a retry goes elsewhere


def test_fleet_budget_stops_retries() -> None:
    clock = Clock()
    fleet = Fleet(URLS[:2], budget=RetryBudget(ratio=0.0, min_per_s=0.1, ttl=10), clock=clock)
    error = APIConnectionError("refused")
    assert fleet.retry_now(error, 0, ())[0]
    assert not fleet.retry_now(error, 0, ())[0]
