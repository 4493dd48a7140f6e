"""bench against the emulator: every workload, the sync and async runners, every error kind
(from the emulator's faults), cap queueing, /metrics deltas, the self-audit of a starved
client, and the CLI. Assertions are about counts, kinds and orderings, never timings."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from vllm_client import AsyncVllmClient, VllmClient
from vllm_client.bench import BenchConfig, BenchResult, Limits, Load, Workload, arun_bench, run_bench
from vllm_client.testing import MockVllmServer
from vllm_client.testing._faults import (
    DropConnection,
    HttpError,
    StreamDrop,
    StreamErrorFrame,
    StreamMalformed,
    StreamNoDone,
    StreamStall,
)

CHAT = "/v1/chat/completions"


def _config(dataset: str = "random", n: int = 6, **kw: Any) -> BenchConfig:
    load = kw.pop("load", None) or Load(rate=float("inf"), max_concurrency=3, num_requests=n)
    return BenchConfig(workload=Workload(dataset, input_len=kw.pop("input_len", 24), output_len=kw.pop("output_len", 8),
                                         **kw.pop("workload", {})),
                       load=load, bootstrap=50, scrape_interval=0.0, **kw)


def _prompts_file(tmp_path: Path, n: int = 4) -> str:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"question {i}", "output_tokens": 6}) + "\n" for i in range(n)))
    return f"prompts:{path}"


@pytest.fixture
def server() -> Any:
    with MockVllmServer(token_rate=5000) as srv:
        yield srv


def _sync(srv: MockVllmServer, config: BenchConfig) -> BenchResult:
    with VllmClient(srv.base_url) as client:
        return run_bench(client, config, progress=False)


async def _async(srv: MockVllmServer, config: BenchConfig) -> BenchResult:
    async with AsyncVllmClient(srv.base_url) as client:
        return await arun_bench(client, config, progress=False)


# -- workloads ------------------------------------------------------------------------------


async def test_random_prompts_have_the_exact_prompt_length_and_answers_the_asked_length(server: Any) -> None:
    result = await _async(server, _config("random", n=5, input_len=40, output_len=12))
    assert result["completed"] == 5 and result["failed"] == 0
    for r in result.records:
        assert r.input_tokens == 40  # usage.prompt_tokens of the templated chat prompt
        assert r.output_tokens == 12 and r.finish_reason == "length"
        assert sum(r.chunk_tokens) == 12 and len(r.itl_s) == 11  # per token, from continuous usage
        assert r.first_token_s is not None and r.start_s is not None and r.first_token_s > r.start_s
    assert result["total_output_tokens"] == 60
    sent = [req for req in server.requests if req.path == CHAT]
    assert all(json.loads(req.body)["ignore_eos"] is True for req in sent)
    assert all(json.loads(req.body)["stream_options"]["continuous_usage_stats"] for req in sent)


def test_sync_runner_gives_the_same_counts(server: Any) -> None:
    result = _sync(server, _config("random", n=4, input_len=30, output_len=5, load=Load(rate=50, num_requests=4)))
    assert result["completed"] == 4
    assert [r.input_tokens for r in result.records] == [30] * 4
    assert sorted(r.index for r in result.records) == [0, 1, 2, 3]


async def test_completions_endpoint_and_same_seed_same_prompts(server: Any) -> None:
    cfg = _config("random", n=3, workload={"endpoint": "completions"}, seed=7)
    await _async(server, cfg)
    first = [json.loads(r.body)["prompt"] for r in server.requests if r.path == "/v1/completions"]
    await _async(server, cfg)
    both = [json.loads(r.body)["prompt"] for r in server.requests if r.path == "/v1/completions"]
    assert len(first) == 3 and sorted(first) == sorted(both[3:])
    await _async(server, _config("random", n=3, workload={"endpoint": "completions"}, seed=8))
    other = [json.loads(r.body)["prompt"] for r in server.requests if r.path == "/v1/completions"][6:]
    assert sorted(other) != sorted(first)


async def test_shared_prefix_prompts_share_their_prefixes(server: Any) -> None:
    result = await _async(server, _config("shared-prefix", n=6, workload={"prefix_len": 30, "num_prefixes": 2}))
    assert result["completed"] == 6
    texts = [json.loads(r.body)["messages"][0]["content"] for r in server.requests if r.path == CHAT]
    heads = {t[:40] for t in texts}
    assert len(heads) == 2


async def test_multi_turn_history_grows_and_cold_warm_ttft_apart(server: Any) -> None:
    cfg = _config("multi-turn", n=6, workload={"turns": 3}, load=Load(users=2, num_requests=6))
    result = await _async(server, cfg)
    assert result["completed"] == 6
    assert {(r.session, r.turn) for r in result.records} == {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)}
    sizes = sorted(len(json.loads(r.body)["messages"]) for r in server.requests if r.path == CHAT)
    assert sizes == [1, 1, 3, 3, 5, 5]
    assert result["ttft_cold_ms"]["median"] is not None and result["ttft_warm_ms"]["median"] is not None


async def test_file_datasets(server: Any, tmp_path: Path) -> None:
    share = tmp_path / "sg.json"
    share.write_text(json.dumps([{"conversations": [{"from": "human", "value": "hello there"},
                                                     {"from": "gpt", "value": "general kenobi you are bold"}]}] * 3))
    batch = tmp_path / "b.jsonl"
    batch.write_text("".join(json.dumps({"custom_id": f"c{i}", "method": "POST", "url": CHAT, "body": {
        "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "temperature": 0}}) + "\n" for i in range(3)))
    for dataset, n in ((f"sharegpt:{share}", 3), (f"batch:{batch}", 3), (_prompts_file(tmp_path), 4)):
        cfg = BenchConfig(workload=Workload(dataset), load=Load(max_concurrency=2, num_requests=n), bootstrap=0,
                          scrape_interval=0.0)
        result = await _async(server, cfg)
        assert result["completed"] == n, (dataset, result["errors"])
    last = [json.loads(r.body) for r in server.requests if r.path == CHAT][-4:]
    assert all(b["max_tokens"] == 6 for b in last)  # prompts: output_tokens from the file
    assert "ignore_eos" not in last[0]  # files: natural answers by default


# -- load -------------------------------------------------------------------------------------


async def test_cap_queueing_is_measured_and_reported() -> None:
    with MockVllmServer(token_rate=400) as srv:
        cfg = _config("random", n=6, output_len=20, load=Load(rate=float("inf"), max_concurrency=2, num_requests=6))
        result = await _async(srv, cfg)
    assert result["completed"] == 6 and result["max_concurrent_requests"] == 2
    queued = [r.queue_s for r in result.records if r.queue_s]
    assert len(queued) >= 3  # 4 of 6 waited for a slot
    late = [r for r in result.records if r.queue_s]
    assert all(r.ttft_from_scheduled_s > r.ttft_s for r in late)  # type: ignore[operator]
    assert result["queue_ms"]["p99"] > 0


async def test_duration_mode_and_warmup_excluded(server: Any) -> None:
    cfg = _config("random", load=Load(rate=40, burstiness=float("inf"), num_requests=None, duration=0.5, warmup=2))
    result = await _async(server, cfg)
    kinds = [r.kind for r in result.records]
    assert kinds.count("warmup") == 2 and result["warmup"] == 2
    measured = [r for r in result.records if r.kind == "measured"]
    assert result["completed"] == len(measured) and 10 <= len(measured) <= 21  # one every 25 ms within 0.5 s
    assert max(r.scheduled_s for r in measured) <= 0.5


async def test_server_metrics_deltas_match_the_client(server: Any) -> None:
    cfg = _config("random", n=5)
    cfg.scrape_interval = 0.05
    result = await _async(server, cfg)
    sm = result["server_metrics"]
    assert sm["scrapes"] >= 2
    assert sm["deltas"]["generation_tokens"] == result["total_output_tokens"]
    assert sm["deltas"]["request_success"] == 5
    assert "running" in sm["series"]


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "kind", "limits"), [
    (HttpError(503, message="engine overloaded"), "http_503", None),
    (StreamErrorFrame(after_chunks=3, message="engine died"), "stream_error_frame", None),
    (StreamDrop(after_chunks=3), "broken_stream", None),
    (StreamNoDone(), "incomplete_stream", None),
    (StreamMalformed(after_chunks=2), "malformed_stream", None),
    (StreamStall(after_chunks=3, seconds=5), "idle_timeout", Limits(idle=0.3)),
    (StreamStall(after_chunks=1, seconds=5), "first_token_timeout", Limits(first_token=0.3)),
    (DropConnection(), "connect_error", None),
])
async def test_every_error_kind_is_a_failure_counted_by_kind(tmp_path: Path, fault: Any, kind: str,
                                                             limits: Limits | None) -> None:
    with MockVllmServer(token_rate=2000) as srv:
        srv.add_fault(fault, times=1, path=CHAT)
        cfg = BenchConfig(workload=Workload(_prompts_file(tmp_path, 3), output_len=8),
                          load=Load(max_concurrency=1, num_requests=3), limits=limits or Limits(), bootstrap=0,
                          scrape_interval=0.0, slos={"ttft": 10.0})
        result = await _async(srv, cfg)
    assert result["failed"] == 1 and result["completed"] == 2, result["errors"]
    assert result["errors"] == {kind: 1}
    failed = next(r for r in result.records if not r.ok)
    assert failed.error_kind == kind and failed.error
    assert result["goodput_fraction"] == pytest.approx(2 / 3)  # the failure counts against goodput
    if kind == "http_503":
        assert failed.status == 503 and "engine overloaded" in failed.error
    if kind == "stream_error_frame":
        assert "engine died" in failed.error and failed.first_token_s is not None  # failed after tokens


async def test_truncation_is_a_failure() -> None:
    with MockVllmServer(max_model_len=60, token_rate=5000) as srv:
        result = await _async(srv, _config("random", n=2, input_len=40, output_len=50))
    assert result["errors"] == {"truncated": 2}
    assert all(r.finish_reason == "length" and (r.output_tokens or 0) < 50 for r in result.records)


async def test_unreachable_server_fails_every_request_as_connect_error(tmp_path: Path) -> None:
    cfg = BenchConfig(workload=Workload(_prompts_file(tmp_path, 2), model="m"), load=Load(num_requests=2),
                      bootstrap=0, scrape_metrics=False)
    async with AsyncVllmClient("http://127.0.0.1:9") as client:
        result = await arun_bench(client, cfg, progress=False)
    assert result["errors"] == {"connect_error": 2} and result["completed"] == 0


# -- the self-audit ---------------------------------------------------------------------------------


async def test_a_starved_client_is_marked_invalid(server: Any) -> None:
    """A progress callback that blocks the event loop starves the dispatcher: requests due
    meanwhile go out late, and the result says so."""
    load = Load(rate=100, burstiness=float("inf"), num_requests=180)  # 1.8 s: the callback runs once a second

    def block(snapshot: dict[str, Any]) -> None:
        time.sleep(0.3)

    async with AsyncVllmClient(server.base_url) as client:
        starved = await arun_bench(client, _config(load=load), progress=block)
        healthy = await arun_bench(client, _config(load=load), progress=False)
    assert not starved.valid and starved.invalid_reason and "dispatch lag" in starved.invalid_reason
    assert starved["dispatch_lag_ms"]["p99"] > healthy["dispatch_lag_ms"]["p99"]
    assert starved["event_loop_lag_ms"]["p99"] > healthy["event_loop_lag_ms"]["p99"]


# -- the CLI -----------------------------------------------------------------------------------------


def test_cli_bench_serve_writes_the_result_and_the_records(server: Any, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vllm_client.cli._commands import load

    out, reqs = tmp_path / "r.json", tmp_path / "r.jsonl"
    args = ["bench", "serve", "--base-url", server.base_url, "-n", "5", "--input-len", "20", "--output-len", "6",
            "--rate", "200", "-c", "4", "--slo", "ttft=5", "--seed", "1", "--result", str(out), "--requests",
            str(reqs), "--progress", "none", "--scrape-interval", "0"]
    res = CliRunner().invoke(load(args), args)
    assert res.exit_code in (0, 3), res.output  # 3: invalid (a noisy machine may starve the client)
    data = json.loads(out.read_text())
    assert data["completed"] == 5 and data["config"]["seed"] == 1 and data["slos"] == {"ttft": 5.0}
    lines = [json.loads(line) for line in reqs.read_text().splitlines()]
    assert len(lines) == 5 and {"ttft_s", "itl_s", "chunk_times_s", "error_kind"} <= set(lines[0])
    assert "Successful requests" in res.output and "TTFT" in res.output


def test_workers_spread_one_run_over_processes(server: Any) -> None:
    cfg = _config("random", n=12, load=Load(rate=60, max_concurrency=4, num_requests=12))
    cfg.workers = 2
    with VllmClient(server.base_url) as client:
        result = run_bench(client, cfg, progress=False)
    assert result["completed"] == 12 and result["workers"] == 2
    assert {r.worker for r in result.records} == {0, 1}
    assert sorted(r.index for r in result.records) == list(range(12))
    assert len(result["client_cpu_util_per_worker"]) == 2
    assert result["server_metrics"]["deltas"]["generation_tokens"] == result["total_output_tokens"]


async def test_responses_endpoint(server: Any) -> None:
    result = await _async(server, _config("random", n=3, input_len=30, output_len=6,
                                          workload={"endpoint": "responses"}))
    assert result["completed"] == 3, result["errors"]
    assert all(r.output_tokens == 6 and r.input_tokens == 30 and r.finish_reason == "length" for r in result.records)
    assert all(r.ttft_s is not None and len(r.itl_s) == 5 for r in result.records)
    sent = [json.loads(r.body) for r in server.requests if r.path == "/v1/responses"]
    assert len(sent) == 3 and all(b["max_output_tokens"] == 6 and "stream_options" not in b for b in sent)


async def test_several_servers_share_the_load_and_each_is_scraped() -> None:
    with MockVllmServer(token_rate=5000) as a, MockVllmServer(token_rate=5000) as b:
        async with AsyncVllmClient([a.base_url, b.base_url]) as client:
            result = await arun_bench(client, _config("random", n=8, workload={"model": "mock-model"}),
                                      progress=False)
        served = [sum(1 for r in s.requests if r.path == CHAT) for s in (a, b)]
    assert result["completed"] == 8 and sum(served) == 8 and min(served) > 0
    assert set(result["server_metrics"]) == {a.base_url, b.base_url}
    assert sum(m["deltas"]["request_success"] for m in result["server_metrics"].values()) == 8
    assert result["routing"] == "least_outstanding"
    assert {r.server for r in result.records} == {a.base_url, b.base_url}  # each record says where it went


async def test_multi_turn_sessions_stay_on_one_server_with_session_affinity() -> None:
    with MockVllmServer(token_rate=5000) as a, MockVllmServer(token_rate=5000) as b:
        async with AsyncVllmClient([a.base_url, b.base_url], routing="session_affinity") as client:
            cfg = _config("multi-turn", n=12, workload={"model": "mock-model", "turns": 3, "think_time": 0.0},
                          load=Load(users=4, num_requests=12))
            result = await arun_bench(client, cfg, progress=False)
        sent = {s.base_url: [r.headers.get("x-session-id") for r in s.requests if r.path == CHAT] for s in (a, b)}
    assert result["completed"] == 12 and result["routing"] == "session_affinity"
    homes: dict[int | None, set[str | None]] = {}
    for r in result.records:
        homes.setdefault(r.session, set()).add(r.server)
    assert len(homes) >= 4 and all(len(h) == 1 for h in homes.values())  # a conversation keeps its server
    ids = [i for ids in sent.values() for i in ids]
    assert len(ids) == 12 and all(i and i.startswith("bench-0-") for i in ids)  # X-Session-ID on every turn


async def test_ttft_counts_the_first_real_token_not_the_role_chunk(tmp_path: Path) -> None:
    """The role chunk arrives at once, the first token 0.3 s later (a stall between them):
    TTFT cannot be below 0.3 s unless the role chunk was counted (vllm bench serve's way)."""
    with MockVllmServer(token_rate=5000) as srv:
        srv.add_fault(StreamStall(after_chunks=1, seconds=0.3), times=1, path=CHAT)
        cfg = BenchConfig(workload=Workload(_prompts_file(tmp_path, 1), output_len=4), load=Load(num_requests=1),
                          bootstrap=0, scrape_metrics=False)
        result = await _async(srv, cfg)
    rec = result.records[0]
    assert rec.ok and rec.ttft_s is not None and rec.ttft_s >= 0.3


async def test_a_token_whose_text_is_empty_still_counts(tmp_path: Path) -> None:
    """vLLM sends a token whose text is not yet whole UTF-8 as ``content: ""`` (the real
    capture has one mid-stream); when that is the last token, the finish chunk has no text.
    The running usage still counts it: every token is in ``chunk_tokens``, none dropped."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "golden"))
    from golden_fixtures import load_fixture

    from vllm_client.testing import RawResponse

    body: str = load_fixture("chat_stream_continuous_usage")["response"]["body"]
    events = [e for e in body.split("\n\n") if e]
    last = next(i for i, e in enumerate(events) if '"finish_reason":"length"' in e)
    events[last] = re.sub(r'"content":"[^"]*"', '"content":""', events[last])
    assert '"content":""' in events[3] and '"content":""' in events[last]  # mid-stream and last
    reply = RawResponse(200, {"content-type": "text/event-stream"}, [(e + "\n\n").encode() for e in events],
                        interval=0.02)
    with MockVllmServer() as srv:
        srv.queue_reply(reply, path=CHAT)
        path = tmp_path / "one.jsonl"
        path.write_text(json.dumps({"prompt": "q", "output_tokens": 6}) + "\n")
        cfg = BenchConfig(workload=Workload(f"prompts:{path}", model="tiny"), load=Load(num_requests=1),
                          bootstrap=0, scrape_metrics=False)
        result = await _async(srv, cfg)
    rec = result.records[0]
    assert rec.ok and rec.output_tokens == 6
    assert sum(rec.chunk_tokens) == 6 and len(rec.itl_s) == 5


async def test_credentials_in_the_base_url_stay_out_of_the_result() -> None:
    with MockVllmServer(token_rate=5000) as srv:
        url = srv.base_url.replace("http://", "http://alice:s3cret@") + "?token=t0ps3cret"
        async with AsyncVllmClient(url) as client:
            result = await arun_bench(client, _config("random", n=2, workload={"model": "mock-model"}),
                                      progress=False)
    assert result["completed"] == 2
    text = json.dumps(result.to_dict()) + "".join(json.dumps(r.to_dict()) for r in result.records)
    assert "s3cret" not in text and "token=***" in text  # shown redacted, as everywhere else
