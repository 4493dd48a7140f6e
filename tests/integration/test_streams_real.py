"""Streaming against a REAL vLLM 0.32 server: events, ``final()``, metrics, tool-call and
reasoning streams, client-side think tags, legacy completion streams and cancellation.

The model is a tiny random-weight Qwen2 (``tiny``): free text is noise, so the assertions are
on protocol facts, on what a seed makes repeatable, and on output forced by
``structured_outputs`` / ``logit_bias`` / strict tools. The request bodies are those of
tests/fixtures/real-vllm-0.32 (same messages, seeds and forcing), whose captures show what
the server answers. First-token / idle timeouts cannot be forced reliably on a real server:
the emulator tier (tests/emulator/test_client_streams.py) covers them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from vllm_client import CompletionStreamEvent, StreamEvent

if TYPE_CHECKING:
    from .conftest import RealServer

TIMEOUT = 120
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]
TOOL_MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What's the weather in Tokyo?"},
]
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a location.",
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["location"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Get the current time in a timezone.",
            "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]},
        },
    },
]
STRICT_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a location.",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {
                    "location": {"type": "string", "maxLength": 12},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["location", "unit"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Get the current time in a timezone.",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string", "maxLength": 12}},
                "required": ["timezone"],
                "additionalProperties": False,
            },
        },
    },
]
#: -100 on the whitespace-only tokens, so strict tool arguments close (the fixtures' bias)
WS_BIAS: dict[str, float] = {
    str(t): -100
    for t in (
        197,
        198,
        199,
        200,
        201,
        216,
        217,
        218,
        219,
        220,
        256,
        257,
        258,
        259,
        262,
        282,
        298,
        330,
        363,
        447,
        675,
        710,
        712,
        747,
        878,
        990,
        1312,
        1440,
        1768,
        1908,
        1942,
        2063,
        2198,
        2211,
        2235,
        2260,
        2284,
        2296,
        2368,
        2415,
        2661,
        2838,
        2922,
        2958,
        3134,
        3580,
    )
}
#: <tool_call> / </tool_call> as single special tokens, as a real model emits them
TOOL_TAG_BIAS = {"4092": 100, "4093": 100}
WEATHER_CALL_RE = '<tool_call>\\n\\{"name": "get_weather", "arguments": \\{"location": "Tokyo"\\}\\}\\n<\\/tool_call>'
TIME_CALL_RE = '<tool_call>\\n\\{"name": "get_time", "arguments": \\{"timezone": "Asia\\/Tokyo"\\}\\}\\n<\\/tool_call>'
ANSWER_42 = "The answer is 42."


# --------------------------------------------------------------------------- helpers




def kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def of(events: list[Any], cls: type, index: int | None = None) -> list[Any]:
    return [e for e in events if isinstance(e, cls) and (index is None or e.choice_index == index)]


def joined(events: list[Any], cls: type, index: int = 0) -> str:
    return "".join(e.text for e in of(events, cls, index))


def _check_tail(events: list[Any], *, usage: bool = True) -> None:
    """Finish (once), then Usage (when asked for), then Done: last, in that order."""
    names = kinds(events)
    tail = ["Finish", "Usage", "Done"] if usage else ["Finish", "Done"]
    assert names[-len(tail) :] == tail, names
    assert names.count("Finish") == 1 and names.count("Done") == 1
    assert names.count("Usage") == (1 if usage else 0)


def _check_usage(usage: Any, max_tokens: int | None = None) -> None:
    assert usage is not None
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    if max_tokens is not None:
        assert usage.completion_tokens <= max_tokens


def _check_tool_stream(events: list[Any]) -> list[Any]:
    """Deltas and completes agree; one Complete per call, each after all of its deltas."""
    deltas = of(events, StreamEvent.ToolCallDelta)
    done = [e.tool_call for e in of(events, StreamEvent.ToolCallComplete)]
    assert deltas and done
    assert len(done) == len({d.index for d in deltas})
    names = kinds(events)
    for i, tc in enumerate(done):
        mine = [d for d in deltas if d.index == i]
        assert mine, f"no deltas for tool call {i}"
        assert mine[0].id and mine[0].name == tc.name and tc.id == mine[0].id
        assert "".join(d.arguments for d in mine) == tc.arguments
        last_delta = max(j for j, e in enumerate(events) if isinstance(e, StreamEvent.ToolCallDelta) and e.index == i)
        complete_at = [
            j for j, e in enumerate(events) if isinstance(e, StreamEvent.ToolCallComplete) and e.tool_call.id == tc.id
        ]
        assert len(complete_at) == 1 and complete_at[0] > last_delta
    assert names.index("Finish") > max(j for j, n in enumerate(names) if n == "ToolCallComplete")
    return done


def _check_schema_args(tc: Any, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """What strict tools guarantee: a known name and a JSON object fitting its schema."""
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    assert tc.name in schemas
    schema = schemas[tc.name]
    args = tc.parse_args()
    assert isinstance(args, dict)
    assert set(schema["required"]) <= set(args) <= set(schema["properties"]), (tc.name, args)
    for key, value in args.items():
        prop = schema["properties"][key]
        assert isinstance(value, str)
        if "enum" in prop:
            assert value in prop["enum"]
        if "maxLength" in prop:
            assert len(value) <= prop["maxLength"]
    return args


def _chat_stream(server: RealServer, **req: Any) -> tuple[list[Any], Any, Any]:
    """Stream one chat request to its end: (events, final(), the stream)."""
    with server.client() as client, client.chat.completions.create(stream=True, **req) as stream:
        events = list(stream)
        return events, stream.final(), stream


def _abort_line(server: RealServer, rid: str, since: int, timeout: float = 30.0) -> str | None:
    """Poll the server log (from byte ``since``) for a line naming ``rid`` and an abort."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with server.log_path.open("rb") as f:
                f.seek(since)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        for line in text.splitlines():
            if rid in line and "abort" in line.lower():
                return line
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


# --------------------------------------------------------------------------- plain variant


def test_plain_stream_events_final_metrics_and_non_streamed_equality(vllm_plain: RealServer) -> None:
    req: dict[str, Any] = {"messages": MESSAGES, "max_tokens": 8, "seed": 1234, "temperature": 0}
    with vllm_plain.client() as client:
        with client.chat.completions.create(stream=True, **req) as stream:
            events = list(stream)
            final = stream.final()
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        _check_tail(events)
        names = kinds(events)
        # nothing but Content before the tail (no reasoning or tools on the plain server)
        assert set(names[:-3]) == {"Content"}
        text = joined(events, StreamEvent.Content)
        assert text and final.content == text
        finish = events[-3]
        assert finish.reason in ("length", "stop") and final.finish_reason == finish.reason
        usage_event = events[-2]
        _check_usage(usage_event.usage, 8)
        assert final.usage == usage_event.usage
        if finish.reason == "length":
            assert usage_event.usage.completion_tokens == 8

        m = stream.metrics
        token_events = len(of(events, StreamEvent.Content))
        assert m.ttft_s is not None and m.total_s is not None
        assert 0 <= m.ttft_s <= m.total_s
        assert len(m.itl_s) == token_events - 1 and all(x >= 0 for x in m.itl_s)
        assert m.completion_tokens == usage_event.usage.completion_tokens
        # role-only chunk + one chunk per token (+ maybe a bare finish chunk) + the usage chunk
        assert token_events + 2 <= m.chunks <= usage_event.usage.completion_tokens + 3

        plain = client.chat.completions.create(**req)
        assert plain.content == final.content
        assert plain.finish_reason == final.finish_reason
        assert plain.usage is not None and plain.usage.completion_tokens == usage_event.usage.completion_tokens
        assert final.id.startswith("chatcmpl-") and final.model == "tiny" and final.object == "chat.completion"


def test_stream_method_text_stream_and_collect_content(vllm_plain: RealServer) -> None:
    req: dict[str, Any] = {"messages": MESSAGES, "max_tokens": 6, "seed": 42, "temperature": 1.0}
    with vllm_plain.client() as client:
        expected = client.chat.completions.create(**req).content
        with client.chat.completions.stream(**req) as stream:
            assert stream.collect_content() == expected
        with client.chat.completions.create(stream=True, **req) as stream:
            pieces = list(stream.text_stream)
            assert "".join(pieces) == expected and len(pieces) >= 2
            assert stream.final().content == expected
        assert client._transport.pool_stats()["in_use"] == 0


def test_streams_read_to_the_end_reuse_their_connection(vllm_plain: RealServer) -> None:
    """Five streams, one after another, on one keep-alive connection (vLLM ends the chunked
    body right after [DONE]); the async client keeps its connection too."""
    req: dict[str, Any] = {"messages": MESSAGES, "max_tokens": 4, "seed": 42}
    with vllm_plain.client() as client:
        for _ in range(5):
            with client.chat.completions.create(stream=True, **req) as stream:
                assert stream.final().finish_reason is not None
        assert client._transport.pool_stats() == {"idle": 1, "in_use": 0, "opened": 1}

    async def run() -> int:
        async with vllm_plain.aclient() as aclient:
            for _ in range(5):
                async with await aclient.chat.completions.create(stream=True, **req) as astream:
                    assert (await astream.final()).finish_reason is not None
            stats = aclient._transport.pool_stats()
            assert stats["in_use"] == 0 and stats["opened"] == 1
            return int(stats["idle"])  # idle keep-alive connections

    assert asyncio.run(run()) == 1


def test_continuous_usage_stats(vllm_plain: RealServer) -> None:
    # chat_stream_continuous_usage.json
    req: dict[str, Any] = {"messages": MESSAGES, "max_tokens": 6, "seed": 1234}
    with vllm_plain.client() as client:
        with client.chat.completions.create(
            stream=True, stream_options={"include_usage": True, "continuous_usage_stats": True}, **req
        ) as s:
            events = list(s)
            final = s.final()
        _check_tail(events)  # running usage rides on every chunk; the Usage event comes once, at the end
        usage = events[-2].usage
        _check_usage(usage, 6)
        assert final.usage == usage and s.metrics.completion_tokens == usage.completion_tokens
        assert final.content == joined(events, StreamEvent.Content)
        # the same seeded request without running usage streams the same text
        with client.chat.completions.create(stream=True, **req) as s2:
            assert s2.final().content == final.content
            assert s2.final().usage == usage


def test_stream_options_none_sends_no_usage(vllm_plain: RealServer) -> None:
    events, final, stream = _chat_stream(vllm_plain, messages=MESSAGES, max_tokens=4, seed=1234, stream_options=None)
    _check_tail(events, usage=False)
    assert final.usage is None
    assert final.content == joined(events, StreamEvent.Content)
    # without a usage chunk the metrics count the token events seen
    assert stream.metrics.completion_tokens == len(of(events, StreamEvent.Content))


def test_n2_choice_indexes(vllm_plain: RealServer) -> None:
    # chat_n2_stream.json
    events, final, _ = _chat_stream(
        vllm_plain, messages=MESSAGES, max_tokens=4, seed=1234, n=2, stream_options={"include_usage": True}
    )
    for i in (0, 1):
        assert of(events, StreamEvent.Content, i), f"no content for choice {i}"
        assert len(of(events, StreamEvent.Finish, i)) == 1
    names = kinds(events)
    assert names[-2:] == ["Usage", "Done"] and names.count("Finish") == 2
    assert [c.index for c in final.choices] == [0, 1]
    for c in final.choices:
        assert c.message.content == joined(events, StreamEvent.Content, c.index)
        assert c.finish_reason == of(events, StreamEvent.Finish, c.index)[0].reason
    usage = events[-2].usage
    _check_usage(usage, 8)
    if all(c.finish_reason == "length" for c in final.choices):
        assert usage.completion_tokens == 8


def test_logprobs_stream(vllm_plain: RealServer) -> None:
    # chat_logprobs_stream.json (plus the default include_usage)
    events, final, _ = _chat_stream(
        vllm_plain, messages=MESSAGES, max_tokens=3, seed=1234, logprobs=True, top_logprobs=2
    )
    content_events = of(events, StreamEvent.Content)
    assert content_events and all(e.logprobs is not None for e in content_events)
    entries = [entry for e in content_events for entry in e.logprobs["content"]]
    for entry in entries:
        assert isinstance(entry["token"], str) and entry["logprob"] <= 0
        assert len(entry["top_logprobs"]) == 2
    usage = final.usage
    _check_usage(usage, 3)
    lp = final.choices[0].logprobs
    assert lp is not None
    assert len(lp["content"]) == usage.completion_tokens == len(entries)
    assert lp["content"] == entries


def test_stop_string_stream(vllm_plain: RealServer) -> None:
    # chat_stop_string_stream.json: with seed 99 the 6th sampled token is "###"
    req: dict[str, Any] = {"messages": MESSAGES, "max_tokens": 16, "seed": 99, "stop": ["###"]}
    with vllm_plain.client() as client:
        with client.chat.completions.create(stream=True, **req) as stream:
            events = list(stream)
            final = stream.final()
        plain = client.chat.completions.create(**req)
    _check_tail(events)
    finish = of(events, StreamEvent.Finish)[0]
    assert (finish.reason, finish.stop_reason) == ("stop", "###")
    assert (final.finish_reason, final.stop_reason) == ("stop", "###")
    assert "###" not in final.content
    assert final.content == joined(events, StreamEvent.Content) == plain.content


def test_return_token_ids_stream(vllm_plain: RealServer) -> None:
    # chat_return_token_ids_stream.json
    req: dict[str, Any] = {"messages": MESSAGES, "max_tokens": 3, "seed": 1234, "return_token_ids": True}
    with vllm_plain.client() as client:
        with client.chat.completions.create(stream=True, **req) as stream:
            events = list(stream)
            final = stream.final()
        plain = client.chat.completions.create(**req)
    ids = final.choices[0].token_ids
    assert ids is not None and all(isinstance(t, int) for t in ids)
    assert final.usage is not None and len(ids) == final.usage.completion_tokens
    assert [t for e in of(events, StreamEvent.Content) for t in (e.token_ids or [])] == ids
    assert plain.choices[0].token_ids == ids


def test_think_tags_split_client_side(vllm_plain: RealServer) -> None:
    # No reasoning parser on this server: the forced "<think>..</think>" text arrives as content,
    # the tags spelled with ordinary tokens split over several chunks ("<", "t", "h", "ink", ">").
    req: dict[str, Any] = {
        "messages": MESSAGES,
        "max_tokens": 40,
        "seed": 32,
        "structured_outputs": {"regex": "<think>\\nI should answer\\.\\n</think>\\n\\nParis\\."},
        "logit_bias": {"4090": -100, "4091": -100},
    }
    with vllm_plain.client() as client:
        with client.chat.completions.create(stream=True, **req) as raw_stream:
            raw = raw_stream.final().content
        assert raw == "<think>\nI should answer.\n</think>\n\nParis."

        with client.chat.completions.create(stream=True, parse_think_tags=True, **req) as stream:
            events = list(stream)
            final = stream.final()
    reasoning = joined(events, StreamEvent.Reasoning)
    content = joined(events, StreamEvent.Content)
    assert reasoning.strip() == "I should answer."
    assert content.strip() == "Paris."
    assert "<" not in reasoning + content and ">" not in reasoning + content
    names = kinds(events)
    assert max(i for i, n in enumerate(names) if n == "Reasoning") < names.index("Content")
    assert final.reasoning == reasoning and final.content == content
    _check_tail(events)


def test_completions_stream_prompt_list(vllm_plain: RealServer) -> None:
    # completions_prompt_list_stream.json
    with (
        vllm_plain.client() as client,
        client.completions.create(prompt=["Hello", "Goodbye"], max_tokens=3, seed=1, stream=True) as stream,
    ):
        events = list(stream)
        final = stream.final()
    texts = of(events, CompletionStreamEvent.Text)
    assert {e.choice_index for e in texts} == {0, 1}
    for i in (0, 1):
        assert len(of(events, CompletionStreamEvent.Finish, i)) == 1
    names = kinds(events)
    assert names[-2:] == ["Usage", "Done"]
    assert [c.index for c in final.choices] == [0, 1]
    for c in final.choices:
        assert c.text == "".join(e.text for e in texts if e.choice_index == c.index)
        assert c.finish_reason == of(events, CompletionStreamEvent.Finish, c.index)[0].reason
    _check_usage(final.usage, 6)
    assert events[-2].usage == final.usage


# On 2 shared cores the test process can be descheduled for seconds, long enough for the
# server to finish all tokens before our close arrives (the fixture capture saw the same).
# A disconnect can only abort a generation that is still running, so each cancellation
# test gets a few attempts; one logged abort proves the mechanism, and every attempt must
# still leave no usage delivered and no connection in use.
ABORT_ATTEMPTS = 3
ABORT_MAX_TOKENS = 1900  # close to the 2048 context: the longest generation we can ask for


def test_closing_a_stream_aborts_the_generation(vllm_plain: RealServer) -> None:
    logs: list[str] = []
    with vllm_plain.client() as client:
        for attempt in range(ABORT_ATTEMPTS):
            rid = f"streams-real-sync-{uuid.uuid4().hex}"
            since = vllm_plain.log_size()
            seen: list[Any] = []
            with client.chat.completions.create(
                messages=MESSAGES,
                max_tokens=ABORT_MAX_TOKENS,
                ignore_eos=True,
                seed=1,
                stream=True,
                extra_headers={"X-Request-Id": rid},
            ) as stream:
                for event in stream:
                    seen.append(event)
                    if len(of(seen, StreamEvent.Content)) == 3:
                        break
            assert len(of(seen, StreamEvent.Content)) == 3
            assert not {"Finish", "Usage", "Done"} & set(kinds(seen))
            assert stream.final().usage is None  # usage was never delivered
            assert client._transport.pool_stats()["in_use"] == 0
            if _abort_line(vllm_plain, rid, since, timeout=20.0) is not None:
                break
            logs.append(f"attempt {attempt + 1} ({rid}):\n" + vllm_plain.log_text()[since:][-1500:])
        else:
            pytest.fail("no abort logged in any attempt:\n" + "\n".join(logs))

        # the client is still usable afterwards
        with client.chat.completions.create(messages=MESSAGES, max_tokens=2, stream=True) as again:
            assert kinds(list(again))[-1] == "Done"
        assert client._transport.pool_stats()["in_use"] == 0


async def test_async_stream_events_and_final(vllm_plain: RealServer) -> None:
    req: dict[str, Any] = {"messages": MESSAGES, "max_tokens": 6, "seed": 1234, "temperature": 0}
    async with vllm_plain.aclient() as client:
        stream = await client.chat.completions.create(stream=True, **req)
        async with stream:
            events = [e async for e in stream]
            final = await stream.final()
        _check_tail(events)
        assert final.content == joined(events, StreamEvent.Content)
        assert final.usage == events[-2].usage
        assert stream.metrics.completion_tokens == final.usage.completion_tokens
        plain = await client.chat.completions.create(**req)
        assert plain.content == final.content
        assert client._transport.pool_stats()["in_use"] == 0


async def test_async_task_cancellation_aborts_the_generation(vllm_plain: RealServer) -> None:
    logs: list[str] = []
    loop = asyncio.get_running_loop()
    async with vllm_plain.aclient() as client:
        for attempt in range(ABORT_ATTEMPTS):
            rid = f"streams-real-async-{uuid.uuid4().hex}"
            since = vllm_plain.log_size()
            seen: list[Any] = []
            got_three = asyncio.Event()

            async def consume(rid: str = rid, seen: list[Any] = seen, got_three: asyncio.Event = got_three) -> None:
                stream = await client.chat.completions.create(
                    messages=MESSAGES,
                    max_tokens=ABORT_MAX_TOKENS,
                    ignore_eos=True,
                    seed=1,
                    stream=True,
                    extra_headers={"X-Request-Id": rid},
                )
                async with stream:
                    async for event in stream:
                        seen.append(event)
                        if len(of(seen, StreamEvent.Content)) >= 3:
                            got_three.set()

            task = asyncio.ensure_future(consume())
            await asyncio.wait_for(got_three.wait(), timeout=60)
            if task.done():  # starved: the whole answer was already buffered and read in one go
                await task
                logs.append(f"attempt {attempt + 1} ({rid}): the stream ended before the cancel")
                continue
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert "Usage" not in kinds(seen) and "Done" not in kinds(seen)
            assert client._transport.pool_stats()["in_use"] == 0
            line = await loop.run_in_executor(None, _abort_line, vllm_plain, rid, since, 20.0)
            if line is not None:
                break
            logs.append(f"attempt {attempt + 1} ({rid}):\n" + vllm_plain.log_text()[since:][-1500:])
        else:
            pytest.fail("no abort logged in any attempt:\n" + "\n".join(logs))


# --------------------------------------------------------------------------- hermes variant


def _tool_stream(server: RealServer, **req: Any) -> tuple[list[Any], Any]:
    with (
        server.client() as client,
        client.chat.completions.create(messages=TOOL_MESSAGES, stream=True, **req) as stream,
    ):
        events = list(stream)
        return events, stream.final()


def test_hermes_forced_tool_call_stream(vllm_hermes: RealServer) -> None:
    # hermes_auto_forced_tool_call_stream.json
    req: dict[str, Any] = {
        "tools": TOOLS,
        "tool_choice": "auto",
        "max_tokens": 64,
        "seed": 21,
        "structured_outputs": {"regex": WEATHER_CALL_RE},
        "logit_bias": TOOL_TAG_BIAS,
    }
    events, final = _tool_stream(vllm_hermes, **req)
    done = _check_tool_stream(events)
    assert len(done) == 1
    tc = done[0]
    assert tc.name == "get_weather" and tc.parse_args() == {"location": "Tokyo"}
    assert tc.id and tc.type == "function"
    assert len(of(events, StreamEvent.ToolCallDelta)) > 1  # arguments arrive in pieces
    assert not of(events, StreamEvent.Content)
    finish = of(events, StreamEvent.Finish)[0]
    assert finish.reason == "tool_calls" and final.finish_reason == "tool_calls"
    assert [(t.id, t.name, t.arguments) for t in final.tool_calls] == [(tc.id, tc.name, tc.arguments)]
    assert final.content is None
    _check_tail(events)
    with vllm_hermes.client() as client:
        plain = client.chat.completions.create(messages=TOOL_MESSAGES, **req)
    assert [(t.name, t.parse_args()) for t in plain.tool_calls] == [("get_weather", {"location": "Tokyo"})]


def test_hermes_two_tool_calls_stream(vllm_hermes: RealServer) -> None:
    # hermes_auto_forced_two_tool_calls_stream.json
    events, final = _tool_stream(
        vllm_hermes,
        tools=TOOLS,
        tool_choice="auto",
        max_tokens=128,
        seed=21,
        structured_outputs={"regex": WEATHER_CALL_RE + "\\n" + TIME_CALL_RE},
        logit_bias=TOOL_TAG_BIAS,
    )
    done = _check_tool_stream(events)
    assert [(t.name, t.parse_args()) for t in done] == [
        ("get_weather", {"location": "Tokyo"}),
        ("get_time", {"timezone": "Asia/Tokyo"}),
    ]
    assert len({t.id for t in done}) == 2
    # the first call is complete before the second one's first piece arrives
    names = kinds(events)
    first_complete = names.index("ToolCallComplete")
    second_start = next(i for i, e in enumerate(events) if isinstance(e, StreamEvent.ToolCallDelta) and e.index == 1)
    assert first_complete < second_start
    assert final.finish_reason == "tool_calls"
    assert [(t.id, t.name, t.arguments) for t in final.tool_calls] == [(t.id, t.name, t.arguments) for t in done]
    _check_tail(events)


def test_hermes_content_then_tool_call_stream(vllm_hermes: RealServer) -> None:
    # hermes_auto_forced_content_then_tool_call_stream.json
    events, final = _tool_stream(
        vllm_hermes,
        tools=TOOLS,
        tool_choice="auto",
        max_tokens=64,
        seed=21,
        structured_outputs={"regex": "Let me check the weather\\.\\n" + WEATHER_CALL_RE},
        logit_bias=TOOL_TAG_BIAS,
    )
    content = joined(events, StreamEvent.Content)
    assert content.strip() == "Let me check the weather."
    names = kinds(events)
    assert max(i for i, n in enumerate(names) if n == "Content") < names.index("ToolCallDelta")
    done = _check_tool_stream(events)
    assert [(t.name, t.parse_args()) for t in done] == [("get_weather", {"location": "Tokyo"})]
    assert final.content == content and final.finish_reason == "tool_calls"
    assert [t.arguments for t in final.tool_calls] == [done[0].arguments]
    _check_tail(events)


def test_hermes_required_strict_tools_stream(vllm_hermes: RealServer) -> None:
    # hermes_required_strict_stream.json: the server forces schema-valid calls (values are noise)
    events, final = _tool_stream(
        vllm_hermes,
        tools=STRICT_TOOLS,
        tool_choice="required",
        max_tokens=120,
        seed=11,
        logit_bias=WS_BIAS,
        stream_options={"include_usage": True},
    )
    done = _check_tool_stream(events)
    for tc in done:
        _check_schema_args(tc, STRICT_TOOLS)
        assert tc.id
    assert [(t.name, t.parse_args()) for t in final.tool_calls] == [(t.name, t.parse_args()) for t in done]
    _check_tail(events)
    _check_usage(final.usage, 120)


def test_hermes_named_strict_tool_stream(vllm_hermes: RealServer) -> None:
    # hermes_named_strict_stream.json
    events, final = _tool_stream(
        vllm_hermes,
        tools=STRICT_TOOLS,
        max_tokens=120,
        seed=12,
        logit_bias=WS_BIAS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    done = _check_tool_stream(events)
    assert len(done) == 1 and done[0].name == "get_weather"
    _check_schema_args(done[0], STRICT_TOOLS)
    assert [(t.name, t.arguments) for t in final.tool_calls] == [("get_weather", done[0].arguments)]
    _check_tail(events)


async def test_async_hermes_forced_tool_call_stream(vllm_hermes: RealServer) -> None:
    async with vllm_hermes.aclient() as client:
        stream = await client.chat.completions.create(
            messages=TOOL_MESSAGES,
            tools=TOOLS,
            tool_choice="auto",
            max_tokens=64,
            seed=21,
            stream=True,
            structured_outputs={"regex": WEATHER_CALL_RE},
            logit_bias=TOOL_TAG_BIAS,
        )
        async with stream:
            events = [e async for e in stream]
            final = await stream.final()
    done = _check_tool_stream(events)
    assert [(t.name, t.parse_args()) for t in done] == [("get_weather", {"location": "Tokyo"})]
    assert final.finish_reason == "tool_calls" and final.tool_calls[0].parse_args() == {"location": "Tokyo"}
    _check_tail(events)


# --------------------------------------------------------------------------- reasoning variants


def _check_think_end_bias_answer(server: RealServer) -> None:
    # {r1,qwen3}_think_end_bias_regex_answer_stream.json: a few random reasoning tokens, then
    # </think> (biased), then the answer forced by the regex
    events, final, stream = _chat_stream(
        server,
        messages=MESSAGES,
        max_tokens=64,
        seed=33,
        logit_bias={"4091": 7.0},
        structured_outputs={"regex": "The answer is 42\\."},
        stream_options={"include_usage": True},
    )
    reasoning_at = [i for i, e in enumerate(events) if isinstance(e, StreamEvent.Reasoning)]
    content_at = [i for i, e in enumerate(events) if isinstance(e, StreamEvent.Content)]
    assert reasoning_at and content_at
    assert max(reasoning_at) < min(content_at)
    assert final.reasoning == joined(events, StreamEvent.Reasoning)
    assert final.content == joined(events, StreamEvent.Content) == ANSWER_42
    assert final.finish_reason == "stop"
    assert "<think>" not in final.content and "</think>" not in final.reasoning
    _check_tail(events)
    _check_usage(final.usage, 64)
    # TTFT counts reasoning tokens: every Reasoning/Content event is a token event
    assert len(stream.metrics.itl_s) == len(reasoning_at) + len(content_at) - 1


def test_r1_reasoning_then_content_stream(vllm_r1: RealServer) -> None:
    _check_think_end_bias_answer(vllm_r1)


def test_r1_unconstrained_stream_is_all_reasoning(vllm_r1: RealServer) -> None:
    # r1_plain_stream.json: the random model never emits </think>
    events, final, _ = _chat_stream(vllm_r1, messages=MESSAGES, max_tokens=6, seed=31)
    assert of(events, StreamEvent.Reasoning) and not of(events, StreamEvent.Content)
    assert final.reasoning == joined(events, StreamEvent.Reasoning)
    assert final.content is None
    _check_tail(events)


def test_r1_sor_forced_think_block_stream(vllm_r1_sor: RealServer) -> None:
    # r1sor_regex_think_answer_stream.json: grammar enforced inside reasoning; <think>/</think> single tokens
    events, final, _ = _chat_stream(
        vllm_r1_sor,
        messages=MESSAGES,
        max_tokens=40,
        seed=32,
        logit_bias={"4090": 100, "4091": 100},
        structured_outputs={"regex": "<think>\\nI should answer\\.\\n<\\/think>\\n\\nThe answer is 42\\."},
        stream_options={"include_usage": True},
    )
    names = kinds(events)
    assert max(i for i, n in enumerate(names) if n == "Reasoning") < names.index("Content")
    assert final.reasoning == joined(events, StreamEvent.Reasoning)
    assert final.reasoning.strip() == "I should answer."
    assert final.content == joined(events, StreamEvent.Content)
    assert final.content.strip() == ANSWER_42
    _check_tail(events)


def test_qwen3_reasoning_then_content_stream(vllm_qwen3: RealServer) -> None:
    _check_think_end_bias_answer(vllm_qwen3)


async def test_async_qwen3_reasoning_stream(vllm_qwen3: RealServer) -> None:
    async with vllm_qwen3.aclient() as client:
        stream = await client.chat.completions.create(
            messages=MESSAGES,
            max_tokens=64,
            seed=33,
            logit_bias={"4091": 7.0},
            structured_outputs={"regex": "The answer is 42\\."},
            stream=True,
        )
        async with stream:
            events = [e async for e in stream]
            final = await stream.final()
    assert of(events, StreamEvent.Reasoning)
    assert final.reasoning == joined(events, StreamEvent.Reasoning)
    assert final.content == joined(events, StreamEvent.Content) == ANSWER_42
    _check_tail(events)


def test_request_bodies_match_the_fixtures() -> None:
    """The forcing constants above are the fixtures' own (guards against drift in either)."""
    from .conftest import REPO_ROOT

    fixtures = REPO_ROOT / "tests" / "fixtures" / "real-vllm-0.32"
    strict = json.loads(json.loads((fixtures / "hermes_required_strict_stream.json").read_text())["request"]["body"])
    assert strict["tools"] == STRICT_TOOLS and strict["logit_bias"] == WS_BIAS
    two = json.loads(
        json.loads((fixtures / "hermes_auto_forced_two_tool_calls_stream.json").read_text())["request"]["body"]
    )
    assert two["tools"] == TOOLS and two["messages"] == TOOL_MESSAGES
    assert two["structured_outputs"]["regex"] == WEATHER_CALL_RE + "\\n" + TIME_CALL_RE
