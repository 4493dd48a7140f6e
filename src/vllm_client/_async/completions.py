"""``client.completions``: the legacy text completions endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

from typing_extensions import Unpack

from .._protocol.params import CallOptions, CompletionParams
from .._protocol.requests import build_completion
from .._protocol.types import Completion
from .streaming import AsyncCompletionStream, completion_decoder

if TYPE_CHECKING:
    from .client import AsyncVllmClient

__all__ = ["AsyncCompletions"]


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
        return AsyncCompletionStream(response, completion_decoder(request_id), timeout=client._core.timeout(spec),
                                     request_id=request_id, started=start)
