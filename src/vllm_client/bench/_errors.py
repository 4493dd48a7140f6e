"""A failed request -> its kind, HTTP status and message. Pure.

Every failure is counted by kind in the result (``errors``) and none is ever a success:
``vllm bench serve`` keeps only the reason phrase of an HTTP error and scores a stream that
fails after its first chunk as a success with a short answer; here the server's own message
is kept and a mid-stream error frame, a broken or incomplete stream, and a truncated answer
each fail the request.

Kinds:

- ``http_<status>``: the server answered with an error status (message: its body's message);
- ``stream_error_frame``: a ``data: {"error": ...}`` frame inside a 200 stream;
- ``connect_timeout``, ``connect_error``: no connection / no answer at all;
- ``first_token_timeout``, ``idle_timeout``, ``total_timeout``, ``read_timeout``: a limit
  of :class:`~vllm_client.bench.Limits` (or the client's read timeout) ran out;
- ``broken_stream``: the connection broke after the headers; ``incomplete_stream``: the
  body ended before ``[DONE]``; ``malformed_stream``: a payload that is not a chunk;
- ``truncated``: ``finish_reason == "length"`` with fewer tokens than asked (the server cut
  the answer, e.g. at ``max_model_len``);
- ``dispatch_timeout``: the run's own per-request backstop; ``other``: anything else.
"""

from __future__ import annotations

from .._dispatch.schedule import DispatchTimeout
from .._errors import APIConnectionError, APIError, APITimeoutError, StreamError, StreamTimeoutError

__all__ = ["classify", "truncation"]

_MESSAGE_LIMIT = 500


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "..."


def classify(error: BaseException, *, streaming: bool) -> tuple[str, int | None, str]:
    """(kind, HTTP status or None, message). ``streaming``: the failure came after the
    response headers (while reading the stream)."""
    if isinstance(error, APIError):
        status = error.status_code
        kind = "stream_error_frame" if streaming else f"http_{status}"
        return kind, status, _short(f"{status} {error.error_type or ''}: {error.message}".replace(" :", ":"))
    message = _short(str(error) or type(error).__name__)
    if isinstance(error, StreamTimeoutError):
        for marker, kind in (("first-token", "first_token_timeout"), ("idle", "idle_timeout"),
                             ("total", "total_timeout")):
            if marker in message:
                return kind, None, message
        return "read_timeout", None, message
    if isinstance(error, APITimeoutError):
        if "connecting" in message or "free connection" in message:
            return "connect_timeout", None, message
        if "total timeout" in message:
            return "total_timeout", None, message
        return "read_timeout", None, message
    if isinstance(error, StreamError):  # (the message may quote the bad payload: match its start)
        if message.startswith("the connection broke"):
            return "broken_stream", None, message
        if message.startswith("stream ended before [DONE]"):
            return "incomplete_stream", None, message
        return "malformed_stream", None, message
    if isinstance(error, APIConnectionError):
        return ("broken_stream" if streaming else "connect_error"), None, message
    if isinstance(error, DispatchTimeout):
        return "dispatch_timeout", None, message
    return "other", None, f"{type(error).__name__}: {message}"


def truncation(finish_reason: str | None, output_tokens: int | None, expected: int | None) -> str | None:
    """The message for a truncated answer, or None when it is whole."""
    if finish_reason == "length" and expected is not None and output_tokens is not None and output_tokens < expected:
        return f"finish_reason length after {output_tokens} of {expected} tokens asked"
    return None
