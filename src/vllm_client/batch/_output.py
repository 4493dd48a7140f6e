"""Output lines, exactly the OpenAI batch output format. Pure.

``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``, keys in
that order, one compact line each. The server's JSON body is spliced in as the bytes it
sent (no decode/re-encode round trip changes a float or a key order); it is still parsed
once, to know it is JSON (a line we write must parse, or resume would stop there) and to
count its tokens. A body that is not JSON (a proxy's HTML page) becomes
``{"error": {"message": <its text>}}`` under the same status, and one with a raw CR or LF
(pretty-printed) is re-dumped compactly, so that every record stays one line for any reader.
"""

from __future__ import annotations

from typing import Any

from .._dispatch.schedule import DispatchTimeout
from .._errors import APIConnectionError, APITimeoutError, ResponseParseError, StreamError
from .._json import dumps, loads

__all__ = ["answer_line", "error_code", "error_line", "line_id", "parse_id"]

_PREFIX = "vllm-batch-"
_MAX_TEXT = 2000


def line_id(run_id: str, seq: int) -> str:
    """``vllm-batch-<run>-<seq>``: the sequence number lets resume find gaps and repeats."""
    return f"{_PREFIX}{run_id}-{seq}"


def parse_id(value: Any, run_id: str) -> int | None:
    """The sequence number in an id of run ``run_id``, else None."""
    if not isinstance(value, str) or not value.startswith(_PREFIX):
        return None
    run, sep, seq = value[len(_PREFIX):].rpartition("-")
    if not sep or run != run_id or not seq.isdigit() or (len(seq) > 1 and seq[0] == "0"):
        return None
    return int(seq)


def answer_line(run_id: str, seq: int, custom_id: str, status: int, request_id: str,
                body: bytes) -> tuple[bytes, Any]:
    """The line for an HTTP answer, and the parsed body (None if it was not JSON)."""
    try:
        parsed = loads(body)
    except ValueError:
        parsed = None
        text = body.decode("utf-8", "replace").strip()[:_MAX_TEXT]
        body = dumps({"error": {"message": text or f"HTTP {status} with an empty body"}})
    else:
        if b"\n" in body or b"\r" in body:
            body = dumps(parsed)
    line = b'{"id":"%b","custom_id":%b,"response":{"status_code":%d,"request_id":%b,"body":%b},"error":null}\n' % (
        line_id(run_id, seq).encode(), dumps(custom_id), status, dumps(request_id), body)
    return line, parsed


def error_line(run_id: str, seq: int, custom_id: str | None, code: str, message: str) -> bytes:
    """The line for a failure without an HTTP answer, or an invalid input line."""
    return b'{"id":"%b","custom_id":%b,"response":null,"error":%b}\n' % (
        line_id(run_id, seq).encode(), dumps(custom_id), dumps({"code": code, "message": message[:_MAX_TEXT]}))


def error_code(error: BaseException) -> str | None:
    """The output ``error.code`` for a failure without an answer; None: not a line's
    failure (a bug or a misconfiguration, which ends the run)."""
    if isinstance(error, (DispatchTimeout, APITimeoutError)):
        return "timeout"
    if isinstance(error, (StreamError, ResponseParseError)):
        return "stream_error"
    if isinstance(error, APIConnectionError):
        return "connection_error"
    return None


def is_failure(record: dict[str, Any]) -> bool:
    """Whether a parsed output line records a failure (OpenAI's rule: read the status,
    not only ``error``: a rejected request has an error *body* and ``error: null``)."""
    if record.get("error") is not None:
        return True
    response = record.get("response")
    status = response.get("status_code") if isinstance(response, dict) else None
    return not isinstance(status, int) or status >= 400
