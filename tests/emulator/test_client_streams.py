"""Streams against the emulator, sync and async: events, final(), metrics, faults,
timeouts and cancellation."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest

import vllm_client as vc
from vllm_client import CompletionStreamEvent, StreamEvent
from vllm_client.testing import (
    MockVllmServer,
    StreamDrop,
    StreamErrorFrame,
    StreamKeepAlive,
    StreamMalformed,
    StreamNoDone,
    StreamStall,
    ToolCall,
)

MSG = [{"role": "user", "content": "stream please"}]


def kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_plain_stream_events_and_final(api: Any, vllm_mock: MockVllmServer) -> None:
    stream = api(api.client.chat.completions.create(messages=MSG, max_tokens=6, seed=2, stream=True))
    events = api.events(stream)
    names = kinds(events)
    assert names[-3:] == ["Finish", "Usage", "Done"] and names.count("Content") == 6
    text = "".join(e.text for e in events if isinstance(e, StreamEvent.Content))
    final = api(stream.final())
    assert final.content == text and final.finish_reason == "length"
    assert final.usage is not None and final.usage.completion_tokens == 6
    plain = api(api.client.chat.completions.create(messages=MSG, max_tokens=6, seed=2))
    assert plain.content == final.content  # streamed == non-streamed for the same request
    sent = vllm_mock.last_request.json
    assert sent is not None
    m = stream.metrics
    assert m.ttft_s is not None and m.total_s is not None and m.total_s >= m.ttft_s >= 0
    assert len(m.itl_s) == 5 and m.completion_tokens == 6 and m.chunks >= 8
    assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")


def test_stream_sends_include_usage_by_default(api: Any, vllm_mock: MockVllmServer) -> None:
    api.events(api(api.client.chat.completions.create(messages=MSG, max_tokens=2, stream=True)))
    assert vllm_mock.last_request.json["stream_options"] == {"include_usage": True}
    events = api.events(api(api.client.chat.completions.create(messages=MSG, max_tokens=2, stream=True,
                                                               stream_options=None)))
    assert "stream_options" not in vllm_mock.last_request.json
    assert "Usage" not in kinds(events)


def test_stream_method_and_collect(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("Hello world, streamed.")
    stream = api(api.client.chat.completions.stream(messages=MSG))
    assert api(stream.collect_content()) == "Hello world, streamed."
    vllm_mock.queue_chat("abc def")

    stream = api(api.client.chat.completions.create(messages=MSG, stream=True))
    if api.kind == "sync":
        pieces = list(stream.text_stream)
    else:
        async def go() -> list[str]:
            return [p async for p in stream.text_stream]
        pieces = api(go())
    assert "".join(pieces) == "abc def" and len(pieces) >= 2


def test_n2_choice_indexes(api: Any) -> None:
    stream = api(api.client.chat.completions.create(messages=MSG, max_tokens=3, n=2, stream=True))
    events = api.events(stream)
    finishes = [e for e in events if isinstance(e, StreamEvent.Finish)]
    assert sorted(e.choice_index for e in finishes) == [0, 1]
    final = api(stream.final())
    assert [c.index for c in final.choices] == [0, 1]
    for c in final.choices:
        assert c.message.content == "".join(
            e.text for e in events if isinstance(e, StreamEvent.Content) and e.choice_index == c.index)


def test_tool_calls_and_reasoning(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat(reasoning="Think first.", tool_calls=[
        ToolCall("get_weather", {"location": "Tokyo"}), ToolCall("get_time", {"tz": "JST"})])
    stream = api(api.client.chat.completions.create(messages=MSG, stream=True))
    events = api.events(stream)
    reasoning = "".join(e.text for e in events if isinstance(e, StreamEvent.Reasoning))
    assert reasoning == "Think first."
    done = [e.tool_call for e in events if isinstance(e, StreamEvent.ToolCallComplete)]
    assert [(t.name, t.parse_args()) for t in done] == [("get_weather", {"location": "Tokyo"}),
                                                        ("get_time", {"tz": "JST"})]
    assert all(t.id for t in done)
    final = api(stream.final())
    assert final.finish_reason == "tool_calls" and final.reasoning == "Think first."
    assert [t.name for t in final.tool_calls] == ["get_weather", "get_time"]
    assert "reasoning" not in final.assistant_message()


def test_think_tags_client_side(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("<think>I ponder.</think>The answer.")
    stream = api(api.client.chat.completions.create(messages=MSG, stream=True, parse_think_tags=True))
    events = api.events(stream)
    assert "".join(e.text for e in events if isinstance(e, StreamEvent.Reasoning)) == "I ponder."
    assert "".join(e.text for e in events if isinstance(e, StreamEvent.Content)) == "The answer."
    assert api(stream.final()).reasoning == "I ponder."


def test_completion_stream(api: Any) -> None:
    stream = api(api.client.completions.create(prompt=["a", "b"], max_tokens=3, stream=True))
    events = api.events(stream)
    texts = [e for e in events if isinstance(e, CompletionStreamEvent.Text)]
    assert {e.choice_index for e in texts} == {0, 1}
    assert isinstance(events[-1], CompletionStreamEvent.Done)
    final = api(stream.final())
    assert len(final.choices) == 2
    assert final.choices[1].text == "".join(e.text for e in texts if e.choice_index == 1)
    vc_stream = api(api.client.completions.create(prompt="x", max_tokens=4, stream=True))
    assert api(vc_stream.collect_text()) == api(vc_stream.final()).text


def test_error_frame_raises_mapped_error(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.add_fault(StreamErrorFrame(after_chunks=2, message="engine died", code=500))
    stream = api(api.client.chat.completions.create(messages=MSG, max_tokens=8, stream=True))
    with pytest.raises(vc.InternalServerError, match="engine died"):
        api.events(stream)
    vllm_mock.add_fault(StreamErrorFrame(after_chunks=1, message="bad thing", code=400,
                                         error_type="BadRequestError"))
    stream = api(api.client.chat.completions.create(messages=MSG, max_tokens=8, stream=True))
    with pytest.raises(vc.BadRequestError):
        api.events(stream)


@pytest.mark.parametrize(("fault", "retryable"), [
    (StreamDrop(after_chunks=3), True), (StreamDrop(after_chunks=3, reset=True), True),
    (StreamNoDone(), True), (StreamMalformed(after_chunks=2), False),
])
def test_truncated_or_broken_streams_raise(api: Any, vllm_mock: MockVllmServer, fault: Any, retryable: bool) -> None:
    vllm_mock.add_fault(fault)
    stream = api(api.client.chat.completions.create(messages=MSG, max_tokens=8, stream=True))
    with pytest.raises(vc.StreamError) as info:
        api.events(stream)
    assert info.value.is_retryable is retryable
    partial = info.value.partial
    assert isinstance(partial, vc.ChatCompletion) and partial.content
    # what arrived: cut mid-answer (no finish_reason), or whole but for the missing [DONE]
    assert partial.finish_reason == ("length" if isinstance(fault, StreamNoDone) else None)
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 1  # a stream is never retried after its headers


def test_keep_alive_comments_are_ignored(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.add_fault(StreamKeepAlive(every=1))
    events = api.events(api(api.client.chat.completions.create(messages=MSG, max_tokens=4, seed=5, stream=True)))
    assert kinds(events).count("Content") == 4 and kinds(events)[-1] == "Done"


def test_idle_timeout(make_api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.add_fault(StreamStall(after_chunks=2, seconds=5))
    api = make_api(vllm_mock.base_url, timeout=vc.Timeout(idle=0.3))
    stream = api(api.client.chat.completions.create(messages=MSG, max_tokens=8, stream=True))
    with pytest.raises(vc.StreamTimeoutError, match="idle"):
        api.events(stream)


def test_first_token_timeout(make_api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.ttft = 3.0
    api = make_api(vllm_mock.base_url, timeout=vc.Timeout(first_token=0.3), max_retries=0)
    stream = api(api.client.chat.completions.create(messages=MSG, max_tokens=4, stream=True))
    with pytest.raises(vc.StreamTimeoutError, match="first-token"):
        api.events(stream)


def test_stream_http_error_is_retried_before_first_event(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.fail_next(503)
    events = api.events(api(api.client.chat.completions.create(messages=MSG, max_tokens=3, stream=True)))
    assert kinds(events)[-1] == "Done" and len(api.sleeps) == 1


def test_closing_a_stream_aborts_on_the_server(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 200.0
    stream = api(api.client.chat.completions.create(messages=MSG, max_tokens=1000, stream=True,
                                                    extra_headers={"X-Request-Id": "cancel-me"}))
    if api.kind == "sync":
        with stream:
            for event in stream:
                if isinstance(event, StreamEvent.Content):
                    break
    else:
        async def go() -> None:
            async with stream:
                async for event in stream:
                    if isinstance(event, StreamEvent.Content):
                        break
        api(go())
    assert vllm_mock.wait_for_abort("cancel-me", timeout=5.0) == "cancel-me"
    assert api.client._transport.pool_stats()["in_use"] == 0


async def _first_event(stream: Any) -> None:
    async for _ in stream:
        break


def test_break_then_gc_frees_the_connection(make_api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 200.0
    api = make_api(vllm_mock.base_url)
    for i in range(5):
        stream = api(api.client.chat.completions.create(messages=MSG, max_tokens=1000, stream=True,
                                                        extra_headers={"X-Request-Id": f"gc-{i}"}))
        if api.kind == "sync":
            for _ in stream:
                break
        else:
            api(_first_event(stream))
        del stream
        gc.collect()
        if api.kind == "async":
            # The socket close is a loop callback: keep the loop turning while we poll.
            async def spin(rid: str = f"gc-{i}") -> None:
                deadline = asyncio.get_running_loop().time() + 5
                while rid not in vllm_mock.aborted_requests and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.01)
            api(spin())
        assert vllm_mock.wait_for_abort(f"gc-{i}", timeout=5.0) == f"gc-{i}"
    assert api.client._transport.pool_stats()["in_use"] == 0


def test_task_cancellation_closes_the_stream(vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 100.0

    async def main() -> None:
        async with vc.AsyncVllmClient(vllm_mock.base_url) as client:
            async def consume() -> None:
                stream = await client.chat.completions.create(
                    messages=MSG, max_tokens=1000, stream=True, extra_headers={"X-Request-Id": "task-1"})
                async with stream:
                    async for _ in stream:
                        pass

            task = asyncio.ensure_future(consume())
            deadline = asyncio.get_running_loop().time() + 5
            while vllm_mock.active_requests == 0 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert client._transport.pool_stats()["in_use"] == 0

    asyncio.run(main())
    assert vllm_mock.wait_for_abort("task-1", timeout=5.0) == "task-1"


def _open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def test_no_leak_after_10000_cancelled_streams(make_api: Any, vllm_mock: MockVllmServer) -> None:
    """Open a stream, read one event, close it: 10,000 times. Pool slots, sockets and
    server-side generations must all be released every time."""
    api = make_api(vllm_mock.base_url)
    vllm_mock.token_rate = 100_000.0
    create = api.client.chat.completions.create

    def cycle() -> None:
        stream = api(create(messages=MSG, model="mock-model", max_tokens=500, stream=True))
        if api.kind == "sync":
            next(iter(stream))
            stream.close()
        else:
            api(_first_then_close(stream))

    cycle()
    fds_before = _open_fds()
    for _ in range(10_000):
        cycle()
    assert api.client._transport.pool_stats()["in_use"] == 0
    assert _open_fds() <= fds_before + 8  # no socket left behind (a few in flight are fine)
    deadline = time.monotonic() + 10
    while vllm_mock.active_requests and time.monotonic() < deadline:  # poll the server's count
        if api.kind == "async":
            api(_spin_loop())  # async sockets close from loop callbacks: keep the loop turning
        else:
            time.sleep(0.01)
    assert vllm_mock.active_requests == 0
    resp = api(create(messages=MSG, model="mock-model", max_tokens=2))
    assert resp.content


async def _first_then_close(stream: Any) -> None:
    async for _ in stream:
        break
    await stream.aclose()


async def _spin_loop() -> None:
    await asyncio.sleep(0.01)


def test_think_tags_non_streamed(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("<think>Hmm.</think>Yes.")
    resp = api(api.client.chat.completions.create(messages=MSG, parse_think_tags=True))
    assert resp.reasoning == "Hmm." and resp.content == "Yes."
    vllm_mock.queue_chat("<think>Hmm.</think>Yes.")
    plain = api(api.client.chat.completions.create(messages=MSG))
    assert plain.content == "<think>Hmm.</think>Yes." and plain.reasoning is None
