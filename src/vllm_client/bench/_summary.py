"""The console summary of a result: ``(label, value)`` rows in sections, in the order
``vllm bench serve`` prints them, plus ours (errors, queueing, dispatch lag, audit, server).
Pure: the CLI styles them; ``bench compare`` (benchtools) may reuse the formatting."""

from __future__ import annotations

from typing import Any

__all__ = ["summary_rows"]


def _num(v: Any, unit: str = "", digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v}{unit}"
    return f"{v:.{digits}f}{unit}"


def _stat_rows(d: dict[str, Any], name: str, title: str) -> list[tuple[str, str]]:
    return [(f"{stat.capitalize()} {title} (ms)", _num(d.get(f"{stat}_{name}_ms")))
            for stat in ("mean", "median", "p90", "p99")]


def summary_rows(d: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Sections of (label, value) rows for a result dict."""
    run: list[tuple[str, str]] = [
        ("Successful requests", _num(d.get("completed"))),
        ("Failed requests", _num(d.get("failed"))),
        ("Benchmark duration (s)", _num(d.get("duration"))),
        ("Total input tokens", _num(d.get("total_input_tokens"))),
        ("Total generated tokens", _num(d.get("total_output_tokens"))),
        ("Request throughput (req/s)", _num(d.get("request_throughput"))),
        ("Output token throughput (tok/s)", _num(d.get("output_throughput"))),
        ("Total token throughput (tok/s)", _num(d.get("total_token_throughput"))),
    ]
    if d.get("slos"):
        slos = ", ".join(f"{k}<={v:g}s" for k, v in d["slos"].items())
        run.append((f"Request goodput (req/s) [{slos}]", _num(d.get("request_goodput"))))
        run.append(("Goodput fraction (failures count)", _num(d.get("goodput_fraction"), digits=3)))
    sections = [("Result", run)]
    lat: list[tuple[str, str]] = []
    lat += _stat_rows(d, "ttft", "TTFT")
    lat += _stat_rows(d, "tpot", "TPOT")
    lat += _stat_rows(d, "itl", "ITL per token")
    lat += _stat_rows(d, "e2el", "E2E latency")
    chunk = d.get("chunk_itl_ms") or {}
    lat.append(("Median / P99 ITL per chunk (ms)", f"{_num(chunk.get('median'))} / {_num(chunk.get('p99'))}"))
    sched = d.get("ttft_from_scheduled_ms") or {}
    lat.append(("Median / P99 TTFT from scheduled (ms)", f"{_num(sched.get('median'))} / {_num(sched.get('p99'))}"))
    for key, title in (("ttft_cold_ms", "cold (turn 1)"), ("ttft_warm_ms", "warm (later turns)")):
        if key in d:
            lat.append((f"Median TTFT {title} (ms)", _num(d[key].get("median"))))
    ci = (d.get("ci") or {}).get("ttft_ms", {}).get("p99")
    if ci:
        lat.append(("P99 TTFT 95% CI (ms)", f"[{ci[0]:.2f}, {ci[1]:.2f}]"))
    sections.append(("Latency", lat))
    client: list[tuple[str, str]] = []
    queue = d.get("queue_ms") or {}
    client.append(("Queued for the concurrency cap, median / p99 (ms)",
                   f"{_num(queue.get('median'))} / {_num(queue.get('p99'))}"))
    lag = d.get("dispatch_lag_ms") or {}
    client.append(("Dispatch lag, median / p99 (ms)", f"{_num(lag.get('median'), digits=3)} / "
                                                      f"{_num(lag.get('p99'), digits=3)}"))
    client.append(("Client CPU (cores)", _num(d.get("client_cpu_util"))))
    loop = d.get("event_loop_lag_ms") or {}
    client.append(("Event-loop lag p99 (ms)", _num(loop.get("p99"))))
    client.append(("Valid (client not the bottleneck)", "yes" if d.get("valid") else "NO"))
    sections.append(("Client (self-audit)", client))
    if d.get("errors"):
        sections.append(("Errors", [(k, str(v)) for k, v in d["errors"].items()]))
    sm = d.get("server_metrics")
    if isinstance(sm, dict) and "deltas" in sm:
        rows = [(k, _num(v, digits=0)) for k, v in sm["deltas"].items() if v is not None]
        if sm.get("prefix_cache_hit_rate") is not None:
            rows.append(("prefix cache hit rate", f"{sm['prefix_cache_hit_rate']:.1%}"))
        for k, v in (sm.get("max") or {}).items():
            if v is not None:
                rows.append((f"max {k}", _num(v)))
        sections.append(("Server (/metrics deltas)", rows))
    return sections
