"""The transport and stream defects a review reproduced, each pinned by the test that
would have caught it: silent resends of a request the server had read, pool slots leaked
by KeyboardInterrupt or cancellation, streams that did not give their connection back,
``Timeout.total`` applied per attempt, and closing a stream from another thread or task."""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
import types
from typing import Any

import pytest
from scripted_server import HOLD, LAST_CHUNK, NEXT, ScriptedServer, chunk, chunked_headers, json_answer

import vllm_client as vc
from vllm_client._sync import client as sync_client_module

VERSION = json_answer(b'{"version": "0.32.0"}')
MESSAGES = [{"role": "user", "content": "hi"}]
ROLE = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n'
HELLO = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":"stop"}]}\n\n'
WHOLE_STREAM = chunked_headers() + chunk(ROLE) + chunk(HELLO) + chunk(b"data: [DONE]\n\n") + LAST_CHUNK


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


# --- a reused keep-alive connection that dies -----------------------------------------------


def test_request_the_server_read_is_not_resent_silently() -> None:
    """The server reads the second request on the kept-alive connection and closes it
    unanswered: with max_retries=0 that is an error (retryable), never a silent resend."""
    with ScriptedServer([[VERSION, NEXT]]) as server, vc.VllmClient(server.base_url, max_retries=0) as client:
        assert client.server.version() == "0.32.0"
        with pytest.raises(vc.APIConnectionError) as info:
            client.server.version()
        assert info.value.is_retryable
        assert len(server.requests) == 2 and server.connections == 1


def test_the_visible_policy_decides_the_resend() -> None:
    with ScriptedServer([[VERSION, NEXT], [VERSION]]) as server, \
            vc.VllmClient(server.base_url, max_retries=1) as client:
        seen: list[int] = []
        client = client.with_options(on_retry=lambda attempt, err, delay: seen.append(attempt))
        assert client.server.version() == "0.32.0"
        assert client.server.version() == "0.32.0"
        assert seen == [1] and len(server.requests) == 3 and server.connections == 2


def test_idle_connection_closed_by_the_server_is_replaced_silently() -> None:
    """The server closed the idle connection before we sent anything: the request provably
    did not reach it, so a fresh connection is used without spending a retry."""
    with ScriptedServer([[VERSION], [VERSION]]) as server, vc.VllmClient(server.base_url, max_retries=0) as client:
        assert client.server.version() == "0.32.0"
        assert server.closed_by_server.wait(5)
        wait_until(lambda: client._transport.pool_stats()["idle"] == 1)
        assert client.server.version() == "0.32.0"
        assert len(server.requests) == 2 and server.connections == 2


# --- BaseException never leaks a pool slot ------------------------------------------------------


def test_keyboard_interrupt_while_reading_a_body_frees_the_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedServer([[VERSION]]) as server, \
            vc.VllmClient(server.base_url, max_retries=0, limits=vc.Limits(max_connections=1),
                          timeout=vc.Timeout(connect=2, read=2)) as client:
        def interrupted(self: Any, amt: Any = None) -> bytes:
            raise KeyboardInterrupt

        monkeypatch.setattr(http.client.HTTPResponse, "read", interrupted)
        with pytest.raises(KeyboardInterrupt):
            client.server.version()
        monkeypatch.undo()
        assert client._transport.pool_stats()["in_use"] == 0
        assert client.server.version() == "0.32.0"  # the only slot is free again


def test_keyboard_interrupt_while_waiting_for_headers_closes_the_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedServer([[HOLD]]) as server, vc.VllmClient(server.base_url, max_retries=0) as client:
        def interrupted(self: Any) -> Any:
            raise KeyboardInterrupt

        monkeypatch.setattr(http.client.HTTPConnection, "getresponse", interrupted)
        with pytest.raises(KeyboardInterrupt):
            client.server.version()
        assert server.client_closed.wait(5)  # vLLM would see the disconnect and abort
        assert client._transport.pool_stats()["in_use"] == 0


async def test_cancelling_a_body_read_frees_the_slot() -> None:
    partial_body = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"
    with ScriptedServer([[partial_body, HOLD]]) as server:
        async with vc.AsyncVllmClient(server.base_url, max_retries=0) as client:
            task = asyncio.ensure_future(client.server.version())
            deadline = time.monotonic() + 5
            while client._transport.pool_stats()["in_use"] != 1:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client._transport.pool_stats()["in_use"] == 0
        assert server.client_closed.wait(5)


# --- streams read to [DONE] keep their connection -------------------------------------------------


def test_sync_streams_read_to_the_end_reuse_one_connection() -> None:
    script = [WHOLE_STREAM, NEXT] * 4 + [WHOLE_STREAM]
    with ScriptedServer([script]) as server, vc.VllmClient(server.base_url) as client:
        for _ in range(5):
            with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
                assert stream.collect_content() == "Hello"
            assert client._transport.pool_stats() == {"idle": 1, "in_use": 0, "opened": 1}
        assert server.connections == 1 and len(server.requests) == 5


async def test_async_streams_read_to_the_end_reuse_one_connection() -> None:
    script = [WHOLE_STREAM, NEXT] * 4 + [WHOLE_STREAM]
    with ScriptedServer([script]) as server:
        async with vc.AsyncVllmClient(server.base_url) as client:
            for _ in range(5):
                async with await client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as st:
                    assert (await st.final()).content == "Hello"
                assert client._transport.pool_stats()["in_use"] == 0
        assert server.connections == 1 and len(server.requests) == 5


def test_a_body_that_does_not_end_after_done_only_costs_the_connection() -> None:
    """[DONE] arrived but the body never ends: the answer is complete, the connection is
    closed after a short grace instead of hanging until the read timeout."""
    head = chunked_headers() + chunk(ROLE) + chunk(HELLO) + chunk(b"data: [DONE]\n\n")
    with ScriptedServer([[head, HOLD]]) as server, vc.VllmClient(server.base_url) as client:
        with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
            assert stream.collect_content() == "Hello"
        assert server.client_closed.wait(5)
        assert client._transport.pool_stats() == {"idle": 0, "in_use": 0, "opened": 1}


# --- Timeout.total covers the whole call, retries included -------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _TimingOutTransport:
    """Each attempt waits its whole read limit (on the fake clock) and times out."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.reads: list[float | None] = []

    def send(self, method: str, url: str, headers: Any, body: Any, timeout: vc.Timeout) -> Any:
        self.reads.append(timeout.read)
        self.clock.advance(timeout.read or 0.0)
        raise vc.APITimeoutError("timed out waiting for the answer")

    def close(self) -> None:
        pass


def test_total_timeout_bounds_all_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(sync_client_module, "time", types.SimpleNamespace(perf_counter=clock.perf_counter,
                                                                          time=time.time))
    transport = _TimingOutTransport(clock)
    client = vc.VllmClient("http://127.0.0.1:9/v1", timeout=vc.Timeout(read=10, total=25), max_retries=10,
                           _transport=transport)  # type: ignore[arg-type]
    client._sleep = clock.advance
    client._rand = lambda: 0.0  # backoff 0.25, 0.5, 1, ...
    with pytest.raises(vc.APITimeoutError, match="total timeout"):
        client.chat.completions.create(model="m", messages=MESSAGES)
    # attempt 3 gets only what is left of the 25 s: 25 - (10 + 0.25 + 10 + 0.5)
    assert transport.reads == [10, 10, pytest.approx(4.25)]
    assert clock.now == pytest.approx(25.0)


# --- closing a stream from elsewhere ----------------------------------------------------------


def test_close_from_another_thread_ends_the_iteration() -> None:
    head = chunked_headers() + chunk(ROLE) + chunk(HELLO)
    with ScriptedServer([[head, HOLD]]) as server, vc.VllmClient(server.base_url) as client:
        stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        events: list[Any] = []
        errors: list[BaseException] = []

        def consume() -> None:
            try:
                for event in stream:
                    events.append(event)
            except BaseException as exc:
                errors.append(exc)

        reader = threading.Thread(target=consume)
        reader.start()
        wait_until(lambda: len(events) >= 2)
        stream.close()
        reader.join(5)
        assert not reader.is_alive()
        assert errors == []  # the loop just ends: the caller asked for it
        assert server.client_closed.wait(5)
        assert client._transport.pool_stats()["in_use"] == 0
        stream.close()  # a second close is a no-op


async def test_aclose_from_another_task_ends_the_iteration() -> None:
    head = chunked_headers() + chunk(ROLE) + chunk(HELLO)
    with ScriptedServer([[head, HOLD]]) as server:
        async with vc.AsyncVllmClient(server.base_url) as client:
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            events: list[Any] = []

            async def consume() -> None:
                async for event in stream:
                    events.append(event)

            task = asyncio.ensure_future(consume())
            deadline = time.monotonic() + 5
            while len(events) < 2:
                assert time.monotonic() < deadline and not task.done()
                await asyncio.sleep(0.005)
            await stream.aclose()
            await asyncio.wait_for(task, 5)  # ends without an error
            assert client._transport.pool_stats()["in_use"] == 0
        assert server.client_closed.wait(5)


async def test_iterating_after_the_client_closed_is_a_library_error(vllm_mock: Any) -> None:
    client = vc.AsyncVllmClient(vllm_mock.base_url)
    stream = await client.chat.completions.create(messages=MESSAGES, max_tokens=64, stream=True)
    await client.aclose()
    with pytest.raises(vc.VllmError):
        async for _ in stream:
            pass
