"""``client.completions``: the legacy text completions endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from typing_extensions import Unpack

from .._protocol.params import CallOptions, CompletionParams
from .._protocol.requests import build_completion
from .._protocol.types import Completion
from .streaming import AsyncCompletionStream

if TYPE_CHECKING:
    from ..structured import ParsedCompletion
    from .client import AsyncVllmClient

__all__ = ["AsyncCompletions"]

T = TypeVar("T")


class CompletionCreateParams(CompletionParams, CallOptions, total=False):
    """Every keyword of ``completions.create``."""


class AsyncCompletions:
    """``POST /v1/completions``."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self._client = client

    @overload
    async def create(self, *, prompt: Any, stream: Literal[False] = False,
                     **params: Unpack[CompletionCreateParams]) -> Completion: ...

    @overload
    async def create(self, *, prompt: Any, stream: Literal[True],
                     **params: Unpack[CompletionCreateParams]) -> AsyncCompletionStream: ...

    @overload
    async def create(self, *, prompt: Any, stream: bool,
                     **params: Unpack[CompletionCreateParams]) -> Completion | AsyncCompletionStream: ...

    async def create(self, *, prompt: Any, stream: bool = False,
                     **params: Unpack[CompletionCreateParams]) -> Completion | AsyncCompletionStream:
        """Complete ``prompt``: a str, a list of str, a list of token ids, or a list of
        token-id lists (choice ``index`` = prompt index * n + sample). Streams yield
        ``CompletionStreamEvent`` events."""
        if not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, got {stream!r}")
        spec = build_completion(prompt, params, stream=stream)
        client = self._client
        if not stream:
            data, timing = await client._request_json(spec)
            return Completion(data, timing)
        response, request_id, _, start = await client._send(spec)
        # msgspec and the stream states load with the first stream
        from .._protocol.stream_decoder import CompletionStreamDecoder

        decoder = CompletionStreamDecoder(request_id=request_id)
        return AsyncCompletionStream(response, decoder, timeout=client._core.timeout(spec), request_id=request_id,
                                     started=start)

    @overload
    async def parse(self, *, prompt: Any, response_format: type[T], **params: Any) -> ParsedCompletion[T]: ...

    @overload
    async def parse(
        self, *, prompt: Any, response_format: None = None, **params: Any
    ) -> ParsedCompletion[Any]: ...

    async def parse(
        self, *, prompt: Any, response_format: type[T] | None = None, **params: Any
    ) -> ParsedCompletion[Any]:
        """Complete ``prompt`` with JSON matching a type and get it back as an instance.

        ``response_format`` (a pydantic model, dataclass or TypedDict type) is sent as
        vLLM's native ``structured_outputs={"json": schema}``; without it, give your own
        ``structured_outputs`` (``.parsed`` is then the decoded JSON value). Other
        keywords are those of :meth:`create`. Raises
        :class:`~vllm_client.structured.StructuredOutputError` like ``chat.completions.parse``.
        """
        from ..structured import ParsedCompletion  # (imported on use: schema/_typed cost startup)
        from ..structured import json as json_constraint

        if "stream" in params:
            raise TypeError("parse() does not stream; use create(stream=True) and parse the final text")
        if response_format is not None:
            if not isinstance(response_format, type):
                raise TypeError(f"response_format must be a pydantic model, dataclass or TypedDict type, "
                                f"got {response_format!r}")
            if params.get("structured_outputs") is not None:
                raise TypeError("give response_format or structured_outputs, not both")
            params["structured_outputs"] = json_constraint(response_format)
        elif not isinstance(params.get("structured_outputs"), Mapping):
            raise TypeError("parse() needs response_format=<type> or structured_outputs={...}")
        result = await self.create(prompt=prompt, **params)
        parsed: ParsedCompletion[Any] = ParsedCompletion(result.raw, result.timing, response_type=response_format)
        return parsed
