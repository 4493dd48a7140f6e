"""Client-side routing on two real vLLM servers (variants ``fleet`` and ``fleet2``: 28 KV
blocks of 128 tokens each, cached_tokens in usage): ``prefix_affinity`` keeps each system
prompt's blocks on one server, so its pooled prefix-cache hit ratio (from ``/metrics``
deltas) beats round robin and comes near an oracle's, with a balanced split; ``X-Session-ID``
stickiness shows in the servers' own request counters. Bounded (3 x 200 requests of
``max_tokens=1``); relative assertions only. The full table: benchmarks/fleet_prefix.py."""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from vllm_client import VllmClient

from .harness import server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import fleet_prefix

pytestmark = [pytest.mark.vllm, pytest.mark.vllm_variant("fleet")]


@pytest.fixture
def two(vllm_servers: Any) -> list[Any]:
    return list(vllm_servers("fleet", 2))  # two replicas of the variant, up at once


def test_prefix_affinity_near_the_oracle_and_above_round_robin(two: list[Any]) -> None:
    urls = [s.base_url for s in two]
    rng = random.Random(5)
    prompts = fleet_prefix.system_prompts(two[0].url, 12, 512, rng)
    work = fleet_prefix.workload(prompts, 200, rng)
    rows = {mode: asyncio.run(fleet_prefix.run_mode(mode, urls, prompts, work, f"ci-{mode}-{rng.random()}", 4))
            for mode in ("round_robin", "oracle", "prefix_affinity")}
    rr, oracle, pa = (rows[m]["hit_ratio"] for m in ("round_robin", "oracle", "prefix_affinity"))
    assert all(r["failed"] == 0 for r in rows.values())
    assert oracle > rr  # the workload does separate the policies (12 prompts do not fit one server)
    assert pa >= 0.85 * oracle, rows
    assert pa > rr, rows
    served = rows["prefix_affinity"]["served"]
    assert max(served) <= 0.65 * sum(served), served


def test_session_id_sticks_to_one_server_by_the_servers_counters(two: list[Any]) -> None:
    roots = [s.url for s in two]
    client = VllmClient([s.base_url for s in two], routing="session_affinity", timeout=120)
    before = fleet_prefix.snapshot(roots)
    with client:
        answers = {client.chat.completions.create(messages=[{"role": "user", "content": f"hi {k}"}], model="tiny",
                                                  max_tokens=1, session_id="user-42").server for k in range(6)}
    after = fleet_prefix.snapshot(roots)
    served = [a[2] - b[2] for a, b in zip(after, before, strict=True)]
    assert len(answers) == 1 and sorted(served) == [0, 6]


def test_a_server_stopped_mid_run_then_restarted(two: list[Any]) -> None:
    """The failure drill (benchmarks/fleet_prefix.py --drill): server 2 stopped while 80
    non-streamed requests run from 4 threads, then started again on its port."""
    prompts = fleet_prefix.system_prompts(two[0].url, 4, 128, random.Random(2))
    try:
        row = fleet_prefix.drill([s.base_url for s in two], [s.port for s in two], prompts, random.Random(3),
                                 health_check_interval=1.0)
    finally:
        server.stop(two[1].port)  # the restarted one (the manager restarts its replica when asked again)
    assert row["failed_non_stream"] == 0, row["failures"]
    assert row["breaker_after_stop"] == "open" and row["requests_to_b_after_stop"] == 0, row
    assert row["probes_until_closed"] == 1 and row["final_state"] == "closed", row  # one probe, then closed
    assert row["requests_to_b_after_restart"] >= 3, row  # traffic returns (least outstanding: about half)
