"""Histogram quantiles by PromQL's rule, counter deltas, and the server view's window math."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from vllm_client._prom_math import (
    bucket_delta,
    bucket_quantile,
    counter_delta,
    histogram_buckets,
    quantile_overflows,
    rate,
    sum_series,
)
from vllm_client._protocol.metrics_text import parse_samples
from vllm_client._server_view import server_view

INF = math.inf


def test_quantile_interpolates_inside_the_bucket() -> None:
    # 10 observations <= 1, 10 more in (1, 2]: the median is the top of the first bucket,
    # p75 halfway through the second (PromQL: start + (end - start) * rank / count).
    buckets = {1.0: 10, 2.0: 20, INF: 20}
    assert bucket_quantile(0.5, buckets) == 1.0
    assert bucket_quantile(0.75, buckets) == 1.5
    assert bucket_quantile(0.25, buckets) == 0.5  # first bucket: lower bound 0
    assert bucket_quantile(1.0, buckets) == 2.0


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    buckets = {0.1: 1, 0.25: 2, INF: 10}
    assert bucket_quantile(0.9, buckets) == 0.25
    assert quantile_overflows(0.9, buckets)
    assert not quantile_overflows(0.1, buckets)


def test_quantile_edge_cases() -> None:
    assert math.isnan(bucket_quantile(0.5, {1.0: 0, INF: 0}))  # no observations
    assert math.isnan(bucket_quantile(0.5, {1.0: 3, 2.0: 3}))  # no +Inf bucket
    assert math.isnan(bucket_quantile(0.5, {}))
    assert bucket_quantile(-0.1, {1.0: 1, INF: 1}) == -INF
    assert bucket_quantile(1.1, {1.0: 1, INF: 1}) == INF
    assert math.isnan(bucket_quantile(0.0, {0.01: 0, 0.02: 1, INF: 1}))  # PromQL: 0/0
    assert bucket_quantile(0.5, {1.0: 5, 2.0: 3, INF: 6}) == 0.6  # counts forced monotonic: 2.0 -> 5


@given(st.lists(st.integers(0, 50), min_size=1, max_size=8), st.floats(0, 1))
def test_quantile_is_monotonic_and_inside_the_bounds(increments: list[int], q: float) -> None:
    bounds = [0.01 * 2**i for i in range(len(increments))]
    counts, total = {}, 0
    for bound, inc in zip(bounds, increments, strict=True):
        total += inc
        counts[bound] = total
    counts[INF] = total
    value = bucket_quantile(q, counts)
    if total == 0:
        assert math.isnan(value)
        return
    if math.isnan(value):  # only q = 0 with empty leading buckets (PromQL's 0/0)
        assert q == 0
        return
    assert 0 <= value <= bounds[-1]
    assert bucket_quantile(min(1.0, q + 0.1), counts) >= value


def test_counter_delta_and_restart() -> None:
    assert counter_delta(10, 15) == 5
    assert counter_delta(10, 3) == 3  # restarted: the new value is the increase
    assert counter_delta(None, 3) is None
    assert rate(10, 20, 2.0) == 5.0
    assert rate(10, 20, 0) is None


def test_bucket_delta_and_restart() -> None:
    before = {1.0: 2, INF: 3}
    assert bucket_delta(before, {1.0: 5, INF: 7}) == {1.0: 3, INF: 4}
    assert bucket_delta(before, {1.0: 1, INF: 1}) == {1.0: 1, INF: 1}
    assert bucket_delta(None, {1.0: 1, INF: 1}) == {1.0: 1, INF: 1}


TWO_ENGINES = """\
vllm:e2e_request_latency_seconds_bucket{engine="0",le="0.5",model_name="m"} 1.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="m"} 2.0
vllm:e2e_request_latency_seconds_bucket{engine="1",le="0.5",model_name="m"} 3.0
vllm:e2e_request_latency_seconds_bucket{engine="1",le="+Inf",model_name="m"} 3.0
vllm:generation_tokens_total{engine="0",model_name="m"} 100.0
vllm:generation_tokens_total{engine="1",model_name="m"} 50.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.2
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.4
"""


def test_series_of_several_engines_are_summed() -> None:
    samples = parse_samples(TWO_ENGINES)
    assert histogram_buckets(samples, "vllm:e2e_request_latency_seconds") == {0.5: 4.0, INF: 5.0}
    assert sum_series(samples, "vllm:generation_tokens_total") == 150.0
    assert sum_series(samples, "vllm:generation_tokens_total", {"engine": "1"}) == 50.0
    assert sum_series(samples, "vllm:nope") is None


def test_server_view_window() -> None:
    before = parse_samples(TWO_ENGINES)
    after = parse_samples(TWO_ENGINES.replace("} 100.0", "} 120.0").replace(
        'engine="0",le="+Inf",model_name="m"} 2.0', 'engine="0",le="+Inf",model_name="m"} 4.0'))
    first = server_view(None, before, 0)
    assert first.since_start and first.generation_tps is None
    assert math.isclose(first.kv_usage or 0, 0.3)  # a gauge of two engines: their mean
    view = server_view(before, after, 2.0)
    assert not view.since_start and view.generation_tps == 10.0
    assert view.e2e.count == 2  # the two new observations, both above 0.5 s
    assert view.e2e.overflow == (True, True, True) and view.e2e.values[0] == 0.5
    restarted = server_view(after, before, 2.0)
    assert restarted.restarted and restarted.generation_tps == 75.0
