"""``bench calibrate``: this machine's client ceiling, the highest request rate (and chunk
rate) one ``vllm_client.bench`` process sends at with dispatch lag p99 under a limit (1 ms),
against the built-in emulator.

Why: a load generator that cannot keep its own schedule reports its own queueing as the
server's latency (vllm#39963, inference-perf#86, aiperf#1424). ``bench serve`` marks such a
run invalid after the fact; ``calibrate`` says beforehand how much load this machine can
generate, so a sweep can stay below it (or ``--workers`` be used).

How: the emulator runs as ``vllm-client mock-server --token-rate R`` in **its own process**
(its CPU must not be the client's), every request streams ``tokens`` tokens, one per chunk,
paced per stream, so the chunks of many streams interleave as a real server's do. Rates
double from ``start_rate`` (:class:`~._search.LoadSearch`, SLO ``p99 dispatch_lag <=
lag_ms``, at least 90% of the offered rate delivered) and ``refine`` bisection steps narrow
the ceiling. The emulator's CPU use is read from ``/proc`` per point: when it was near a full
core at the first failing rate, the emulator, not the client, was the limit, and the result
says so (the ceiling is then a lower bound).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._event_loop import resolve as resolve_loop
from .._event_loop import run as run_on_loop
from ._search import LoadSearch, Slo
from ._sweep import point_from_result

__all__ = ["calibrate"]

#: Emulator CPU (cores) above which it, not the client, is taken to be the limit.
EMULATOR_SATURATED = 0.9


class _Emulator:
    def __init__(self, token_rate: float) -> None:
        # on uvloop when installed: the emulator must be the faster side of the measurement
        cmd = [sys.executable, "-m", "vllm_client", "mock-server", "--port", "0", "--token-rate", f"{token_rate:g}",
               "--loop", "auto"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url:
            self.close()
            raise RuntimeError("the emulator (vllm-client mock-server) did not start")

    def cpu_s(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # not Linux
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def calibrate(*, tokens: int = 128, token_rate: float = 1000.0, start_rate: float = 10.0, max_rate: float = 2560.0,
              seconds: float = 5.0, lag_ms: float = 1.0, refine: int = 2, event_loop: str = "asyncio",
              on_point: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Measure the ceiling (see the module docstring) of bench runs on ``event_loop``; returns
    ``{"ceiling": {...} | None, "points": [...], "notes": [...], "settings": {...}}``."""
    resolve_loop(event_loop)
    if not 0 < start_rate <= max_rate:
        raise ValueError("start_rate must be > 0 and at most max_rate")
    rates = [start_rate * 2.0 ** k for k in range(int(math.log2(max_rate / start_rate)) + 1)]
    slo = Slo("dispatch_lag", lag_ms, 99.0, confident=False)
    search = LoadSearch(rates, [slo], kind="rate", refine=refine, min_gain=0.0)
    emulator = _Emulator(token_rate)
    points: list[dict[str, Any]] = []
    try:
        while (rate := search.next_load()) is not None:
            before, start = emulator.cpu_s(), time.perf_counter()
            result = run_on_loop(_run(emulator.base_url, rate, tokens, seconds), event_loop)
            after, wall = emulator.cpu_s(), time.perf_counter() - start
            data = result.to_dict()
            verdict = search.record(point_from_result(rate, data, result.records, [slo]))
            duration = float(data.get("duration") or wall)
            entry = {
                "load": rate, "passes": verdict.passes, "reasons": list(verdict.reasons),
                "chunks_per_s": float(data.get("output_throughput") or 0.0),
                "request_throughput": float(data.get("request_throughput") or 0.0),
                "lag_p99_ms": (data.get("dispatch_lag_ms") or {}).get("p99"),
                "client_cpu_util": data.get("client_cpu_util"),
                "emulator_cpu_util": (None if before is None or after is None
                                      else (after - before) / max(duration, 1e-9)),
                "failed": data.get("failed"), "event_loop": data.get("event_loop"),
            }
            points.append(entry)
            if on_point is not None:
                on_point(entry)
    finally:
        emulator.close()
    best = search.best
    ceiling = None
    if best is not None:
        chosen = next(p for p in points if p["load"] == best.load)
        ceiling = {"rate": best.load, "chunks_per_s": chosen["chunks_per_s"], "lag_p99_ms": chosen["lag_p99_ms"]}
    return {"ceiling": ceiling, "points": points, "notes": _notes(points, best is not None, max_rate),
            "stopped": search.stopped,
            "settings": {"tokens": tokens, "token_rate": token_rate, "start_rate": start_rate, "max_rate": max_rate,
                         "seconds": seconds, "lag_ms": lag_ms, "refine": refine,
                         "event_loop": points[0]["event_loop"] if points else resolve_loop(event_loop)}}


async def _run(base_url: str, rate: float, tokens: int, seconds: float) -> Any:
    from .._async.client import AsyncVllmClient
    from .._config import Limits
    from . import BenchConfig, Load, Workload, arun_bench

    config = BenchConfig(
        workload=Workload("random", input_len=16, output_len=tokens, ignore_eos=True),
        load=Load(rate=rate, burstiness=math.inf, num_requests=None, duration=seconds),
        scrape_metrics=False, bootstrap=0, audit_lag_p99=3600.0, audit_cpu=1e9,  # the SLO judges the lag
        label=f"calibrate rate={rate:g}")
    cap = 4096
    limits = Limits(max_connections=cap, max_keepalive=cap)
    async with AsyncVllmClient(base_url, max_retries=0, limits=limits) as client:
        return await arun_bench(client, config, progress=False)


def _notes(points: list[dict[str, Any]], found: bool, max_rate: float) -> list[str]:
    notes = []
    failing = [p for p in points if not p["passes"]]
    if failing:
        first = min(failing, key=lambda p: p["load"])
        emu = first.get("emulator_cpu_util")
        if emu is not None and emu >= EMULATOR_SATURATED:
            notes.append(f"the emulator used {emu:.0%} of a core at {first['load']:g} req/s: it, not the client, may "
                         "have been the limit, so the ceiling is a lower bound")
    elif found:
        notes.append(f"every rate up to {max_rate:g} req/s passed: the ceiling is at least that (raise --max-rate)")
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    cores = os.cpu_count() or 1
    if load > 0.5 * cores:
        notes.append(f"this machine is busy (load average {load:.1f} on {cores} cores): other processes take CPU "
                     "from the client, so the ceiling measured now is lower than on an idle machine")
    return notes
