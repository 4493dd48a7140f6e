"""run_tools / run_tools_stream against the emulator, sync and async (the `api` fixture):
scripted tool calls, parallel calls, failures the model gets to see, max_rounds, what the
server receives, and the streamed variant."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, Literal

import pytest

from vllm_client import AsyncVllmClient, ChatCompletion, StreamEvent, VllmClient
from vllm_client.testing import MockVllmServer, ToolCall
from vllm_client.tools import ToolLoop, ToolLoopError, ToolResult, run_tools, run_tools_stream, tool

MSG = [{"role": "user", "content": "What's the weather in Tokyo?"}]
CHAT = "/v1/chat/completions"


@tool
def get_weather(location: str, unit: Literal["c", "f"] = "c") -> dict[str, Any]:
    """Current weather for a city.

    Args:
        location: City name.
        unit: Temperature unit.
    """
    return {"location": location, "temp": 25 if unit == "c" else 77, "unit": unit, "sky": "☀"}


@tool
def get_time(timezone: str) -> str:
    """Current time in a timezone."""
    return f"12:00 {timezone}"


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot do {reason}")


def chat_bodies(mock: MockVllmServer) -> list[dict[str, Any]]:
    return [r.json for r in mock.requests_to(CHAT)]


def run(api: Any, messages: Any = MSG, **kwargs: Any) -> ChatCompletion:
    kwargs.setdefault("tools", [get_weather, get_time, explode])
    return api(run_tools(api.client, messages, **kwargs))  # type: ignore[no-any-return]


def test_one_call_then_final_answer(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat(tool_calls=[ToolCall("get_weather", {"location": "Tokyo"}, id="call-1")])
    vllm_mock.queue_chat("It is sunny, 25 degrees.")
    messages = list(MSG)
    final = run(api, messages, temperature=0, max_tokens=50)
    assert final.content == "It is sunny, 25 degrees." and final.finish_reason == "stop"
    assert messages == MSG  # the caller's list is not touched
    first, second = chat_bodies(vllm_mock)
    assert first["messages"] == MSG and first["temperature"] == 0 and first["max_tokens"] == 50
    assert [t["function"]["name"] for t in first["tools"]] == ["get_weather", "get_time", "explode"]
    assert first["tools"][0] == get_weather.schema
    assert second["messages"][1] == {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "call-1", "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location": "Tokyo"}'}}],
    }
    tool_msg = second["messages"][2]
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call-1"
    assert json.loads(tool_msg["content"]) == {"location": "Tokyo", "temp": 25, "unit": "c", "sky": "☀"}
    assert "☀" in tool_msg["content"]  # non-ASCII kept, not \u-escaped
    # the whole transcript, final answer included
    assert final.messages == [*second["messages"], {"role": "assistant", "content": "It is sunny, 25 degrees."}]


def test_parallel_calls_keep_call_order(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat(tool_calls=[ToolCall("get_time", {"timezone": "UTC"}, id="a"),
                                     ToolCall("get_weather", {"location": "Oslo", "unit": "f"}, id="b"),
                                     ToolCall("get_time", {"timezone": "JST"}, id="c")])
    vllm_mock.queue_chat("done")
    final = run(api)
    sent = chat_bodies(vllm_mock)[1]["messages"]
    tool_msgs = sent[2:]
    assert [m["tool_call_id"] for m in tool_msgs] == ["a", "b", "c"]
    assert tool_msgs[0]["content"] == "12:00 UTC" and tool_msgs[2]["content"] == "12:00 JST"  # str as is
    assert json.loads(tool_msgs[1]["content"])["temp"] == 77
    assert len(final.messages or []) == 6


def test_failures_become_error_results(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat(tool_calls=[
        ToolCall("explode", {"reason": "that"}, id="t1"),
        ToolCall("no_such_tool", {}, id="t2"),
        ToolCall("get_weather", '{"location": "Tok', id="t3"),  # not JSON
        ToolCall("get_weather", {"location": 7}, id="t4"),  # wrong type
        ToolCall("get_weather", {"location": "Rome", "when": "now"}, id="t5"),  # unknown argument
    ])
    vllm_mock.queue_chat("sorry")
    final = run(api)
    assert final.content == "sorry"
    tool_msgs = chat_bodies(vllm_mock)[1]["messages"][2:]
    assert [m["tool_call_id"] for m in tool_msgs] == ["t1", "t2", "t3", "t4", "t5"]
    errors = [json.loads(m["content"])["error"] for m in tool_msgs]
    assert errors[0] == "ValueError: cannot do that"
    assert errors[1].startswith("LookupError: unknown tool 'no_such_tool'") and "get_weather" in errors[1]
    assert errors[2].startswith("ToolArgumentsError:") and "not valid JSON" in errors[2]
    assert "$.location: expected string, got integer 7" in errors[3]
    assert "$.when: unexpected field" in errors[4]


def test_max_rounds_raises_with_transcript(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat(tool_calls=[ToolCall("get_time", {"timezone": "UTC"}, id="again")], times=None)
    with pytest.raises(ToolLoopError) as info:
        run(api, max_rounds=3)
    err = info.value
    assert err.rounds == 3 and len(chat_bodies(vllm_mock)) == 3
    roles = [m["role"] for m in err.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert err.messages[-1]["tool_calls"][0]["id"] == "again"  # the last calls are not run
    assert "max_rounds=3" in str(err)


def test_forced_tool_choice_applies_to_the_first_round_only(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat(tool_calls=[ToolCall("get_time", {"timezone": "UTC"})])
    vllm_mock.queue_chat("noon")
    choice = {"type": "function", "function": {"name": "get_time"}}
    run(api, tool_choice=choice)
    assert [b["tool_choice"] for b in chat_bodies(vllm_mock)] == [choice, "auto"]


def test_argument_checks_before_sending(api: Any, vllm_mock: MockVllmServer) -> None:
    with pytest.raises(ValueError, match="max_rounds"):
        run(api, max_rounds=0)
    with pytest.raises(TypeError, match="'stream'"):
        run(api, stream=True)
    with pytest.raises(ValueError, match="two tools are named 'get_time'"):
        run(api, tools=[get_time, tool(name="get_time")(get_weather)])
    assert chat_bodies(vllm_mock) == []


def test_plain_functions_are_wrapped(api: Any, vllm_mock: MockVllmServer) -> None:
    def shout(text: str) -> str:
        """Upper-case it."""
        return text.upper()

    vllm_mock.queue_chat(tool_calls=[ToolCall("shout", {"text": "hi"}, id="s")])
    vllm_mock.queue_chat("HI")
    run(api, tools=[shout])
    first, second = chat_bodies(vllm_mock)
    assert first["tools"][0]["function"]["description"] == "Upper-case it."
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "s", "content": "HI"}


def test_async_tools_from_both_clients(api: Any, vllm_mock: MockVllmServer) -> None:
    @tool
    async def lookup(key: str) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"key": key, "loop": type(asyncio.get_running_loop()).__name__}

    vllm_mock.queue_chat(tool_calls=[ToolCall("lookup", {"key": "k"}, id="l")])
    vllm_mock.queue_chat("ok")
    run(api, tools=[lookup])
    result = json.loads(chat_bodies(vllm_mock)[1]["messages"][-1]["content"])
    assert result["key"] == "k" and "Loop" in result["loop"]


def test_sync_client_inside_a_running_loop_rejects_async_tools(vllm_mock: MockVllmServer) -> None:
    @tool
    async def lookup(key: str) -> str:
        return key

    async def inside() -> None:
        with VllmClient(vllm_mock.base_url) as client:
            run_tools(client, MSG, tools=[lookup])

    with pytest.raises(RuntimeError, match="use AsyncVllmClient"):
        asyncio.run(inside())
    assert chat_bodies(vllm_mock) == []


# -- async: one round's calls run concurrently ----------------------------------------------------


async def test_async_round_runs_calls_concurrently(vllm_mock: MockVllmServer) -> None:
    ping_started, pong_started = asyncio.Event(), asyncio.Event()

    @tool
    async def ping() -> str:
        ping_started.set()
        await asyncio.wait_for(pong_started.wait(), 10)  # only returns if pong runs meanwhile
        return "ping"

    @tool
    async def pong() -> str:
        pong_started.set()
        await asyncio.wait_for(ping_started.wait(), 10)
        return "pong"

    barrier = threading.Barrier(2, timeout=10)

    @tool
    def blocking(n: int) -> int:
        barrier.wait()  # both threads must be inside at once
        return n

    vllm_mock.queue_chat(tool_calls=[ToolCall("ping", {}, id="1"), ToolCall("pong", {}, id="2"),
                                     ToolCall("blocking", {"n": 1}, id="3"),
                                     ToolCall("blocking", {"n": 2}, id="4")])
    vllm_mock.queue_chat("both")
    async with AsyncVllmClient(vllm_mock.base_url) as client:
        final = await run_tools(client, MSG, tools=[ping, pong, blocking])
    assert final.content == "both"
    tool_msgs = chat_bodies(vllm_mock)[1]["messages"][2:]
    assert [(m["tool_call_id"], m["content"]) for m in tool_msgs] == [("1", "ping"), ("2", "pong"),
                                                                      ("3", "1"), ("4", "2")]


# -- streaming ------------------------------------------------------------------------------------------------


def collect(api: Any, stream: Any) -> list[Any]:
    if api.kind == "async":
        async def go() -> list[Any]:
            return [e async for e in stream]
        return api(go())  # type: ignore[no-any-return]
    return list(stream)


def test_stream_yields_events_of_every_round_and_tool_results(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat(tool_calls=[ToolCall("get_weather", {"location": "Tokyo"}, id="w"),
                                     ToolCall("explode", {"reason": "x"}, id="e")])
    vllm_mock.queue_chat("Sunny in Tokyo.")
    stream = run_tools_stream(api.client, MSG, tools=[get_weather, explode])
    assert chat_bodies(vllm_mock) == []  # lazy: nothing sent before iterating
    events = collect(api, stream)
    completes = [e.tool_call.id for e in events if isinstance(e, StreamEvent.ToolCallComplete)]
    results = [e for e in events if isinstance(e, ToolResult)]
    assert completes == ["w", "e"]
    assert sorted(r.tool_call.id for r in results) == ["e", "w"]
    by_id = {r.tool_call.id: r for r in results}
    assert by_id["w"].error is None and by_id["w"].value["temp"] == 25
    assert isinstance(by_id["e"].error, ValueError) and "cannot do x" in by_id["e"].content
    # results come after the round's Done, before the next round's content
    done_at = [i for i, e in enumerate(events) if isinstance(e, StreamEvent.Done)]
    result_at = [i for i, e in enumerate(events) if isinstance(e, ToolResult)]
    content_at = [i for i, e in enumerate(events) if isinstance(e, StreamEvent.Content)]
    assert len(done_at) == 2 and done_at[0] < min(result_at) and max(result_at) < min(content_at)
    text = "".join(e.text for e in events if isinstance(e, StreamEvent.Content))
    assert text == "Sunny in Tokyo."
    final = stream.final
    assert final is not None and final.content == "Sunny in Tokyo." and stream.rounds == 2
    assert [m["role"] for m in final.messages or []] == ["user", "assistant", "tool", "tool", "assistant"]
    bodies = chat_bodies(vllm_mock)
    assert all(b["stream"] is True for b in bodies)
    assert [m.get("tool_call_id") for m in bodies[1]["messages"][2:]] == ["w", "e"]


def test_stream_max_rounds(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat(tool_calls=[ToolCall("get_time", {"timezone": "UTC"})], times=None)
    stream = run_tools_stream(api.client, MSG, tools=[get_time], max_rounds=2)
    with pytest.raises(ToolLoopError) as info:
        collect(api, stream)
    assert info.value.rounds == 2 and stream.final is None


# -- the state machine on its own ------------------------------------------------------------------------------


def test_tool_loop_without_io() -> None:
    loop = ToolLoop(MSG, [get_time], create_kwargs={"seed": 1})
    req = loop.next_request()
    assert req["seed"] == 1 and req["messages"] == MSG and req["tools"] == [get_time.schema]
    call = {"id": "x", "type": "function", "function": {"name": "get_time", "arguments": '{"timezone": "UTC"}'}}
    loop.record_response(ChatCompletion({"choices": [{"message": {"role": "assistant", "tool_calls": [call]}}]}))
    (inv,) = loop.pending_calls()
    assert inv.tool is get_time and inv.kwargs == {"timezone": "UTC"} and inv.result is None
    with pytest.raises(ValueError, match="one result per pending call"):
        loop.record_results([])
    loop.record_results([inv.succeeded("noon")])
    assert loop.next_request()["messages"][-1] == {"role": "tool", "tool_call_id": "x", "content": "noon"}
    loop.record_response(ChatCompletion({"choices": [{"message": {"role": "assistant", "content": "Noon."}}]}))
    assert loop.done and loop.final is not None and loop.final.messages is not None
    assert loop.final.messages[-1] == {"role": "assistant", "content": "Noon."}
