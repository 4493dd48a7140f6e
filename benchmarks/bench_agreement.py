#!/usr/bin/env python3
"""Agreement with the anchor: on the same real vLLM server and the same fixed prompts, our
request and output-token throughput within 5% of ``vllm bench serve``'s and median TPOT within
10%; TTFT differs by the role-chunk effect, quantified here.

    python3 -m tests.integration.harness up plain 8120          # the real server (tiny model, CPU)
    python benchmarks/bench_agreement.py --base-url http://127.0.0.1:8120/v1
    python3 -m tests.integration.harness down 8120

Both tools read one dataset file (``_anchor.write_dataset``: fixed prompts, fixed output
length, ``ignore_eos``), send streamed chat requests with the same schedule (constant rate,
``--burstiness inf``; or ``rate inf`` with a concurrency cap) and run as fresh processes,
alternating which goes first in each round. Scenarios: ``capped`` (as fast as 8 in flight
allow: the server's capacity, max-num-seqs 8) and ``paced`` (a constant rate below it).

The role-chunk effect: vLLM's first chat chunk carries only ``{"role": "assistant"}``; the anchor
stamps TTFT on it, we on the first chunk with a token. Its size is read from the anchor's own
data: ``itls[i][0]`` is the gap between the role chunk and the first token chunk, and the
anchor's ITL list has one such extra gap per request. Reports numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _anchor as A

SCENARIOS = {"capped": {"rate": float("inf"), "max_concurrency": 8}, "paced": {"rate": 4.0, "max_concurrency": None}}
KEYS = ("request_throughput", "output_throughput", "median_tpot_ms", "mean_tpot_ms", "median_ttft_ms",
        "mean_ttft_ms", "median_itl_ms", "median_e2el_ms")


def run(tool: str, base_url: str, dataset: Path, out: Path, n: int, scenario: dict[str, Any],
        wrapper: list[str]) -> dict[str, Any]:
    if tool.startswith("ours"):  # "ours-nocont": include_usage only, as the anchor asks
        return A.ours_bench_serve(base_url, dataset, out, num_prompts=n, rate=scenario["rate"],
                                  max_concurrency=scenario["max_concurrency"], wrapper=wrapper,
                                  continuous_usage=tool != "ours-nocont")
    return A.vllm_bench_serve(base_url, dataset, out, num_prompts=n, rate=scenario["rate"],
                              max_concurrency=scenario["max_concurrency"], wrapper=wrapper)


def pin_tree(pid: int, cpus: str) -> list[int]:
    """Put process ``pid``, its threads and all its descendants on ``cpus`` (``taskset -a``)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").iterdir():
            children = (task / "children").read_text().split()
            todo += [int(c) for c in children]
    for p in pids:
        subprocess.run(["taskset", "-a", "-cp", cpus, str(p)], check=True, stdout=subprocess.DEVNULL)
    return pids


def role_chunk(result: dict[str, Any]) -> dict[str, float]:
    """From the anchor's detailed result: the role-chunk -> first-token gap, and ITL counts."""
    itls = [x for x in result.get("itls") or [] if x]
    first = [1000.0 * x[0] for x in itls]
    return {"first_gap_median_ms": A.median(first), "first_gap_p90_ms": A.pct(first, 90),
            "itl_per_request": A.median([len(x) for x in itls])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", default="http://127.0.0.1:8120/v1")
    ap.add_argument("--requests", type=int, default=48)
    ap.add_argument("--output-tokens", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scenarios", default="capped,paced")
    ap.add_argument("--tools", default="ours,vllm", help=(
        "ours, vllm, and ours-nocont (ours asking include_usage only, as the anchor does: what the running usage "
        "on every chunk costs the server)"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench-agreement.json"))
    ap.add_argument("--pin-server", type=int, metavar="PID", help=(
        "pin this server process (threads and children: vLLM's engine core) to CPU 0 and each client to CPU 1, "
        "so that a client's own CPU use does not slow the server it measures (a CPU-backend server on a 2-core box)"))
    args = ap.parse_args()
    wrapper: list[str] = []
    if args.pin_server:
        print(f"pinned server processes {pin_tree(args.pin_server, '0')} to CPU 0; clients on CPU 1", flush=True)
        wrapper = ["taskset", "-c", "1"]
    tmp = Path("/tmp/bench-agreement")
    tmp.mkdir(exist_ok=True)
    dataset = A.write_dataset(tmp / "prompts.jsonl", args.requests, args.output_tokens)
    rows: list[dict[str, Any]] = []
    for round_no in range(args.rounds):
        for name in args.scenarios.split(","):
            tools = args.tools.split(",")
            order = tools if round_no % 2 == 0 else tools[::-1]
            for tool in order:
                result = run(tool, args.base_url, dataset, tmp / f"{name}-{tool}-{round_no}.json", args.requests,
                             SCENARIOS[name], wrapper)
                row = {"round": round_no, "scenario": name, "tool": tool, "completed": result["completed"],
                       "failed": result["failed"], "total_output_tokens": result["total_output_tokens"],
                       **{k: result.get(k) for k in KEYS}}
                if tool == "vllm":
                    row.update(role_chunk(result))
                else:
                    row["valid"] = result.get("valid")
                rows.append(row)
                print(json.dumps(row), flush=True)
                time.sleep(1)
    args.out.write_text(json.dumps(rows, indent=1))
    print()
    print(table(rows, args.scenarios.split(",")))
    return 0


def table(rows: list[dict[str, Any]], scenarios: list[str]) -> str:
    ours_tools = sorted({r["tool"] for r in rows if r["tool"] != "vllm"})
    lines = ["| scenario | tool | metric | vllm bench serve | ours | ours / vllm (median of rounds) |",
             "|---|---|---|---:|---:|---:|"]
    for name in scenarios:
        rounds = sorted({r["round"] for r in rows if r["scenario"] == name})
        for tool in ours_tools:
            for key in KEYS:
                theirs = [r[key] for r in rows if r["scenario"] == name and r["tool"] == "vllm" and r[key] is not None]
                ours = [r[key] for r in rows if r["scenario"] == name and r["tool"] == tool and r[key] is not None]
                ratios = []
                for rnd in rounds:
                    t = [r[key] for r in rows if r["scenario"] == name and r["tool"] == "vllm" and r["round"] == rnd]
                    o = [r[key] for r in rows if r["scenario"] == name and r["tool"] == tool and r["round"] == rnd]
                    if t and o and t[0] and o[0] is not None:
                        ratios.append(o[0] / t[0])
                lines.append(f"| {name} | {tool} | {key} | {A.spread(theirs)} | {A.spread(ours)} | "
                             f"{A.spread(ratios)} |")
        gaps = [r["first_gap_median_ms"] for r in rows if r["scenario"] == name and r["tool"] == "vllm"]
        counts = [r["itl_per_request"] for r in rows if r["scenario"] == name and r["tool"] == "vllm"]
        lines.append(f"| {name} | vllm | anchor: role chunk -> first token gap, median ms | {A.spread(gaps)} | | |")
        lines.append(f"| {name} | vllm | anchor: ITL samples per request | {A.spread(counts)} | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
