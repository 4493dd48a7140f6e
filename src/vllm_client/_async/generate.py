"""``client.generate`` and ``client.abort_requests``: vLLM's token-in / token-out routes.

``POST /inference/v1/generate`` skips the chat template and the tokenizer: token ids in,
token ids out (RL loops and disaggregated serving keep their own tokenization). The server
needs ``--enable-scale-out`` (otherwise every call is a 403 ``PermissionDeniedError``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from typing_extensions import Unpack

from .._protocol.generate import (
    GenerateCall,
    GenerateResult,
    GenerateStreamDecoder,
    Tokens,
    build_abort,
    build_generate,
)
from .._protocol.params import CallOptions
from .streaming import AsyncStream

if TYPE_CHECKING:
    from .._client_base import ClientCore
    from .._protocol.requests import RequestSpec
    from .._protocol.types import RequestTiming
    from .._transport.async_http import AsyncResponse

__all__ = ["AsyncGenerateMixin", "AsyncGenerateStream"]


class AsyncGenerateStream(AsyncStream[Any, GenerateResult]):
    """A streamed ``generate``: ``GenerateStreamEvent`` events (``Tokens``, ``Finish``,
    ``Usage``, ``Done``), ``token_stream``, ``collect_token_ids()``, ``final()``."""

    @property
    def token_stream(self) -> AsyncIterator[list[int]]:
        """The first choice's new token ids, as they arrive."""
        return self._tokens()

    async def _tokens(self) -> AsyncIterator[list[int]]:
        async for event in self:
            if event.__class__ is Tokens and event.choice_index == 0:
                yield event.token_ids

    async def collect_token_ids(self) -> list[int]:
        """All token ids of the first choice (reads the stream to its end)."""
        out: list[int] = []
        async for ids in self._tokens():
            out += ids
        return out


class AsyncGenerateMixin:
    """``generate`` and ``abort_requests`` on the client."""

    if TYPE_CHECKING:
        _core: ClientCore

        async def _request_json(self, spec: RequestSpec,
                                _server: int | None = None) -> tuple[Any, RequestTiming]: ...

        async def _request_bytes(self, spec: RequestSpec) -> tuple[bytes, dict[str, str], RequestTiming]: ...

        async def _send(self, spec: RequestSpec,
                        _server: int | None = None) -> tuple[AsyncResponse, str, float, float]: ...

    @overload
    async def generate(self, token_ids: Sequence[int], *, stream: Literal[False] = False,
                       sampling_params: Mapping[str, Any] | None = None,
                       **params: Unpack[GenerateCall]) -> GenerateResult: ...

    @overload
    async def generate(self, token_ids: Sequence[int], *, stream: Literal[True],
                       sampling_params: Mapping[str, Any] | None = None,
                       **params: Unpack[GenerateCall]) -> AsyncGenerateStream: ...

    @overload
    async def generate(self, token_ids: Sequence[int], *, stream: bool,
                       sampling_params: Mapping[str, Any] | None = None,
                       **params: Unpack[GenerateCall]) -> GenerateResult | AsyncGenerateStream: ...

    async def generate(self, token_ids: Sequence[int], *, stream: bool = False,
                       sampling_params: Mapping[str, Any] | None = None,
                       **params: Unpack[GenerateCall]) -> GenerateResult | AsyncGenerateStream:
        """Generate from ``token_ids`` (``POST /inference/v1/generate``; ``--enable-scale-out``).
        Sampling fields are keywords (``max_tokens`` -- omitted: the rest of the context --
        ``temperature``, ``top_k``, ``seed``, ``stop_token_ids``, ``logprobs``...; or a whole
        ``sampling_params`` dict, the keywords win); request fields too (``output_mode="text"``
        adds the text, ``return_token_ids=True`` echoes the prompt ids, ``request_id``...).
        ``stream=True`` returns an :class:`AsyncGenerateStream` (usage included)."""
        if not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, got {stream!r}")
        spec = build_generate(token_ids, sampling_params, params, stream=stream)
        if not stream:
            data, timing = await self._request_json(spec)
            return GenerateResult(data, timing)
        response, request_id, _, start = await self._send(spec)
        return AsyncGenerateStream(response, GenerateStreamDecoder(request_id=request_id),
                                   timeout=self._core.timeout(spec), request_id=request_id, started=start)

    async def abort_requests(self, request_ids: Sequence[str], **options: Unpack[CallOptions]) -> None:
        """Abort generations by request id (``POST /inference/v1/abort_requests``; vLLM aborts
        them asynchronously and answers at once)."""
        await self._request_bytes(build_abort(request_ids, options))
