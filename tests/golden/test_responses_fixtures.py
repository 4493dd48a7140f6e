"""Every real vLLM 0.32 capture of /v1/responses decoded: answers into ``Response`` (each
shortcut checked against the raw JSON it reads), streams through the Responses decoder,
errors into the exception vLLM's status maps to, and each (stream, plain) pair of the same
request assembled to the same answer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from golden_fixtures import fixture_names, is_event_stream, load_fixture, response_bytes, response_headers

from vllm_client import (
    NotFoundError,
    Response,
    ResponseEvent,
    ResponseFunctionCall,
    ResponseMessage,
    ResponseReasoning,
)
from vllm_client._errors import error_from_response, hint_for
from vllm_client._protocol.responses_decoder import ResponsesStreamDecoder


def _responses_captures() -> list[str]:
    out = []
    for name in fixture_names():
        fx = load_fixture(name)
        if name.startswith("responses_store_"):  # the store lifecycle: test_responses_store_fixtures.py
            continue
        if (fx.get("request") or {}).get("path", "").startswith("/v1/responses") and "body" in fx["response"]:
            out.append(name)
    return out


CAPTURES = _responses_captures()
PLAIN = [n for n in CAPTURES if load_fixture(n)["response"]["status"] == 200 and not is_event_stream(load_fixture(n))]
STREAMS = [n for n in CAPTURES if is_event_stream(load_fixture(n))]
ERRORS = [n for n in CAPTURES if load_fixture(n)["response"]["status"] >= 400]


def _same_request(stream_name: str, plain_name: str) -> bool:
    a, b = (json.loads(load_fixture(n)["request"]["body"]) for n in (stream_name, plain_name))
    return {k: v for k, v in a.items() if k != "stream"} == {k: v for k, v in b.items() if k != "stream"}


# (stream, plain) captures of the same request (the others differ in max_output_tokens or seed)
PAIRS = [(n, n.removesuffix("_stream")) for n in STREAMS
         if n.removesuffix("_stream") in PLAIN and _same_request(n, n.removesuffix("_stream"))]
_TYPES = {"message": ResponseMessage, "reasoning": ResponseReasoning, "function_call": ResponseFunctionCall}


def test_the_captures_are_there() -> None:
    assert len(PLAIN) >= 8 and len(STREAMS) >= 5 and ERRORS == ["responses_get_by_id"]
    assert ("hermes_responses_forced_tool_call_stream", "hermes_responses_forced_tool_call") in PAIRS


def _decode_stream(name: str) -> tuple[list[Any], Response]:
    dec = ResponsesStreamDecoder()
    events = dec.feed(response_bytes(load_fixture(name)))
    dec.close()
    return events, dec.final()


@pytest.mark.parametrize("name", PLAIN)
def test_answer_decodes(name: str) -> None:
    fx = load_fixture(name)
    raw = json.loads(response_bytes(fx))
    r = Response(raw)
    assert r.raw is raw and r.object == "response" and r.id == raw["id"] and r.id.startswith("resp_")
    assert r.status == raw["status"] and r.finished and r.created_at == raw["created_at"] and r.model == "tiny"
    assert (r.incomplete_details is not None) == (r.status == "incomplete")
    assert [type(i) for i in r.output] == [_TYPES[i["type"]] for i in raw["output"]]
    assert [i.id for i in r.output] == [i["id"] for i in raw["output"]]
    messages = [p["text"] for i in raw["output"] if i["type"] == "message" for p in i["content"]]
    assert r.output_text == "".join(messages)
    reasoning = [p["text"] for i in raw["output"] if i["type"] == "reasoning" for p in i["content"] or ()]
    assert r.reasoning == ("".join(reasoning) if any(i["type"] == "reasoning" for i in raw["output"]) else None)
    calls = [i for i in raw["output"] if i["type"] == "function_call"]
    assert [(c.call_id, c.name, c.arguments) for c in r.tool_calls] == [
        (c["call_id"], c["name"], c["arguments"]) for c in calls]
    for call in r.tool_calls:
        assert call.parse_args() == json.loads(call.arguments)
        assert call.as_tool_call().function.name == call.name
    assert r.has_tool_calls() == bool(calls)
    usage = r.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (
        raw["usage"]["input_tokens"], raw["usage"]["output_tokens"], raw["usage"]["total_tokens"])
    assert usage.prompt_tokens == usage.input_tokens and usage.completion_tokens == usage.output_tokens
    assert usage.reasoning_tokens == raw["usage"]["output_tokens_details"]["reasoning_tokens"]
    assert usage.cached_tokens == raw["usage"]["input_tokens_details"]["cached_tokens"]
    assert r.server_metrics is None  # no --enable-per-request-metrics
    if name == "responses_json_schema":
        assert isinstance(json.loads(r.output_text), dict)


@pytest.mark.parametrize("name", STREAMS)
def test_stream_decodes(name: str) -> None:
    fx = load_fixture(name)
    assert "[DONE]" not in fx["response"]["body"] and response_headers(fx)["content-type"].startswith("text/event-stream")
    events, final = _decode_stream(name)
    assert isinstance(events[-1], ResponseEvent.Completed) and final.raw == events[-1].response.raw
    assert not [e for e in events if isinstance(e, ResponseEvent.Other)], "every vLLM event type is modelled"
    ids = {e.item.id for e in events if isinstance(e, ResponseEvent.OutputItemAdded)}
    assert ids == {i.id for i in final.output}  # streamed ids are the final ones


@pytest.mark.parametrize("name", ERRORS)
def test_error_decodes(name: str) -> None:
    fx = load_fixture(name)
    err = error_from_response(fx["response"]["status"], response_headers(fx), response_bytes(fx))
    assert isinstance(err, NotFoundError) and err.param == "response_id" and "not found" in err.message
    hint = hint_for(err, fx["request"]["method"], "http://127.0.0.1:8000" + fx["request"]["path"], sent_api_key=False)
    assert hint is not None and "VLLM_ENABLE_RESPONSES_API_STORE=1" in hint


@pytest.mark.parametrize(("stream_name", "plain_name"), PAIRS)
def test_final_matches_the_nonstreamed_answer(stream_name: str, plain_name: str) -> None:
    _, got = _decode_stream(stream_name)
    want = Response(json.loads(response_bytes(load_fixture(plain_name))))
    assert set(got.raw) == set(want.raw)
    assert (got.status, got.incomplete_details, got.model) == (want.status, want.incomplete_details, want.model)
    assert [i.type for i in got.output] == [i.type for i in want.output]
    for g, w in zip(got.output, want.output, strict=True):
        assert set(g.raw) == set(w.raw)
    assert got.output_text == want.output_text and got.reasoning == want.reasoning
    assert [(c.name, c.parse_args()) for c in got.tool_calls] == [(c.name, c.parse_args()) for c in want.tool_calls]
    assert got.usage is not None and want.usage is not None
    assert (got.usage.input_tokens, got.usage.output_tokens) == (want.usage.input_tokens, want.usage.output_tokens)
