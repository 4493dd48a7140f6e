"""The dispatcher's scheduler on a fake clock: the cap, the rate, send times, deadlines (pure)."""

from __future__ import annotations

import heapq
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from vllm_client._dispatch import Scheduler, wait_plan


def simulate(durations: list[float], *, concurrency: int, rate: float | None, timeout: float | None,
             send_at: list[float] | None = None, jitter: float = 0.0) -> tuple[list[float], list[int], int]:
    """Drive the scheduler as the loop does, on a fake clock: start what may start, jump to the
    next event (a finish, a slot, a deadline), waking ``jitter`` late. Returns start times, the
    jobs that expired, and the most running at once."""
    sched = Scheduler(concurrency, max_rate=rate, timeout=timeout, origin=0.0)
    now, nxt = 0.0, 0
    starts: list[float] = []
    finishes: list[tuple[float, int]] = []
    expired: list[int] = []
    peak = 0
    while True:
        while finishes and finishes[0][0] <= now:  # a finish at its deadline counts as in time
            sched.finish(heapq.heappop(finishes)[1])
        expired += sched.expired(now)
        wake = math.inf
        while nxt < len(durations) and sched.has_room():
            slot = sched.slot(None if send_at is None else send_at[nxt])
            if slot > now:
                wake = slot
                break
            timing = sched.start(nxt, slot, now)
            assert timing.start >= timing.scheduled
            starts.append(now)
            heapq.heappush(finishes, (now + durations[nxt], nxt))
            nxt += 1
        peak = max(peak, sched.running)
        deadline = sched.next_deadline()
        target = min(wake, finishes[0][0] if finishes else math.inf, math.inf if deadline is None else deadline)
        if target == math.inf:
            break
        now = max(now, target) + jitter
    return starts, expired, peak


durations = st.lists(st.floats(0.001, 2.0), min_size=1, max_size=80)


@given(durations, st.integers(1, 8))
def test_never_more_than_the_cap_in_flight_and_every_job_starts(ds: list[float], cap: int) -> None:
    starts, expired, peak = simulate(ds, concurrency=cap, rate=None, timeout=None)
    assert len(starts) == len(ds) and peak <= cap and not expired


@given(durations, st.floats(0.5, 200.0), st.floats(0.0, 0.01))
def test_the_rate_cap_holds_in_every_window(ds: list[float], rate: float, jitter: float) -> None:
    starts, _, _ = simulate(ds, concurrency=4, rate=rate, timeout=None, jitter=jitter)
    for i, t in enumerate(starts):  # at most rate*T + 2 starts in any window [t, t + T]
        for j in range(i, len(starts)):
            assert j - i + 1 <= rate * (starts[j] - t) + 2 + 1e-9


def test_on_time_starts_sit_on_an_absolute_grid_despite_late_wakeups() -> None:
    starts, _, _ = simulate([0.0001] * 50, concurrency=1, rate=10.0, timeout=None, jitter=0.003)
    # Each wake-up is 3 ms late, but the slots do not drift: start k stays near k/10 s.
    assert all(abs(t - k / 10) < 0.01 for k, t in enumerate(starts)), starts[-3:]


@given(st.lists(st.floats(0.0, 5.0), min_size=1, max_size=40))
def test_jobs_start_at_their_send_times_never_before(offsets: list[float]) -> None:
    send_at = sorted(offsets)
    starts, _, _ = simulate([0.01] * len(send_at), concurrency=64, rate=None, timeout=None, send_at=send_at)
    assert all(s >= t for s, t in zip(starts, send_at, strict=True)) and all(abs(s - t) < 1e-9 for s, t in zip(starts, send_at, strict=True))


@given(durations, st.floats(0.05, 1.0))
def test_exactly_the_jobs_longer_than_the_timeout_expire(ds: list[float], timeout: float) -> None:
    # a job as long as its timeout, to the last bit, is a tie the float clock may round either way
    assume(all(abs(d - timeout) > 1e-9 for d in ds))
    _, expired, _ = simulate(ds, concurrency=3, rate=None, timeout=timeout)
    assert sorted(expired) == [i for i, d in enumerate(ds) if d > timeout]


def test_bad_limits_are_errors() -> None:
    for kwargs in ({"concurrency": 0}, {"concurrency": 1, "max_rate": 0}, {"concurrency": 1, "timeout": -1}):
        with pytest.raises(ValueError):
            Scheduler(**kwargs)  # type: ignore[arg-type]
    sched = Scheduler(1)
    sched.start(0, -math.inf, 0.0)
    with pytest.raises(RuntimeError):
        sched.start(1, -math.inf, 0.0)


# -- wait_plan: the early wake before a due send ----------------------------------------------

def test_wait_plan_without_a_due_time_waits_for_an_outcome() -> None:
    assert wait_plan(None, 0.0015) == (False, None)


def test_wait_plan_far_from_the_due_time_sleeps_until_the_spin_window() -> None:
    spin, timeout = wait_plan(0.010, 0.0015)
    assert not spin and timeout == pytest.approx(0.0085)


def test_wait_plan_inside_the_spin_window_yields() -> None:
    assert wait_plan(0.001, 0.0015) == (True, 0.0)
    assert wait_plan(0.0015, 0.0015) == (True, 0.0)


def test_wait_plan_when_due_does_not_wait() -> None:
    assert wait_plan(0.0, 0.0015) == (False, 0.0)
    assert wait_plan(-0.2, 0.0015) == (False, 0.0)


def test_wait_plan_without_a_spin_window_is_a_plain_timer() -> None:
    assert wait_plan(0.004, 0.0) == (False, 0.004)
    assert wait_plan(1e-9, 0.0) == (False, 1e-9)


@given(st.floats(-1.0, 10.0, allow_nan=False), st.floats(0.0, 0.01, allow_nan=False))
def test_wait_plan_never_sleeps_past_the_spin_window(remaining: float, spin: float) -> None:
    yield_once, timeout = wait_plan(remaining, spin)
    assert timeout is not None and timeout >= 0.0
    if yield_once:
        assert 0.0 < remaining <= spin and timeout == 0.0  # spinning only in the last `spin` seconds
    else:
        assert timeout <= max(0.0, remaining - spin) + 1e-12  # the timer ends before the window


def test_pools_spin_only_where_timers_are_rounded() -> None:
    from vllm_client._dispatch.async_pool import AsyncPool
    from vllm_client._dispatch.sync_pool import ThreadPool

    assert 0.001 <= AsyncPool.spin <= 0.002  # asyncio: epoll rounds timeouts up to 1 ms
    assert ThreadPool.spin == 0.0
