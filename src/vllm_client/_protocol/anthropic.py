"""``POST /v1/messages`` (Anthropic's Messages API as vLLM serves it). Request, result, stream. Pure.

vLLM 0.32 (``entrypoints/anthropic``) converts the request to a chat completion and answers in
Anthropic's shape: ``{"id" (the chat id), "type": "message", "role", "content": [blocks],
"model", "stop_reason" (end_turn / max_tokens / stop_sequence / tool_use), "usage":
{"input_tokens", "output_tokens"}}`` with ``None`` fields left out. Errors are
``{"type": "error", "error": {"type": <vLLM's class name>, "message"}}`` with the HTTP status
(pydantic failures come OpenAI-shaped); both map to the usual exceptions. A stream is named
SSE events (``message_start``, ``content_block_start`` / ``_delta`` / ``_stop``,
``message_delta``, ``message_stop``) with no ``[DONE]``: it is complete at ``message_stop``,
and a body that ends before it is a :class:`StreamError`; a failure mid-stream is an
``error`` event. Results stay raw JSON with a few shortcuts (``text``, ``stop_reason``,
``tool_uses``); the key travels as ``Authorization: Bearer`` (vLLM ignores ``x-api-key``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from typing_extensions import TypedDict

from .._errors import APIError, StreamError, error_class
from .._json import loads
from .params import CallOptions
from .requests import RequestSpec, _check_messages, _options, body_fields, split_kwargs
from .sse import SSEDecoder, SSEError
from .types import RequestTiming, _RawView

__all__ = ["AnthropicMessage", "AnthropicUsage", "MessageStreamEvent", "MessagesCall", "MessagesStreamDecoder",
           "build_count_tokens", "build_messages"]


class MessagesParams(TypedDict, total=False):
    """``AnthropicMessagesRequest`` fields besides ``messages`` and ``max_tokens``."""

    model: str | None
    system: str | Sequence[Mapping[str, Any]] | None
    metadata: Mapping[str, Any] | None
    stop_sequences: Sequence[str] | None
    temperature: float | None
    top_k: int | None
    top_p: float | None
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: Mapping[str, Any] | None
    thinking: Mapping[str, Any] | None
    output_config: Mapping[str, Any] | None
    cache_salt: str | None
    watermarking: bool | None
    kv_transfer_params: Mapping[str, Any] | None
    ec_transfer_params: Mapping[str, Any] | None
    vllm_xargs: Mapping[str, Any] | None
    chat_template_kwargs: Mapping[str, Any] | None
    mm_payload: str | None


class MessagesCall(MessagesParams, CallOptions, total=False):
    """Every keyword of ``messages.create``."""


class CountTokensParams(TypedDict, total=False):
    model: str | None
    system: str | Sequence[Mapping[str, Any]] | None
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: Mapping[str, Any] | None
    thinking: Mapping[str, Any] | None
    output_config: Mapping[str, Any] | None
    chat_template_kwargs: Mapping[str, Any] | None


class CountTokensCall(CountTokensParams, CallOptions, total=False):
    """Every keyword of ``messages.count_tokens``."""


def _spec(path: str, body: dict[str, Any], options: Mapping[str, Any], stream: bool = False) -> RequestSpec:
    spec = _options(options, RequestSpec("POST", path, body=body, stream=stream))
    spec.needs_model = "model" not in body  # vLLM requires model here: the served one
    return spec


def build_messages(messages: Any, max_tokens: Any, kwargs: Mapping[str, Any], *, stream: bool) -> RequestSpec:
    """``messages.create(...)`` -> ``POST /messages``."""
    params, options = split_kwargs("create", kwargs, frozenset(MessagesParams.__annotations__))
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise TypeError(f"max_tokens is required: an integer, got {max_tokens!r}")
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    body = body_fields(params)
    body["messages"] = _check_messages(messages)
    body["max_tokens"] = max_tokens
    if stream:
        body["stream"] = True
    return _spec("/messages", body, options, stream)


def build_count_tokens(messages: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """``messages.count_tokens(...)`` -> ``POST /messages/count_tokens``."""
    params, options = split_kwargs("count_tokens", kwargs, frozenset(CountTokensParams.__annotations__))
    body = body_fields(params)
    body["messages"] = _check_messages(messages)
    return _spec("/messages/count_tokens", body, options)


class AnthropicUsage(_RawView):
    """``{"input_tokens", "output_tokens"}`` (plus cache counts with
    ``--enable-prompt-tokens-details``); ``prompt_tokens`` / ``completion_tokens`` alias them."""

    __slots__ = ()

    @property
    def input_tokens(self) -> int:
        return int(self.raw.get("input_tokens") or 0)

    @property
    def output_tokens(self) -> int:
        return int(self.raw.get("output_tokens") or 0)

    prompt_tokens = input_tokens
    completion_tokens = output_tokens

    def __repr__(self) -> str:
        return f"AnthropicUsage(input_tokens={self.input_tokens}, output_tokens={self.output_tokens})"


class AnthropicMessage(_RawView):
    """A ``/v1/messages`` answer: ``content`` (the blocks as dicts), ``text`` (the text blocks
    joined), ``thinking``, ``tool_uses`` (the ``tool_use`` blocks), ``stop_reason``,
    ``stop_sequence``, ``usage`` (:class:`AnthropicUsage`: ``input_tokens``, ``output_tokens``), ``id``,
    ``model``; ``raw`` as received."""

    __slots__ = ("timing",)

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None) -> None:
        self.raw = raw
        self.timing = timing

    @property
    def id(self) -> str:
        return str(self.raw.get("id") or "")

    @property
    def model(self) -> str:
        return str(self.raw.get("model") or "")

    @property
    def role(self) -> str:
        return str(self.raw.get("role") or "assistant")

    @property
    def content(self) -> list[dict[str, Any]]:
        return [b for b in self.raw.get("content") or () if isinstance(b, dict)]

    def _blocks(self, kind: str) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == kind]

    @property
    def text(self) -> str:
        return "".join(str(b.get("text") or "") for b in self._blocks("text"))

    @property
    def thinking(self) -> str | None:
        parts = [str(b.get("thinking") or "") for b in self._blocks("thinking")]
        return "".join(parts) if parts else None

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return self._blocks("tool_use")

    @property
    def stop_reason(self) -> str | None:
        return self.raw.get("stop_reason")

    @property
    def stop_sequence(self) -> str | None:
        return self.raw.get("stop_sequence")

    @property
    def usage(self) -> AnthropicUsage | None:
        usage = self.raw.get("usage")
        return AnthropicUsage(usage) if isinstance(usage, dict) else None

    def __repr__(self) -> str:
        return f"AnthropicMessage(id={self.id!r}, text={self.text!r}, stop_reason={self.stop_reason!r})"


@dataclass(slots=True)
class MessageStreamEvent:
    """One event of a ``/v1/messages`` stream: its ``type`` (the SSE event name) and ``data``
    (the JSON, as sent). ``text`` is the piece of a ``text_delta``, else None."""

    type: str
    data: dict[str, Any]

    @property
    def text(self) -> str | None:
        delta = self.data.get("delta")
        if self.type == "content_block_delta" and isinstance(delta, dict) and delta.get("type") == "text_delta":
            return str(delta.get("text") or "")
        return None


_DELTA_FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature"}
_VLLM_ERROR_STATUS = {"BadRequestError": 400, "NotFoundError": 404, "PermissionDeniedError": 403}


def _stream_error(data: dict[str, Any], request_id: str | None) -> APIError:
    found = data.get("error")
    err: dict[str, Any] = found if isinstance(found, dict) else {}
    etype = str(err.get("type") or "internal_error")
    status = _VLLM_ERROR_STATUS.get(etype, 500)
    return error_class(status)(str(err.get("message") or "error in stream"), status_code=status, error_type=etype,
                               body=data, request_id=request_id)


class MessagesStreamDecoder:
    """Bytes of a ``/v1/messages`` stream -> :class:`MessageStreamEvent` events, and the
    message assembled from them (``final()``). Same contract as the chat stream decoder."""

    __slots__ = ("_blocks", "_chunks", "_done", "_error", "_json_parts", "_message", "_request_id", "_sse",
                 "last_token_chunks", "token_chunks")

    def __init__(self, *, request_id: str | None = None, max_event_size: int = 16 * 1024 * 1024) -> None:
        self._sse = SSEDecoder(max_event_size=max_event_size)
        self._request_id = request_id
        self._message: dict[str, Any] = {}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._json_parts: dict[int, list[str]] = {}
        self._done = False
        self._error: Exception | None = None
        self._chunks = 0
        self.token_chunks = 0
        self.last_token_chunks = 0

    @property
    def done(self) -> bool:
        """Whether ``message_stop`` arrived."""
        return self._done

    @property
    def chunks(self) -> int:
        return self._chunks

    @property
    def first_token_in_last_feed(self) -> bool:
        return self.last_token_chunks > 0 and self.last_token_chunks == self.token_chunks

    def feed(self, data: bytes) -> list[MessageStreamEvent]:
        if self._error is not None:
            raise self._error
        self.last_token_chunks = 0
        if self._done:
            return []
        try:
            sse_events = self._sse.feed(data)
        except SSEError as exc:
            raise StreamError(f"malformed event stream: {exc}", partial=self.final()) from None
        out: list[MessageStreamEvent] = []
        before = self.token_chunks
        for ev in sse_events:
            try:
                payload = loads(ev.data)
                if not isinstance(payload, dict):
                    raise TypeError("not a JSON object")
            except (ValueError, TypeError) as exc:
                self._error = StreamError(f"unexpected stream event {ev.data[:120]!r}: {exc}", partial=self.final())
                break
            name = ev.event if ev.event != "message" else str(payload.get("type") or "message")
            if name == "error":
                self._error = _stream_error(payload, self._request_id)
                break
            self._chunks += 1
            self._apply(name, payload)
            out.append(MessageStreamEvent(name, payload))
            if name == "message_stop":
                self._done = True
                break
        self.last_token_chunks = self.token_chunks - before
        if self._error is not None and not out:
            raise self._error
        return out

    def _apply(self, name: str, data: dict[str, Any]) -> None:
        index = int(data.get("index") or 0)
        if name == "message_start" and isinstance(data.get("message"), dict):
            self._message = dict(data["message"])
        elif name == "content_block_start" and isinstance(data.get("content_block"), dict):
            self._blocks[index] = dict(data["content_block"])
        elif name == "content_block_delta" and isinstance(data.get("delta"), dict):
            delta = data["delta"]
            block = self._blocks.setdefault(index, {"type": "text", "text": ""})
            field = _DELTA_FIELDS.get(str(delta.get("type")))
            if field is not None:
                block[field] = str(block.get(field) or "") + str(delta.get(field) or "")
                self.token_chunks += field != "signature"
            elif delta.get("type") == "input_json_delta":
                self._json_parts.setdefault(index, []).append(str(delta.get("partial_json") or ""))
                self.token_chunks += 1
        elif name == "content_block_stop" and index in self._json_parts:
            text = "".join(self._json_parts.pop(index))
            try:
                self._blocks[index]["input"] = loads(text) if text.strip() else {}
            except ValueError:
                self._blocks[index]["input"] = text
        elif name == "message_delta":
            found = data.get("delta")
            change: dict[str, Any] = found if isinstance(found, dict) else {}
            self._message.update({k: v for k, v in change.items() if k in ("stop_reason", "stop_sequence")})
            if isinstance(data.get("usage"), dict):
                self._message["usage"] = {**(self._message.get("usage") or {}), **data["usage"]}

    def broken(self, cause: BaseException) -> StreamError:
        err = StreamError(f"the connection broke after {self._chunks} stream events: {cause}", partial=self.final(),
                          retryable=True)
        err.__cause__ = cause
        return err

    def close(self) -> None:
        """The body ended: an error event raises now; no ``message_stop`` is a StreamError."""
        self._sse.flush()
        if self._error is not None:
            raise self._error
        if not self._done:
            raise StreamError(f"stream ended before message_stop after {self._chunks} events", partial=self.final(),
                              retryable=True)

    def final(self) -> AnthropicMessage:
        raw = dict(self._message)
        raw["content"] = [self._blocks[i] for i in sorted(self._blocks)]
        return AnthropicMessage(raw)
