"""The rig shared by bench_agreement.py and bench_capacity.py: one dataset file both tools read,
``vllm bench serve`` (the anchor, vLLM 0.32 in the integration harness's venv) and
``vllm-client bench serve`` run as fresh processes with their CPU measured (``os.wait4``),
and their result JSONs reduced to the same few numbers.

The dataset is the format of vLLM's ``custom`` dataset, ``{"prompt", "output_tokens"}`` per
line, which our ``prompts:PATH`` reads too; vLLM runs with ``--disable-shuffle`` (same order)
and ``--skip-chat-template`` (the chat endpoint applies the template, as for ours).

vLLM's ``custom`` dataset loads the file with pandas, which the harness venv lacks (vllm[bench]
is not installed there); it is installed once into its own directory
(``~/.cache/vllm-client/bench-pandas``, numpy excluded so the venv's own is used) and put on
``PYTHONPATH`` for the anchor's runs only: the shared venv is not modified.

Dispatch lag of the anchor: it records ``start_times`` (``perf_counter`` when each request
task began) but not when each was due. With ``--burstiness inf`` the schedule is exact:
request ``i`` is due at ``T0 + (i + 1) / rate`` (its normalisation factor is 1), so the lag is
``start_i - (i + 1) / rate - T0`` with ``T0`` the minimum over ``i`` of
``start_i - (i + 1) / rate``: the least-late request is taken as on time, which makes the
estimate a lower bound (by that request's lag, tens of microseconds on an idle loop). Ours
records scheduled and actual send times; the same estimator is applied to ours too, so the two
columns are computed alike.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REAL = Path(os.environ.get("VLLM_IT_HOME", Path.home() / ".cache" / "vllm-client" / "real-vllm"))
VLLM = REAL / "venv" / "bin" / "vllm"
TOKENIZER = REAL / "model"
PANDAS_DIR = Path.home() / ".cache" / "vllm-client" / "bench-pandas"

_WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wizards",
          "quietly", "judge", "boxing", "matches", "in", "old", "city", "near", "rivers", "and", "mountains",
          "under", "bright", "summer", "skies"]


def write_dataset(path: Path, n: int, output_tokens: int, *, words: int = 48, seed: int = 0) -> Path:
    """``n`` prompts of ``words`` seeded random words, each asking for ``output_tokens``."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            prompt = f"Request {i}: " + " ".join(rng.choice(_WORDS) for _ in range(words))
            f.write(json.dumps({"prompt": prompt, "output_tokens": output_tokens}) + "\n")
    return path


def ensure_pandas() -> Path:
    """pandas for vLLM's custom dataset, in its own directory (see the module docstring)."""
    if (PANDAS_DIR / "pandas").is_dir():
        return PANDAS_DIR
    python = VLLM.parent / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--target", str(PANDAS_DIR), "pandas"], check=True)
    for leftover in PANDAS_DIR.glob("numpy*"):
        subprocess.run(["rm", "-rf", str(leftover)], check=True)
    return PANDAS_DIR


def measure(cmd: Sequence[str], *, env: dict[str, str] | None = None, log: Path | None = None) -> dict[str, float]:
    """Run ``cmd`` to the end; its wall time and user+sys CPU (children included: wait4)."""
    start = time.perf_counter()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        tail = log.read_text()[-3000:] if log else ""
        raise RuntimeError(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(cmd)}\n{tail}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime}


def vllm_bench_serve(base_url: str, dataset: Path, out: Path, *, num_prompts: int, rate: float,
                     max_concurrency: int | None = None, model: str = "tiny", seed: int = 0,
                     detailed: bool = True, extra: Sequence[str] = (), wrapper: Sequence[str] = ()) -> dict[str, Any]:
    """One ``vllm bench serve`` run (openai-chat, streamed, ``--ignore-eos``, constant rate);
    its result JSON plus ``_process`` (wall, CPU) and ``_lag_ms`` (estimated, see above)."""
    cmd = [str(VLLM), "bench", "serve", "--backend", "openai-chat", "--base-url", base_url.removesuffix("/v1"),
           "--endpoint", "/v1/chat/completions", "--model", model, "--tokenizer", str(TOKENIZER),
           "--dataset-name", "custom", "--dataset-path", str(dataset), "--custom-output-len", "-1",
           "--skip-chat-template", "--disable-shuffle", "--num-prompts", str(num_prompts),
           "--request-rate", str(rate), "--burstiness", "inf", "--ignore-eos", "--seed", str(seed),
           "--percentile-metrics", "ttft,tpot,itl,e2el", "--metric-percentiles", "50,90,99",
           "--disable-tqdm", "--save-result", "--result-dir", str(out.parent), "--result-filename", out.name]
    if detailed:
        cmd.append("--save-detailed")
    if max_concurrency:
        cmd += ["--max-concurrency", str(max_concurrency)]
    cmd += list(extra)
    env = {**os.environ, "PYTHONPATH": str(ensure_pandas()), "VLLM_LOGGING_LEVEL": "WARNING"}
    process = measure([*wrapper, *cmd], env=env, log=out.with_suffix(".log"))
    result: dict[str, Any] = json.loads(out.read_text())
    result["_process"] = process
    if detailed and rate != float("inf"):
        result["_lag_ms"] = schedule_lag_ms(result.get("start_times") or [], rate)
    return result


def ours_bench_serve(base_url: str, dataset: Path, out: Path, *, num_prompts: int, rate: float,
                     max_concurrency: int | None = None, seed: int = 0, scrape: bool = True,
                     bootstrap: int = 1000, wrapper: Sequence[str] = (), event_loop: str = "asyncio",
                     continuous_usage: bool = True) -> dict[str, Any]:
    """One ``vllm_client.bench`` run (``_ours_run.py``, a fresh process) with the same dataset
    and load; its result JSON plus ``_process``, ``_records`` (the per-request JSONL lines) and
    ``_lag_ms`` (estimated like the anchor's, from the send times)."""
    requests = out.with_suffix(".jsonl")
    spec = {"base_url": base_url, "dataset": str(dataset), "num_requests": num_prompts, "rate": rate,
            "max_concurrency": max_concurrency, "seed": seed, "result": str(out), "requests": str(requests),
            "scrape": scrape, "bootstrap": bootstrap, "event_loop": event_loop,
            "continuous_usage": continuous_usage}
    spec_path = out.with_suffix(".spec.json")
    spec_path.write_text(json.dumps(spec))
    process = measure([*wrapper, sys.executable, str(Path(__file__).with_name("_ours_run.py")), str(spec_path)],
                      log=out.with_suffix(".log"))
    result: dict[str, Any] = json.loads(out.read_text())
    result["_process"] = process
    records = [json.loads(line) for line in requests.read_text().splitlines() if line.strip()]
    result["_records"] = records
    measured = sorted((r for r in records if r.get("kind") != "warmup"), key=lambda r: r["index"])
    if rate != float("inf"):
        result["_lag_ms"] = schedule_lag_ms([r["start_s"] for r in measured if r.get("start_s") is not None], rate)
    return result


def schedule_lag_ms(start_times: Sequence[float], rate: float) -> list[float]:
    """Lag of each send behind a constant-rate schedule whose origin is unknown (see above)."""
    if not start_times:
        return []
    offsets = [t - (i + 1) / rate for i, t in enumerate(start_times)]
    origin = min(offsets)
    return [1000.0 * (o - origin) for o in offsets]


def pct(samples: Sequence[float], q: float) -> float:
    """numpy's linear percentile (as both tools use)."""
    x = sorted(samples)
    if not x:
        return float("nan")
    h = (len(x) - 1) * q / 100
    lo = int(h)
    return x[lo] if lo + 1 >= len(x) else x[lo] + (h - lo) * (x[lo + 1] - x[lo])


def median(values: Sequence[float]) -> float:
    return pct(values, 50)


def spread(values: Sequence[float]) -> str:
    """``median (min-max)`` of repeated measurements."""
    if not values:
        return "-"
    return f"{median(values):.4g} ({min(values):.4g}-{max(values):.4g})"


class MockServer:
    """``vllm-client mock-server`` in its own process (its CPU is not the client's)."""

    def __init__(self, *, token_rate: float | None = None, model: str = "tiny", wrapper: Sequence[str] = (),
                 loop: str = "asyncio") -> None:
        cmd = [*wrapper, sys.executable, "-m", "vllm_client", "mock-server", "--port", "0", "--model", model,
               "--loop", loop]
        if token_rate:
            cmd += ["--token-rate", str(token_rate)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url:
            raise RuntimeError("the emulator did not start")

    def cpu_s(self) -> float:
        """The emulator's CPU so far (user + sys, from /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def __enter__(self) -> MockServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
