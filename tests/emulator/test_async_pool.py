"""The async pool's limits: ``max_connections`` caps requests in flight (a waiter gets the
slot a finished request frees, or times out with the pool's message), ``keepalive_expiry``
retires idle connections."""

from __future__ import annotations

import asyncio
import time

import pytest
from scripted_server import HOLD, ScriptedServer

import vllm_client as vc
from vllm_client.testing import MockVllmServer

MSG = [{"role": "user", "content": "hi"}]


async def test_max_connections_serializes_requests_on_one_connection(vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 200.0  # answers take a little while, so the calls overlap
    async with vc.AsyncVllmClient(vllm_mock.base_url, limits=vc.Limits(max_connections=1)) as client:
        answers = await asyncio.gather(*(client.chat.completions.create(model=vllm_mock.model, messages=MSG,
                                                                        max_tokens=4) for _ in range(4)))
        assert all(a.content for a in answers)
        stats = client._transport.pool_stats()
        assert stats["opened"] == 1 and stats["in_use"] == 0


async def test_a_waiter_for_a_slot_times_out_with_the_pool_message() -> None:
    with ScriptedServer([[HOLD]]) as server:
        async with vc.AsyncVllmClient(server.base_url, max_retries=0, limits=vc.Limits(max_connections=1),
                                      timeout=vc.Timeout(connect=0.3, read=30)) as client:
            first = asyncio.ensure_future(client.server.version())
            deadline = time.monotonic() + 5
            while not server.requests:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.005)
            with pytest.raises(vc.APITimeoutError, match="free connection in the pool"):
                await client.server.version()
            first.cancel()
            with pytest.raises(asyncio.CancelledError):
                await first
            assert client._transport.pool_stats()["in_use"] == 0


async def test_idle_connections_expire(vllm_mock: MockVllmServer) -> None:
    async with vc.AsyncVllmClient(vllm_mock.base_url, limits=vc.Limits(keepalive_expiry=0.05)) as client:
        await client.models.list()
        assert client._transport.pool_stats()["opened"] == 1
        await asyncio.sleep(0.1)  # the expiry itself is what is tested: let it pass
        await client.models.list()
        assert client._transport.pool_stats()["opened"] == 2
    async with vc.AsyncVllmClient(vllm_mock.base_url) as client:
        await client.models.list()
        await client.models.list()
        assert client._transport.pool_stats()["opened"] == 1  # within the expiry: reused
