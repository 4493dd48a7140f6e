"""The call lifecycle (``_call.py``): every way a call can end tells ``call_ended`` exactly
once, each attempt's start is matched by one end, and a stream's successful attempt stays
open until the stream ends. Sync and async, on the emulator."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest

from vllm_client import APIError, APITimeoutError, AsyncVllmClient, StreamError, Timeout
from vllm_client._call import Call
from vllm_client.testing import ChatReply, Delay, HttpError, MockVllmServer, StreamDrop, StreamStall

MESSAGES = [{"role": "user", "content": "hi"}]


class Recorder:
    """Records every notification; ``open`` counts attempts started and not yet ended."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.open = 0
        self.calls: list[Call] = []

    def call_started(self, call: Call) -> None:
        self.calls.append(call)
        self.events.append(("call_started", call.request_id))

    def attempt_started(self, call: Call, server: int) -> None:
        self.open += 1
        self.events.append(("attempt_started", server))

    def attempt_ended(self, call: Call, server: int, error: BaseException | None) -> None:
        self.open -= 1
        self.events.append(("attempt_ended", server, type(error).__name__ if error else None))

    def first_token(self, call: Call) -> None:
        self.events.append(("first_token",))

    def call_ended(self, call: Call, error: BaseException | None) -> None:
        self.events.append(("call_ended", call.outcome, type(error).__name__ if error else None))

    def names(self) -> list[str]:
        return [e[0] for e in self.events]

    def ended(self) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[0] == "call_ended"]


@pytest.fixture
def rec(api: Any) -> Recorder:
    r = Recorder()
    api.client._core.add_observer(r)
    return r


def test_plain_call_success(api: Any, rec: Recorder) -> None:
    api(api.client.chat.completions.create(messages=MESSAGES))
    assert rec.names() == ["call_started", "attempt_started", "attempt_ended", "call_ended"]
    assert rec.ended() == [("call_ended", "ok", None)]
    assert rec.open == 0
    assert rec.calls[0].ended and rec.calls[0].attempts == 1 and rec.calls[0].server == 0


def test_http_error_is_one_end(api: Any, vllm_mock: MockVllmServer, rec: Recorder) -> None:
    vllm_mock.add_fault(HttpError(400, "bad"))
    with pytest.raises(APIError):
        api(api.client.chat.completions.create(messages=MESSAGES))
    assert rec.ended() == [("call_ended", "error", "BadRequestError")]
    assert rec.open == 0


def test_retries_each_attempt_ended(api: Any, vllm_mock: MockVllmServer, rec: Recorder) -> None:
    vllm_mock.add_fault(HttpError(500, "boom"), times=2)
    api(api.client.chat.completions.create(messages=MESSAGES))
    assert rec.names() == ["call_started"] + ["attempt_started", "attempt_ended"] * 3 + ["call_ended"]
    errors = [e[2] for e in rec.events if e[0] == "attempt_ended"]
    assert errors == ["InternalServerError", "InternalServerError", None]
    assert rec.ended() == [("call_ended", "ok", None)] and rec.open == 0


def test_retry_exhaustion(api: Any, vllm_mock: MockVllmServer, rec: Recorder) -> None:
    vllm_mock.add_fault(HttpError(503, "busy"), times=None)
    with pytest.raises(APIError):
        api(api.client.chat.completions.create(messages=MESSAGES))
    assert rec.names().count("attempt_started") == 3 == rec.names().count("attempt_ended")
    assert rec.ended() == [("call_ended", "error", "ServiceUnavailableError")] and rec.open == 0


def test_timeout(make_api: Any, vllm_mock: MockVllmServer) -> None:
    api = make_api(vllm_mock.base_url, timeout=Timeout(read=0.2), max_retries=0)
    rec = Recorder()
    api.client._core.add_observer(rec)
    vllm_mock.add_fault(Delay(5))
    with pytest.raises(APITimeoutError):
        api(api.client.chat.completions.create(messages=MESSAGES))
    assert rec.ended() == [("call_ended", "error", "APITimeoutError")] and rec.open == 0


def test_stream_read_to_end(api: Any, rec: Recorder) -> None:
    stream = api(api.client.chat.completions.create(messages=MESSAGES, stream=True))
    assert rec.open == 1 and rec.ended() == []  # the attempt lasts as long as the stream
    api.events(stream)
    assert rec.names() == ["call_started", "attempt_started", "first_token", "attempt_ended", "call_ended"]
    assert rec.ended() == [("call_ended", "ok", None)] and rec.open == 0


def test_stream_closed_early(api: Any, vllm_mock: MockVllmServer, rec: Recorder) -> None:
    vllm_mock.queue_reply(ChatReply(content="one two three four five six"))
    stream = api(api.client.chat.completions.create(messages=MESSAGES, stream=True))

    async def one_event_async() -> None:
        async with stream:
            async for _ in stream:
                break

    def one_event_sync() -> None:
        with stream:
            for _ in stream:
                break

    api(one_event_async()) if api.kind == "async" else one_event_sync()
    assert rec.ended() == [("call_ended", "closed", None)] and rec.open == 0


def test_stream_closed_unread(api: Any, rec: Recorder) -> None:
    stream = api(api.client.chat.completions.create(messages=MESSAGES, stream=True))
    api(stream.close())
    api(stream.close())  # twice: still one end
    assert rec.ended() == [("call_ended", "closed", None)] and rec.open == 0


def test_stream_broken(api: Any, vllm_mock: MockVllmServer, rec: Recorder) -> None:
    vllm_mock.add_fault(StreamDrop(after_chunks=2))
    stream = api(api.client.chat.completions.create(messages=MESSAGES, stream=True))
    with pytest.raises(StreamError):
        api.events(stream)
    assert rec.ended() == [("call_ended", "error", "StreamError")] and rec.open == 0


def test_stream_abandoned_and_collected(api: Any, rec: Recorder) -> None:
    stream = api(api.client.chat.completions.create(messages=MESSAGES, stream=True))
    assert rec.open == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del stream
        gc.collect()
    assert rec.ended() == [("call_ended", "abandoned", None)] and rec.open == 0


def test_async_task_cancelled_while_sending(vllm_mock: MockVllmServer) -> None:
    vllm_mock.add_fault(Delay(5))
    rec = Recorder()

    async def main() -> None:
        async with AsyncVllmClient(vllm_mock.base_url) as client:
            client._core.add_observer(rec)
            task = asyncio.ensure_future(client.chat.completions.create(messages=MESSAGES))
            while not vllm_mock.requests_to("/v1/chat/completions"):
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert rec.ended() == [("call_ended", "cancelled", "CancelledError")] and rec.open == 0


def test_async_task_cancelled_while_streaming(vllm_mock: MockVllmServer) -> None:
    vllm_mock.add_fault(StreamStall(after_chunks=3))
    rec = Recorder()

    async def main() -> None:
        async with AsyncVllmClient(vllm_mock.base_url) as client:
            client._core.add_observer(rec)
            stream = await client.chat.completions.create(messages=MESSAGES, stream=True)
            seen = asyncio.Event()

            async def read() -> None:
                async for _ in stream:
                    seen.set()

            task = asyncio.ensure_future(read())
            await seen.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert rec.ended() == [("call_ended", "cancelled", "CancelledError")] and rec.open == 0


def test_observer_failure_does_not_break_the_call(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Recorder):
        def attempt_started(self, call: Call, server: int) -> None:
            raise RuntimeError("observer bug")

    api.client._core.add_observer(Broken())
    resp = api(api.client.chat.completions.create(messages=MESSAGES))
    assert resp.content
    assert "observer bug" in caplog.text


def test_no_observers_no_first_token_hook(api: Any) -> None:
    stream = api(api.client.chat.completions.create(messages=MESSAGES, stream=True))
    assert stream.metrics.on_first_token is None
    api.events(stream)
