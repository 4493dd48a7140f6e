"""parse() with types, the structured_outputs helpers, conversations and multimodal
messages, against the emulator, each test on the sync and the async client."""

from __future__ import annotations

import dataclasses
import json
import pickle
from typing import Any, TypedDict

import pytest
from pydantic import BaseModel

import vllm_client as vc
from vllm_client import StreamEvent, structured
from vllm_client.messages import image, user
from vllm_client.structured import ParsedChatCompletion, ParsedCompletion, StructuredOutputError
from vllm_client.testing import MockVllmServer

MSG = [{"role": "user", "content": "Tell me about a city."}]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


class City(BaseModel):
    name: str
    population: int


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str = "p"


class Pair(TypedDict):
    a: int
    b: str


def collect(api: Any, events: Any) -> list[Any]:
    """All items of a sync generator or an async generator."""
    if api.kind == "async":
        async def run() -> list[Any]:
            return [e async for e in events]
        return list(api(run()))
    return list(events)


# --------------------------------------------------------------------------- parse


def test_parse_pydantic_sends_json_schema_and_returns_instance(api: Any, vllm_mock: MockVllmServer) -> None:
    resp = api(api.client.chat.completions.parse(messages=MSG, response_format=City, max_tokens=64))
    assert isinstance(resp, ParsedChatCompletion) and isinstance(resp, vc.ChatCompletion)
    assert isinstance(resp.parsed, City)
    assert isinstance(resp.parsed.name, str) and isinstance(resp.parsed.population, int)
    assert resp.content is not None and City.model_validate_json(resp.content) == resp.parsed
    rf = vllm_mock.last_request.json["response_format"]
    assert rf["type"] == "json_schema"
    assert rf["json_schema"]["name"] == "City"
    assert rf["json_schema"]["schema"]["required"] == ["name", "population"]


def test_parse_dataclass_and_typeddict(api: Any, vllm_mock: MockVllmServer) -> None:
    resp = api(api.client.chat.completions.parse(messages=MSG, response_format=Point))
    assert isinstance(resp.parsed, Point) and isinstance(resp.parsed.x, int)
    schema = vllm_mock.last_request.json["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["x", "y"]
    resp = api(api.client.chat.completions.parse(messages=MSG, response_format=Pair))
    assert isinstance(resp.parsed, dict) and isinstance(resp.parsed["a"], int)


def test_parse_scripted_answer_and_all_choices(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat('{"name": "Paris", "population": 2100000}')
    resp = api(api.client.chat.completions.parse(messages=MSG, response_format=City))
    assert resp.parsed == City(name="Paris", population=2100000)
    resp = api(api.client.chat.completions.parse(messages=MSG, response_format=City, n=3, seed=1))
    assert len(resp.parsed_choices) == 3
    assert resp.parsed_choices[0] is resp.parsed
    assert all(isinstance(c, City) for c in resp.parsed_choices)


def test_parse_with_a_response_format_dict_gives_plain_json(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat('{"any": [1, 2]}')
    resp = api(api.client.chat.completions.parse(messages=MSG, response_format={"type": "json_object"}))
    assert resp.parsed == {"any": [1, 2]}
    assert vllm_mock.last_request.json["response_format"] == {"type": "json_object"}


def test_parse_validation_failure(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat('{"name": "Paris", "population": "many"}')
    with pytest.raises(StructuredOutputError) as info:
        api(api.client.chat.completions.parse(messages=MSG, response_format=City))
    err = info.value
    assert isinstance(err, vc.VllmError) and isinstance(err, ValueError)
    assert err.content == '{"name": "Paris", "population": "many"}'
    assert "population" in err.reason and "City" in str(err)
    assert pickle.loads(pickle.dumps(err)).content == err.content


def test_parse_dataclass_validation_failure_names_the_field(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat('{"x": "1", "y": 2}')
    with pytest.raises(StructuredOutputError, match=r"\$\.x: expected integer"):
        api(api.client.chat.completions.parse(messages=MSG, response_format=Point))


def test_parse_truncated_json_says_so(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat('{"name": "Par', finish_reason="length")
    with pytest.raises(StructuredOutputError, match="cut off at max_tokens") as info:
        api(api.client.chat.completions.parse(messages=MSG, response_format=City))
    assert info.value.finish_reason == "length" and info.value.content == '{"name": "Par'
    vllm_mock.queue_chat("not json at all")
    with pytest.raises(StructuredOutputError, match="not valid JSON"):
        api(api.client.chat.completions.parse(messages=MSG, response_format=City))
    vllm_mock.queue_chat(None, reasoning="thinking only")
    with pytest.raises(StructuredOutputError, match="no content"):
        api(api.client.chat.completions.parse(messages=MSG, response_format=City))


def test_parse_argument_errors(api: Any) -> None:
    with pytest.raises(TypeError, match="response_format"):
        api(api.client.chat.completions.parse(messages=MSG, response_format="City"))
    with pytest.raises(TypeError, match="does not stream"):
        api(api.client.chat.completions.parse(messages=MSG, response_format=City, stream=True))
    with pytest.raises(TypeError, match="unexpected keyword"):
        api(api.client.chat.completions.parse(messages=MSG, response_format=City, temprature=0))


def test_completions_parse(api: Any, vllm_mock: MockVllmServer) -> None:
    resp = api(api.client.completions.parse(prompt="A point: ", response_format=Point, max_tokens=64))
    assert isinstance(resp, ParsedCompletion) and isinstance(resp, vc.Completion)
    assert isinstance(resp.parsed, Point)
    so = vllm_mock.last_request.json["structured_outputs"]
    assert so["json"]["properties"]["x"] == {"type": "integer"}
    resp = api(api.client.completions.parse(prompt="x", structured_outputs=structured.json({"type": "object",
               "properties": {"k": {"type": "boolean"}}, "required": ["k"]})))
    assert isinstance(resp.parsed, dict) and isinstance(resp.parsed["k"], bool)
    with pytest.raises(TypeError, match="not both"):
        api(api.client.completions.parse(prompt="x", response_format=Point, structured_outputs={"regex": "a"}))
    with pytest.raises(TypeError, match="needs response_format"):
        api(api.client.completions.parse(prompt="x"))
    vllm_mock.queue_completion('{"x": 1, "y"', finish_reason="length")
    with pytest.raises(StructuredOutputError, match="cut off"):
        api(api.client.completions.parse(prompt="x", response_format=Point))


# --------------------------------------------------------------------------- structured_outputs helpers


def test_structured_helpers_reach_the_server(api: Any, vllm_mock: MockVllmServer) -> None:
    resp = api(api.client.chat.completions.create(messages=MSG, structured_outputs=structured.choice(["yes", "no"])))
    assert resp.content in ("yes", "no")
    assert vllm_mock.last_request.json["structured_outputs"] == {"choice": ["yes", "no"]}
    resp = api(api.client.chat.completions.create(messages=MSG, structured_outputs=structured.regex(r"hello\!")))
    assert resp.content == "hello!"
    resp = api(api.client.chat.completions.create(messages=MSG, structured_outputs=structured.json(City)))
    assert isinstance(City.model_validate_json(resp.content or ""), City)
    api(api.client.chat.completions.create(messages=MSG, structured_outputs=structured.grammar('root ::= "a"')))
    assert vllm_mock.last_request.json["structured_outputs"] == {"grammar": 'root ::= "a"'}


def test_structured_helper_values() -> None:
    assert structured.json('{"type": "string"}') == {"json": {"type": "string"}}
    assert structured.json({"type": "integer"}) == {"json": {"type": "integer"}}
    assert structured.json(Point)["json"]["title"] == "Point"
    assert structured.json_object() == {"json_object": True}
    with pytest.raises(ValueError, match="not valid JSON"):
        structured.json("{nope")
    with pytest.raises(ValueError, match="does not compile"):
        structured.regex("[a-z")
    assert structured.regex(r"\p{L}+", check=False) == {"regex": r"\p{L}+"}
    with pytest.raises(TypeError, match="list of strings"):
        structured.choice("yes")
    with pytest.raises(ValueError, match="at least one"):
        structured.choice([])
    with pytest.raises(TypeError, match="must be str"):
        structured.choice(["a", 1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="non-empty"):
        structured.grammar("  ")


def test_structural_tag() -> None:
    value = structured.structural_tag([{"begin": "<fn=add>", "schema": Point, "end": "</fn>"}], triggers=["<fn="])
    spec = json.loads(value["structural_tag"])
    assert spec["type"] == "structural_tag" and spec["triggers"] == ["<fn="]
    assert spec["structures"][0]["begin"] == "<fn=add>" and spec["structures"][0]["schema"]["title"] == "Point"
    with pytest.raises(ValueError, match="does not start with any trigger"):
        structured.structural_tag([{"begin": "<x>", "schema": {}, "end": "</x>"}], triggers=["<fn="])
    with pytest.raises(ValueError, match="trigger"):
        structured.structural_tag([{"begin": "<x>", "schema": {}, "end": "</x>"}], triggers=[])


# --------------------------------------------------------------------------- conversations


def test_conversation_send_keeps_history(api: Any, vllm_mock: MockVllmServer) -> None:
    conv = api.client.conversation(system="Be terse.", max_tokens=16, temperature=0.5)
    vllm_mock.queue_chat("Paris.")
    vllm_mock.queue_chat("About two million.")
    assert api(conv.send("Capital of France?")) == "Paris."
    assert api(conv.send("Population?", max_tokens=8)) == "About two million."
    assert conv.history == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Population?"},
        {"role": "assistant", "content": "About two million."},
    ]
    assert conv.messages == conv.history and len(conv) == 5
    sent = vllm_mock.requests_to("/v1/chat/completions")
    assert sent[0].json["messages"] == conv.history[:2]
    assert sent[1].json["messages"] == conv.history[:4]
    assert sent[0].json["max_tokens"] == 16 and sent[1].json["max_tokens"] == 8  # per-turn override
    assert sent[1].json["temperature"] == 0.5
    assert isinstance(conv.last_response, vc.ChatCompletion) and conv.last_response.content == "About two million."


def test_conversation_history_is_a_copy_and_reset_keeps_system(api: Any, vllm_mock: MockVllmServer) -> None:
    conv = api.client.conversation(system="S")
    api(conv.send("hi"))
    conv.history.append({"role": "user", "content": "sneaky"})
    conv.history[0]["content"] = "changed"
    assert len(conv.history) == 3 and conv.history[0]["content"] == "S"
    conv.reset()
    assert conv.history == [{"role": "system", "content": "S"}] and conv.last_response is None
    bare = api.client.conversation()
    api(bare.send("hi"))
    bare.reset()
    assert bare.history == []


def test_conversation_fork_is_independent(api: Any, vllm_mock: MockVllmServer) -> None:
    conv = api.client.conversation(system="S", max_tokens=4)
    api(conv.send("one"))
    branch = conv.fork()
    assert branch.client is conv.client and branch.history == conv.history
    api(branch.send("two"))
    assert len(branch.history) == 5 and len(conv.history) == 3
    api(conv.send("three"))
    assert conv.history[3]["content"] == "three" and branch.history[3]["content"] == "two"


def test_conversation_reasoning_not_sent_back(api: Any, vllm_mock: MockVllmServer) -> None:
    conv = api.client.conversation()
    vllm_mock.queue_chat("42", reasoning="six times seven")
    assert api(conv.send("6*7?")) == "42"
    assert conv.last_response.reasoning == "six times seven"
    assert conv.history[-1] == {"role": "assistant", "content": "42"}
    api(conv.send("sure?"))
    assert all("reasoning" not in m for m in vllm_mock.last_request.json["messages"])

    keep = api.client.conversation(keep_reasoning=True)
    vllm_mock.queue_chat("42", reasoning="six times seven")
    api(keep.send("6*7?"))
    assert keep.history[-1] == {"role": "assistant", "content": "42", "reasoning": "six times seven"}


def test_conversation_stream(api: Any, vllm_mock: MockVllmServer) -> None:
    conv = api.client.conversation(system="S")
    vllm_mock.queue_chat("It is 42.", reasoning="think")
    events = collect(api, conv.stream("6*7?"))
    content = "".join(e.text for e in events if isinstance(e, StreamEvent.Content))
    assert content == "It is 42."
    assert any(isinstance(e, StreamEvent.Reasoning) for e in events)
    assert isinstance(events[-1], StreamEvent.Done)
    assert conv.history[-2:] == [{"role": "user", "content": "6*7?"}, {"role": "assistant", "content": "It is 42."}]
    assert conv.last_response.content == "It is 42." and conv.last_response.reasoning == "think"
    assert vllm_mock.last_request.json["stream"] is True


def test_conversation_stream_abandoned_is_not_recorded(api: Any, vllm_mock: MockVllmServer) -> None:
    conv = api.client.conversation(system="S")
    vllm_mock.queue_chat("one two three four five")
    gen = conv.stream("count")
    if api.kind == "async":
        async def first_then_close() -> None:
            await gen.__anext__()
            await gen.aclose()
        api(first_then_close())
    else:
        next(gen)
        gen.close()
    assert conv.history == [{"role": "system", "content": "S"}]


def test_conversation_failed_turn_leaves_history(api: Any, vllm_mock: MockVllmServer) -> None:
    conv = api.client.conversation(system="S")
    vllm_mock.fail_next(400, message="bad")
    with pytest.raises(vc.BadRequestError):
        api(conv.send("hi"))
    assert conv.history == [{"role": "system", "content": "S"}]


def test_conversation_checks_defaults_early(api: Any) -> None:
    with pytest.raises(TypeError, match="temprature"):
        api.client.conversation(temprature=0.2)
    with pytest.raises(TypeError, match="messages"):
        api.client.conversation(messages=[])


def test_conversation_model_and_add(api: Any, vllm_mock: MockVllmServer) -> None:
    conv = api.client.conversation(model=vllm_mock.model)
    conv.add({"role": "user", "content": "earlier"}, {"role": "assistant", "content": "noted"})
    api(conv.send("now"))
    body = vllm_mock.last_request.json
    assert body["model"] == vllm_mock.model
    assert [m["content"] for m in body["messages"]] == ["earlier", "noted", "now"]
    with pytest.raises(ValueError, match="role"):
        conv.add({"content": "x"})


def test_conversation_with_images(api: Any, vllm_mock: MockVllmServer) -> None:
    conv = api.client.conversation()
    vllm_mock.queue_chat("A tiny black square.")
    assert api(conv.send("What is this?", images=[PNG])) == "A tiny black square."
    sent = vllm_mock.last_request.json["messages"][0]
    assert sent["role"] == "user"
    assert sent["content"][0] == {"type": "text", "text": "What is this?"}
    assert sent["content"][1]["type"] == "image_url"
    assert sent["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


# --------------------------------------------------------------------------- multimodal messages


def test_multimodal_message_reaches_the_server(api: Any, vllm_mock: MockVllmServer) -> None:
    msg = user("Compare.", images=[PNG, image("https://example.com/b.jpg", detail="low")],
               audio="https://example.com/a.wav", video=b"\x00\x00\x00\x18ftypisom" + b"\x00" * 8)
    api(api.client.chat.completions.create(messages=[msg], max_tokens=4))
    content = vllm_mock.last_request.json["messages"][0]["content"]
    assert [p["type"] for p in content] == ["text", "image_url", "image_url", "audio_url", "video_url"]
    assert content[2]["image_url"] == {"url": "https://example.com/b.jpg", "detail": "low"}
    assert content[3]["audio_url"] == {"url": "https://example.com/a.wav"}
    assert content[4]["video_url"]["url"].startswith("data:video/mp4;base64,")
