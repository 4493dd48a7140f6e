"""Prometheus text parsing: our parse_samples / parse_prometheus vs prometheus_client's parser.

Input: the real vLLM 0.32 scrape in tests/fixtures/real-vllm-0.32/metrics_full.json (or the
emulator's, if that capture is absent). Prints the median time per scrape of each parser and
prometheus_client's import time; the decision it informs is in
src/vllm_client/_protocol/metrics_text.py. Reports numbers, asserts nothing.

    .venv/bin/python benchmarks/prom_parse.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vllm_client._protocol.metrics_text import parse_prometheus, parse_samples  # noqa: E402


def scrape_text() -> tuple[str, str]:
    path = ROOT / "tests/fixtures/real-vllm-0.32/metrics_full.json"
    if path.exists():
        return json.loads(path.read_text())["response"]["body"], "real vLLM 0.32 scrape"
    from vllm_client.testing._prom import EngineMetrics

    return EngineMetrics(8).render(["tiny"], 0).decode(), "emulator scrape"


def timed(fn, text: str, rounds: int = 30) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    text, what = scrape_text()
    from prometheus_client.parser import text_string_to_metric_families

    def official(t: str) -> list[object]:
        return [s for f in text_string_to_metric_families(t) for s in f.samples]

    print(f"{what}: {len(text.splitlines())} lines, {len(text)} bytes")
    for name, fn in (("parse_samples", parse_samples), ("parse_prometheus", parse_prometheus),
                     ("prometheus_client", official)):
        print(f"  {name:18s} {timed(fn, text) * 1000:7.2f} ms per scrape")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import prometheus_client.parser"],
                         capture_output=True, text=True, check=True).stderr.splitlines()
    total = max(int(line.split("|")[1]) for line in out if line.startswith("import time:") and "|" in line
                and line.split("|")[1].strip().isdigit())  # the cumulative time of the outermost import
    print(f"  prometheus_client.parser import: {total / 1000:.1f} ms")


if __name__ == "__main__":
    main()
