"""Responses API request building: every field a keyword, checked before sending."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vllm_client import Response, ResponseFunctionCall, Timeout
from vllm_client._errors import error_from_response, hint_for
from vllm_client._protocol.responses_request import (
    RESPONSES_FIELDS,
    build_cancel,
    build_create,
    build_retrieve,
)
from vllm_client.tools import tool

# vLLM 0.32 ``ResponsesRequest`` fields (vllm/entrypoints/openai/responses/protocol.py), in order.
VLLM_FIELDS = [
    "background", "include", "input", "instructions", "max_output_tokens", "max_tool_calls", "metadata", "model",
    "logit_bias", "parallel_tool_calls", "previous_response_id", "prompt", "reasoning", "include_reasoning",
    "service_tier", "store", "stream", "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p",
    "top_k", "min_p", "truncation", "user", "skip_special_tokens", "include_stop_str_in_output", "presence_penalty",
    "frequency_penalty", "prompt_cache_key", "watermarking", "request_id", "session_id", "media_io_kwargs",
    "mm_processor_kwargs", "priority", "mm_payload", "return_mm_kwargs", "cache_salt", "enable_response_messages",
    "previous_input_messages", "structured_outputs", "repetition_penalty", "seed", "stop", "stop_token_ids",
    "ignore_eos", "vllm_xargs", "kv_transfer_params", "ec_transfer_params", "chat_template_kwargs",
]


def test_every_vllm_field_is_a_keyword() -> None:
    assert set(VLLM_FIELDS) - {"input", "stream"} == RESPONSES_FIELDS


def test_body_has_the_fields_given_and_nothing_else() -> None:
    spec = build_create("Hi", {"max_output_tokens": 8, "top_k": 20, "min_p": 0.05, "stop": ("a", "b"),
                               "instructions": None, "reasoning": {"effort": "low"}}, stream=False)
    assert spec.method == "POST" and spec.path == "/responses" and not spec.stream
    assert spec.body == {"input": "Hi", "max_output_tokens": 8, "top_k": 20, "min_p": 0.05, "stop": ["a", "b"],
                         "reasoning": {"effort": "low"}}
    assert spec.needs_model
    streamed = build_create("Hi", {"model": "m"}, stream=True)
    assert streamed.body == {"input": "Hi", "model": "m", "stream": True} and streamed.stream
    assert not streamed.needs_model
    assert "stream_options" not in streamed.body  # not a Responses field


@pytest.mark.parametrize(("typo", "suggestion"), [("temprature", "temperature"), ("max_output_token", "max_output_tokens"),
                                                  ("previous_response", "previous_response_id")])
def test_unknown_keyword_is_a_type_error_with_a_suggestion(typo: str, suggestion: str) -> None:
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{typo}'.*did you mean '{suggestion}'"):
        build_create("Hi", {typo: 1}, stream=False)


def test_chat_only_keyword_is_refused() -> None:
    with pytest.raises(TypeError, match="'messages'"):
        build_create("Hi", {"messages": []}, stream=False)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"temperature": -1}, ValueError, "temperature"),
        ({"top_p": 0}, ValueError, "top_p"),
        ({"top_k": -2}, ValueError, "top_k"),
        ({"min_p": 2}, ValueError, "min_p"),
        ({"presence_penalty": 3}, ValueError, "presence_penalty"),
        ({"max_output_tokens": 0}, ValueError, "max_output_tokens"),
        ({"max_output_tokens": "8"}, TypeError, "max_output_tokens"),
        ({"max_tool_calls": 0}, ValueError, "max_tool_calls"),
        ({"top_logprobs": -1}, ValueError, "top_logprobs"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"stop": [1]}, TypeError, "stop"),
        ({"background": "yes"}, TypeError, "background"),
        ({"background": True, "store": False}, ValueError, "VLLM_ENABLE_RESPONSES_API_STORE=1"),
        ({"previous_response_id": ""}, TypeError, "previous_response_id"),
    ],
)
def test_invalid_values_fail_before_sending(params: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        build_create("Hi", params, stream=False)


@pytest.mark.parametrize(("value", "error"), [([], ValueError), (b"hi", TypeError), ({"role": "user"}, TypeError),
                                              (None, TypeError), ([object()], TypeError)])
def test_input_must_be_text_or_items(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="input"):
        build_create(value, {}, stream=False)


def test_stream_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="stream"):
        build_create("Hi", {}, stream="yes")  # type: ignore[arg-type]


def test_output_items_of_an_earlier_response_are_input_items() -> None:
    earlier = Response({"output": [
        {"type": "message", "id": "msg_1", "role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": "{}"},
    ]})
    call = earlier.first_tool_call()
    assert isinstance(call, ResponseFunctionCall)
    items = [{"role": "user", "content": "Hello"}, *earlier.output, call.result({"ok": True})]
    body = build_create(items, {}, stream=False).body
    assert body is not None
    assert body["input"] == [
        {"role": "user", "content": "Hello"},
        earlier.raw["output"][0],
        earlier.raw["output"][1],
        {"type": "function_call_output", "call_id": "call_1", "output": '{"ok": true}'},
    ]


def test_tools_are_flattened_to_the_responses_shape() -> None:
    @tool
    def get_weather(city: str) -> str:
        """Weather of a city."""
        return city

    flat = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    chat_style = {"type": "function", "function": {"name": "add", "description": "Add.", "parameters": {"type": "object"},
                                                   "strict": True}}
    builtin = {"type": "web_search_preview"}
    body = build_create("Hi", {"tools": [flat, chat_style, get_weather, builtin],
                               "tool_choice": {"type": "function", "function": {"name": "add"}}}, stream=False).body
    assert body is not None
    assert body["tools"][0] == flat
    assert body["tools"][1] == {"type": "function", "name": "add", "description": "Add.",
                                "parameters": {"type": "object"}, "strict": True}
    assert body["tools"][2]["name"] == "get_weather" and "function" not in body["tools"][2]
    assert body["tools"][2]["parameters"]["properties"]["city"] == {"type": "string"}
    assert body["tools"][3] == builtin
    assert body["tool_choice"] == {"type": "function", "name": "add"}
    assert build_create("Hi", {"tool_choice": "required"}, stream=False).body["tool_choice"] == "required"  # type: ignore[index]


def test_call_options() -> None:
    spec = build_create("Hi", {"extra_body": {"my_field": 1}, "extra_headers": {"X-A": "b"}, "timeout": 5},
                        stream=False)
    assert spec.body is not None and spec.body["my_field"] == 1
    assert spec.headers == {"X-A": "b"} and spec.timeout == Timeout.coerce(5)


def test_retrieve_and_cancel_paths() -> None:
    plain = build_retrieve("resp_1", {}, stream=False, starting_after=None)
    assert (plain.method, plain.path, plain.query, plain.body, plain.stream) == ("GET", "/responses/resp_1", None,
                                                                                 None, False)
    replay = build_retrieve("resp_1", {"extra_query": {"a": "b"}}, stream=True, starting_after=7)
    assert replay.query == {"a": "b", "stream": "true", "starting_after": "7"} and replay.stream
    assert build_retrieve("resp_1", {}, stream=True, starting_after=None).query == {"stream": "true"}
    odd = build_retrieve("my id/1?", {}, stream=False, starting_after=None)
    assert odd.path == "/responses/my%20id%2F1%3F"
    cancel = build_cancel("resp_1", {"timeout": 3})
    assert (cancel.method, cancel.path, cancel.body) == ("POST", "/responses/resp_1/cancel", None)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: build_retrieve("r", {}, stream=False, starting_after=3), ValueError),
        (lambda: build_retrieve("r", {}, stream=True, starting_after=-2), ValueError),
        (lambda: build_retrieve("r", {}, stream=True, starting_after="3"), TypeError),
        (lambda: build_retrieve("", {}, stream=False, starting_after=None), TypeError),
        (lambda: build_retrieve(None, {}, stream=False, starting_after=None), TypeError),
        (lambda: build_retrieve("r", {"model": "m"}, stream=False, starting_after=None), TypeError),
        (lambda: build_cancel("r", {"stream": True}), TypeError),
    ],
)
def test_retrieve_and_cancel_check_their_arguments(call: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()


def _vllm_error(status: int, message: str, param: str) -> Any:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error", "param": param,
                                 "code": status}}).encode()
    return error_from_response(status, {}, body)


def test_an_unknown_id_names_the_store_flag() -> None:
    err = _vllm_error(404, "Response with id 'resp_x' not found.", "response_id")
    hint = hint_for(err, "GET", "http://h/v1/responses/resp_x", sent_api_key=False)
    assert hint is not None and "VLLM_ENABLE_RESPONSES_API_STORE=1" in hint
    assert "not served" not in hint  # the route exists; the id does not


def test_cancelling_a_finished_response_explains_what_can_be_cancelled() -> None:
    err = _vllm_error(400, "Cannot cancel a synchronous response.", "response_id")
    hint = hint_for(err, "POST", "http://h/v1/responses/r/cancel", sent_api_key=False)
    assert hint is not None and "background=True" in hint and "queued or in progress" in hint
    other = _vllm_error(400, "something else", "input")
    assert hint_for(other, "POST", "http://h/v1/responses", sent_api_key=False) is None
