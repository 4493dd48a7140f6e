"""``bench sweep``, ``bench calibrate`` and ``bench compare`` end to end against the emulator:
exit statuses, the JSON shapes, the PNG. Nothing here asserts a timing: whether a rate passes
depends on the machine, so the tests check structure and consistency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from vllm_client.cli import get_app
from vllm_client.testing import MockVllmServer

SMALL = ["--input-len", "8", "--output-len", "4", "-n", "8"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(get_app(), list(args), env={"VLLM_BASE_URL": None})


def test_sweep_runs_each_rate_and_writes_json_and_png(tmp_path: Path) -> None:
    with MockVllmServer() as server:
        out = invoke("bench", "sweep", "--base-url", server.url, "--rates", "5,10", "--slo", "ttft=30",
                     *SMALL, "--result", str(tmp_path / "sweep.json"), "--plot", str(tmp_path / "png"))
    assert out.exit_code == 0, out.output
    data = json.loads((tmp_path / "sweep.json").read_text())
    loads = [p["load"] for p in data["points"]]
    # 10 runs unless 5 already failed (a starved machine can deliver under 90% of the rate)
    assert loads == [5.0, 10.0] or (loads == [5.0] and not data["points"][0]["passes"])
    assert all(p["result"]["completed"] + p["result"]["failed"] == 8 for p in data["points"])
    assert data["slos"] == [{"metric": "ttft", "limit_ms": 30000.0, "percentile": 99.0}]
    passing = [p["load"] for p in data["points"] if p["passes"]]
    assert data["best"] == (max(passing) if passing else None)
    assert "best rate" in out.stdout or "no rate met" in out.stdout
    png = tmp_path / "png" / "sweep_latency_vs_throughput.png"
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_sweep_over_concurrencies_json(tmp_path: Path) -> None:
    with MockVllmServer() as server:
        out = invoke("bench", "sweep", "--base-url", server.url, "--concurrencies", "1,2", "--slo", "e2el=30",
                     *SMALL, "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    loads = [p["load"] for p in data["points"]]
    assert data["kind"] == "concurrency" and loads in ([1.0], [1.0, 2.0])
    for p in data["points"]:
        assert p["result"]["config"]["load"]["users"] == int(p["load"])
    if loads == [1.0]:  # stopped after one point: it failed (a starved machine), never saturated yet
        assert not data["points"][0]["passes"]


def test_sweep_refuses_both_or_neither_load_list() -> None:
    assert invoke("bench", "sweep", "--rates", "1", "--concurrencies", "1").exit_code != 0
    assert invoke("bench", "sweep").exit_code != 0
    assert invoke("bench", "sweep", "--rates", "1,x").exit_code != 0
    assert invoke("bench", "sweep", "--concurrencies", "1.5").exit_code != 0


def test_calibrate_reports_points_and_a_consistent_ceiling() -> None:
    out = invoke("bench", "calibrate", "--start-rate", "4", "--max-rate", "8", "--seconds", "0.5", "--tokens", "8",
                 "--refine", "0", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["settings"]["lag_ms"] == 1.0
    loads = [p["load"] for p in data["points"]]
    assert loads and loads[0] == 4.0 and set(loads) <= {4.0, 8.0}
    for p in data["points"]:
        assert p["chunks_per_s"] > 0 and p["lag_p99_ms"] is not None and p["failed"] == 0
        assert p["passes"] == (p["lag_p99_ms"] <= 1.0 and not p["reasons"])
    passing = [p for p in data["points"] if p["passes"]]
    if passing:
        assert data["ceiling"]["rate"] == max(p["load"] for p in passing)
    else:
        assert data["ceiling"] is None


def test_compare_of_two_emulator_runs(tmp_path: Path) -> None:
    with MockVllmServer() as server:
        for name in ("a", "b"):
            out = invoke("bench", "serve", "--base-url", server.url, *SMALL, "--rate", "20", "--progress", "none",
                         "--result", str(tmp_path / f"{name}.json"), "--requests", str(tmp_path / f"{name}.jsonl"))
            assert out.exit_code in (0, 3), out.output  # 3: invalid on a starved machine, still a result
    out = invoke("bench", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json",
                 "--threshold", "1000%")
    assert out.exit_code == 0, out.output  # nothing moves by 10x between two runs of the same emulator
    data = json.loads(out.stdout)
    by_metric = {m["metric"]: m for m in data["metrics"]}
    assert by_metric["p99_ttft_ms"]["ci_source"] == "bootstrap"  # the JSONL beside each result
    assert by_metric["request_throughput"]["verdict"] in ("better", "worse", "no significant change")


def test_serve_plot_writes_the_pngs(tmp_path: Path) -> None:
    with MockVllmServer() as server:
        out = invoke("bench", "serve", "--base-url", server.url, *SMALL, "--rate", "50", "--progress", "none",
                     "--plot", str(tmp_path / "plots"), "--requests", str(tmp_path / "r.jsonl"))
    assert out.exit_code in (0, 3), out.output
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    expected = ["cdf_ttft.png", "cdf_tpot.png", "cdf_itl.png", "cdf_e2el.png", "ttft_over_time.png",
                "throughput_over_time.png"]
    # ITL over time needs two reads of one stream; a starved client may read a 4-token answer at once
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    if any(len(r["chunk_times_s"] or []) > 1 for r in records):
        expected.append("itl_over_time.png")
    assert names == sorted(expected)
    assert all((tmp_path / "plots" / n).read_bytes()[:4] == b"\x89PNG" for n in names)


def test_plot_without_matplotlib_names_the_extra_before_running(tmp_path: Path, monkeypatch: Any) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for command in (["serve", *SMALL], ["sweep", "--rates", "1", *SMALL]):
        out = CliRunner().invoke(get_app(), ["bench", *command, "--base-url", "http://127.0.0.1:9",
                                             "--plot", str(tmp_path)])
        assert out.exit_code == 1
        assert "vllm-client[bench]" in out.output  # and no connection was tried: port 9 would have failed later


def test_serve_routing_spreads_over_several_servers(tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"q{i}", "output_tokens": 3}) + "\n" for i in range(8)))
    with MockVllmServer(model="m") as a, MockVllmServer(model="m") as b:
        out = invoke("bench", "serve", "--base-url", f"{a.url},{b.url}", "--model", "m", "--dataset",
                     f"prompts:{prompts}", "-n", "8", "--routing", "round_robin", "--no-scrape", "--json",
                     "--progress", "none")
        chats = [sum(r.path.endswith("/chat/completions") for r in s.requests) for s in (a, b)]
    assert out.exit_code in (0, 3), out.output  # 3: a starved machine marks the run invalid
    data = json.loads(out.stdout)
    assert data["routing"] == "round_robin" and data["completed"] == 8
    assert chats == [4, 4]  # one each in turn
    bad = invoke("bench", "serve", "--base-url", "http://127.0.0.1:9", "--routing", "random")
    assert bad.exit_code == 2 and "routing must be one of" in " ".join(bad.output.split())
