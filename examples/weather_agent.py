#!/usr/bin/env python3
"""A tool-calling agent: ``@tool`` describes a Python function, ``run_tools`` runs the loop.

    python examples/weather_agent.py                 # against the built-in emulator (--mock)
    python examples/weather_agent.py --base-url http://localhost:8000/v1

The server must be started with tool calling enabled, e.g.
``vllm serve ... --enable-auto-tool-choice --tool-call-parser hermes``. ``run_tools`` sends
the tool schemas, runs each tool the model calls, sends the results back, and repeats
until the model answers in text (or ``max_rounds`` is reached).
"""

from __future__ import annotations

from typing import Any, Literal

from _runner import run_example

from vllm_client import VllmClient
from vllm_client.messages import system, user
from vllm_client.testing import MockVllmServer, ToolCall
from vllm_client.tools import run_tools, tool

_WEATHER = {"paris": 18.0, "tokyo": 24.0, "oslo": 6.0}


@tool
def get_weather(location: str, unit: Literal["c", "f"] = "c") -> dict[str, Any]:
    """Current weather for a city.

    Args:
        location: The city name, e.g. "Paris".
        unit: Temperature unit, "c" (Celsius) or "f" (Fahrenheit).
    """
    celsius = _WEATHER.get(location.lower(), 15.0)
    temp = celsius if unit == "c" else celsius * 9 / 5 + 32
    print(f"  [tool] get_weather({location!r}, unit={unit!r}) -> {temp:g}")
    return {"location": location, "temperature": temp, "unit": unit, "sky": "clear"}


def run(client: VllmClient) -> None:
    print(f"tool schema name: {get_weather.schema['function']['name']}")
    messages = [system("Use the tools to answer. Be brief."), user("Is it warmer in Paris or in Oslo right now?")]
    final = run_tools(client, messages, tools=[get_weather], max_rounds=5, max_tokens=256)
    print(f"answer: {final.content}")
    roles = [m["role"] for m in final.messages or []]
    print(f"transcript: {' -> '.join(roles)}")


def script(server: MockVllmServer) -> None:
    # Script what a tool-calling model does: two calls in one turn, then the answer.
    server.queue_chat(tool_calls=[ToolCall("get_weather", {"location": "Paris"}),
                                  ToolCall("get_weather", {"location": "Oslo"})])
    server.queue_chat("Paris is warmer: 18 °C against 6 °C in Oslo.")


def main() -> None:
    run_example(__doc__, run, server_hint="with tool calling enabled", script=script)


if __name__ == "__main__":
    main()
