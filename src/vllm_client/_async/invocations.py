"""``client.invocations``: vLLM's SageMaker route, ``POST /invocations``.

One body, any endpoint: the server routes by the body's shape (chat, completion, or a pooling
request) and the answer comes back typed as that endpoint's result would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack

from .._protocol.invocations import InvocationResult, build_invocation, typed_answer
from .._protocol.params import CallOptions
from .._protocol.stream_decoder import ChatStreamDecoder, CompletionStreamDecoder
from .streaming import AsyncChatStream, AsyncCompletionStream

if TYPE_CHECKING:
    from .._client_base import ClientCore
    from .._protocol.requests import RequestSpec
    from .._protocol.types import RequestTiming
    from .._transport.async_http import AsyncResponse

__all__ = ["AsyncInvocationsMixin"]


class AsyncInvocationsMixin:
    """``invocations`` on the client."""

    if TYPE_CHECKING:
        _core: ClientCore

        async def _request_json(self, spec: RequestSpec,
                                _server: int | None = None) -> tuple[Any, RequestTiming]: ...

        async def _send(self, spec: RequestSpec,
                        _server: int | None = None) -> tuple[AsyncResponse, str, float, float]: ...

    async def invocations(self, body: Mapping[str, Any], *, adapter: str | None = None,
                          **options: Unpack[CallOptions]
                          ) -> InvocationResult | AsyncChatStream | AsyncCompletionStream:
        """Send ``body`` to ``POST /invocations`` (SageMaker); vLLM answers as the endpoint the
        body fits: ``messages`` -> chat (:class:`ChatCompletion`), ``prompt`` -> completion,
        ``input`` on a pooling model -> embeddings (or classify, pooling...). ``"stream": True``
        in a chat or completion body returns that endpoint's stream. ``adapter`` names a
        LoRA adapter (``X-Amzn-SageMaker-Adapter-Identifier``). The body is sent as given: no
        model lookup, no field checks."""
        spec = build_invocation(body, adapter, options)
        if not spec.stream:
            data, timing = await self._request_json(spec)
            return typed_answer(data, timing)
        response, request_id, _, start = await self._send(spec)
        timeout = self._core.timeout(spec)
        if "messages" in body:
            return AsyncChatStream(response, ChatStreamDecoder(request_id=request_id), timeout=timeout,
                                   request_id=request_id, started=start)
        return AsyncCompletionStream(response, CompletionStreamDecoder(request_id=request_id), timeout=timeout,
                                     request_id=request_id, started=start)
