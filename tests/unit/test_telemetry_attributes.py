"""GenAI semantic-convention attributes from request and answer bodies (pure, no OpenTelemetry)."""

from __future__ import annotations

import json

from vllm_client._telemetry import semconv as sc
from vllm_client._telemetry.attributes import (
    capture_content,
    error_attributes,
    input_content,
    operation_of,
    output_content,
    request_attributes,
    response_attributes,
    server_attributes,
)


def test_operation_by_path() -> None:
    assert operation_of("/chat/completions") == "chat"
    assert operation_of("/v1/chat/completions") == "chat"  # root-relative (batch)
    assert operation_of("/completions") == "text_completion"
    assert operation_of("/embeddings") == "embeddings"
    assert operation_of("/models") is None and operation_of("/tokenize") is None


def test_request_attributes_only_what_was_set() -> None:
    body = {"model": "tiny", "messages": [], "max_completion_tokens": 9, "temperature": 0, "top_p": 0.9,
            "top_k": 20, "seed": 7, "stop": "END", "n": 2, "frequency_penalty": 0.5,
            "response_format": {"type": "json_schema", "json_schema": {}}}
    assert request_attributes("chat", body, stream=True) == {
        sc.OPERATION_NAME: "chat", sc.PROVIDER_NAME: "vllm", sc.REQUEST_MODEL: "tiny", sc.REQUEST_MAX_TOKENS: 9,
        sc.REQUEST_TEMPERATURE: 0.0, sc.REQUEST_TOP_P: 0.9, sc.REQUEST_TOP_K: 20.0, sc.REQUEST_SEED: 7,
        sc.REQUEST_FREQUENCY_PENALTY: 0.5, sc.REQUEST_STOP_SEQUENCES: ["END"], sc.REQUEST_CHOICE_COUNT: 2,
        sc.REQUEST_STREAM: True, sc.OUTPUT_TYPE: "json",
    }
    minimal = request_attributes("chat", {"model": "m", "n": 1, "messages": []}, stream=False)
    assert minimal == {sc.OPERATION_NAME: "chat", sc.PROVIDER_NAME: "vllm", sc.REQUEST_MODEL: "m"}
    emb = request_attributes("embeddings", {"model": "e", "input": "x", "encoding_format": "float"}, stream=False)
    assert emb[sc.REQUEST_ENCODING_FORMATS] == ["float"]


def test_response_attributes_and_usage() -> None:
    data = {"id": "chatcmpl-1", "model": "tiny", "choices": [{"finish_reason": "stop"}, {"finish_reason": "length"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 8},
                      "completion_tokens_details": {"reasoning_tokens": 3}}}
    assert response_attributes(data) == {
        sc.RESPONSE_ID: "chatcmpl-1", sc.RESPONSE_MODEL: "tiny", sc.RESPONSE_FINISH_REASONS: ["stop", "length"],
        sc.USAGE_INPUT_TOKENS: 10, sc.USAGE_OUTPUT_TOKENS: 5,  # reasoning is inside the output tokens
        sc.USAGE_CACHE_READ_INPUT_TOKENS: 8, sc.USAGE_REASONING_OUTPUT_TOKENS: 3,
    }
    assert response_attributes({"id": "x", "choices": [{"finish_reason": None}]}) == {sc.RESPONSE_ID: "x"}
    assert response_attributes(None) == {}


def test_server_and_error_attributes() -> None:
    assert server_attributes("http://h:8011/v1") == {sc.SERVER_ADDRESS: "h", sc.SERVER_PORT: 8011}
    assert server_attributes("https://u:p@gw.example/v1") == {sc.SERVER_ADDRESS: "gw.example", sc.SERVER_PORT: 443}

    class Boom(Exception):
        status_code = 503

    assert error_attributes(Boom()) == {sc.ERROR_TYPE: "test_server_and_error_attributes.<locals>.Boom",
                                        sc.HTTP_STATUS_CODE: 503}


def test_content_capture_is_opt_in() -> None:
    assert not capture_content({})
    assert not capture_content({sc.CAPTURE_CONTENT_ENV: "no_content"})
    assert capture_content({sc.CAPTURE_CONTENT_ENV: "span_only"})
    assert capture_content({sc.CAPTURE_CONTENT_ENV: "SPAN_AND_EVENT"})
    assert not capture_content({sc.CAPTURE_CONTENT_ENV: "event_only"})  # we emit no events


def test_content_shapes() -> None:
    body = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url"}]}],
            "tools": [{"type": "function", "function": {"name": "f"}}]}
    attrs = input_content(body)
    assert json.loads(attrs[sc.SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attrs[sc.INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}, {"type": "image_url"}]}]
    assert json.loads(attrs[sc.TOOL_DEFINITIONS])[0]["function"]["name"] == "f"
    out = output_content({"choices": [{"message": {"role": "assistant", "content": "yo", "reasoning": "hm"},
                                       "finish_reason": "stop"}]})
    assert json.loads(out[sc.OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "reasoning", "content": "hm"}, {"type": "text", "content": "yo"}],
         "finish_reason": "stop"}]
    text = output_content({"choices": [{"text": "abc", "finish_reason": None}]})
    assert json.loads(text[sc.OUTPUT_MESSAGES])[0]["finish_reason"] == "error"  # cut short
