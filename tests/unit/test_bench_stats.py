"""Percentiles (numpy's linear method), summaries and the bootstrap fast paths."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client.bench._stats import bootstrap_ci, bootstrap_diff_ci, percentile, stat_value, summary


def reference_percentile(xs: list[float], q: float) -> float:
    """numpy.percentile(xs, q) (method="linear"), written out as numpy documents it."""
    x = sorted(xs)
    pos = (len(x) - 1) * (q / 100)
    i = int(pos)
    j = min(i + 1, len(x) - 1)
    return x[i] + (x[j] - x[i]) * (pos - i)


def test_percentile_known_numpy_values() -> None:
    # numpy.percentile([1, 2, 3, 4], q) for q = 0, 25, 50, 90, 100
    assert [percentile([4, 1, 3, 2], q) for q in (0, 25, 50, 90, 100)] == pytest.approx([1, 1.75, 2.5, 3.7, 4])
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60), st.floats(0, 100))
def test_percentile_matches_reference(xs: list[float], q: float) -> None:
    assert percentile(xs, q) == pytest.approx(reference_percentile(xs, q), rel=1e-9, abs=1e-6)


def test_summary_keys_and_values() -> None:
    s = summary([1.0, 2.0, 3.0, 4.0])
    assert list(s) == ["mean", "median", "std", "p50", "p90", "p99"]
    assert s["mean"] == 2.5 and s["median"] == 2.5 and s["p90"] == pytest.approx(3.7)
    assert s["std"] == pytest.approx(statistics.pstdev([1, 2, 3, 4]))
    assert summary([]) == dict.fromkeys(s)


def _plain_bootstrap(xs: list[float], q: float, rng: random.Random, resamples: int) -> list[float]:
    return sorted(percentile(rng.choices(xs, k=len(xs)), q) for _ in range(resamples))


@pytest.mark.parametrize("q", [50.0, 90.0, 99.0])
def test_quantile_fast_path_has_the_resampling_distribution(q: float) -> None:
    rng = random.Random(1)
    xs = [rng.lognormvariate(0, 1) for _ in range(300)]
    fast = bootstrap_ci(xs, f"p{q:g}", rng=random.Random(2), resamples=4000, level=0.9)
    slow = _plain_bootstrap(xs, q, random.Random(3), 4000)
    slow_ci = (percentile(slow, 5, presorted=True), percentile(slow, 95, presorted=True))
    spread = slow_ci[1] - slow_ci[0]
    assert fast[0] == pytest.approx(slow_ci[0], abs=0.15 * spread)
    assert fast[1] == pytest.approx(slow_ci[1], abs=0.15 * spread)


def test_ci_contains_the_estimate_and_narrows_with_more_samples() -> None:
    rng = random.Random(5)
    small = [rng.expovariate(1) for _ in range(100)]
    large = [rng.expovariate(1) for _ in range(10000)]
    for stat in ("mean", "median", "p90", "p99"):
        lo, hi = bootstrap_ci(small, stat, rng=random.Random(0))
        assert lo <= stat_value(small, stat) <= hi
        lo2, hi2 = bootstrap_ci(large, stat, rng=random.Random(0))
        assert lo2 <= stat_value(large, stat) <= hi2
        assert hi2 - lo2 < hi - lo


def test_mean_normal_path_agrees_with_resampling() -> None:
    rng = random.Random(7)
    xs = [rng.gammavariate(2, 1) for _ in range(5000)]  # 5000 * 1000 > budget: normal path
    lo, hi = bootstrap_ci(xs, "mean", rng=random.Random(1))
    se = statistics.pstdev(xs) / math.sqrt(len(xs))
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)
    small_lo, small_hi = bootstrap_ci(xs[:500], "mean", rng=random.Random(1))  # resampled
    se_small = statistics.pstdev(xs[:500]) / math.sqrt(500)
    assert small_hi - small_lo == pytest.approx(2 * 1.96 * se_small, rel=0.2)


def test_callable_stat_and_single_sample() -> None:
    assert bootstrap_ci([3.0], "p99", rng=random.Random(0)) == (3.0, 3.0)
    lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 10.0], max, rng=random.Random(0), resamples=200)
    assert 1.0 <= lo <= hi <= 10.0
    with pytest.raises(ValueError):
        bootstrap_ci([], "mean", rng=random.Random(0))
    with pytest.raises(ValueError):
        stat_value([1.0], "p-bogus")


def test_diff_ci_detects_a_shift_and_not_a_copy() -> None:
    rng = random.Random(11)
    a = [rng.lognormvariate(0, 0.5) for _ in range(2000)]
    b = [v * 1.2 for v in a]
    lo, hi = bootstrap_diff_ci(a, b, "p90", rng=random.Random(0))
    assert hi > lo
    assert lo > 0
    same_lo, same_hi = bootstrap_diff_ci(a, list(a), "p90", rng=random.Random(0))
    assert same_lo < 0 < same_hi


@settings(max_examples=30)
@given(st.lists(st.floats(0, 100), min_size=2, max_size=50), st.sampled_from(["mean", "median", "p90", "p99"]))
def test_ci_bounds_are_within_the_sample_range(xs: list[float], stat: str) -> None:
    lo, hi = bootstrap_ci(xs, stat, rng=random.Random(0), resamples=100)
    assert min(xs) - 1e-9 <= lo <= hi <= max(xs) + 1e-9


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=0, max_size=200))
def test_float_pstdev_agrees_with_the_exact_one(xs: list[float]) -> None:
    from vllm_client.bench._stats import pstdev

    exact = statistics.pstdev(xs) if len(xs) > 1 else 0.0
    assert pstdev(xs) == pytest.approx(exact, rel=1e-9, abs=1e-6)
