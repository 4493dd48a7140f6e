"""parse() and conversations against a REAL vLLM 0.32 server (variant ``plain``).

The model is a tiny random-weight Qwen2, so only output forced by structured outputs means
anything: with the ``plain`` variant's xgrammar config (``disable_any_whitespace``) the
answer to a json_schema response_format is compact JSON of the schema, which is what
``parse`` must turn into instances of the right types. Schemas are kept small (bounded
strings, enums, booleans) so the object closes well within ``max_tokens``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from vllm_client import AsyncVllmClient, VllmClient
from vllm_client.structured import StructuredOutputError

if TYPE_CHECKING:
    from .conftest import RealServer

TIMEOUT = 120
MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": "Describe a city as JSON."}]


class City(BaseModel):
    name: str = Field(max_length=12)
    population: int = Field(ge=0, le=10_000_000)


@dataclasses.dataclass
class Reading:
    unit: Literal["c", "f"]
    raining: bool
    sky: Literal["clear", "cloudy", "rain"]


def test_parse_pydantic_model(vllm_plain: RealServer) -> None:
    with VllmClient(vllm_plain.base_url, timeout=TIMEOUT) as client:
        resp = client.chat.completions.parse(messages=MESSAGES, response_format=City, max_tokens=64, seed=7)
    assert resp.finish_reason == "stop", resp.content
    assert isinstance(resp.parsed, City)
    assert isinstance(resp.parsed.name, str) and len(resp.parsed.name) <= 12
    assert isinstance(resp.parsed.population, int) and 0 <= resp.parsed.population <= 10_000_000


def test_parse_dataclass_async(vllm_plain: RealServer) -> None:
    async def run() -> Any:
        async with AsyncVllmClient(vllm_plain.base_url, timeout=TIMEOUT) as client:
            return await client.chat.completions.parse(messages=MESSAGES, response_format=Reading, max_tokens=64,
                                                       seed=3)

    resp = asyncio.run(run())
    assert isinstance(resp.parsed, Reading)
    assert resp.parsed.unit in ("c", "f") and isinstance(resp.parsed.raining, bool)
    assert resp.parsed.sky in ("clear", "cloudy", "rain")


def test_completions_parse_dataclass(vllm_plain: RealServer) -> None:
    with VllmClient(vllm_plain.base_url, timeout=TIMEOUT) as client:
        resp = client.completions.parse(prompt="Weather report: ", response_format=Reading, max_tokens=64, seed=5)
    assert isinstance(resp.parsed, Reading) and isinstance(resp.parsed.raining, bool)


def test_parse_truncated_answer_is_reported(vllm_plain: RealServer) -> None:
    with VllmClient(vllm_plain.base_url, timeout=TIMEOUT) as client:
        try:
            client.chat.completions.parse(messages=MESSAGES, response_format=City, max_tokens=3, seed=7)
        except StructuredOutputError as err:
            assert err.finish_reason == "length"
            assert "cut off at max_tokens" in str(err)
            assert err.content is not None and err.content.startswith("{")
        else:
            raise AssertionError("3 tokens cannot hold a City object")


def test_two_turn_conversation(vllm_plain: RealServer) -> None:
    with VllmClient(vllm_plain.base_url, timeout=TIMEOUT) as client:
        conv = client.conversation(system="You are a helpful assistant.", max_tokens=8, seed=1)
        first = conv.send("What is the capital of France?")
        assert conv.last_response is not None and conv.last_response.usage is not None
        first_prompt = conv.last_response.usage.prompt_tokens
        second = conv.send("And of Germany?")
    assert isinstance(first, str) and isinstance(second, str)
    history = conv.history
    assert len(history) == 5
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user", "assistant"]
    assert history[2]["content"] == first and history[4]["content"] == second
    assert conv.last_response is not None and conv.last_response.usage is not None
    # the second turn carried the first one: its prompt is longer
    assert conv.last_response.usage.prompt_tokens > first_prompt
