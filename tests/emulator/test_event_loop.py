"""The client, the bench and the emulator on uvloop (the ``bench`` extra's loop, taken by
``--loop auto``) behave as on asyncio's loop: the async transport's buffered protocol, stream
errors and idle timeouts, a bench result that says which loop ran it, the CLI options."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from vllm_client import AsyncVllmClient, StreamError, StreamEvent, StreamTimeoutError, Timeout, VllmClient
from vllm_client._event_loop import run
from vllm_client.bench import BenchConfig, Load, Workload, arun_bench, run_bench
from vllm_client.cli import get_app
from vllm_client.testing import MockVllmServer
from vllm_client.testing._faults import StreamDrop, StreamStall

uvloop = pytest.importorskip("uvloop")
MSG = [{"role": "user", "content": "tell me something"}]


def _config(loop: str = "auto") -> BenchConfig:
    return BenchConfig(workload=Workload("random", input_len=12, output_len=6),
                       load=Load(max_concurrency=4, num_requests=8), bootstrap=0, scrape_interval=0.0,
                       event_loop=loop)


def test_streams_errors_and_timeouts_on_uvloop_both_sides() -> None:
    with MockVllmServer(event_loop="uvloop", token_rate=2000) as srv:
        async def main() -> dict[str, Any]:
            async with AsyncVllmClient(srv.base_url, max_retries=0) as client:
                whole = await client.chat.completions.create(messages=MSG, max_tokens=40, seed=3)
                streams = []
                for _ in range(16):  # many streams at once through one loop's shared read buffer
                    streams.append(await client.chat.completions.create(messages=MSG, max_tokens=40, seed=3,
                                                                        stream=True))
                texts = []
                for s in streams:
                    async with s:
                        texts.append("".join([e.text async for e in s if isinstance(e, StreamEvent.Content)]))
                srv.add_fault(StreamDrop(after_chunks=3))
                broken = await client.chat.completions.create(messages=MSG, max_tokens=40, stream=True)
                with pytest.raises(StreamError) as cut:
                    async for _ in broken:
                        pass
                srv.add_fault(StreamStall(after_chunks=2, seconds=None))
                stalled = await client.with_options(timeout=Timeout(idle=0.2)).chat.completions.create(
                    messages=MSG, max_tokens=40, stream=True)
                with pytest.raises(StreamTimeoutError, match="idle"):
                    async for _ in stalled:
                        pass
                return {"whole": whole.content, "texts": texts, "partial": cut.value.partial}

        out = run(main(), "uvloop")
    assert out["whole"] and out["texts"] == [out["whole"]] * 16
    assert out["partial"] is not None  # nothing received is lost


def test_bench_result_says_which_loop_ran_it() -> None:
    with MockVllmServer(event_loop="uvloop", token_rate=5000) as srv:
        async def bench(loop_name: str) -> Any:
            async with AsyncVllmClient(srv.base_url) as client:
                return await arun_bench(client, _config(loop_name), progress=False)

        on_uv = run(bench("uvloop"), "uvloop")
        on_asyncio = run(bench("asyncio"), "asyncio")
        with VllmClient(srv.base_url) as client:
            threads = run_bench(client, _config(), progress=False)
    assert on_uv["event_loop"] == f"uvloop {uvloop.__version__}"
    assert on_asyncio["event_loop"] == "asyncio" and threads["event_loop"] == "threads"
    for result in (on_uv, on_asyncio, threads):
        assert result["completed"] == 8 and result["failed"] == 0


def test_cli_loop_options() -> None:
    runner = CliRunner()
    with MockVllmServer() as srv:
        out = runner.invoke(get_app(), ["bench", "serve", "--base-url", srv.url, "--input-len", "8", "--output-len",
                                        "4", "-n", "4", "--loop", "asyncio", "--json", "--progress", "none"],
                            env={"VLLM_BASE_URL": None})
        assert out.exit_code in (0, 3), out.output  # 3: a starved machine marks the run invalid
        assert json.loads(out.stdout)["event_loop"] == "asyncio"
    for command in (["bench", "serve", "--base-url", "http://127.0.0.1:9"], ["bench", "sweep", "--rates", "1"],
                    ["bench", "calibrate"], ["mock-server", "--port", "0"]):
        bad = runner.invoke(get_app(), [*command, "--loop", "tokio"], env={"VLLM_BASE_URL": None})
        # a usage error before anything starts (no server is asked, no emulator started)
        assert bad.exit_code == 2 and "Invalid value for '--loop'" in bad.output, (command, bad.output)
        assert "event loop must be one of" in " ".join(bad.output.split())
