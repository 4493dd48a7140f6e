"""bench plots (vllm_client.bench._plots): valid PNGs, the expected files, a clear error naming
the extra without matplotlib."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest

from vllm_client.bench._plots import EXTRA_HINT, plot_run, plot_sweep

PNG = b"\x89PNG\r\n\x1a\n"


def synthetic_records(n: int = 60, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        start = i * 0.05
        ttft = rng.uniform(0.01, 0.05)
        times = [start + ttft + 0.004 * k for k in range(16)]
        tokens = [1] * 15 + [2]
        itl = [0.004] * 14 + [0.002, 0.002]
        out.append({"index": i, "kind": "warmup" if i < 2 else "measured", "ok": i != 7, "start_s": start,
                    "first_token_s": times[0], "end_s": times[-1], "ttft_s": ttft, "tpot_s": 0.004,
                    "e2el_s": times[-1] - start, "itl_s": itl, "chunk_times_s": times, "chunk_tokens": tokens,
                    "output_tokens": 17})
    return out


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG and path.stat().st_size > 1000


def test_a_run_gives_seven_pngs(tmp_path: Path) -> None:
    written = plot_run({"completed": 57, "config": {"label": "demo"}}, synthetic_records(), tmp_path / "plots")
    names = sorted(p.name for p in written)
    assert names == sorted(["cdf_ttft.png", "cdf_tpot.png", "cdf_itl.png", "cdf_e2el.png", "ttft_over_time.png",
                            "itl_over_time.png", "throughput_over_time.png"])
    assert all(is_png(p) for p in written)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == names


def test_metrics_without_samples_give_no_file(tmp_path: Path) -> None:
    records = synthetic_records(10)
    for r in records:
        r["tpot_s"] = None  # one-token answers: no TPOT
    names = {p.name for p in plot_run({}, records, tmp_path)}
    assert "cdf_tpot.png" not in names and "cdf_ttft.png" in names
    failed = [{**r, "ok": False} for r in records]
    assert [p.name for p in plot_run({}, failed, tmp_path / "failed")] == ["throughput_over_time.png"]
    assert plot_run({}, [], tmp_path / "empty") == []


def test_a_sweep_gives_its_latency_throughput_png(tmp_path: Path) -> None:
    points = [{"load": load, "passes": load < 8,
               "result": {"output_throughput": 100.0 * min(load, 6), "median_ttft_ms": 20.0 * load,
                          "p99_ttft_ms": 40.0 * load, "median_tpot_ms": 5.0, "p99_tpot_ms": 6.0 + load}}
              for load in (1, 2, 4, 8)]
    sweep = {"kind": "rate", "best": 4, "points": points, "slos": [{"metric": "ttft", "limit_ms": 200.0}]}
    written = plot_sweep(sweep, tmp_path)
    assert [p.name for p in written] == ["sweep_latency_vs_throughput.png"] and is_png(written[0])
    assert plot_sweep({"points": []}, tmp_path / "none") == []


def test_without_matplotlib_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(ImportError, match=r"vllm-client\[bench\]") as info:
        plot_run({}, synthetic_records(), tmp_path)
    assert str(info.value) == EXTRA_HINT
    with pytest.raises(ImportError, match="matplotlib"):
        plot_sweep({"points": []}, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing written before the check
