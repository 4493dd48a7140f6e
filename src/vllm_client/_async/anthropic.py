"""``client.messages``: vLLM's Anthropic-compatible Messages API (``POST /v1/messages``).

For code written against Anthropic's API: the same request fields, answers as raw JSON
(:class:`AnthropicMessage`) with a few shortcuts, streams of :class:`MessageStreamEvent`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from typing_extensions import Unpack

from .._protocol.anthropic import (
    AnthropicMessage,
    CountTokensCall,
    MessagesCall,
    MessagesStreamDecoder,
    build_count_tokens,
    build_messages,
)
from .streaming import AsyncStream

if TYPE_CHECKING:
    from .client import AsyncVllmClient

__all__ = ["AsyncMessages", "AsyncMessagesStream"]


class AsyncMessagesStream(AsyncStream[Any, AnthropicMessage]):
    """A ``/v1/messages`` stream: :class:`MessageStreamEvent` events (``message_start`` ...
    ``message_stop``), ``text_stream``, ``collect_text()``, ``final()``."""

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """Only the text pieces, as they arrive."""
        return self._text()

    async def _text(self) -> AsyncIterator[str]:
        async for event in self:
            text = event.text
            if text:
                yield text

    async def collect_text(self) -> str:
        """All the text (reads the stream to its end)."""
        parts = [piece async for piece in self._text()]
        return "".join(parts)


class AsyncMessages:
    """``POST /v1/messages`` and ``/v1/messages/count_tokens``."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self._client = client

    @overload
    async def create(self, *, messages: Sequence[Any], max_tokens: int, stream: Literal[False] = False,
                     **params: Unpack[MessagesCall]) -> AnthropicMessage: ...

    @overload
    async def create(self, *, messages: Sequence[Any], max_tokens: int, stream: Literal[True],
                     **params: Unpack[MessagesCall]) -> AsyncMessagesStream: ...

    @overload
    async def create(self, *, messages: Sequence[Any], max_tokens: int, stream: bool,
                     **params: Unpack[MessagesCall]) -> AnthropicMessage | AsyncMessagesStream: ...

    async def create(self, *, messages: Sequence[Any], max_tokens: int, stream: bool = False,
                     **params: Unpack[MessagesCall]) -> AnthropicMessage | AsyncMessagesStream:
        """An Anthropic-style answer (``max_tokens`` is required, as in Anthropic's API):
        ``system``, ``stop_sequences``, ``tools``, ``tool_choice``, ``thinking``, ``top_k``...
        ``model=None`` uses the server's model. ``stream=True`` returns an
        :class:`AsyncMessagesStream`."""
        if not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, got {stream!r}")
        spec = build_messages(messages, max_tokens, params, stream=stream)
        client = self._client
        if not stream:
            data, timing = await client._request_json(spec)
            return AnthropicMessage(data, timing)
        response, request_id, _, start = await client._send(spec)
        return AsyncMessagesStream(response, MessagesStreamDecoder(request_id=request_id),
                                   timeout=client._core.timeout(spec), request_id=request_id, started=start)

    async def stream(self, *, messages: Sequence[Any], max_tokens: int,
                     **params: Unpack[MessagesCall]) -> AsyncMessagesStream:
        """Same as ``create(stream=True)``."""
        result = await self.create(messages=messages, max_tokens=max_tokens, stream=True, **params)
        assert isinstance(result, AsyncMessagesStream)
        return result

    async def count_tokens(self, *, messages: Sequence[Any], **params: Unpack[CountTokensCall]) -> int:
        """Prompt tokens of ``messages`` (with ``system``, ``tools``...) after the template."""
        data, _ = await self._client._request_json(build_count_tokens(messages, params))
        return int(data.get("input_tokens") or 0) if isinstance(data, dict) else 0
