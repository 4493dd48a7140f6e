"""Bytes of a Responses API stream -> ``ResponseEvent`` events. Pure (sans-I/O).

There is no ``data: [DONE]`` in a Responses stream: it is over after ``response.completed``
(vLLM 0.32 sends no ``response.failed``, ``response.incomplete`` or ``error`` event; on an
engine error it drops the connection). So the end of the body is normal once a terminal
event arrived, and a :class:`StreamError` (retryable, ``.partial`` the response assembled so
far) before it.

:class:`ResponsesStreamDecoder` is what the stream shell (``_async/streaming.py``) drives,
with the interface of the chat decoders: ``feed(bytes) -> events``, ``done``, ``chunks``,
``last_token_chunks``, ``broken(cause)``, ``close()``, ``final()``. SSE framing is
``sse.SSEDecoder``'s (its ``event:`` + ``data:`` fast path is this stream's shape); the
events and the assembly are :class:`~.responses_stream.ResponsesStreamState`'s.
"""

from __future__ import annotations

from .._errors import StreamError, VllmError, error_from_stream_frame
from .._json import JSONDecodeError, loads
from .responses_events import ResponseStreamEvent
from .responses_stream import ResponsesStreamState
from .responses_types import Response
from .sse import SSEDecoder, SSEError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "ResponsesStreamDecoder"]

DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
"""Bytes one event may take (``response.completed`` repeats the whole answer)."""

_EXCERPT = 120


def _excerpt(data: bytes) -> str:
    text = data[:_EXCERPT].decode("utf-8", "replace")
    return text + ("..." if len(data) > _EXCERPT else "")


def _bad_event(exc: Exception, payload: bytes) -> VllmError:
    if isinstance(exc, VllmError):
        return exc
    if isinstance(exc, JSONDecodeError):
        err = StreamError(f"stream event is not valid JSON: {_excerpt(payload)!r}")
    else:
        err = StreamError(f"unexpected stream event ({type(exc).__name__}: {exc}): {_excerpt(payload)!r}")
    err.__cause__ = exc
    return err


class ResponsesStreamDecoder:
    """Bytes of a ``/v1/responses`` stream (created, or resumed by ``retrieve``) -> events.

    ``resumed=True`` marks a ``GET /v1/responses/{id}?stream=true`` stream: vLLM answers it
    with a 200 and then closes the connection without an event when the response was not
    created with ``background=True, stream=True``; that ending gets its own message (and is
    not retryable: asking again gives the same).
    """

    __slots__ = ("_chunks", "_error", "_request_id", "_resumed", "_sse", "last_token_chunks", "state")

    def __init__(self, *, max_event_size: int = DEFAULT_MAX_EVENT_SIZE, request_id: str | None = None,
                 resumed: bool = False) -> None:
        self.state = ResponsesStreamState()
        self._sse = SSEDecoder(max_event_size=max_event_size)
        self._request_id = request_id
        self._resumed = resumed
        self._error: VllmError | None = None
        self._chunks = 0
        self.last_token_chunks = 0
        """Events in the last ``feed`` call that carried a token."""

    @property
    def done(self) -> bool:
        """Whether the terminal event (``response.completed``) arrived."""
        return self.state.done

    @property
    def chunks(self) -> int:
        """Events decoded so far."""
        return self._chunks

    @property
    def token_chunks(self) -> int:
        return self.state.token_chunks

    @property
    def first_token_in_last_feed(self) -> bool:
        return self.last_token_chunks > 0 and self.last_token_chunks == self.state.token_chunks

    def final(self) -> Response:
        return self.state.final()

    def feed(self, data: bytes) -> list[ResponseStreamEvent]:
        """Decode the next bytes of the body; return the events they complete. A bad event
        in a read that also completed good ones returns those first and raises next time."""
        if self._error is not None:
            raise self._error
        state = self.state
        if state.done:
            self.last_token_chunks = 0
            return []
        try:
            sse_events = self._sse.feed(data)
        except SSEError as exc:
            raise self._with_partial(StreamError(f"malformed event stream: {exc}")) from None
        before = state.token_chunks
        out: list[ResponseStreamEvent] = []
        error: VllmError | None = None
        for sse_event in sse_events:
            payload = sse_event[0]
            try:
                obj = loads(payload)
                if not isinstance(obj, dict):
                    raise StreamError(f"stream event is not a JSON object: {_excerpt(payload)!r}")
                kind = obj.get("type") or sse_event[1]
                if kind == "error" or (kind == "message" and "error" in obj):
                    raise error_from_stream_frame(obj, request_id=self._request_id)
                out.append(state.feed(str(kind), obj))
            except Exception as exc:
                if isinstance(exc, JSONDecodeError) and (not payload.strip() or payload == b"[DONE]"):
                    continue  # nothing, or a chat-style terminator: the terminal event decides
                error = self._with_partial(_bad_event(exc, payload))
                break
            self._chunks += 1
            if state.done:
                break
        self.last_token_chunks = state.token_chunks - before
        if error is not None:
            if not out:
                raise error
            self._error = error
        return out

    def _with_partial(self, error: VllmError) -> VllmError:
        if isinstance(error, StreamError) and error.partial is None:
            error.partial = self._partial()
        return error

    def _partial(self) -> Response | None:
        try:
            return self.state.final()
        except Exception:  # too broken to assemble: the error still says what happened
            return None

    def _unstreamable(self) -> StreamError | None:
        if not self._resumed or self._chunks:
            return None
        return StreamError("the server ended the stream before its first event: vLLM streams a stored response "
                           "again only when it was created with background=True and stream=True (use "
                           "retrieve(id) without stream=True for the others)", partial=self._partial())

    def broken(self, cause: BaseException) -> StreamError:
        """The error for a connection that broke after the headers: retryable, with what arrived."""
        pending = self._sse.pending_bytes
        self._sse.flush()
        err = self._unstreamable()
        if err is None:
            tail = f" and {pending} bytes of an unfinished event" if pending else ""
            err = StreamError(f"the connection broke after {self._chunks} stream events{tail}, before "
                              f"response.completed: {cause}", partial=self._partial(), retryable=True)
        err.__cause__ = cause
        return err

    def close(self) -> None:
        """The body ended: fine after the terminal event, else a retryable StreamError."""
        if self._error is not None:
            self._sse.flush()
            raise self._error
        pending = self._sse.pending_bytes
        self._sse.flush()
        if self.state.done:
            return
        err = self._unstreamable()
        if err is not None:
            raise err
        tail = f" ({pending} bytes of an unfinished event)" if pending else ""
        raise StreamError(f"stream ended before response.completed after {self._chunks} events{tail}",
                          partial=self._partial(), retryable=True)
