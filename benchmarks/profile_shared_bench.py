"""Profile one ``../shared/bench`` worker run (contender x workload) under cProfile.

Why: the shared bench reports how much CPU a client spends per request or chunk; this
shows where it goes. It starts the bench's fake server, runs the bench's own worker
function in this process (same warm-up, same checks, same workload) with the profiler
on, prints the top functions and stops the server. The profiler inflates per-call costs,
so read shares, not absolute times; compare alternatives with the bench itself.

    BENCH=../shared/bench .bench/venv/bin/python benchmarks/profile_shared_bench.py vllm-client-async c
    ... --sort cumulative --top 40 --quick
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys


def default_bench_dir() -> str:
    """``../shared/bench`` from the repository (or from a worktree one level deeper)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for up in ("..", os.path.join("..", "..")):
        candidate = os.path.normpath(os.path.join(root, up, "shared", "bench"))
        if os.path.isdir(candidate):
            return candidate
    return os.path.join(root, "..", "shared", "bench")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("contender")
    ap.add_argument("workload")
    ap.add_argument("--bench", default=os.environ.get("BENCH") or default_bench_dir())
    ap.add_argument("--sort", default="tottime")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", help="also save the raw profile here (for snakeviz, gprof2dot...)")
    args = ap.parse_args()

    sys.path.insert(0, os.path.abspath(args.bench))
    import bench_clients as bench  # the shared bench's module: its worker, workloads and checks

    proc, info = bench.start_server(sys.executable, no_uvloop=False)
    try:
        base = f"http://127.0.0.1:{info['port']}"
        prof = cProfile.Profile()
        prof.enable()
        result = bench.run_worker(args.contender, args.workload, base + "/v1", args.quick)
        prof.disable()
    finally:
        proc.terminate()
        proc.wait(10)
    units = result.get("count") or 1
    cpu = result.get("cpu_user", 0) + result.get("cpu_sys", 0)
    print(f"{args.contender} / {args.workload}: ok={result.get('ok')} units={units} "
          f"cpu={cpu:.3f}s ({cpu / units * 1e6:.1f} us/unit under the profiler)")
    if args.out:
        prof.dump_stats(args.out)
    pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
