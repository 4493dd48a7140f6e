"""The dict-backed result types: tolerant decoding, defaults, ToolCall helpers, Usage, equality."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from vllm_client import (
    ChatCompletion,
    Choice,
    Completion,
    Message,
    Model,
    ModelList,
    ToolArgumentsError,
    ToolCall,
    Usage,
)


def tool_call(arguments: Any = '{"city": "Paris"}', name: str = "get_weather", id_: str = "call-1") -> ToolCall:
    return ToolCall({"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}})


def chat_raw(**message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 123, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


# -- tolerant decoding ---------------------------------------------------------------------------------


def test_unknown_fields_never_break_chat() -> None:
    raw = chat_raw(content="hi", brand_new={"x": 1})
    raw["future_field"] = [1, 2, 3]
    raw["choices"][0]["new_choice_field"] = "z"
    raw["usage"]["new_usage_field"] = 9
    resp = ChatCompletion(raw)
    assert resp.content == "hi"
    assert resp.finish_reason == "stop"
    assert resp.usage is not None and resp.usage.total_tokens == 5
    assert resp.raw["future_field"] == [1, 2, 3]
    assert resp.choices[0].raw["new_choice_field"] == "z"


def test_unknown_fields_never_break_completion_and_models() -> None:
    comp = Completion({"id": "c", "choices": [{"text": "t", "index": 0, "extra": {}}], "newthing": 1})
    assert comp.text == "t"
    models = ModelList({"object": "list", "data": [{"id": "m", "weird": [1], "max_model_len": 4096}], "x": 1})
    assert models.ids == ["m"]
    assert models[0].max_model_len == 4096


def test_wrong_typed_containers_ignored() -> None:
    resp = ChatCompletion({"choices": [{"message": "not a dict"}, 5, None], "usage": "nope"})
    assert len(resp.choices) == 1
    assert resp.content is None
    assert resp.usage is None
    msg = Message({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}, "junk", 3]})
    assert [tc.id for tc in msg.tool_calls] == ["a"]
    assert ToolCall({"id": "x", "function": "junk"}).name == ""
    assert ModelList({"data": [{"id": "a"}, "junk"]}).ids == ["a"]


def test_empty_chat_completion() -> None:
    resp = ChatCompletion({})
    assert resp.choices == []
    assert resp.message is None
    assert resp.content is None
    assert resp.reasoning is None
    assert resp.reasoning_content is None
    assert resp.tool_calls == []
    assert resp.finish_reason is None
    assert resp.stop_reason is None
    assert resp.usage is None
    assert resp.server_metrics is None
    assert resp.prompt_token_ids is None
    assert resp.prompt_logprobs is None
    assert resp.has_tool_calls() is False
    assert resp.first_tool_call() is None
    assert resp.assistant_message() == {"role": "assistant", "content": None}
    assert (resp.id, resp.object, resp.created, resp.model) == ("", "", 0, "")
    assert resp.timing is None
    assert resp.parsed is None


def test_missing_optional_fields_in_choice_and_message() -> None:
    choice = Choice({})
    assert choice.index == 0
    assert choice.finish_reason is None
    assert choice.stop_reason is None
    assert choice.logprobs is None
    assert choice.token_ids is None
    msg = choice.message
    assert msg.role == "assistant"
    assert msg.content is None
    assert msg.reasoning is None
    assert msg.refusal is None
    assert msg.tool_calls == []


def test_empty_completion() -> None:
    comp = Completion({})
    assert comp.choices == []
    assert comp.text is None
    assert comp.texts == []
    assert comp.finish_reason is None
    assert comp.stop_reason is None
    assert comp.usage is None


def test_empty_model() -> None:
    m = Model({})
    assert (m.id, m.object, m.created, m.owned_by, m.root, m.parent, m.max_model_len) == (
        "", "model", 0, None, None, None, None)
    assert ModelList({}) == []


def test_reasoning_content_alias() -> None:
    assert ChatCompletion(chat_raw(reasoning_content="old")).reasoning == "old"
    assert ChatCompletion(chat_raw(reasoning="new", reasoning_content="old")).reasoning == "new"
    assert ChatCompletion(chat_raw(reasoning="r")).reasoning_content == "r"
    assert Message({"reasoning_content": "x"}).reasoning_content == "x"


def test_server_metrics() -> None:
    raw = chat_raw(content="x")
    raw["metrics"] = {"ttft_s": 0.1}
    assert ChatCompletion(raw).server_metrics == {"ttft_s": 0.1}
    raw["metrics"] = None
    assert ChatCompletion(raw).server_metrics is None


def test_n_choices_shortcuts_read_first() -> None:
    raw = chat_raw(content="first")
    raw["choices"].append({"index": 1, "message": {"role": "assistant", "content": "second"},
                           "finish_reason": "length"})
    resp = ChatCompletion(raw)
    assert [c.message.content for c in resp.choices] == ["first", "second"]
    assert resp.content == "first"
    assert resp.choices[1].index == 1
    assert resp.choices[1].finish_reason == "length"


# -- ToolCall ---------------------------------------------------------------------------------------------


def test_tool_call_fields() -> None:
    tc = tool_call()
    assert tc.id == "call-1"
    assert tc.type == "function"
    assert tc.name == tc.function.name == "get_weather"
    assert tc.arguments == tc.function.arguments == '{"city": "Paris"}'
    assert tc.parse_args() == {"city": "Paris"}
    assert tc.to_message_dict() == {"id": "call-1", "type": "function",
                                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def test_tool_call_arguments_as_object() -> None:
    tc = tool_call(arguments={"city": "Zürich"})
    assert json.loads(tc.arguments) == {"city": "Zürich"}
    assert tc.parse_args() == {"city": "Zürich"}


def test_tool_call_missing_arguments() -> None:
    tc = ToolCall({"id": "x", "function": {"name": "f"}})
    assert tc.arguments == ""
    assert tc.parse_args() == {}
    assert ToolCall({"function": {"name": "f", "arguments": "  "}}).parse_args() == {}
    assert ToolCall({}).type == "function"


@pytest.mark.parametrize("text", ['{"city": "Par', "{'city': 'Paris'}", "not json", '{"a":1} trailing', "{,}"])
def test_parse_args_invalid_json(text: str) -> None:
    tc = tool_call(arguments=text)
    with pytest.raises(ToolArgumentsError) as info:
        tc.parse_args()
    err = info.value
    assert err.arguments == text
    assert err.reason
    assert "get_weather" in str(err)
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(("text", "kind"), [("[1, 2]", "list"), ('"s"', "str"), ("42", "int"), ("null", "NoneType"),
                                            ("true", "bool")])
def test_parse_args_non_object(text: str, kind: str) -> None:
    with pytest.raises(ToolArgumentsError) as info:
        tool_call(arguments=text).parse_args()
    assert info.value.arguments == text
    assert kind in info.value.reason
    assert "object" in info.value.reason


def test_tool_result_str_kept_as_is() -> None:
    tc = tool_call()
    assert tc.result("25 degrees") == {"role": "tool", "tool_call_id": "call-1", "content": "25 degrees"}
    assert tc.result('{"already": "json"}')["content"] == '{"already": "json"}'


def test_tool_result_dict_as_json() -> None:
    msg = tool_call().result({"temp": 25, "ok": True, "none": None})
    assert msg["role"] == "tool"
    assert msg["tool_call_id"] == "call-1"
    assert json.loads(msg["content"]) == {"temp": 25, "ok": True, "none": None}


def test_tool_result_non_ascii_kept() -> None:
    content = tool_call().result({"city": "Zürich", "emoji": "☀"})["content"]
    assert "Zürich" in content and "☀" in content
    assert "\\u" not in content


@dataclasses.dataclass
class Weather:
    temp: float
    city: str
    tags: list[str] = dataclasses.field(default_factory=list)


def test_tool_result_dataclass() -> None:
    content = tool_call().result(Weather(21.5, "Paris", ["sunny"]))["content"]
    assert json.loads(content) == {"temp": 21.5, "city": "Paris", "tags": ["sunny"]}


def test_tool_result_nested_dataclass_and_list() -> None:
    content = tool_call().result([Weather(1, "a"), {"w": Weather(2, "b")}])["content"]
    assert json.loads(content) == [{"temp": 1, "city": "a", "tags": []}, {"w": {"temp": 2, "city": "b", "tags": []}}]


def test_tool_result_pydantic() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Out(pydantic.BaseModel):
        value: int

    assert json.loads(tool_call().result(Out(value=3))["content"]) == {"value": 3}


def test_tool_result_scalars() -> None:
    assert tool_call().result(5)["content"] == "5"
    assert tool_call().result(None)["content"] == "null"
    assert tool_call().result([1, "a"])["content"] == '[1, "a"]'


def test_tool_result_unserialisable_raises() -> None:
    with pytest.raises(TypeError):
        tool_call().result(object())


# -- assistant_message -------------------------------------------------------------------------------------


def test_assistant_message_drops_reasoning_by_default() -> None:
    resp = ChatCompletion(chat_raw(content="Paris", reasoning="thinking..."))
    assert resp.assistant_message() == {"role": "assistant", "content": "Paris"}
    assert resp.assistant_message(include_reasoning=True) == {"role": "assistant", "content": "Paris",
                                                              "reasoning": "thinking..."}


def test_assistant_message_with_tool_calls() -> None:
    raw = chat_raw(content=None, tool_calls=[
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}])
    msg = ChatCompletion(raw).assistant_message()
    assert msg == {"role": "assistant", "content": None,
                   "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}


# -- Usage -----------------------------------------------------------------------------------------------------


def test_usage_numbers() -> None:
    u = Usage({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (10, 5, 15)
    assert u.cached_tokens is None
    assert u.prompt_tokens_details is None
    assert "prompt_tokens=10" in repr(u)


def test_usage_cached_tokens() -> None:
    u = Usage({"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101,
               "prompt_tokens_details": {"cached_tokens": 64}})
    assert u.cached_tokens == 64
    assert u.prompt_tokens_details == {"cached_tokens": 64}
    assert Usage({"prompt_tokens_details": None}).cached_tokens is None
    assert Usage({"prompt_tokens_details": {"cached_tokens": None}}).cached_tokens is None
    assert Usage({"prompt_tokens_details": {"cached_tokens": 0}}).cached_tokens == 0
    assert Usage({"prompt_tokens_details": "junk"}).cached_tokens is None


def test_usage_missing_fields() -> None:
    u = Usage({"prompt_tokens": 3, "completion_tokens": 4})
    assert u.total_tokens == 7
    empty = Usage({})
    assert (empty.prompt_tokens, empty.completion_tokens, empty.total_tokens) == (0, 0, 0)
    assert Usage({"completion_tokens_details": {"reasoning_tokens": 2}}).completion_tokens_details == {
        "reasoning_tokens": 2}


# -- equality ---------------------------------------------------------------------------------------------------


def test_equality_by_raw() -> None:
    raw = chat_raw(content="x")
    a = ChatCompletion(raw)
    b = ChatCompletion(json.loads(json.dumps(raw)))
    assert a == b
    assert a != ChatCompletion(chat_raw(content="y"))
    assert Usage({"prompt_tokens": 1}) == Usage({"prompt_tokens": 1})
    assert tool_call() == tool_call()
    assert tool_call() != tool_call(id_="other")
    assert Model({"id": "m"}) == Model({"id": "m"})


def test_equality_across_types_is_false() -> None:
    raw: dict[str, Any] = {"id": "x"}
    assert ChatCompletion(raw) != Completion(raw)
    assert Model(raw) != raw
    assert Usage({}) != {}


def test_timing_does_not_affect_equality() -> None:
    from vllm_client import RequestTiming

    raw = chat_raw(content="x")
    assert ChatCompletion(raw, RequestTiming(1.0, 0.1, 0.2)) == ChatCompletion(raw)


def test_to_dict_is_raw() -> None:
    raw = chat_raw(content="x")
    assert ChatCompletion(raw).to_dict() is raw


def test_results_are_unhashable_because_equal_by_value() -> None:
    raw = chat_raw(content="x")
    a, b = ChatCompletion(raw), ChatCompletion(dict(raw))
    assert a == b
    with pytest.raises(TypeError):
        hash(a)


def test_reprs_are_short_and_useful() -> None:
    resp = ChatCompletion(chat_raw(content="hello"))
    text = repr(resp)
    assert "hello" in text and "chatcmpl-1" in text
    assert "get_weather" in repr(tool_call())
    assert "max_model_len=2048" in repr(Model({"id": "m", "max_model_len": 2048}))
