"""run_batch_ray on a local Ray (``ray.init(num_cpus=2)``): the merged output equals the
one-machine run's, and a Ray worker killed in the middle of a shard loses and duplicates
nothing (Ray re-runs the task, the task resumes its part file)."""

from __future__ import annotations

import collections
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_helpers import chat_line, read_output, run, write_input

from vllm_client.testing import MockVllmServer

try:
    import ray
except ImportError:  # pragma: no cover - depends on the environment
    ray = None

pytestmark = pytest.mark.skipif(
    ray is None, reason="RAY TESTS SKIPPED: Ray is not installed (pip install 'vllm-client[ray]' to run them)")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=150 << 20)
    try:
        yield
    finally:
        ray.shutdown()


def essence(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """A line without what differs between runs (ids, request ids, timestamps)."""
    out = []
    for r in records:
        if r["response"] is None:
            out.append((r["custom_id"], None, r["error"]["code"]))
        else:
            body = r["response"]["body"]
            content = body["choices"][0]["message"]["content"] if "choices" in body else body.get("error")
            out.append((r["custom_id"], r["response"]["status_code"], content))
    return out


def lines() -> list[Any]:
    out: list[Any] = [chat_line(f"r{i}") for i in range(120)]
    out[50] = chat_line("r3")  # a repeat across shards
    out[90] = "{broken"
    return out


def test_the_merged_output_equals_the_one_machine_run(local_ray: None, vllm_mock: MockVllmServer,
                                                      tmp_path: Path) -> None:
    from vllm_client.batch.ray import run_batch_ray

    inp = write_input(tmp_path / "in.jsonl", lines())
    single = run("async", vllm_mock.base_url, inp, tmp_path / "single.jsonl")
    merged = run_batch_ray([vllm_mock.base_url], inp, tmp_path / "ray.jsonl", shards=4, progress=False)
    assert essence(read_output(tmp_path / "ray.jsonl")) == essence(read_output(tmp_path / "single.jsonl"))
    assert (merged.total, merged.succeeded, merged.invalid) == (single.total, single.succeeded, single.invalid)
    assert merged.invalid == 2 and not (tmp_path / "ray.jsonl.parts").exists()
    again = run_batch_ray([vllm_mock.base_url], inp, tmp_path / "ray.jsonl", shards=4, progress=False)
    assert again.skipped == again.total == 120 and again.succeeded == 0
    resumed = run("sync", vllm_mock.base_url, inp, tmp_path / "ray.jsonl")  # an ordinary output for one machine
    assert resumed.skipped == 120


def _holder(path: str) -> int | None:
    """The pid of a process with ``path`` open (Linux /proc)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == path:
                    return int(pid)
            except OSError:
                continue
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker through /proc")
def test_a_worker_killed_mid_shard_loses_and_duplicates_nothing(local_ray: None, tmp_path: Path) -> None:
    from vllm_client.batch.ray import run_batch_ray

    with MockVllmServer(ttft=0.01) as server:
        inp = write_input(tmp_path / "in.jsonl", [chat_line(f"r{i}") for i in range(400)])
        out = tmp_path / "out.jsonl"
        result: dict[str, Any] = {}
        driver = threading.Thread(target=lambda: result.update(summary=run_batch_ray(
            [server.base_url], inp, out, shards=2, concurrency=4, progress=False)))
        driver.start()
        part = str(tmp_path / "out.jsonl.parts" / "part-00000.jsonl")
        deadline = time.monotonic() + 60
        victim = None
        while victim is None:
            assert time.monotonic() < deadline and driver.is_alive(), "the shard never got going"
            if os.path.exists(part) and os.path.getsize(part) > 20_000:
                victim = _holder(part)
            time.sleep(0.005)
        os.kill(victim, signal.SIGKILL)
        driver.join(timeout=120)
        assert not driver.is_alive()
        records = read_output(out)
        assert [r["custom_id"] for r in records] == [f"r{i}" for i in range(400)]
        assert all(r["response"]["status_code"] == 200 for r in records)
        sent = collections.Counter(r.json["messages"][0]["content"] for r in server.requests_to("/v1/chat/completions"))
        assert max(sent.values()) <= 2 and sum(sent.values()) < 400 + 50  # only lines in flight were sent twice
        assert result["summary"].succeeded + result["summary"].skipped == 400
