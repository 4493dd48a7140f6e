"""The sweep's decisions (vllm_client.bench._search) on synthetic servers: which load next,
when to stop, which load passes."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client.bench._search import LoadSearch, Point, Slo, judge, saturation


def server(capacity: float, base_ms: float = 50.0, spread: float = 1.2) -> Callable[[float], Point]:
    """An M/M/1-like server: throughput min(load, capacity), p99 TTFT growing without bound
    towards capacity; the CI upper bound is ``spread`` times the estimate."""

    def run(load: float) -> Point:
        throughput = min(load, capacity * 0.99)
        p99 = base_ms * capacity / (capacity - load) if load < capacity else 1e9
        return Point(load, throughput, estimates_ms={"p99_ttft_ms": p99}, upper_ms={"p99_ttft_ms": p99 * spread},
                     completed=100)

    return run


def drive(search: LoadSearch, run: Callable[[float], Point], limit: int = 100) -> list[float]:
    tried = []
    while (load := search.next_load()) is not None:
        tried.append(load)
        search.record(run(load))
        assert len(tried) < limit, "the search does not end"
    return tried


def test_judge_uses_the_upper_bound_and_says_why() -> None:
    slo = Slo("ttft", 100.0)
    point = Point(4, 4, estimates_ms={"p99_ttft_ms": 90.0}, upper_ms={"p99_ttft_ms": 120.0}, completed=50)
    verdict = judge(point, [slo])
    assert not verdict.passes and "CI upper bound" in verdict.reasons[0]
    assert judge(point, [Slo("ttft", 100.0, confident=False)]).passes  # the estimate alone holds
    no_ci = Point(4, 4, estimates_ms={"p99_ttft_ms": 90.0}, completed=50)
    assert judge(no_ci, [slo]).passes  # no interval: the estimate decides


def test_judge_fails_errors_invalid_runs_missing_metrics_and_under_delivery() -> None:
    ok = {"p99_ttft_ms": 1.0}
    assert not judge(Point(4, 4, estimates_ms=ok, completed=9, failed=1), [Slo("ttft", 100)]).passes
    assert judge(Point(4, 4, estimates_ms=ok, completed=9, failed=1), [Slo("ttft", 100)], max_error_rate=0.1).passes
    invalid = judge(Point(4, 4, estimates_ms=ok, completed=10, valid=False, invalid_reason="dispatch lag"), [])
    assert not invalid.passes and "dispatch lag" in invalid.reasons[0]
    assert not judge(Point(4, 4, completed=10), [Slo("tpot", 10)]).passes  # not measured
    assert not judge(Point(4, 0, completed=0), []).passes
    slow = Point(10, 7, estimates_ms=ok, completed=10)
    assert not judge(slow, [], kind="rate").passes
    assert judge(slow, [], kind="concurrency").passes


def test_saturation_rules() -> None:
    a = Point(4, 4.0, request_goodput=4.0)
    assert saturation(None, a, "rate") is None
    assert saturation(a, Point(8, 7.9, request_goodput=7.0), "rate") is None
    assert "rose" in (saturation(a, Point(8, 4.5), "concurrency") or "")  # +12% for +100% load
    assert "delivered" in (saturation(a, Point(8, 6.0), "rate") or "")
    assert "goodput fell" in (saturation(a, Point(8, 7.9, request_goodput=3.0), "rate") or "")


def test_a_sweep_stops_at_the_first_failure_and_reports_the_last_pass() -> None:
    search = LoadSearch([1, 2, 4, 8, 16, 32], [Slo("ttft", 200.0)])
    tried = drive(search, server(capacity=10.0))
    # p99 upper bound: 1 -> 67 ms, 2 -> 75, 4 -> 100, 8 -> 300 (fails): 16 and 32 never run
    assert tried == [1, 2, 4, 8]
    assert search.best is not None and search.best.load == 4
    assert search.stopped is not None and "SLO failed at load 8" in search.stopped


def test_refinement_bisects_between_the_last_pass_and_the_first_fail() -> None:
    search = LoadSearch([1, 2, 4, 8, 16], [Slo("ttft", 200.0)], refine=3)
    tried = drive(search, server(capacity=10.0))
    assert tried[:4] == [1, 2, 4, 8]
    assert len(tried) == 7
    assert all(4 < load < 8 for load in tried[4:])
    best = search.best
    assert best is not None and 4 < best.load < 8
    # the limit is crossed at load 7: 60 ms * 10 / (10 - 7) = 200 ms; every refined pass is below it
    assert all(p.load < 7 for p, v in search.points if v.passes)


def test_a_concurrency_sweep_stops_once_throughput_is_flat() -> None:
    def closed_loop(users: float) -> Point:
        return Point(users, min(users, 6.0) * 10, estimates_ms={"p99_ttft_ms": 10.0 * users}, completed=100)

    search = LoadSearch([1, 2, 4, 8, 16, 32], [Slo("ttft", 10_000.0)], kind="concurrency")
    tried = drive(search, closed_loop)
    assert tried == [1, 2, 4, 8, 16]  # 8 -> 16 adds nothing: stop
    assert search.stopped is not None and search.stopped.startswith("saturated")
    assert search.best is not None and search.best.load == 16  # saturated but within the SLO


def test_a_concurrency_refinement_stays_on_whole_numbers() -> None:
    search = LoadSearch([1, 4, 16], [Slo("ttft", 55.0)], kind="concurrency", refine=5)
    tried = drive(search, lambda u: Point(u, u, estimates_ms={"p99_ttft_ms": 10.0 * u}, completed=10))
    assert all(t == int(t) for t in tried)
    assert search.best is not None and search.best.load == 5


def test_bad_loads_are_refused() -> None:
    with pytest.raises(ValueError):
        LoadSearch([], [])
    with pytest.raises(ValueError):
        LoadSearch([0, 1], [])
    with pytest.raises(ValueError):
        LoadSearch([1.5], [], kind="concurrency")


@settings(max_examples=200, deadline=None)
@given(
    loads=st.lists(st.floats(0.1, 200.0), min_size=1, max_size=12, unique=True),
    capacity=st.floats(1.0, 150.0),
    limit=st.floats(60.0, 5000.0),
    refine=st.integers(0, 4),
)
def test_the_search_finds_the_highest_passing_load_of_a_monotone_server(
    loads: list[float], capacity: float, limit: float, refine: int
) -> None:
    run = server(capacity)
    search = LoadSearch(loads, [Slo("ttft", limit)], refine=refine)
    tried = drive(search, run)
    ordered = sorted(loads)
    # the given loads run in ascending order, and none after the first stop
    given_tried = [t for t in tried if t in loads]
    assert given_tried == ordered[: len(given_tried)]
    assert len(tried) <= len(loads) + refine

    def passes(load: float) -> bool:
        return judge(run(load), [Slo("ttft", limit)], kind="rate").passes

    best = search.best
    first_given_fail = next((x for x in ordered if not passes(x)), math.inf)
    expected_floor = max((x for x in ordered if x < first_given_fail), default=None)
    if expected_floor is None:
        assert best is None or passes(best.load)
    else:
        # the monotone server passes everything below its first failure: the search finds at
        # least the highest given load below it, and refinement never reports a failing one
        assert best is not None and best.load >= expected_floor and passes(best.load)
        assert best.load < first_given_fail
