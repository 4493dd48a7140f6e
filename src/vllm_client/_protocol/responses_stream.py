"""Bytes of a Responses API stream -> typed events -> the response. Pure (sans-I/O).

A Responses stream is not a chat stream: each server-sent event is ``event: <type>`` plus
``data: <json>`` carrying its own ``type`` and ``sequence_number``, one event per item or
content lifecycle step or delta, and there is no ``data: [DONE]``: the stream is over after
``response.completed`` (vLLM 0.32 sends no ``response.failed``, ``response.incomplete`` or
``error`` event; on an engine error it drops the connection). So the end of the body is
normal once a terminal event arrived, and a :class:`StreamError` (retryable, ``.partial``
the response assembled so far) before it.

:class:`ResponsesStreamState` turns decoded events into ``ResponseEvent`` objects and keeps
what ``final()`` needs: the terminal event's response when it came (the server's own
assembly, ids and usage included), else the response rebuilt from the events seen (the
snapshot of ``response.created`` with the items so far, their text joined from the
deltas). A resumed stream (``starting_after=N``) has no ``created`` event and may start
inside an item; its items are rebuilt from the deltas alone.

:class:`ResponsesStreamDecoder` is what the stream shell (``_async/streaming.py``) drives,
with the interface of the chat decoders: ``feed(bytes) -> events``, ``done``, ``chunks``,
``last_token_chunks``, ``broken(cause)``, ``close()``, ``final()``. SSE framing is
``sse.SSEDecoder``'s (its ``event:`` + ``data:`` fast path is this stream's shape).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._errors import StreamError, VllmError, error_from_stream_frame
from .._json import JSONDecodeError, loads
from . import responses_events as ev
from .responses_events import TERMINAL_EVENTS, ResponseStreamEvent
from .responses_types import Response, item_of
from .sse import SSEDecoder, SSEError

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "ResponsesStreamDecoder", "ResponsesStreamState"]

DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024
"""Bytes one event may take (``response.completed`` repeats the whole answer)."""

_EXCERPT = 120
_ARGS = -1  # the content index under which a tool call's argument (or input) pieces are kept
_PART_TYPE = {"message": "output_text", "reasoning": "reasoning_text"}
_TOOL_FIELD = {"function_call": "arguments", "custom_tool_call": "input"}


def _excerpt(data: bytes) -> str:
    text = data[:_EXCERPT].decode("utf-8", "replace")
    return text + ("..." if len(data) > _EXCERPT else "")


class ResponsesStreamState:
    """Decoded events -> ``ResponseEvent`` objects, and the response they add up to."""

    __slots__ = ("_done_items", "_items", "_parts", "_pieces", "_snapshot", "_stubs", "_terminal", "done",
                 "last_sequence_number", "token_chunks")

    def __init__(self) -> None:
        self._snapshot: dict[str, Any] | None = None  # the response of created / in_progress
        self._terminal: dict[str, Any] | None = None  # the response of completed / incomplete / failed
        self._items: dict[int, dict[str, Any]] = {}  # output_index -> item as added, or as done
        self._parts: dict[tuple[int, int], dict[str, Any]] = {}
        self._pieces: dict[tuple[int, int], list[str]] = {}  # text / arguments pieces
        self._stubs: dict[int, tuple[str, str]] = {}  # items first seen by a delta: (type, item_id)
        self._done_items: set[int] = set()  # output_item.done arrived: assembled as the server sent it
        self.done = False
        self.last_sequence_number: int | None = None
        self.token_chunks = 0
        """Events so far that carried a token (text, reasoning or tool-call pieces)."""

    @property
    def response_id(self) -> str | None:
        """The response's id, once an event that carries the response arrived."""
        raw = self._terminal or self._snapshot
        return str(raw["id"]) if raw and raw.get("id") else None

    def feed(self, kind: str, data: dict[str, Any]) -> ResponseStreamEvent:
        """The event for one decoded server-sent event (``kind`` is its type)."""
        seq = data.get("sequence_number")
        seq = seq if isinstance(seq, int) else -1
        if seq >= 0:
            self.last_sequence_number = seq
        handler = _HANDLERS.get(kind)
        if handler is None:
            return ev.Other(kind, seq, data)
        return handler(self, data, seq)

    # -- handlers (one per event type) ----------------------------------------------------
    def _response(self, data: dict[str, Any], seq: int, cls: Any) -> ResponseStreamEvent:
        raw = data["response"]
        if not isinstance(raw, dict):
            raise TypeError("'response' is not an object")
        if cls.type in TERMINAL_EVENTS:
            self._terminal = raw
            self.done = True
        else:
            self._snapshot = raw
        event: ResponseStreamEvent = cls(Response(raw), seq, data)
        return event

    def _created(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        return self._response(data, seq, ev.Created)

    def _in_progress(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        return self._response(data, seq, ev.InProgress)

    def _completed(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        return self._response(data, seq, ev.Completed)

    def _incomplete(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        return self._response(data, seq, ev.Incomplete)

    def _failed(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        return self._response(data, seq, ev.Failed)

    def _item_added(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        index, item = int(data["output_index"]), data["item"]
        self._items[index] = item
        return ev.OutputItemAdded(item_of(item), index, seq, data)

    def _item_done(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        index, item = int(data["output_index"]), data["item"]
        self._items[index] = item
        self._done_items.add(index)
        return ev.OutputItemDone(item_of(item), index, seq, data)

    def _part(self, data: dict[str, Any], seq: int, cls: Any) -> ResponseStreamEvent:
        key = (int(data["output_index"]), int(data.get("content_index") or 0))
        part = data["part"]
        if key[0] not in self._items and key[0] not in self._stubs:
            kind = "reasoning" if part.get("type") == "reasoning_text" else "message"
            self._stubs[key[0]] = (kind, str(data.get("item_id") or ""))
        self._parts[key] = part
        if cls is ev.ContentPartDone:
            self._pieces[key] = [str(part.get("text") or "")]
        event: ResponseStreamEvent = cls(part, str(data.get("item_id") or ""), key[0], key[1], seq, data)
        return event

    def _part_added(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        return self._part(data, seq, ev.ContentPartAdded)

    def _part_done(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        return self._part(data, seq, ev.ContentPartDone)

    def _pieces_of(self, data: dict[str, Any], kind: str, content_index: int) -> tuple[list[str], int, str]:
        index = int(data["output_index"])
        item_id = str(data.get("item_id") or "")
        if index not in self._items and index not in self._stubs:
            self._stubs[index] = (kind, item_id)  # a resumed stream that starts inside this item
        pieces = self._pieces.get((index, content_index))
        if pieces is None:
            pieces = self._pieces[(index, content_index)] = []
        return pieces, index, item_id

    def _text_delta(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        ci = int(data.get("content_index") or 0)
        text = data["delta"]
        pieces, index, item_id = self._pieces_of(data, "message", ci)
        pieces.append(text)
        self.token_chunks += 1
        return ev.TextDelta(text, item_id, index, ci, data.get("logprobs"), seq, data)

    def _reasoning_delta(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        ci = int(data.get("content_index") or 0)
        text = data["delta"]
        pieces, index, item_id = self._pieces_of(data, "reasoning", ci)
        pieces.append(text)
        self.token_chunks += 1
        return ev.ReasoningDelta(text, item_id, index, ci, seq, data)

    def _text_done(self, data: dict[str, Any], seq: int, cls: Any) -> ResponseStreamEvent:
        ci = int(data.get("content_index") or 0)
        kind = "message" if cls is ev.TextDone else "reasoning"
        pieces, index, item_id = self._pieces_of(data, kind, ci)
        text = str(data["text"])
        pieces[:] = [text]
        event: ResponseStreamEvent = cls(text, item_id, index, ci, seq, data)
        return event

    def _output_text_done(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        return self._text_done(data, seq, ev.TextDone)

    def _reasoning_done(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        return self._text_done(data, seq, ev.ReasoningDone)

    def _args_delta(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        piece = data["delta"]
        pieces, index, item_id = self._pieces_of(data, "function_call", _ARGS)
        pieces.append(piece)
        self.token_chunks += 1
        return ev.FunctionCallArgumentsDelta(piece, item_id, index, seq, data)

    def _args_done(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        pieces, index, item_id = self._pieces_of(data, "function_call", _ARGS)
        arguments = str(data["arguments"])
        pieces[:] = [arguments]
        return ev.FunctionCallArgumentsDone(arguments, data.get("name"), item_id, index, seq, data)

    def _input_delta(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        piece = data["delta"]
        pieces, index, item_id = self._pieces_of(data, "custom_tool_call", _ARGS)
        pieces.append(piece)
        self.token_chunks += 1
        return ev.CustomToolCallInputDelta(piece, item_id, index, seq, data)

    def _input_done(self, data: dict[str, Any], seq: int) -> ResponseStreamEvent:
        pieces, index, item_id = self._pieces_of(data, "custom_tool_call", _ARGS)
        text = str(data["input"])
        pieces[:] = [text]
        return ev.CustomToolCallInputDone(text, item_id, index, seq, data)

    # -- assembly -------------------------------------------------------------------------
    def final(self) -> Response:
        """The terminal event's response, or (the stream not over) the one assembled so far."""
        return Response(self._terminal if self._terminal is not None else self.assemble())

    def assemble(self) -> dict[str, Any]:
        """The response rebuilt from the events: the last snapshot (``created`` /
        ``in_progress``) with every item seen, texts and arguments joined from the deltas
        of items not done yet."""
        raw: dict[str, Any] = {"object": "response", "status": "in_progress"}
        if self._snapshot is not None:
            raw = dict(self._snapshot)
        indices = sorted(set(self._items) | set(self._stubs))
        raw["output"] = [self._assemble_item(i) for i in indices]
        return raw

    def _assemble_item(self, index: int) -> dict[str, Any]:
        if index in self._done_items:
            return self._items[index]
        item: dict[str, Any]
        if index in self._items:
            item = dict(self._items[index])
        else:
            kind, item_id = self._stubs[index]
            item = {"id": item_id, "type": kind, "status": "in_progress"}
            if kind == "message":
                item["role"] = "assistant"
        kind = str(item.get("type"))
        tool_field = _TOOL_FIELD.get(kind)
        if tool_field is not None:
            pieces = self._pieces.get((index, _ARGS))
            if pieces is not None:
                item[tool_field] = "".join(pieces)
            return item
        content_indices = sorted({ci for (i, ci) in self._parts if i == index}
                                 | {ci for (i, ci) in self._pieces if i == index and ci != _ARGS})
        if content_indices:
            part_type = _PART_TYPE.get(kind, "output_text")
            content = []
            for ci in content_indices:
                part = dict(self._parts.get((index, ci)) or {"type": part_type})
                pieces = self._pieces.get((index, ci))
                if pieces is not None:
                    part["text"] = "".join(pieces)
                content.append(part)
            item["content"] = content
        return item


_HANDLERS: dict[str, Callable[[ResponsesStreamState, dict[str, Any], int], ResponseStreamEvent]] = {
    "response.created": ResponsesStreamState._created,
    "response.in_progress": ResponsesStreamState._in_progress,
    "response.output_item.added": ResponsesStreamState._item_added,
    "response.output_item.done": ResponsesStreamState._item_done,
    "response.content_part.added": ResponsesStreamState._part_added,
    "response.content_part.done": ResponsesStreamState._part_done,
    "response.output_text.delta": ResponsesStreamState._text_delta,
    "response.output_text.done": ResponsesStreamState._output_text_done,
    "response.reasoning_text.delta": ResponsesStreamState._reasoning_delta,
    "response.reasoning_text.done": ResponsesStreamState._reasoning_done,
    "response.function_call_arguments.delta": ResponsesStreamState._args_delta,
    "response.function_call_arguments.done": ResponsesStreamState._args_done,
    "response.custom_tool_call_input.delta": ResponsesStreamState._input_delta,
    "response.custom_tool_call_input.done": ResponsesStreamState._input_done,
    "response.completed": ResponsesStreamState._completed,
    "response.incomplete": ResponsesStreamState._incomplete,
    "response.failed": ResponsesStreamState._failed,
}


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
