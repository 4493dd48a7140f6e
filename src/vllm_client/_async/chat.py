"""``client.chat.completions``: create (plain or streamed), stream, parse, batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from typing_extensions import Unpack

from .._protocol.chat_batch import ChatBatchCall, ChatCompletionBatch, build_chat_batch
from .._protocol.params import CallOptions, ChatParams
from .._protocol.requests import build_chat
from .._protocol.think import split_think_in_chat
from .._protocol.types import ChatCompletion
from .streaming import AsyncChatStream

if TYPE_CHECKING:
    from ..structured import ParsedChatCompletion
    from .client import AsyncVllmClient

__all__ = ["AsyncChat", "AsyncChatCompletions"]

T = TypeVar("T")


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
        (usage included by default).

        ``parse_think_tags=True`` moves ``<think>...</think>`` text from the content to the
        reasoning, for servers started without a reasoning parser (streamed or not).
        """
        if not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, got {stream!r}")
        spec = build_chat(messages, params, stream=stream)
        client = self._client
        if not stream:
            data, timing = await client._request_json(spec)
            if parse_think_tags:
                data = split_think_in_chat(data)
            return ChatCompletion(data, timing)
        response, request_id, _, start = await client._send(spec)
        # msgspec and the stream states load with the first stream
        from .._protocol.stream_decoder import ChatStreamDecoder

        decoder = ChatStreamDecoder(parse_think_tags=parse_think_tags, request_id=request_id)
        return AsyncChatStream(response, decoder, timeout=client._core.timeout(spec), request_id=request_id,
                               started=start)

    async def stream(self, *, messages: Sequence[Any], parse_think_tags: bool = False,
                     **params: Unpack[ChatCreateParams]) -> AsyncChatStream:
        """Same as ``create(stream=True)``."""
        result = await self.create(messages=messages, stream=True, parse_think_tags=parse_think_tags, **params)
        assert isinstance(result, AsyncChatStream)
        return result

    async def batch(self, *, conversations: Sequence[Sequence[Any]],
                    **params: Unpack[ChatBatchCall]) -> ChatCompletionBatch:
        """Answer several conversations in one request (``POST /v1/chat/completions/batch``):
        ``choices[i]`` (and ``.contents[i]``) answers ``conversations[i]``; usage is summed.
        The sampling keywords of :meth:`create` apply to every conversation; ``stream``,
        ``tools`` and beam search are refused before sending (vLLM would accept and mishandle
        them), and ``n`` must be 1."""
        data, timing = await self._client._request_json(build_chat_batch(conversations, params))
        return ChatCompletionBatch(data, timing)

    @overload
    async def parse(
        self, *, messages: Sequence[Any], response_format: type[T], **params: Any
    ) -> ParsedChatCompletion[T]: ...

    @overload
    async def parse(
        self, *, messages: Sequence[Any], response_format: Mapping[str, Any], **params: Any
    ) -> ParsedChatCompletion[Any]: ...

    async def parse(
        self, *, messages: Sequence[Any], response_format: type[T] | Mapping[str, Any], **params: Any
    ) -> ParsedChatCompletion[Any]:
        """Ask for JSON matching a type and get it back as an instance.

        ``response_format`` is a pydantic model, dataclass or TypedDict type (the JSON
        schema is derived and sent as a ``json_schema`` response_format, which vLLM
        enforces with its grammar backend), or a response_format dict (``.parsed`` is then
        the decoded JSON value). Other keywords are those of :meth:`create`.
        ``resp.parsed`` is the first choice's instance (``resp.parsed_choices`` all of
        them). Raises :class:`~vllm_client.structured.StructuredOutputError` (a
        ``ValueError``) with the raw ``content`` when the answer is not JSON (typically cut
        off at ``max_tokens``) or does not fit the type.
        """
        if "stream" in params:
            raise TypeError("parse() does not stream; use create(stream=True) and parse the final text")
        tp = response_format if isinstance(response_format, type) else None
        if tp is None and not isinstance(response_format, Mapping):
            raise TypeError("response_format must be a pydantic model, dataclass or TypedDict type, "
                            f"or a response_format dict; got {response_format!r}")
        from ..structured import ParsedChatCompletion  # (imported on use: schema/_typed cost startup)

        resp = await self.create(messages=messages, response_format=response_format, **params)
        parsed: ParsedChatCompletion[Any] = ParsedChatCompletion(resp.raw, resp.timing, response_type=tp)
        return parsed


class AsyncChat:
    """``client.chat``: holds ``completions``."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self.completions = AsyncChatCompletions(client)
