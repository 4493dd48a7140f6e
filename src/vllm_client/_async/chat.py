"""``client.chat.completions``: create (plain or streamed), stream, parse."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from typing_extensions import Unpack

from .._protocol.params import CallOptions, ChatParams
from .._protocol.requests import build_chat
from .._protocol.types import ChatCompletion
from .streaming import AsyncChatStream, chat_decoder

if TYPE_CHECKING:
    from .client import AsyncVllmClient

__all__ = ["AsyncChat", "AsyncChatCompletions"]


class ChatCreateParams(ChatParams, CallOptions, total=False):
    """Every keyword of ``chat.completions.create``."""


class AsyncChatCompletions:
    """``POST /v1/chat/completions``."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self._client = client

    @overload
    async def create(self, *, messages: Sequence[Any], stream: Literal[False] = False,
                     parse_think_tags: bool = False, **params: Unpack[ChatCreateParams]) -> ChatCompletion: ...

    @overload
    async def create(self, *, messages: Sequence[Any], stream: Literal[True],
                     parse_think_tags: bool = False, **params: Unpack[ChatCreateParams]) -> AsyncChatStream: ...

    @overload
    async def create(self, *, messages: Sequence[Any], stream: bool,
                     parse_think_tags: bool = False,
                     **params: Unpack[ChatCreateParams]) -> ChatCompletion | AsyncChatStream: ...

    async def create(self, *, messages: Sequence[Any], stream: bool = False, parse_think_tags: bool = False,
                     **params: Unpack[ChatCreateParams]) -> ChatCompletion | AsyncChatStream:
        """Ask for a chat answer. Every OpenAI and vLLM request field is a keyword argument
        (``top_k``, ``min_p``, ``repetition_penalty``, ``structured_outputs``,
        ``chat_template_kwargs``...), plus ``extra_body``/``extra``, ``extra_headers``,
        ``extra_query`` and ``timeout``. ``model=None`` uses the server's only model.

        With ``stream=True`` returns an :class:`AsyncChatStream` of ``StreamEvent`` events
        (usage included by default; ``parse_think_tags=True`` splits ``<think>`` text out
        of the content for servers without a reasoning parser).
        """
        if not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, got {stream!r}")
        spec = build_chat(messages, params, stream=stream)
        client = self._client
        if not stream:
            data, timing = await client._request_json(spec)
            return ChatCompletion(data, timing)
        response, request_id, _, start = await client._send(spec)
        timeout = client._core.timeout(spec)
        return AsyncChatStream(response, chat_decoder(parse_think_tags, request_id), timeout=timeout,
                               request_id=request_id, started=start)

    async def stream(self, *, messages: Sequence[Any], parse_think_tags: bool = False,
                     **params: Unpack[ChatCreateParams]) -> AsyncChatStream:
        """Same as ``create(stream=True)``."""
        result = await self.create(messages=messages, stream=True, parse_think_tags=parse_think_tags, **params)
        assert isinstance(result, AsyncChatStream)
        return result


class AsyncChat:
    """``client.chat``: holds ``completions``."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self.completions = AsyncChatCompletions(client)
