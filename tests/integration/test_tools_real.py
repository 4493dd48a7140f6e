"""@tool + run_tools against a REAL vLLM 0.32 server (hermes tool parser).

The model has random weights, so the tool call is forced: a strict tool whose parameters
are enums (the grammar leaves the model no other choice than valid arguments) and a named
``tool_choice``. run_tools applies that choice to the first request only, so the second
request -- which carries our assistant message with ``tool_calls`` and the ``role: tool``
results -- is an ordinary "auto" request; the ``<tool_call>`` token is biased away so the
noise the model then writes stays text; whitespace tokens are biased away as in
test_streams_real.py, or the forced arguments may never close. What is tested is that vLLM accepts the transcript
run_tools builds and that the loop ends.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from vllm_client import AsyncVllmClient, StreamEvent, VllmClient
from vllm_client.tools import ToolResult, run_tools, run_tools_stream, tool

from .test_streams_real import WS_BIAS

if TYPE_CHECKING:
    from .conftest import RealServer

TIMEOUT = 120
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What's the weather in Tokyo?"},
]
NAMED = {"type": "function", "function": {"name": "get_weather"}}
#: -100 on whitespace-only tokens (else the forced arguments can be endless whitespace) and on
#: <tool_call> / </tool_call> (the free-text round cannot turn into a tool call)
BIAS = {**WS_BIAS, "4092": -100, "4093": -100}
CALLS: list[tuple[str, str]] = []


@tool(strict=True)
def get_weather(location: Literal["Tokyo", "Paris", "Oslo"],
                unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """Get the current weather for a location.

    Args:
        location: City name.
        unit: Temperature unit.
    """
    CALLS.append((location, unit))
    return {"location": location, "temperature": 21, "unit": unit}


def _check_transcript(final: Any) -> None:
    messages = final.messages
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant"]
    call = messages[2]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather" and call["id"]
    assert messages[3]["tool_call_id"] == call["id"] and '"temperature": 21' in messages[3]["content"]
    assert final.tool_calls == [] and final.finish_reason in ("stop", "length")
    assert CALLS and CALLS[-1][0] in ("Tokyo", "Paris", "Oslo") and CALLS[-1][1] in ("celsius", "fahrenheit")


def test_run_tools_round_trip_sync(vllm_hermes: RealServer) -> None:
    CALLS.clear()
    with VllmClient(vllm_hermes.base_url, timeout=TIMEOUT) as client:
        final = run_tools(client, MESSAGES, tools=[get_weather], tool_choice=NAMED, max_tokens=120, seed=12,
                          temperature=0, logit_bias=BIAS, max_rounds=2)
    assert len(CALLS) == 1
    _check_transcript(final)


def test_run_tools_round_trip_async(vllm_hermes: RealServer) -> None:
    CALLS.clear()

    async def main() -> Any:
        async with AsyncVllmClient(vllm_hermes.base_url, timeout=TIMEOUT) as client:
            return await run_tools(client, MESSAGES, tools=[get_weather], tool_choice=NAMED, max_tokens=120,
                                   seed=13, temperature=0, logit_bias=BIAS, max_rounds=2)

    final = asyncio.run(main())
    assert len(CALLS) == 1
    _check_transcript(final)


def test_run_tools_stream_round_trip(vllm_hermes: RealServer) -> None:
    CALLS.clear()
    with VllmClient(vllm_hermes.base_url, timeout=TIMEOUT) as client:
        stream = run_tools_stream(client, MESSAGES, tools=[get_weather], tool_choice=NAMED, max_tokens=120,
                                  seed=14, temperature=0, logit_bias=BIAS, max_rounds=2)
        events = list(stream)
    completes = [e for e in events if isinstance(e, StreamEvent.ToolCallComplete)]
    results = [e for e in events if isinstance(e, ToolResult)]
    assert len(completes) == 1 and len(results) == 1 and results[0].error is None
    assert results[0].tool_call.id == completes[0].tool_call.id
    assert sum(isinstance(e, StreamEvent.Done) for e in events) == 2
    assert stream.final is not None
    _check_transcript(stream.final)
