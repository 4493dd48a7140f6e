"""``client.responses``: the Responses API (create, stream, retrieve, cancel).

Requests are built and checked in ``_protocol.responses_request``, streams decoded by
``_protocol.responses_stream``; this module sends and wraps. A stream is the chat streams'
shell (``AsyncStream``: metrics, deadlines, closing on every way out) with the Responses
decoder, which knows that such a stream ends after ``response.completed`` and has no
``[DONE]``.

Stored responses (``retrieve``, ``cancel``, ``background=True``, ``previous_response_id``)
need a server started with ``VLLM_ENABLE_RESPONSES_API_STORE=1``; vLLM's 404 for an
unknown id then says so (the error's hint). Two vLLM 0.32 traps the methods document:
closing a background stream does not stop the generation (``stream.cancel()`` does), and a
background stream whose response was cancelled never ends on the server (it waits for a
``response.completed`` that never comes): give such streams an idle timeout
(``timeout=Timeout(idle=...)``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Literal, overload

from typing_extensions import Unpack

from .._config import Timeout
from .._errors import BadRequestError
from .._protocol.params import CallOptions
from .._protocol.responses_decoder import ResponsesStreamDecoder
from .._protocol.responses_events import ResponseStreamEvent, TextDelta
from .._protocol.responses_request import Input, ResponsesCreateParams, build_cancel, build_create, build_retrieve
from .._protocol.responses_types import Response
from .._transport.async_http import AsyncResponse
from .streaming import AsyncStream

if TYPE_CHECKING:
    from .client import AsyncVllmClient

__all__ = ["AsyncResponseStream", "AsyncResponses"]


class AsyncResponseStream(AsyncStream[ResponseStreamEvent, Response]):
    """A streamed response: ``ResponseEvent`` events (each with ``type`` and
    ``sequence_number``), ``text_stream``, ``collect_text()``, ``final()`` -> :class:`Response`,
    ``metrics``; ``async with`` closes it (which aborts a non-background generation)."""

    def __init__(self, response: AsyncResponse, decoder: ResponsesStreamDecoder, *, timeout: Timeout,
                 request_id: str, started: float, owner: AsyncResponses, background: bool) -> None:
        super().__init__(response, decoder, timeout=timeout, request_id=request_id, started=started)
        self._owner = owner
        self._last_seen: int | None = None
        self.background = background
        """Whether the response runs in the background (closing the stream does not stop it)."""

    async def _events(self) -> AsyncIterator[ResponseStreamEvent]:
        # The shell's events, noting the sequence number of each one handed out: a read
        # may decode events the caller never takes, and a replay must not skip those.
        events = super()._events()
        try:
            async for event in events:
                self._last_seen = event.sequence_number
                yield event
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    @property
    def response_id(self) -> str | None:
        """The response's id (``resp_...``), once its first event arrived."""
        decoder: ResponsesStreamDecoder = self._decoder
        return decoder.state.response_id

    @property
    def last_sequence_number(self) -> int | None:
        """The ``sequence_number`` of the last event this stream handed out (None before
        the first): where a replay resumes, ``retrieve(id, stream=True,
        starting_after=stream.last_sequence_number)``."""
        return self._last_seen

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """Only the answer's text pieces, as they arrive."""
        return self._text()

    async def _text(self) -> AsyncIterator[str]:
        async for event in self:
            if event.__class__ is TextDelta:
                yield event.text

    async def collect_text(self) -> str:
        """The whole answer text (reads the stream to its end)."""
        parts = [piece async for piece in self._text()]
        return "".join(parts)

    async def cancel(self) -> Response:
        """Stop this response and close the stream. A background response is cancelled on
        the server first (closing alone would let it run on). Returns what arrived, with
        ``status="cancelled"``; a response that finished first is returned whole."""
        decoder: ResponsesStreamDecoder = self._decoder
        response_id = decoder.state.response_id
        if self.background and response_id is not None and not decoder.done:
            try:
                await self._owner.cancel(response_id)
            except BadRequestError:  # it finished meanwhile: the stored response is the answer
                await self.aclose()
                return await self._owner.retrieve(response_id)
        await self.aclose()
        result = self.partial()
        if decoder.done:
            return result
        return Response({**result.raw, "status": "cancelled"}, result.timing)


class AsyncResponses:
    """``/v1/responses``: ``create``, ``stream``, ``retrieve``, ``cancel``."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self._client = client

    @overload
    async def create(self, *, input: Input, stream: Literal[False] = False,
                     **params: Unpack[ResponsesCreateParams]) -> Response: ...

    @overload
    async def create(self, *, input: Input, stream: Literal[True],
                     **params: Unpack[ResponsesCreateParams]) -> AsyncResponseStream: ...

    @overload
    async def create(self, *, input: Input, stream: bool,
                     **params: Unpack[ResponsesCreateParams]) -> Response | AsyncResponseStream: ...

    async def create(self, *, input: Input, stream: bool = False,
                     **params: Unpack[ResponsesCreateParams]) -> Response | AsyncResponseStream:
        """Ask for a response. ``input`` is a str or a list of input items (messages,
        ``function_call_output`` items, output items of an earlier response). Every vLLM
        0.32 field is a keyword (``instructions``, ``max_output_tokens``, ``reasoning``,
        ``tools``, ``text``, ``background``, ``store``, ``previous_response_id``, ``top_k``,
        ``min_p``, ``structured_outputs``, ``request_id``...), plus ``extra_body``/``extra``,
        ``extra_headers``, ``extra_query`` and ``timeout``. ``model=None`` uses the
        server's only model.

        ``stream=True`` returns an :class:`AsyncResponseStream` of ``ResponseEvent``
        events. ``background=True`` returns at once with ``status="queued"``: poll
        ``retrieve(id)``, or stream it and resume with ``retrieve(id, stream=True,
        starting_after=N)``; it needs ``VLLM_ENABLE_RESPONSES_API_STORE=1`` on the server,
        as ``retrieve``, ``cancel`` and ``previous_response_id`` do.
        """
        spec = build_create(input, params, stream=stream)
        client = self._client
        if not stream:
            data, timing = await client._request_json(spec)
            return Response(data, timing)
        response, request_id, _, start = await client._send(spec)
        decoder = ResponsesStreamDecoder(request_id=request_id)
        return AsyncResponseStream(response, decoder, timeout=client._core.timeout(spec), request_id=request_id,
                                   started=start, owner=self, background=bool(params.get("background")))

    async def stream(self, *, input: Input,
                     **params: Unpack[ResponsesCreateParams]) -> AsyncResponseStream:
        """Same as ``create(stream=True)``."""
        result = await self.create(input=input, stream=True, **params)
        assert isinstance(result, AsyncResponseStream)
        return result

    @overload
    async def retrieve(self, response_id: str, *, stream: Literal[False] = False, starting_after: None = None,
                       **options: Unpack[CallOptions]) -> Response: ...

    @overload
    async def retrieve(self, response_id: str, *, stream: Literal[True], starting_after: int | None = None,
                       **options: Unpack[CallOptions]) -> AsyncResponseStream: ...

    async def retrieve(self, response_id: str, *, stream: bool = False, starting_after: int | None = None,
                       **options: Unpack[CallOptions]) -> Response | AsyncResponseStream:
        """A stored response as it is now (``status`` ``queued`` until a background run
        ends: vLLM 0.32 never shows ``in_progress`` here).

        ``stream=True`` replays the events of a ``background=True, stream=True`` response
        from the start, or after ``starting_after`` (a ``sequence_number``), then follows
        it live to ``response.completed``. vLLM replays no other response (the stream then
        ends at once: a ``StreamError`` saying so), and the replay of a cancelled one never
        ends (use ``timeout=Timeout(idle=...)``).
        """
        spec = build_retrieve(response_id, options, stream=stream, starting_after=starting_after)
        client = self._client
        if not stream:
            data, timing = await client._request_json(spec)
            return Response(data, timing)
        response, request_id, _, start = await client._send(spec)
        decoder = ResponsesStreamDecoder(request_id=request_id, resumed=True)
        return AsyncResponseStream(response, decoder, timeout=client._core.timeout(spec), request_id=request_id,
                                   started=start, owner=self, background=True)

    async def cancel(self, response_id: str, **options: Unpack[CallOptions]) -> Response:
        """Cancel a background response that is still queued or in progress: returns it
        with ``status="cancelled"``. A finished one is a ``BadRequestError`` (vLLM's
        "Cannot cancel a synchronous response."), an unknown id a ``NotFoundError``."""
        data, timing = await self._client._request_json(build_cancel(response_id, options))
        return Response(data, timing)
