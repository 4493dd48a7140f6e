"""What a test can script: canned answers, HTTP faults and mid-stream faults.

All are small frozen dataclasses so a test reads like a sentence:
`server.add_fault(HttpError(503, retry_after=1), times=2)` or
`server.add_fault(StreamDrop(after_chunks=3))`. The server keeps them in order and
hands each one to the next matching request (see `MockVllmServer.add_fault`).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# --- scripted answers ------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """A tool call the scripted assistant makes. `arguments` may be a dict (encoded as
    JSON like vLLM's hermes parser: `{"location": "Tokyo"}`) or a ready string, which
    may even be invalid JSON on purpose."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None  # default: "chatcmpl-tool-<16 hex>"


@dataclass(frozen=True)
class ChatReply:
    """The next chat completion's answer, instead of generated text.

    finish_reason defaults to "tool_calls" when there are tool calls, else "stop".
    `usage` overrides counted values (prompt_tokens / completion_tokens / total_tokens).
    Streams split content and reasoning into token-like pieces, one per chunk, and
    tool-call arguments into small pieces, as vLLM's hermes parser streams them.
    """

    content: str | None = None
    reasoning: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    finish_reason: str | None = None
    stop_reason: str | int | None = None
    usage: Mapping[str, int] | None = None


@dataclass(frozen=True)
class CompletionReply:
    """The next /v1/completions answer (every choice gets this text)."""

    text: str
    finish_reason: str = "stop"
    stop_reason: str | int | None = None
    usage: Mapping[str, int] | None = None


@dataclass(frozen=True)
class RawResponse:
    """An exact answer: status, headers and body bytes. A sequence of byte strings as
    `body` is sent with `Transfer-Encoding: chunked`, one HTTP chunk per element.
    `content-length` is added for a bytes body unless present in `headers`. `interval`
    spaces the elements of a sequence body by that many seconds, as a server generating
    tokens spaces its chunks (a replayed capture then arrives read by read)."""

    status: int = 200
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    body: bytes | Sequence[bytes] = b""
    interval: float = 0.0


Reply = ChatReply | CompletionReply | RawResponse

# --- HTTP faults (the whole answer) -----------------------------------------------------


@dataclass(frozen=True)
class HttpError:
    """Answer with an error status and a vLLM-shaped body
    `{"error": {"message", "type", "param", "code"}}`.

    retry_after: seconds (int/float) or an HTTP-date string, sent as `Retry-After`;
    retry_after_ms: sent as `retry-after-ms`. `body` replaces the JSON body entirely.
    """

    status: int = 500
    message: str | None = None
    error_type: str | None = None  # default from the status: "InternalServerError", ...
    param: str | None = None
    retry_after: float | str | None = None
    retry_after_ms: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class Delay:
    """Wait `seconds` before answering normally (or before the next fault's effect)."""

    seconds: float


@dataclass(frozen=True)
class DropConnection:
    """Read the request, then close the connection without answering
    (`reset=True` sends a TCP RST instead of a clean FIN)."""

    reset: bool = False


DEFAULT_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class HtmlError:
    """An HTML error page, as a reverse proxy in front of vLLM sends it."""

    status: int = 502
    body: bytes = DEFAULT_HTML_502


@dataclass(frozen=True)
class EmptyBody:
    """A status with an empty body (content-length: 0, no content-type)."""

    status: int = 502


# --- stream faults (only used by streaming requests) -------------------------------------


@dataclass(frozen=True)
class StreamErrorFrame:
    """After `after_chunks` SSE events, send vLLM's in-stream error event
    `data: {"error": {...}}` then `data: [DONE]` and end the body normally."""

    after_chunks: int = 1
    message: str = "The engine encountered an internal error."
    error_type: str = "InternalServerError"
    code: int = 500
    param: str | None = None


@dataclass(frozen=True)
class StreamDrop:
    """After `after_chunks` SSE events, close the socket: no terminating HTTP chunk."""

    after_chunks: int = 1
    reset: bool = False


@dataclass(frozen=True)
class StreamStall:
    """After `after_chunks` SSE events, send nothing for `seconds` (None: until the
    client goes away or the server stops), then carry on."""

    after_chunks: int = 1
    seconds: float | None = None


@dataclass(frozen=True)
class StreamMalformed:
    """After `after_chunks` SSE events, send a data line that is not valid JSON
    (`data` to choose it), then carry on."""

    after_chunks: int = 1
    data: bytes = b'{"id": "chatcmpl-broken", "choices": [{'


@dataclass(frozen=True)
class StreamNoDone:
    """End the stream cleanly at the HTTP level but without `data: [DONE]`."""


@dataclass(frozen=True)
class StreamKeepAlive:
    """Interleave `: keep-alive` SSE comments: one after every `every` events."""

    every: int = 1
    comment: bytes = b": keep-alive\n\n"


Fault = HttpError | Delay | DropConnection | HtmlError | EmptyBody
StreamFault = StreamErrorFrame | StreamDrop | StreamStall | StreamMalformed | StreamNoDone | StreamKeepAlive
_STREAM_FAULTS = (StreamErrorFrame, StreamDrop, StreamStall, StreamMalformed, StreamNoDone, StreamKeepAlive)
_REPLY_PATHS: dict[type, tuple[str, ...]] = {
    ChatReply: ("/v1/chat/completions", "/v1/responses"),  # a Responses answer is a chat answer rendered
    CompletionReply: ("/v1/completions",),
}


def is_stream_fault(fault: object) -> bool:
    return isinstance(fault, _STREAM_FAULTS)


@dataclass
class _Entry:
    item: Any
    remaining: int | None  # None: forever
    path: str | None
    order: int


#: routes a client calls on its own (``model=None`` looks up the served model there)
DISCOVERY_PATHS = frozenset({"/v1/models"})


class Script:
    """Thread-safe queues of replies and faults, consumed by the server's event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Entry] = []
        self._replies: list[_Entry] = []
        self._counter = itertools.count()

    def add_fault(self, fault: Fault | StreamFault, times: int | None, path: str | None) -> None:
        with self._lock:
            self._faults.append(_Entry(fault, times, path, next(self._counter)))

    def add_reply(self, reply: Reply, times: int | None, path: str | None) -> None:
        with self._lock:
            self._replies.append(_Entry(reply, times, path, next(self._counter)))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._replies.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._faults) + len(self._replies)

    @staticmethod
    def _take(entries: list[_Entry], accept: Any) -> Any:
        for e in entries:
            if accept(e):
                if e.remaining is not None:
                    e.remaining -= 1
                    if e.remaining <= 0:
                        entries.remove(e)
                return e.item
        return None

    def take_fault(self, path: str) -> Fault | None:
        """The next fault for ``path``. A fault without a path skips ``/v1/models``: that is
        the client's model discovery, not the call a test means to fail (name the path to
        fail the listing itself)."""
        untargeted_ok = path not in DISCOVERY_PATHS
        with self._lock:
            result: Fault | None = self._take(
                self._faults,
                lambda e: not is_stream_fault(e.item) and (e.path == path or (e.path is None and untargeted_ok)),
            )
            return result

    def take_stream_fault(self, path: str) -> StreamFault | None:
        with self._lock:
            result: StreamFault | None = self._take(
                self._faults, lambda e: is_stream_fault(e.item) and e.path in (None, path)
            )
            return result

    def take_reply(self, path: str) -> Reply | None:
        def accept(e: _Entry) -> bool:
            if e.path is not None:
                return e.path == path
            return path in _REPLY_PATHS.get(type(e.item), (path,))

        with self._lock:
            result: Reply | None = self._take(self._replies, accept)
            return result
