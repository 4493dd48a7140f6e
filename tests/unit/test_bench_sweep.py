"""The sweep driver (vllm_client.bench._sweep) on synthetic results: configs per load, points
from result dicts (CI upper bounds from the result or a bootstrap of the records), the JSON."""

from __future__ import annotations

import math
import random
from typing import Any

from vllm_client.bench import BenchConfig, Load, Workload
from vllm_client.bench._search import Slo
from vllm_client.bench._sweep import Sweep, point_from_result


def fake_result(rate: float, capacity: float = 10.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A run of an M/M/1-like server: TTFT ~ 20 ms * capacity / (capacity - rate)."""
    rng = random.Random(int(rate * 100))
    mean = 0.020 * capacity / max(capacity - rate, 0.1)
    records = [{"kind": "measured", "ok": True, "ttft_s": rng.expovariate(1 / mean), "dispatch_lag_s": 0.0001}
               for _ in range(200)]
    ttfts = sorted(1000 * r["ttft_s"] for r in records)
    result = {"completed": 200, "failed": 0, "valid": True, "request_throughput": min(rate, capacity * 0.95),
              "output_throughput": 100 * min(rate, capacity), "request_goodput": None,
              "p99_ttft_ms": ttfts[int(0.99 * 199)], "median_ttft_ms": ttfts[100],
              "dispatch_lag_ms": {"p99": 0.1}}
    return result, records


def base_config() -> BenchConfig:
    return BenchConfig(workload=Workload("random", input_len=16, output_len=8),
                       load=Load(rate=1.0, burstiness=2.0, num_requests=50), bootstrap=200, seed=3, label="base")


def test_configs_carry_the_load_and_keep_the_rest() -> None:
    sweep = Sweep(base_config(), [2, 4], [Slo("ttft", 100.0)])
    config = sweep.next_config()
    assert config is not None and config.load.rate == 2 and config.load.burstiness == 2.0
    assert config.load.num_requests == 50 and config.label == "base rate=2"
    users = Sweep(base_config(), [3], [], kind="concurrency").next_config()
    assert users is not None and users.load.users == 3 and math.isinf(users.load.rate)


def test_point_takes_the_results_interval_or_bootstraps_the_records() -> None:
    result, records = fake_result(5.0)
    slo = Slo("ttft", 100.0)
    nested = {**result, "ci": {"ttft_ms": {"p99": [1.0, 2.0]}}}
    assert point_from_result(5.0, nested, records, [slo]).upper_ms == {"p99_ttft_ms": 2.0}
    booted = point_from_result(5.0, result, records, [slo], resamples=200)
    assert booted.upper_ms["p99_ttft_ms"] >= booted.estimates_ms["p99_ttft_ms"] * 0.95
    assert point_from_result(5.0, result, [], [slo]).upper_ms == {}  # nothing to bootstrap
    p90 = point_from_result(5.0, result, records, [Slo("ttft", 100.0, 90.0)], resamples=200)
    assert "p90_ttft_ms" in p90.estimates_ms and "p90_ttft_ms" in p90.upper_ms  # from the records
    lag = point_from_result(5.0, result, records, [Slo("dispatch_lag", 1.0, confident=False)])
    assert lag.estimates_ms == {"p99_dispatch_lag_ms": 0.1}
    lag_from_records = point_from_result(5.0, {**result, "dispatch_lag_ms": {}}, records,
                                         [Slo("dispatch_lag", 1.0, confident=False)])
    assert lag_from_records.estimates_ms["p99_dispatch_lag_ms"] == 0.1


def test_a_sweep_on_synthetic_runs_finds_the_rate_and_writes_every_point() -> None:
    sweep = Sweep(base_config(), [1, 2, 4, 8, 16], [Slo("ttft", 250.0)], refine=2)
    runs = 0
    while (config := sweep.next_config()) is not None:
        result, records = fake_result(config.load.rate)
        sweep.add(config, result, records)
        runs += 1
        assert runs < 20
    data = sweep.to_dict()
    assert data["kind"] == "rate" and data["slos"] == [{"metric": "ttft", "limit_ms": 250.0, "percentile": 99.0}]
    loads = [p["load"] for p in data["points"]]
    assert loads[:4] == [1, 2, 4, 8] and 16 not in loads  # 8 fails (p99 ~ 460 ms): 16 never runs
    assert len(loads) == 6 and all(4 < x < 8 for x in loads[4:])  # two refinement steps
    assert data["best"] is not None and 4 <= data["best"] < 8
    best = next(p for p in data["points"] if p["load"] == data["best"])
    assert best["passes"] and best["upper_ms"]["p99_ttft_ms"] <= 250.0
    failing = [p for p in data["points"] if not p["passes"]]
    assert failing and all("p99_ttft_ms" in " ".join(p["reasons"]) for p in failing)
    assert all("result" in p for p in data["points"])
