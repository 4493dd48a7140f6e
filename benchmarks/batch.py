#!/usr/bin/env python3
"""Batch runner benchmark: client CPU per line, lines/s and peak RSS of ``vllm-client batch``
beside the script users write today (openai-python ``AsyncOpenAI`` + a semaphore +
``json.dumps`` per line), in the same run, against the emulator in its own process.

    python benchmarks/batch.py --lines 20000                     # the CPU-per-line table
    python benchmarks/batch.py --lines 1000000 --only ours       # the memory figure

Each runner is a fresh process, measured with ``os.wait4`` (user+sys CPU, peak RSS); the
emulator's own CPU is not counted. The openai script runs in ``--openai-python`` (a venv with
``pip install openai``; default ``.bench/venv/bin/python``, the venv of run_shared_bench.sh);
without it only ours is run.
Reports numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

OPENAI_SCRIPT = r'''
import asyncio, json, sys
from openai import AsyncOpenAI

async def main(inp, out, base_url, concurrency):
    client = AsyncOpenAI(base_url=base_url, api_key="none", max_retries=2)
    sem = asyncio.Semaphore(concurrency)
    with open(inp) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    with open(out, "w") as w:
        async def one(line):
            async with sem:
                resp = await client.chat.completions.create(**line["body"])
            w.write(json.dumps({"custom_id": line["custom_id"], "response": resp.model_dump()}) + "\n")
        await asyncio.gather(*(one(line) for line in lines))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
'''


#: the same requests sent by our async client alone (no batch machinery): our own
#: per-request cost in the same run, the yardstick of "batch costs at most 1.3x a request"
PLAIN_SCRIPT = r'''
import asyncio, json, sys
from vllm_client import AsyncVllmClient

async def main(inp, base_url, concurrency):
    async with AsyncVllmClient(base_url) as client:
        sem = asyncio.Semaphore(concurrency)
        with open(inp, "rb") as f:
            bodies = [json.loads(line)["body"] for line in f if line.strip()]
        async def one(body):
            async with sem:
                await client.chat.completions.create(**body)
        await asyncio.gather(*(one(b) for b in bodies))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
'''


def make_input(path: Path, lines: int) -> None:
    with open(path, "w") as f:
        for i in range(lines):
            f.write(json.dumps({"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": {"model": "mock-model", "max_tokens": 8,
                                         "messages": [{"role": "user", "content": f"Question number {i}?"}]}}) + "\n")


def measure(cmd: list[str], lines: int) -> dict[str, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": wall, "lines_per_s": lines / wall, "cpu_s": cpu, "cpu_us_per_line": cpu / lines * 1e6,
            "peak_rss_mb": usage.ru_maxrss / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--only", choices=["ours", "openai"])
    ap.add_argument("--openai-python", default=str(ROOT / ".bench" / "venv" / "bin" / "python"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vllm-batch-bench-"))
    inp = tmp / "in.jsonl"
    make_input(inp, args.lines)
    server = subprocess.Popen([sys.executable, "-m", "vllm_client", "mock-server", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        results: dict[str, dict[str, float]] = {}
        if args.only != "openai":
            out = tmp / "ours.jsonl"
            results["vllm-client batch"] = measure([sys.executable, "-m", "vllm_client", "batch", str(inp), str(out),
                                                    "--base-url", base_url, "-c", str(args.concurrency), "-q"],
                                                   args.lines)
            with open(out, "rb") as f:
                assert sum(1 for _ in f) == args.lines
            results["vllm-client requests"] = measure(
                [sys.executable, "-c", PLAIN_SCRIPT, str(inp), base_url, str(args.concurrency)], args.lines)
        if args.only != "ours" and os.path.exists(args.openai_python):
            results["openai-python script"] = measure(
                [args.openai_python, "-c", OPENAI_SCRIPT, str(inp), str(tmp / "openai.jsonl"), base_url,
                 str(args.concurrency)], args.lines)
    finally:
        server.terminate()
        server.wait()
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    print(f"{args.lines} lines, concurrency {args.concurrency}, emulator in its own process")
    print(f"{'runner':24} {'lines/s':>9} {'CPU us/line':>12} {'peak RSS MB':>12} {'wall s':>8}")
    for name, r in results.items():
        print(f"{name:24} {r['lines_per_s']:9.0f} {r['cpu_us_per_line']:12.1f} {r['peak_rss_mb']:12.1f} "
              f"{r['wall_s']:8.1f}")
    ours = results.get("vllm-client batch")
    plain = results.get("vllm-client requests")
    theirs = results.get("openai-python script")
    if ours and theirs:
        print(f"CPU per line, ours / openai script: {ours['cpu_us_per_line'] / theirs['cpu_us_per_line']:.3f}x"
              "  (target <= 0.15x)")
    if ours and plain:
        print(f"CPU per line, batch / our plain requests: {ours['cpu_us_per_line'] / plain['cpu_us_per_line']:.3f}x"
              "  (target <= 1.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
