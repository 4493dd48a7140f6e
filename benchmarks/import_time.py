"""Startup cost: ``import vllm_client`` (+ building a client) and the CLI, in fresh processes.

Why: a sync-only program, a script and every CLI invocation pay the import before doing
anything, so the package imports only what the names it uses need (``__init__`` is lazy,
aiohttp is loaded by the first async request, the CLI imports typer/rich and its command
modules only for the command it runs). Target (issue 7): ``import vllm_client`` plus
``VllmClient(...)`` at most 100 ms on the project's 2-core machine.

Each scenario runs ``--runs`` times in a fresh interpreter, scenarios interleaved (round
robin) so that machine noise hits all of them alike; reported are the median and the
[min-max] of (1) the time measured inside the process around the import and
construction (``perf_counter``) and (2) the whole process wall time, interpreter start
included; (1) also as CPU time (``process_time``), which a busy neighbour disturbs
less than wall time. ``python -c pass`` is the interpreter's own floor. The CLI scenarios run the
console script's code path (``python -m vllm_client``) against a mock server this script
starts (and stops) on a free loopback port. Nothing is asserted.

    .venv/bin/python benchmarks/import_time.py [--runs 15] [--top 15] [--bytecode cached|none]

``--top N`` also prints the N modules with the largest self time (``-X importtime``,
median over 5 runs) under ``import vllm_client; VllmClient(...)``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

#: Environment of the measured processes (set by --bytecode).
ENV: dict[str, str] = dict(os.environ)

_TIMED = (
    "import time\nt0, c0 = time.perf_counter(), time.process_time()\n{code}\n"
    "t1, c1 = time.perf_counter(), time.process_time()\nimport sys\n"
    "print((t1 - t0) * 1000, (c1 - c0) * 1000, 'aiohttp' in sys.modules, 'asyncio' in sys.modules)"
)

SCENARIOS: dict[str, str] = {
    "python -c pass (interpreter)": "",
    "import vllm_client": "import vllm_client",
    "import vllm_client; VllmClient(url)": "import vllm_client\nvllm_client.VllmClient('http://127.0.0.1:9/v1')",
    "import vllm_client; AsyncVllmClient(url)": (
        "import vllm_client\nvllm_client.AsyncVllmClient('http://127.0.0.1:9/v1')"
    ),
    "every public name (old eager import)": (
        "import vllm_client\n[getattr(vllm_client, n) for n in vllm_client.__all__]"
    ),
    "import aiohttp (reference)": "import aiohttp",
}

CLI: dict[str, list[str]] = {
    "vllm-client --help": ["--help"],
    "vllm-client --version": ["--version"],
    "vllm-client version (mock server)": ["version", "--base-url", "{url}"],
    "vllm-client models (mock server)": ["models", "--base-url", "{url}"],
}


def run_timed(code: str) -> tuple[float, float, float, str]:
    """(in-process wall ms, in-process CPU ms, process wall ms, loaded-modules note) of
    one fresh interpreter."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _TIMED.format(code=code)], capture_output=True, text=True,
                         check=True, env=ENV).stdout.split()
    wall = (time.perf_counter() - t0) * 1000
    note = ", ".join(name for name, flag in (("aiohttp", out[2]), ("asyncio", out[3])) if flag == "True")
    return float(out[0]), float(out[1]), wall, note


def run_cli(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vllm_client", *args], capture_output=True, check=True, env=ENV)
    return (time.perf_counter() - t0) * 1000


def start_mock() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "vllm_client", "mock-server", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENV)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url:
        proc.kill()
        raise SystemExit("the mock server did not start")
    return proc, url


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} [{min(values):.1f}-{max(values):.1f}]"


def importtime_top(n: int, runs: int = 5) -> None:
    """Median self time per module of ``import vllm_client; VllmClient(...)``."""
    code = SCENARIOS["import vllm_client; VllmClient(url)"]
    samples: dict[str, list[int]] = {}
    for _ in range(runs):
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                             check=True, env=ENV).stderr
        for line in err.splitlines()[1:]:
            _, self_us, _, name = (part.strip() for part in line.replace("|", ":", 2).split(":", 3))
            samples.setdefault(name, []).append(int(self_us))
    med = sorted(((statistics.median(v), k) for k, v in samples.items()), reverse=True)
    total = sum(m for m, _ in med)
    print(f"\n-X importtime, import vllm_client + VllmClient(): {len(med)} modules, "
          f"sum of median self times {total / 1000:.1f} ms; top {n}:")
    for us, name in med[:n]:
        print(f"  {us / 1000:6.2f} ms  {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("--no-cli", action="store_true")
    ap.add_argument("--bytecode", choices=("cached", "none"), default="cached",
                    help="cached: .pyc files as an installed package has them (kept under a temp "
                         "PYTHONPYCACHEPREFIX); none: PYTHONDONTWRITEBYTECODE=1, every import compiles")
    args = ap.parse_args()
    if args.bytecode == "cached":
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        ENV["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "vllm-client-import-bench-pyc")
        for code in SCENARIOS.values():  # write the caches
            run_timed(code)
    else:
        ENV["PYTHONDONTWRITEBYTECODE"] = "1"
        ENV.pop("PYTHONPYCACHEPREFIX", None)

    inproc: dict[str, list[float]] = {k: [] for k in SCENARIOS}
    cpu: dict[str, list[float]] = {k: [] for k in SCENARIOS}
    wall: dict[str, list[float]] = {k: [] for k in SCENARIOS}
    notes: dict[str, str] = {}
    cli: dict[str, list[float]] = {k: [] for k in CLI}
    mock, url = (None, "") if args.no_cli else start_mock()
    try:
        for cli_args in CLI.values():  # warm the .pyc caches once
            if not args.no_cli:
                run_cli([a.format(url=url) for a in cli_args])
        for _ in range(args.runs):
            for name, code in SCENARIOS.items():
                ms, c, w, notes[name] = run_timed(code)
                inproc[name].append(ms)
                cpu[name].append(c)
                wall[name].append(w)
            if not args.no_cli:
                for name, cli_args in CLI.items():
                    cli[name].append(run_cli([a.format(url=url) for a in cli_args]))
    finally:
        if mock is not None:
            mock.terminate()
            mock.wait(10)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, bytecode {args.bytecode}, {args.runs} fresh "
          f"processes per row, load average {os.getloadavg()[0]:.2f}")
    print("\n| scenario | in-process wall ms, median [min-max] | in-process CPU ms | process wall ms | loaded |"
          "\n|---|---:|---:|---:|---|")
    for name in SCENARIOS:
        print(f"| {name} | {fmt(inproc[name])} | {fmt(cpu[name])} | {fmt(wall[name])} | {notes[name] or '-'} |")
    if not args.no_cli:
        print("\n| CLI (python -m vllm_client ...) | process wall ms, median [min-max] |\n|---|---:|")
        for name in CLI:
            print(f"| {name} | {fmt(cli[name])} |")
    if args.top:
        importtime_top(args.top)


if __name__ == "__main__":
    main()
