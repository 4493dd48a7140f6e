"""``vllm-client bench compare``: the table, --json, exit status 1 on a regression, 2 on bad input,
records found beside the result."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from vllm_client.cli import get_app
from vllm_client.cli._bench_tools import load_records, parse_threshold


def run(*args: str) -> Any:
    return CliRunner().invoke(get_app(), ["bench", "compare", *args])


def write(path: Path, **values: Any) -> Path:
    path.write_text(json.dumps({"valid": True, **values}))
    return path


def test_parse_threshold() -> None:
    assert parse_threshold("5%") == pytest.approx(0.05)
    assert parse_threshold("0.1") == pytest.approx(0.1)
    for bad in ("five", "-1%", "inf"):
        with pytest.raises(typer.BadParameter):
            parse_threshold(bad)


def test_a_regression_exits_1_and_is_named(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", output_throughput=1000.0, p99_ttft_ms=100.0)
    b = write(tmp_path / "b.json", output_throughput=800.0, p99_ttft_ms=101.0)
    result = run(str(a), str(b), "--threshold", "5%")
    assert result.exit_code == 1, result.output
    assert "REGRESSION" in result.output and "output_throughput" in result.output
    assert "1 regression(s)" in result.output


def test_no_regression_exits_0_and_json_is_parseable(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", output_throughput=1000.0, p99_ttft_ms=100.0)
    b = write(tmp_path / "b.json", output_throughput=1200.0, p99_ttft_ms=90.0)
    result = run(str(a), str(b), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    verdicts = {m["metric"]: m["verdict"] for m in data["metrics"]}
    assert verdicts == {"output_throughput": "better", "p99_ttft_ms": "better"}
    assert data["regressions"] == []
    # the threshold decides: a 20% drop passes a 25% gate
    assert run(str(b), str(a), "--threshold", "25%").exit_code == 0
    assert run(str(b), str(a), "--threshold", "5%", "--metric", "p99_ttft_ms").exit_code == 1


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", output_throughput=1.0)
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert run(str(a), str(tmp_path / "missing.json")).exit_code == 2
    assert run(str(a), str(tmp_path / "bad.json")).exit_code == 2
    assert run(str(a), str(a), "--requests-a", str(tmp_path / "none.jsonl")).exit_code == 2


def records(ttfts: list[float]) -> str:
    return "".join(json.dumps({"kind": "measured", "ok": True, "ttft_s": t}) + "\n" for t in ttfts)


def test_records_beside_the_results_give_a_bootstrap(tmp_path: Path) -> None:
    rng = random.Random(2)
    a = write(tmp_path / "a.json", median_ttft_ms=100.0)
    b = write(tmp_path / "b.json", median_ttft_ms=102.0)
    (tmp_path / "a.jsonl").write_text(records([rng.gauss(0.100, 0.002) for _ in range(300)]))
    (tmp_path / "b.jsonl").write_text(records([rng.gauss(0.102, 0.002) for _ in range(300)]))
    result = run(str(a), str(b), "--json", "--threshold", "1%")
    data = json.loads(result.stdout)
    (entry,) = data["metrics"]
    assert entry["ci_source"] == "bootstrap" and entry["ci"][0] > 0  # 2 ms slower, surely
    assert entry["verdict"] == "worse" and result.exit_code == 1
    assert load_records(a, {}, None) is not None
    assert load_records(tmp_path / "c.json", {}, None) is None
    named = tmp_path / "elsewhere.jsonl"
    named.write_text(records([0.1]))
    assert load_records(tmp_path / "c.json", {"requests_path": "elsewhere.jsonl"}, None) == [
        {"kind": "measured", "ok": True, "ttft_s": 0.1}]


def test_an_invalid_run_is_warned_about(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", output_throughput=1000.0)
    b = tmp_path / "b.json"
    b.write_text(json.dumps({"valid": False, "invalid_reason": "client CPU 97%", "output_throughput": 1000.0}))
    result = run(str(a), str(b))
    assert result.exit_code == 0
    assert "run B is marked invalid (client CPU 97%)" in result.output
