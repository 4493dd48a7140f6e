"""Shared test helpers: run the same test against the sync and the async client.

The ``vllm_mock`` fixture (a fresh MockVllmServer) comes from our pytest plugin, which the
package registers through its ``pytest11`` entry point.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from vllm_client import AsyncVllmClient, VllmClient


class Api:
    """One client, sync or async, with ``api(x)`` resolving awaitables on a private loop,
    so a test body is written once for both."""

    def __init__(self, kind: str, base_url: Any, **kwargs: Any) -> None:
        self.kind = kind
        self.loop = asyncio.new_event_loop() if kind == "async" else None
        cls = AsyncVllmClient if kind == "async" else VllmClient
        self.client: Any = cls(base_url, **kwargs)
        self.sleeps: list[float] = []

    def __call__(self, value: Any) -> Any:
        if inspect.isawaitable(value):
            assert self.loop is not None
            return self.loop.run_until_complete(value)
        return value

    def fake_sleep(self) -> None:
        """Record retry waits instead of sleeping (a fake clock)."""
        if self.kind == "async":
            async def sleep(d: float) -> None:
                self.sleeps.append(d)
        else:
            def sleep(d: float) -> None:  # type: ignore[misc]
                self.sleeps.append(d)
        self.client._sleep = sleep

    def events(self, stream: Any) -> list[Any]:
        """All events of a stream (closing it)."""
        if self.kind == "async":
            async def collect() -> list[Any]:
                async with stream:
                    return [e async for e in stream]
            return self(collect())
        with stream:
            return list(stream)

    def close(self) -> None:
        if self.kind == "async":
            self(self.client.aclose())
            assert self.loop is not None
            self.loop.close()
        else:
            self.client.close()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_api(kind: str) -> Iterator[Any]:
    made: list[Api] = []

    def make(base_url: Any, **kwargs: Any) -> Api:
        api = Api(kind, base_url, **kwargs)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def api(make_api: Any, vllm_mock: Any) -> Api:
    """A client (sync or async) on a fresh emulator, retries waiting on a fake clock."""
    a: Api = make_api(vllm_mock.base_url, timeout=30)
    a.fake_sleep()
    return a
