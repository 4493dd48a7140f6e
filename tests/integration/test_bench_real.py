"""bench against REAL vLLM 0.32 (the tiny model on the CPU): a short run of each workload,
exact prompt lengths through the server's own tokenizer, multi-turn prefix-cache reuse,
and the /metrics deltas beside the client's counts. Counts and presence only, no timings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from vllm_client.bench import BenchConfig, BenchResult, Load, Workload, arun_bench, run_bench

if TYPE_CHECKING:
    from .conftest import RealServer


def _cfg(dataset: str, n: int = 4, **workload: Any) -> BenchConfig:
    load = workload.pop("load", None) or Load(rate=20.0, max_concurrency=4, num_requests=n)
    return BenchConfig(workload=Workload(dataset, **workload), load=load, bootstrap=100, scrape_interval=0.5)


async def _run(server: RealServer, config: BenchConfig) -> BenchResult:
    async with server.aclient() as client:
        return await arun_bench(client, config, progress=False)


def _no_failures(result: BenchResult, n: int) -> None:
    assert result["failed"] == 0, result["errors"]
    assert result["completed"] == n


async def test_random_chat_exact_lengths_and_metrics_deltas(vllm_plain: RealServer) -> None:
    result = await _run(vllm_plain, _cfg("random", n=6, input_len=64, output_len=8))
    _no_failures(result, 6)
    assert [r.input_tokens for r in result.records] == [64] * 6  # usage.prompt_tokens, chat template included
    assert [r.output_tokens for r in result.records] == [8] * 6  # ignore_eos
    for r in result.records:
        assert sum(r.chunk_tokens) == 8 and len(r.itl_s) == 7  # continuous usage: tokens per read
        assert r.ttft_s is not None and r.tpot_s is not None
    sm = result["server_metrics"]
    assert sm is not None and sm["scrapes"] >= 2
    assert sm["deltas"]["generation_tokens"] == result["total_output_tokens"] == 48
    assert sm["deltas"]["prompt_tokens"] == 6 * 64
    assert sm["deltas"]["prefix_cache_queries"] is not None and "running" in sm["series"]
    for key in ("p99_ttft_ms", "median_tpot_ms", "mean_itl_ms", "p90_e2el_ms", "request_throughput"):
        assert result[key] is not None and result[key] > 0


def test_random_completions_sync(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        result = run_bench(client, _cfg("random", n=3, input_len=40, output_len=6, endpoint="completions"),
                           progress=False)
    _no_failures(result, 3)
    assert {r.output_tokens for r in result.records} == {6}
    assert all(r.input_tokens is not None and abs(r.input_tokens - 40) <= 1 for r in result.records)


async def test_shared_prefix_hits_the_prefix_cache(vllm_plain: RealServer) -> None:
    # prefixes of several KV blocks (the CPU backend caches whole blocks of 128 tokens)
    cfg = _cfg("shared-prefix", n=8, input_len=16, output_len=4, prefix_len=400, num_prefixes=2,
               load=Load(max_concurrency=1, num_requests=8))
    result = await _run(vllm_plain, cfg)
    _no_failures(result, 8)
    sm = result["server_metrics"]
    assert sm["deltas"]["prefix_cache_hits"] > 0 and sm["prefix_cache_hit_rate"] > 0


async def test_multi_turn_warm_turns_reuse_the_cached_history(vllm_plain: RealServer) -> None:
    cfg = _cfg("multi-turn", n=6, input_len=200, output_len=8, turns=3, think_time=0.05,
               load=Load(users=2, num_requests=6))
    result = await _run(vllm_plain, cfg)
    _no_failures(result, 6)
    assert result["ttft_cold_ms"]["median"] is not None and result["ttft_warm_ms"]["median"] is not None
    by_session: dict[int, list[int]] = {}
    for r in sorted(result.records, key=lambda r: (r.session or 0, r.turn or 0)):
        by_session.setdefault(r.session or 0, []).append(r.input_tokens or 0)
    assert all(a < b < c for a, b, c in by_session.values())  # the history grows turn by turn
    assert result["server_metrics"]["deltas"]["prefix_cache_hits"] > 0  # warm turns hit the cache


async def test_file_datasets(vllm_plain: RealServer, tmp_path: Path) -> None:
    share = tmp_path / "sg.json"
    share.write_text(json.dumps([{"conversations": [{"from": "human", "value": f"Tell me about topic {i}."},
                                                     {"from": "gpt", "value": "Topic facts " * (i + 2)}]}
                                 for i in range(3)]))
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps({"custom_id": f"c{i}", "method": "POST", "url": "/v1/completions",
                                         "body": {"prompt": f"Count {i}", "max_tokens": 5}}) + "\n"
                             for i in range(3)))
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"Say {i}", "output_tokens": 5}) + "\n" for i in range(3)))
    for dataset in (f"sharegpt:{share}", f"batch:{batch}", f"prompts:{prompts}"):
        result = await _run(vllm_plain, _cfg(dataset, n=3, ignore_eos=True))
        _no_failures(result, 3)
        if dataset.startswith("sharegpt"):  # asked: the gpt answer's token count
            assert all((r.expected_output_tokens or 0) > 2 for r in result.records)


async def test_an_error_status_keeps_the_servers_message(vllm_plain: RealServer) -> None:
    cfg = _cfg("random", n=2, input_len=64, output_len=4000)  # past max_model_len 2048: vLLM answers 400
    result = await _run(vllm_plain, cfg)
    assert result["errors"] == {"http_400": 2}
    failed = result.records[0]
    assert failed.status == 400 and failed.error and "2048" in failed.error


@pytest.mark.parametrize("rate", [float("inf")])
async def test_capped_burst_reports_queueing(vllm_plain: RealServer, rate: float) -> None:
    result = await _run(vllm_plain, _cfg("random", n=6, input_len=32, output_len=16,
                                         load=Load(rate=rate, max_concurrency=2, num_requests=6)))
    _no_failures(result, 6)
    assert result["max_concurrent_requests"] <= 2 and result["queue_ms"]["p99"] > 0
