"""Shared test helpers: run the same test against the sync and the async client.

The ``vllm_mock`` fixture (a fresh MockVllmServer) comes from our pytest plugin, which the
package registers through its ``pytest11`` entry point.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
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


# -- the secret scan of the whole run (issue 13) ------------------------------------------------
# Every ``vllm_client`` log record of the run is kept (the tree is set to DEBUG, so the
# per-request records are made too), every API key / URL credential / api_key= a client is
# built with is remembered, and the session fails if a record contains one.
_SECRET_RECORDS: list[str] = []
_SECRETS: set[str] = set()


class _KeepRecords(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _SECRET_RECORDS.append(f"{record.name}: {record.getMessage()} {record.__dict__!r}")
        except Exception:  # a record that cannot format is the test's business, not the scan's
            pass


def _remember_secrets(config: Any) -> None:
    from urllib.parse import parse_qsl, urlsplit

    if config.api_key:
        _SECRETS.add(config.api_key)
    if config.url_auth and config.url_auth.startswith("Basic "):
        user_pass = base64.b64decode(config.url_auth[6:]).decode("utf-8", "replace")
        _SECRETS.add(user_pass.partition(":")[2])
    for url in config.base_urls:
        for name, value in parse_qsl(urlsplit(url).query):
            if "key" in name.lower() or "token" in name.lower():
                _SECRETS.add(value)


def pytest_configure(config: pytest.Config) -> None:
    from vllm_client._client_base import ClientCore

    original = ClientCore.__init__

    def init(self: Any, cfg: Any, *args: Any, **kwargs: Any) -> None:
        _remember_secrets(cfg)
        original(self, cfg, *args, **kwargs)

    ClientCore.__init__ = init  # type: ignore[method-assign]
    top = logging.getLogger("vllm_client")
    top.addHandler(_KeepRecords(logging.DEBUG))
    top.setLevel(logging.DEBUG)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    secrets = {s for s in _SECRETS if len(s) >= 6}  # shorter ones would match ordinary words
    leaks = [(s, r) for r in _SECRET_RECORDS for s in secrets if s in r]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
    if leaks:
        if reporter is not None:
            reporter.write_line(f"SECRET SCAN: {len(leaks)} log record(s) contain an API key, e.g.:", red=True)
            for secret, record in leaks[:5]:
                reporter.write_line(f"  {secret!r} in {record[:300]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None and _SECRET_RECORDS:
        reporter.write_line(f"secret scan: {len(_SECRET_RECORDS)} vllm_client log records, {len(secrets)} keys, "
                            "no key in any record")
