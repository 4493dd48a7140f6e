"""Bytes -> stream events: the whole decode pipeline the sync and async shells share.

``feed(bytes)`` runs SSE framing (:class:`.sse.SSEDecoder`), JSON decoding and the
stream state machine, and returns the events those bytes completed. ``close()`` is
called when the body ended and turns a stream that stopped before ``data: [DONE]``
into a :class:`StreamError`: a dropped connection must never look like a short answer.

Each payload is first decoded as a *plain* chunk (the typed structs of
:mod:`.plain_chunks`, msgspec: a text piece and nothing else (but a running usage), which is nearly every
chunk) and applied with the state's ``feed_plain``; any other payload is decoded with
orjson into a dict for the general path. After a few non-plain chunks in a row (a
logprobs or tool-call run) the decoder stops trying the typed decode for the rest of
the stream, so such streams pay for the failed attempt at most that many times.

Errors, all raised from ``feed``:

* an error frame inside the 200 stream (vLLM sends ``data: {"error": {...}}`` when
  generation fails after the headers went out) -> the :class:`APIError` subclass its
  ``code`` maps to, as if it had been the HTTP status;
* a payload that is not JSON, not a JSON object, or not shaped like a chunk, or an
  event over ``max_event_size`` -> :class:`StreamError` with a short excerpt.

When the bad payload shares a read with good chunks, their events are returned first
and the error is raised by the next ``feed``/``close``.

Per-feed counters (``last_token_chunks``, ``first_token_in_last_feed``) let the I/O
layer time the first token and the gaps between tokens with one clock read per
socket read, without looking at the events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from .._errors import StreamError, VllmError, error_from_stream_frame
from .._json import JSONDecodeError, loads
from .chat_stream import ChatStreamState
from .completion_stream import CompletionStreamState
from .events import ChatStreamEvent, CompletionStreamEventType
from .sse import SSEDecoder, SSEError
from .types import ChatCompletion, Completion

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "ChatStreamDecoder", "CompletionStreamDecoder"]

DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
"""Bytes one SSE event may take before the stream is rejected (a runaway server guard)."""

_DONE = b"[DONE]"
_EXCERPT = 120
_MISS_LIMIT = 4
"""Non-plain chunks in a row after which a stream stops trying the typed decode."""

E = TypeVar("E")
F = TypeVar("F")
F_co = TypeVar("F_co", covariant=True)


class _State(Protocol[E, F_co]):
    """What a decoder needs from a stream state machine."""

    @property
    def token_chunks(self) -> int: ...

    @property
    def decode_plain(self) -> Callable[[bytes], Any] | None: ...

    def feed(self, chunk: dict[str, Any]) -> list[E]: ...

    def feed_plain(self, chunk: Any, out: list[E]) -> bool: ...

    def end(self) -> list[E]: ...

    def final(self) -> F_co: ...


def _as_error(exc: Exception, payload: bytes) -> VllmError:
    """The exception a bad payload raises: error frames as they are, the rest as StreamError."""
    if isinstance(exc, VllmError):
        return exc
    if isinstance(exc, JSONDecodeError):
        err = StreamError(f"stream chunk is not valid JSON: {_excerpt(payload)!r}")
    else:
        err = StreamError(f"unexpected stream chunk ({type(exc).__name__}: {exc}): {_excerpt(payload)!r}")
    err.__cause__ = exc
    return err


def _excerpt(data: bytes) -> str:
    text = data[:_EXCERPT].decode("utf-8", "replace")
    return text + ("..." if len(data) > _EXCERPT else "")


class _StreamDecoder(Generic[E, F]):
    """SSE -> JSON -> state, for any stream state with ``feed``/``end``/``final``."""

    __slots__ = ("_chunks", "_decode_plain", "_done", "_error", "_misses", "_not_plain", "_plain", "_request_id",
                 "_sse", "_state", "last_token_chunks")

    def __init__(self, state: _State[E, F], *, max_event_size: int, request_id: str | None) -> None:
        self._state = state
        self._sse = SSEDecoder(max_event_size=max_event_size)
        self._request_id = request_id
        self._done = False
        self._error: VllmError | None = None
        self._chunks = 0
        self._plain = 0
        self._decode_plain = state.decode_plain
        self._misses = 0
        self._not_plain: type[Exception] = Exception
        if self._decode_plain is not None:
            from .plain_chunks import DecodeError  # (msgspec is loaded by the state already)

            self._not_plain = DecodeError
        self.last_token_chunks = 0
        """Chunks in the last ``feed`` call that carried a token (content, reasoning, tool)."""

    @property
    def done(self) -> bool:
        """Whether ``data: [DONE]`` was received."""
        return self._done

    @property
    def chunks(self) -> int:
        """JSON chunks decoded so far (``[DONE]`` and comments not counted)."""
        return self._chunks

    @property
    def plain_chunks(self) -> int:
        """Chunks so far that took the typed plain-chunk path (for tests and benchmarks)."""
        return self._plain

    @property
    def token_chunks(self) -> int:
        """Chunks so far that carried a token."""
        return self._state.token_chunks

    @property
    def first_token_in_last_feed(self) -> bool:
        """True exactly once: for the ``feed`` call whose bytes held the first token."""
        return self.last_token_chunks > 0 and self.last_token_chunks == self._state.token_chunks

    @property
    def request_id(self) -> str | None:
        return self._request_id

    def final(self) -> F:
        """The answer assembled from what was received so far."""
        return self._state.final()

    def feed(self, data: bytes) -> list[E]:
        """Decode the next bytes of the body; return the events they complete.

        A failure inside a read that also completed good events returns those events
        first and raises on the next ``feed``/``close``: no received token is lost.
        """
        if self._error is not None:
            raise self._error
        if self._done:
            self.last_token_chunks = 0
            return []
        try:
            payloads = self._sse.feed_data(data)
        except SSEError as exc:
            raise self._with_partial(StreamError(f"malformed event stream: {exc}")) from None
        if not payloads:
            self.last_token_chunks = 0
            return []
        state = self._state
        before = state.token_chunks
        out: list[E] = []
        error: VllmError | None = None
        decode_plain = self._decode_plain
        not_plain = self._not_plain
        feed_plain = state.feed_plain
        plain_chunks = 0
        # One loop for bulk reads and one-event reads alike, kept flat: this is the
        # per-chunk hot path (no helper calls beyond the decode and the state's feed).
        for payload in payloads:
            if decode_plain is not None:
                try:
                    plain = decode_plain(payload)
                except not_plain:
                    self._misses += 1
                    if self._misses >= _MISS_LIMIT:
                        decode_plain = self._decode_plain = None
                else:
                    if feed_plain(plain, out):
                        plain_chunks += 1
                        if self._misses:
                            self._misses = 0
                        continue
            if payload == _DONE:
                self._done = True
                out += state.end()
                break
            try:
                chunk = loads(payload)
                if "choices" not in chunk:
                    self._check_chunk(chunk, payload)
                out += state.feed(chunk)
            except Exception as exc:
                if isinstance(exc, JSONDecodeError) and not payload.strip():
                    continue  # an empty ``data:`` line carries nothing
                error = self._with_partial(_as_error(exc, payload))
                break
            self._chunks += 1
        if plain_chunks:
            self._chunks += plain_chunks
            self._plain += plain_chunks
        self.last_token_chunks = state.token_chunks - before
        if error is not None:
            if not out:
                raise error
            self._error = error
        return out

    def _check_chunk(self, chunk: Any, payload: bytes) -> None:
        """Slow path for a payload without ``choices``: an error frame, or garbage."""
        if not isinstance(chunk, dict):
            raise StreamError(f"stream chunk is not a JSON object: {_excerpt(payload)!r}")
        if "error" in chunk or chunk.get("object") == "error":
            raise error_from_stream_frame(chunk, request_id=self._request_id)

    def _with_partial(self, error: VllmError) -> VllmError:
        """``error`` carrying what arrived so far, when it is a :class:`StreamError`."""
        if isinstance(error, StreamError) and error.partial is None:
            error.partial = self._partial()
        return error

    def _partial(self) -> F | None:
        try:
            return self._state.final()
        except Exception:  # a state too broken to assemble: the error still says what happened
            return None

    def broken(self, cause: BaseException) -> StreamError:
        """The error for a connection that broke after the response headers: retryable
        (the whole call may be sent again), carrying what arrived, ``cause`` chained."""
        pending = self._sse.pending_bytes
        self._sse.flush()
        tail = f" and {pending} bytes of an unfinished event" if pending else ""
        err = StreamError(f"the connection broke after {self._chunks} stream chunks{tail}: {cause}",
                          partial=self._partial(), retryable=True)
        err.__cause__ = cause
        return err

    def close(self) -> None:
        """The body ended. Raises :class:`StreamError` unless ``[DONE]`` was received
        (or the error a previous ``feed`` deferred). A body cut short is retryable: the
        connection ended early, which a new call may not repeat."""
        if self._error is not None:
            self._sse.flush()
            raise self._error
        if self._done:
            self._sse.flush()
            return
        pending = self._sse.pending_bytes
        self._sse.flush()
        tail = f" ({pending} bytes of an unfinished event)" if pending else ""
        raise StreamError(f"stream ended before [DONE] after {self._chunks} chunks{tail}",
                          partial=self._partial(), retryable=True)


class ChatStreamDecoder(_StreamDecoder[ChatStreamEvent, ChatCompletion]):
    """Bytes of a ``/v1/chat/completions`` stream -> :class:`StreamEvent` events."""

    __slots__ = ()

    def __init__(
        self,
        *,
        parse_think_tags: bool = False,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            ChatStreamState(parse_think_tags=parse_think_tags),
            max_event_size=max_event_size,
            request_id=request_id,
        )


class CompletionStreamDecoder(_StreamDecoder[CompletionStreamEventType, Completion]):
    """Bytes of a legacy ``/v1/completions`` stream -> :class:`CompletionStreamEvent` events.

    ``parse_think_tags`` is accepted for a uniform constructor and ignored: legacy
    completions have no reasoning events.
    """

    __slots__ = ()

    def __init__(
        self,
        *,
        parse_think_tags: bool = False,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        request_id: str | None = None,
    ) -> None:
        super().__init__(CompletionStreamState(), max_event_size=max_event_size, request_id=request_id)
