"""``vllm-client batch`` killed with SIGKILL at random moments, then re-run: every input
line ends with exactly one output line, none torn, in input order, and a line already
written is never sent again. The runner and the emulator are separate processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import chat_line, check_shape, read_output, write_input

HERE = Path(__file__).parent
LINES = 2000
KILLS = 10

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def complete_ids(path: Path) -> set[str]:
    """custom_ids of the complete lines in the output now (a torn last line excluded)."""
    data = path.read_bytes() if path.exists() else b""
    return {json.loads(line)["custom_id"] for line in data[: data.rfind(b"\n") + 1].splitlines()}


def test_kill_9_at_random_moments_then_every_line_exactly_once(tmp_path: Path) -> None:
    seed = int(os.environ.get("BATCH_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    inp = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(LINES)])
    out = tmp_path / "out.jsonl"
    counts_path = tmp_path / "counts.json"
    server = subprocess.Popen([sys.executable, str(HERE / "mock_process.py"), str(counts_path), "0.003"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        cmd = [sys.executable, "-m", "vllm_client", "batch", str(inp), str(out), "--base-url", url, "-c", "16", "-q"]
        estimate = LINES * 900  # bytes of a full output, roughly
        written_at_kill: list[set[str]] = []
        while len(written_at_kill) < KILLS:
            target = size(out) + rng.randint(estimate // 60, estimate // 20)
            proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            while size(out) < target and proc.poll() is None:
                assert time.monotonic() < deadline, f"no progress (seed {seed})"
                time.sleep(0.001)
            if proc.poll() is not None:
                break  # finished before this kill: the checks below still hold
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            written_at_kill.append(complete_ids(out))
            if rng.random() < 0.4:  # a torn write at the moment of the kill
                with open(out, "ab") as f:
                    f.write(b'{"id":"vllm-batch-'[: rng.randint(1, 18)])
        final = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        assert final.returncode == 0, final.stderr.decode()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert len(written_at_kill) >= KILLS // 2, f"the runs finished too fast to be killed (seed {seed})"
    records = read_output(out)
    assert [r["custom_id"] for r in records] == [f"r{i}" for i in range(LINES)], f"seed {seed}"
    run_ids = {r["id"].rsplit("-", 1)[0] for r in records}
    assert len(run_ids) == 1 and [int(r["id"].rsplit("-", 1)[1]) for r in records] == list(range(LINES))
    for r in records:
        check_shape(r)
        assert r["response"]["status_code"] == 200
    counts = json.loads(counts_path.read_text())
    for i in range(LINES):
        cid = f"r{i}"
        misses = sum(cid not in done for done in written_at_kill)  # kills before this line was written
        assert 1 <= counts[f"prompt {cid}"] <= 1 + misses, (cid, counts[f"prompt {cid}"], misses, seed)
