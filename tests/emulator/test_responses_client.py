"""client.responses against the emulator, sync and async: create, stream, cancellation,
the background lifecycle, replay with starting_after, previous_response_id, and the
errors of a server without the store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from scripted_server import HOLD, ScriptedServer, chunk, chunked_headers

from vllm_client import (
    BadRequestError,
    NotFoundError,
    Response,
    ResponseEvent,
    StreamError,
    StreamTimeoutError,
    Timeout,
    VllmClient,
)
from vllm_client.testing import MockVllmServer, StreamDrop, ToolCall

TOOLS = [{"type": "function", "name": "get_weather", "description": "Weather of a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


@pytest.fixture
def vllm_mock_options() -> dict[str, Any]:
    return {"responses_store": True}  # VLLM_ENABLE_RESPONSES_API_STORE=1


def nxt(api: Any, stream: Any) -> Any:
    return api(stream.__anext__()) if api.kind == "async" else next(stream)


def take(api: Any, stream: Any, n: int) -> list[Any]:
    return [nxt(api, stream) for _ in range(n)]


def poll(api: Any, response_id: str, done: Callable[[Response], bool], timeout: float = 10.0) -> list[str]:
    """Retrieve until ``done``; the statuses seen, in order (no repeats)."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        r = api(api.client.responses.retrieve(response_id))
        if not seen or seen[-1] != r.status:
            seen.append(r.status)
        if done(r):
            return seen
        assert time.monotonic() < deadline, f"still {r.status} after {timeout}s"


def deltas(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, ResponseEvent.TextDelta))


def test_create_returns_a_typed_response(api: Any, vllm_mock: MockVllmServer) -> None:
    r = api(api.client.responses.create(input="Say hello.", max_output_tokens=8, seed=3, top_k=20, min_p=0.1))
    assert isinstance(r, Response) and r.id.startswith("resp_") and r.object == "response"
    assert r.status == "incomplete" and r.incomplete_details == {"reason": "max_output_tokens"} and r.finished
    assert r.output_text and r.output_text == r.output[0].text  # type: ignore[attr-defined]
    assert r.usage is not None and r.usage.output_tokens == 8 and r.usage.total_tokens > 8
    assert r.timing is not None and r.timing.total_s >= r.timing.first_byte_s >= 0
    sent = vllm_mock.requests_to("/v1/responses")[-1].json
    assert sent == {"input": "Say hello.", "max_output_tokens": 8, "seed": 3, "top_k": 20, "min_p": 0.1,
                    "model": "mock-model"}


def test_request_id_is_the_response_id(api: Any) -> None:
    r = api(api.client.responses.create(input="Hi", max_output_tokens=2, request_id="my-response-1"))
    assert r.id == "my-response-1"
    assert api(api.client.responses.retrieve("my-response-1")).raw == r.raw


def test_stream_events_final_and_metrics(api: Any) -> None:
    stream = api(api.client.responses.create(input="Say hello.", max_output_tokens=6, seed=5, stream=True))
    events = api.events(stream)
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [e.type for e in events[:4]] == ["response.created", "response.in_progress",
                                            "response.output_item.added", "response.content_part.added"]
    assert isinstance(events[-1], ResponseEvent.Completed)
    final = api(stream.final())
    assert final.output_text == deltas(events) and final.status == "incomplete"
    plain = api(api.client.responses.create(input="Say hello.", max_output_tokens=6, seed=5))
    assert plain.output_text == final.output_text  # streamed == non-streamed for the same request
    m = stream.metrics
    assert m.ttft_s is not None and m.total_s is not None and m.total_s >= m.ttft_s
    assert len(m.itl_s) == 5 and m.completion_tokens == 6 and m.chunks == len(events)
    assert stream.response_id == final.id and stream.last_sequence_number == events[-1].sequence_number


def test_text_stream_and_collect_text(api: Any) -> None:
    stream = api(api.client.responses.stream(input="Say hello.", max_output_tokens=5, seed=1))
    if api.kind == "async":
        async def pieces() -> list[str]:
            async with stream:
                return [p async for p in stream.text_stream]
        got = api(pieces())
    else:
        with stream:
            got = list(stream.text_stream)
    assert len(got) == 5 and "".join(got) == api(stream.final()).output_text
    again = api(api.client.responses.stream(input="Say hello.", max_output_tokens=5, seed=1))
    assert api(again.collect_text()) == "".join(got)


def test_closing_a_stream_aborts_the_generation(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 50
    stream = api(api.client.responses.create(input="long", max_output_tokens=500, ignore_eos=True, stream=True))
    got = take(api, stream, 6)
    api(stream.close())
    assert vllm_mock.wait_for_abort(stream.request_id) == stream.request_id
    assert api(stream.final()).output_text.startswith(deltas(got))  # what arrived (a read may hold more)


def test_a_cut_stream_is_a_retryable_stream_error_with_the_partial(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.add_fault(StreamDrop(after_chunks=7), path="/v1/responses")
    stream = api(api.client.responses.create(input="Say hello.", max_output_tokens=10, stream=True))
    got: list[Any] = []
    with pytest.raises(StreamError, match=r"response\.completed") as info:
        while True:
            got.append(nxt(api, stream))
    err = info.value
    assert err.is_retryable and len(got) == 7
    assert err.partial is not None and err.partial.output_text == deltas(got) == "".join(
        e.text for e in got if e.type == "response.output_text.delta")


def test_background_lifecycle(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 200
    r = api(api.client.responses.create(input="Say hello.", max_output_tokens=20, background=True))
    assert (r.status, r.output, r.usage, r.background, r.finished) == ("queued", [], None, True, False)
    statuses = poll(api, r.id, lambda x: x.finished)
    assert statuses[0] == "queued" and statuses[-1] == "incomplete" and "in_progress" not in statuses
    done = api(api.client.responses.retrieve(r.id))
    assert done.output_text and done.usage is not None and done.usage.output_tokens == 20
    with pytest.raises(BadRequestError, match="Cannot cancel a synchronous response") as info:
        api(api.client.responses.cancel(r.id))
    assert info.value.hint is not None and "queued or in progress" in info.value.hint


def test_cancel_a_background_response(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 20
    r = api(api.client.responses.create(input="long", max_output_tokens=1000, ignore_eos=True, background=True))
    cancelled = api(api.client.responses.cancel(r.id))
    assert cancelled.id == r.id and cancelled.status == "cancelled" and cancelled.output == []
    assert api(api.client.responses.retrieve(r.id)).status == "cancelled"
    with pytest.raises(BadRequestError):
        api(api.client.responses.cancel(r.id))
    with pytest.raises(NotFoundError, match="not found"):
        api(api.client.responses.cancel("resp_unknown"))


def test_background_stream_survives_the_client_and_resumes(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 300
    stream = api(api.client.responses.create(input="Say hello.", max_output_tokens=30, background=True, stream=True))
    first = take(api, stream, 6)
    api(stream.close())  # a background run goes on without its client
    last = stream.last_sequence_number
    assert last == 5 and stream.response_id is not None and stream.background
    replay = api(api.client.responses.retrieve(stream.response_id, stream=True, starting_after=last))
    rest = api.events(replay)
    assert [e.sequence_number for e in rest] == list(range(6, 6 + len(rest)))
    final = api(replay.final())
    assert isinstance(rest[-1], ResponseEvent.Completed) and final.output_text == deltas(first) + deltas(rest)
    assert final.usage is not None and final.usage.output_tokens == 30
    assert api(api.client.responses.retrieve(final.id)).raw == final.raw
    whole = api.events(api(api.client.responses.retrieve(final.id, stream=True)))
    assert [e.sequence_number for e in whole] == list(range(len(first) + len(rest)))  # from the start


def test_stream_cancel_stops_a_background_run(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 20
    stream = api(api.client.responses.create(input="long", max_output_tokens=1000, ignore_eos=True, background=True,
                                             stream=True))
    got = take(api, stream, 5)
    result = api(stream.cancel())
    assert result.status == "cancelled" and result.output_text.startswith(deltas(got))
    assert api(api.client.responses.retrieve(result.id)).status == "cancelled"
    # vLLM never sends response.completed for a cancelled run: only an idle timeout ends a replay.
    replay = api(api.client.responses.retrieve(result.id, stream=True, timeout=Timeout(idle=0.3)))
    with pytest.raises(StreamTimeoutError):
        api.events(replay)


def test_replay_of_a_response_that_was_not_streamed_in_the_background(api: Any) -> None:
    r = api(api.client.responses.create(input="Hi", max_output_tokens=3))
    replay = api(api.client.responses.retrieve(r.id, stream=True))
    with pytest.raises(StreamError, match="background=True and stream=True") as info:
        api.events(replay)
    assert not info.value.is_retryable


def test_previous_response_id_continues_the_conversation(api: Any, vllm_mock: MockVllmServer) -> None:
    first = api(api.client.responses.create(input="My name is Ada.", max_output_tokens=6))
    follow = api(api.client.responses.create(input="What is my name?", max_output_tokens=4,
                                             previous_response_id=first.id))
    fresh = api(api.client.responses.create(input="What is my name?", max_output_tokens=4))
    assert follow.previous_response_id == first.id and fresh.previous_response_id is None
    assert follow.usage is not None and fresh.usage is not None and first.usage is not None
    assert follow.usage.input_tokens > fresh.usage.input_tokens  # the earlier turn is in the prompt
    assert vllm_mock.last_request.json["input"] == "What is my name?"
    with pytest.raises(NotFoundError, match="resp_nope") as info:
        api(api.client.responses.create(input="x", previous_response_id="resp_nope"))
    assert info.value.hint is not None and "VLLM_ENABLE_RESPONSES_API_STORE=1" in info.value.hint


def test_store_false_is_not_kept(api: Any) -> None:
    r = api(api.client.responses.create(input="Hi", max_output_tokens=2, store=False))
    with pytest.raises(NotFoundError):
        api(api.client.responses.retrieve(r.id))
    with pytest.raises(ValueError, match="store=True"):
        api(api.client.responses.create(input="Hi", background=True, store=False))


def test_a_server_without_the_store(make_api: Any) -> None:
    with MockVllmServer() as server:
        api = make_api(server.base_url)
        r = api(api.client.responses.create(input="Hi", max_output_tokens=2))  # store=True silently ignored
        with pytest.raises(NotFoundError) as info:
            api(api.client.responses.retrieve(r.id))
        assert info.value.hint is not None and "VLLM_ENABLE_RESPONSES_API_STORE=1" in info.value.hint
        with pytest.raises(BadRequestError, match="VLLM_ENABLE_RESPONSES_API_STORE=1") as bg:
            api(api.client.responses.create(input="Hi", background=True))
        assert bg.value.param == "background"
        for call in (lambda: api.client.responses.cancel(r.id),
                     lambda: api.client.responses.create(input="Hi", previous_response_id=r.id)):
            with pytest.raises(NotFoundError, match="not found"):
                api(call())


def test_tool_calls_and_reasoning(make_api: Any) -> None:
    with MockVllmServer(reasoning=True, responses_store=True) as server:
        api = make_api(server.base_url)
        server.queue_chat(None, reasoning="I should look it up.", tool_calls=[ToolCall("get_weather", '{"city": "Paris"}')])
        r = api(api.client.responses.create(input="Weather in Paris?", tools=TOOLS))
        assert [i.type for i in r.output] == ["reasoning", "function_call"]
        assert r.reasoning == "I should look it up." and r.output_text == ""
        call = r.first_tool_call()
        assert call is not None and call.name == "get_weather" and call.parse_args() == {"city": "Paris"}
        assert server.last_request.json["tools"] == TOOLS
        server.queue_chat("It is sunny.", reasoning="Done.")
        history = [{"role": "user", "content": "Weather in Paris?"}, *r.output, call.result({"sky": "sunny"})]
        answer = api(api.client.responses.create(input=history, tools=TOOLS))
        assert answer.output_text == "It is sunny." and answer.reasoning == "Done."
        sent = server.last_request.json["input"]
        assert sent[-1] == {"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "sunny"}'}
        server.queue_chat(None, tool_calls=[ToolCall("get_weather", '{"city": "Rome"}')])
        stream = api(api.client.responses.create(input="Weather in Rome?", tools=TOOLS, stream=True))
        events = api.events(stream)
        pieces = "".join(e.arguments for e in events if isinstance(e, ResponseEvent.FunctionCallArgumentsDelta))
        assert pieces == '{"city": "Rome"}'
        done = [e.item for e in events if isinstance(e, ResponseEvent.OutputItemDone)]
        assert [i.type for i in done] == ["function_call"] and api(stream.final()).tool_calls[0].arguments == pieces


def test_last_sequence_number_counts_the_events_handed_out(make_api: Any) -> None:
    """One socket read may hold many events: the replay point is the last one the caller took."""
    with MockVllmServer() as mock, VllmClient(mock.base_url) as plain:  # a real event stream, captured once
        wire = [e.raw for e in plain.responses.stream(input="Say hello.", max_output_tokens=6)]
    body = b"".join(b"event: " + e["type"].encode() + b"\ndata: " + json.dumps(e).encode() + b"\n\n"
                    for e in wire[:-1])
    with ScriptedServer([[chunked_headers() + chunk(body), HOLD]]) as server:
        api = make_api(server.base_url, max_retries=0)
        stream = api(api.client.responses.create(input="x", model="m", stream=True))
        got = take(api, stream, 3)
        assert [e.sequence_number for e in got] == [0, 1, 2] and stream.last_sequence_number == 2
        partial = stream.partial()  # the decoder has read them all
        assert partial.output_text == "".join(e["delta"] for e in wire if e["type"].endswith("output_text.delta"))
        api(stream.close())
        assert server.client_closed.wait(5)
