"""bench compare's rules (vllm_client.bench._compare): direction-aware verdicts, significance
from intervals or a bootstrap of the difference, regressions only beyond the threshold."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client.bench._compare import DEFAULT_METRICS, ci_of, compare, direction_of, samples_of


def result(**values: Any) -> dict[str, Any]:
    return {"valid": True, **values}


def records(ttfts_s: list[float], *, itl_s: float = 0.01, kind: str = "measured") -> list[dict[str, Any]]:
    return [{"kind": kind, "ok": True, "ttft_s": t, "tpot_s": itl_s, "e2el_s": t + 10 * itl_s,
             "itl_s": [itl_s] * 10} for t in ttfts_s]


def by_metric(comparison: Any) -> dict[str, Any]:
    return {d.metric: d for d in comparison.deltas}


def test_directions() -> None:
    assert direction_of("p99_ttft_ms") == "lower"
    assert direction_of("output_throughput") == "higher"
    assert direction_of("request_goodput") == "higher"
    assert all(direction_of(m) == ("lower" if m.endswith("_ms") else "higher") for m in DEFAULT_METRICS)


def test_intervals_decide_significance_and_direction() -> None:
    a = result(output_throughput=1000.0, p99_ttft_ms=100.0,
               ci={"output_throughput": [990.0, 1010.0], "p99_ttft_ms": [95.0, 105.0]})
    b = result(output_throughput=900.0, p99_ttft_ms=80.0,
               ci={"output_throughput": [890.0, 910.0], "p99_ttft_ms": {"lo": 76.0, "hi": 84.0}})
    out = by_metric(compare(a, b))
    assert out["output_throughput"].verdict == "worse" and out["output_throughput"].regression
    assert out["p99_ttft_ms"].verdict == "better" and not out["p99_ttft_ms"].regression
    assert out["output_throughput"].ci_source == "intervals"
    lo, hi = out["output_throughput"].ci
    assert lo < -100.0 < hi < 0  # around the delta, excluding 0
    assert out["p99_ttft_ms"].relative == pytest.approx(-0.2)
    assert compare(a, b).exit_status == 1
    assert compare(b, a).exit_status == 1  # TTFT +25% the other way round
    assert by_metric(compare(b, a))["output_throughput"].verdict == "better"


def test_overlapping_intervals_are_no_significant_change_even_beyond_the_threshold() -> None:
    a = result(p99_ttft_ms=100.0, ci={"p99_ttft_ms": [60.0, 160.0]})
    b = result(p99_ttft_ms=120.0, ci={"p99_ttft_ms": [70.0, 190.0]})
    delta = by_metric(compare(a, b))["p99_ttft_ms"]
    assert delta.verdict == "no significant change" and not delta.regression
    assert delta.ci is not None and delta.ci[0] < 0 < delta.ci[1]


def test_a_significant_change_within_the_threshold_is_not_a_regression() -> None:
    a = result(output_throughput=1000.0, ci={"output_throughput": [999.0, 1001.0]})
    b = result(output_throughput=980.0, ci={"output_throughput": [979.0, 981.0]})
    delta = by_metric(compare(a, b, threshold=0.05))["output_throughput"]
    assert delta.verdict == "worse" and not delta.regression
    assert by_metric(compare(a, b, threshold=0.01))["output_throughput"].regression


def test_without_intervals_the_threshold_alone_decides() -> None:
    a, b = result(request_throughput=10.0), result(request_throughput=9.0)
    delta = by_metric(compare(a, b))["request_throughput"]
    assert delta.ci is None and delta.ci_source is None
    assert delta.verdict == "worse" and delta.regression
    assert by_metric(compare(a, result(request_throughput=9.8)))["request_throughput"].verdict == \
        "no significant change"


def test_missing_metrics_are_not_comparable_and_never_regress() -> None:
    out = compare(result(p99_ttft_ms=1.0, request_goodput=None), result(p99_ttft_ms=None, request_goodput=3.0),
                  metrics=["p99_ttft_ms", "request_goodput", "absent"])
    assert [d.verdict for d in out.deltas] == ["not comparable"] * 3
    assert out.exit_status == 0


def test_records_give_a_bootstrap_of_the_difference() -> None:
    rng = random.Random(1)
    base = [rng.lognormvariate(-2.3, 0.3) for _ in range(400)]
    same = [rng.lognormvariate(-2.3, 0.3) for _ in range(400)]
    slower = [1.5 * t for t in (rng.lognormvariate(-2.3, 0.3) for _ in range(400))]
    a = result(median_ttft_ms=1.0, p99_ttft_ms=1.0, median_itl_ms=10.0)
    b = result(median_ttft_ms=1.0, p99_ttft_ms=1.0, median_itl_ms=10.0)
    worse = by_metric(compare(a, result(median_ttft_ms=1.5, p99_ttft_ms=1.5, median_itl_ms=10.0),
                              baseline_records=records(base), candidate_records=records(slower)))
    assert worse["median_ttft_ms"].ci_source == "bootstrap"
    assert worse["median_ttft_ms"].ci is not None and worse["median_ttft_ms"].ci[0] > 0
    assert worse["median_ttft_ms"].verdict == "worse" and worse["median_ttft_ms"].regression
    assert worse["median_itl_ms"].verdict == "no significant change"  # identical gaps: a zero-width interval at 0
    alike = by_metric(compare(a, b, baseline_records=records(base), candidate_records=records(same)))
    assert alike["median_ttft_ms"].verdict == "no significant change"


def test_samples_skip_warmup_and_failures_and_pool_itl() -> None:
    recs = records([0.1, 0.2]) + records([9.0], kind="warmup") + [{"kind": "measured", "ok": False, "ttft_s": 5.0}]
    assert samples_of(recs, "p99_ttft_ms") == ([100.0, 200.0], "p99")
    samples = samples_of(recs, "mean_itl_ms")
    assert samples is not None and len(samples[0]) == 20 and samples[1] == "mean"
    assert samples_of(recs, "output_throughput") is None
    assert samples_of(recs, "std_ttft_ms") is None


def test_warnings_name_invalid_runs_and_different_workloads() -> None:
    a = result(config={"workload": {"dataset": "random", "input_len": 512}, "load": {"rate": 4}})
    b = {"valid": False, "invalid_reason": "dispatch lag p99 12 ms",
         "config": {"workload": {"dataset": "random", "input_len": 1024}, "load": {"rate": 4}}}
    warnings = compare(a, b).warnings
    assert any("run B is marked invalid (dispatch lag p99 12 ms)" in w for w in warnings)
    assert any("workload differs (input_len)" in w for w in warnings)


def test_ci_of_reads_both_shapes() -> None:
    assert ci_of({"ci": {"x": [1, 2]}}, "x") == (1.0, 2.0)
    assert ci_of({"ci": {"x": {"low": 1, "high": 2}}}, "x") == (1.0, 2.0)
    assert ci_of({"ci": {"x": None}}, "x") is None
    nested = {"ci": {"level": 0.95, "ttft_ms": {"mean": [1, 2], "p50": [3, 4], "p99": [5, 6]}}}
    assert ci_of(nested, "p99_ttft_ms") == (5.0, 6.0)
    assert ci_of(nested, "median_ttft_ms") == (3.0, 4.0)
    assert ci_of(nested, "p90_ttft_ms") is None
    assert ci_of(nested, "mean_tpot_ms") is None
    assert ci_of({}, "x") is None


def test_a_bad_threshold_is_refused() -> None:
    with pytest.raises(ValueError):
        compare({}, {}, threshold=-0.1)


values = st.floats(0.1, 1e6)


@settings(max_examples=150, deadline=None)
@given(a=values, b=values, width_a=st.floats(0, 0.5), width_b=st.floats(0, 0.5), threshold=st.floats(0, 0.5),
       metric=st.sampled_from(["p99_ttft_ms", "output_throughput"]))
def test_compare_is_antisymmetric_and_a_run_never_regresses_against_itself(
        a: float, b: float, width_a: float, width_b: float, threshold: float, metric: str) -> None:
    ra = result(**{metric: a, "ci": {metric: [a * (1 - width_a), a * (1 + width_a)]}})
    rb = result(**{metric: b, "ci": {metric: [b * (1 - width_b), b * (1 + width_b)]}})
    forward = compare(ra, rb, threshold=threshold).deltas[0]
    backward = compare(rb, ra, threshold=threshold).deltas[0]
    flip = {"better": "worse", "worse": "better", "no significant change": "no significant change"}
    assert backward.verdict == flip[forward.verdict]
    assert forward.ci is not None and forward.ci[0] <= b - a <= forward.ci[1]
    if forward.regression:
        assert forward.verdict == "worse" and abs(b - a) / a > threshold
    itself = compare(ra, ra, threshold=threshold)
    assert itself.exit_status == 0 and itself.deltas[0].verdict == "no significant change"
