"""Batch output lines: the OpenAI batch output format, the server's body bytes spliced in (pure)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from vllm_client import APIConnectionError, APITimeoutError, StreamError
from vllm_client._dispatch import DispatchTimeout
from vllm_client.batch._output import answer_line, error_code, error_line, is_failure, line_id, parse_id

BODY = b'{"id":"chatcmpl-1","object":"chat.completion","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2},"x":1.10}'


def test_an_answer_line_has_the_documented_keys_in_order_and_the_body_bytes_unchanged() -> None:
    line, parsed = answer_line("abc", 5, "r1", 200, "req-1", BODY)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    record = json.loads(line)
    assert list(record) == ["id", "custom_id", "response", "error"]
    assert record["id"] == "vllm-batch-abc-5" and record["custom_id"] == "r1" and record["error"] is None
    assert list(record["response"]) == ["status_code", "request_id", "body"]
    assert record["response"]["status_code"] == 200 and record["response"]["request_id"] == "req-1"
    assert b'"body":' + BODY + b"}" in line  # spliced as sent: 1.10 stays 1.10
    assert parsed["usage"]["prompt_tokens"] == 3


def test_an_error_answer_keeps_its_status_and_body() -> None:
    body = b'{"error":{"message":"too long","type":"BadRequestError","param":null,"code":400}}'
    line, _ = answer_line("abc", 0, "r1", 400, "req", body)
    record = json.loads(line)
    assert record["response"]["status_code"] == 400 and record["error"] is None
    assert record["response"]["body"]["error"]["message"] == "too long"
    assert is_failure(record)


def test_a_body_that_is_not_json_is_wrapped_and_a_pretty_one_compacted() -> None:
    line, parsed = answer_line("abc", 0, "r1", 502, "req", b"<html>Bad Gateway</html>")
    assert parsed is None
    assert json.loads(line)["response"]["body"] == {"error": {"message": "<html>Bad Gateway</html>"}}
    line, parsed = answer_line("abc", 0, "r1", 200, "req", b'{\n  "a": 1\r\n}')
    assert line.count(b"\n") == 1 and b"\r" not in line and json.loads(line)["response"]["body"] == {"a": 1}


def test_an_error_line_has_a_null_response_and_a_code() -> None:
    record = json.loads(error_line("abc", 9, None, "invalid_request", "line 10 is not valid JSON"))
    assert record == {"id": "vllm-batch-abc-9", "custom_id": None, "response": None,
                      "error": {"code": "invalid_request", "message": "line 10 is not valid JSON"}}
    assert is_failure(record)


def test_error_codes_by_failure() -> None:
    assert error_code(DispatchTimeout("x")) == "timeout"
    assert error_code(APITimeoutError("x")) == "timeout"
    assert error_code(APIConnectionError("x")) == "connection_error"
    assert error_code(StreamError("x")) == "stream_error"
    assert error_code(ValueError("two models")) is None  # ends the run instead


@given(st.text(min_size=1, max_size=12, alphabet="abcdef0123456789-"), st.integers(0, 10**12))
def test_ids_round_trip_and_other_runs_ids_do_not_parse(run: str, seq: int) -> None:
    assert parse_id(line_id(run, seq), run) == seq
    assert parse_id(line_id(run + "x", seq), run) is None
    assert parse_id(f"vllm-batch-{run}-0{seq}", run) is None  # one spelling per number


@given(st.text(max_size=50), st.integers(100, 599))
def test_any_custom_id_and_status_make_one_parsable_line(cid: str, status: int) -> None:
    line, _ = answer_line("r", 1, cid, status, "id", b"{}")
    assert line.count(b"\n") == 1 and json.loads(line)["custom_id"] == cid
    assert is_failure(json.loads(line)) is (status >= 400)
