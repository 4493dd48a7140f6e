"""Decoded events of a Responses API stream -> typed events -> the response. Pure.

A Responses stream is not a chat stream: each server-sent event is ``event: <type>`` plus
``data: <json>`` carrying its own ``type`` and ``sequence_number``, one event per item or
content lifecycle step or delta, and it ends after ``response.completed`` (no ``[DONE]``).

:class:`ResponsesStreamState` turns decoded events into ``ResponseEvent`` objects and keeps
what ``final()`` needs: the terminal event's response when it came (the server's own
assembly, ids and usage included), else the response rebuilt from the events seen (the
snapshot of ``response.created`` with the items so far, their text joined from the
deltas). A resumed stream (``starting_after=N``) has no ``created`` event and may start
inside an item; its items are rebuilt from the deltas alone. The bytes side is
``responses_decoder``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import responses_events as ev
from .responses_events import TERMINAL_EVENTS, ResponseStreamEvent
from .responses_types import Response, item_of

__all__ = ["ResponsesStreamState"]

_ARGS = -1  # the content index under which a tool call's argument (or input) pieces are kept
_PART_TYPE = {"message": "output_text", "reasoning": "reasoning_text"}
_TOOL_FIELD = {"function_call": "arguments", "custom_tool_call": "input"}


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
