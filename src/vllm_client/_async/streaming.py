"""``AsyncStream``: iterate typed events, close early, collect, assemble, measure.

The bytes come from the transport, the events from the pure stream decoder; this class
only moves one to the other, keeps the metrics, and makes sure the connection is closed
whatever way the consumer leaves (end, ``break``, exception, cancellation, GC).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from typing_extensions import Self

from .._call import Call, end_with
from .._config import Timeout
from .._errors import APIConnectionError, APITimeoutError
from .._protocol.deadlines import StreamDeadlines
from .._protocol.events import Content
from .._protocol.events import Text as CompletionText
from .._protocol.types import ChatCompletion, Completion
from .._stream_metrics import StreamMetrics
from .._transport.async_http import AsyncResponse

__all__ = ["AsyncChatStream", "AsyncCompletionStream", "AsyncStream"]

E = TypeVar("E")
F = TypeVar("F")


class AsyncStream(Generic[E, F]):
    """A streamed answer: ``async for event in stream``; ``async with`` closes it."""

    def __init__(self, response: AsyncResponse, decoder: Any, *, timeout: Timeout, request_id: str,
                 started: float) -> None:
        self.response = response
        self.request_id = request_id
        self._decoder = decoder
        self._timeout = timeout
        self._metrics = StreamMetrics(started)
        # ``total`` counts from the call's start (retries included), ``started`` is its perf_counter.
        now = time.monotonic()
        self._deadlines = StreamDeadlines.start(timeout, now, origin=now - (time.perf_counter() - started))
        self._iterator: AsyncIterator[E] | None = None
        self._finished = False
        self._closing = False
        self._final: F | None = None
        # The call's lifecycle (``_call.py``) ends with the stream; its first token is told
        # by the metrics' first-token branch (once per stream, nothing per chunk).
        self._call: Call | None = getattr(response, "call", None)
        if self._call is not None and self._call.observers:
            self._metrics.on_first_token = self._call.first_token

    @property
    def status_code(self) -> int:
        """The HTTP status of the answer (200 once streaming)."""
        return self.response.status

    @property
    def headers(self) -> dict[str, str]:
        """The response headers, names lower-cased."""
        return self.response.headers

    @property
    def server(self) -> str | None:
        """Base URL of the server this stream comes from."""
        return self._call.server_url if self._call is not None else None

    @property
    def metrics(self) -> StreamMetrics:
        """Client-measured timing: TTFT, inter-token latencies, total, chunk and token counts."""
        return self._metrics

    def __aiter__(self) -> AsyncIterator[E]:
        if self._iterator is None:
            self._iterator = self._events()
        return self._iterator

    async def __anext__(self) -> E:
        return await self.__aiter__().__anext__()

    async def _events(self) -> AsyncIterator[E]:
        decoder = self._decoder
        feed = decoder.feed
        response = self.response
        metrics = self._metrics
        every_read = metrics.every_read
        deadlines = self._deadlines
        timed = deadlines.active
        perf = time.perf_counter
        failure: BaseException | None = None
        try:
            try:
                async for data in response.aiter_bytes(deadlines if timed else None, self._timeout.read):
                    if decoder.done:
                        continue  # after [DONE]: read the body's end so the connection can be reused
                    events = feed(data)
                    if not events:
                        if every_read:
                            metrics.tokens(perf(), 0)
                        continue
                    tokens = decoder.last_token_chunks  # timing per read: one clock read, not one per event
                    if tokens or every_read:
                        metrics.tokens(perf(), tokens)
                    if timed:
                        deadlines.mark_event(time.monotonic(), token=tokens > 0)
                    if decoder.done:
                        response.expect_end()
                    for event in events:
                        yield event
            except APIConnectionError as exc:
                if self._closing or decoder.done:
                    return  # closed by the caller, or broken after the answer was complete
                if isinstance(exc, APITimeoutError):
                    raise
                raise decoder.broken(exc) from exc
            if not self._closing:
                decoder.close()  # raises StreamError when the stream ended before [DONE]
        except BaseException as exc:
            failure = exc
            raise
        finally:
            self._finished = True
            response.close_now()
            self._final = _settled(decoder)  # assembled once: the metrics and final() share it
            usage = getattr(self._final, "usage", None)
            metrics.finish(perf(), decoder.chunks, usage.completion_tokens if usage is not None else None)
            call = self._call
            if call is not None:
                call.result = self._final  # (partial usage of a stream closed early; None if broken)
                if failure is None:
                    call.end(None, "closed" if self._closing and not decoder.done else "ok")
                else:
                    end_with(call, failure)

    async def aclose(self) -> None:
        """Stop reading: the connection is closed, which makes vLLM abort the generation.
        Safe from another thread or task than the one iterating: that iteration then ends."""
        self._closing = True
        self.response.close_now()
        iterator = self._iterator
        running = iterator is not None and _running(iterator)
        if iterator is not None and not running:
            await iterator.aclose()  # type: ignore[attr-defined]
        if not running and self._call is not None:
            self._call.end(None, "closed")  # never iterated (or never started): end it here

    close = aclose

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # Collected while open (``break`` with nothing else holding the stream): free the
        # connection now, and say so: until then vLLM kept generating for nobody.
        response = getattr(self, "response", None)
        if response is not None and not response.closed:
            response.close_now()
            warnings.warn(f"{type(self).__name__} {self.request_id} was garbage-collected before it was read to the "
                          "end or closed; use `async with stream:` or `await stream.aclose()` (vLLM generates until "
                          "the connection closes)", ResourceWarning, source=self, stacklevel=2)
        call = getattr(self, "_call", None)
        if call is not None:
            call.end(None, "abandoned")

    async def until_done(self) -> None:
        """Read the stream to its end (events are still assembled for ``final()``)."""
        async for _ in self:
            pass

    def partial(self) -> F:
        """The answer assembled from what has arrived so far, without reading more (what
        to keep of an interrupted stream; ``finish_reason`` None until the end)."""
        result: F = self._decoder.final()
        return result

    async def final(self) -> F:
        """The whole answer assembled from the stream (reads the rest of it first)."""
        if not self._finished:
            await self.until_done()
        result: F = self._final if self._final is not None else self._decoder.final()
        return result


class AsyncChatStream(AsyncStream[Any, ChatCompletion]):
    """A chat stream: ``StreamEvent`` events, ``text_stream``, ``collect_content()``."""

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """Only the content pieces, as they arrive."""
        return self._text()

    async def _text(self) -> AsyncIterator[str]:
        async for event in self:
            if event.__class__ is Content and event.choice_index == 0:
                yield event.text

    async def collect_content(self) -> str:
        """All content of the first choice (reads the stream to its end)."""
        parts = [piece async for piece in self._text()]
        return "".join(parts)


class AsyncCompletionStream(AsyncStream[Any, Completion]):
    """A legacy completion stream: ``CompletionStreamEvent`` events, ``collect_text()``."""

    @property
    def text_stream(self) -> AsyncIterator[str]:
        """Only the text pieces of the first choice, as they arrive."""
        return self._text()

    async def _text(self) -> AsyncIterator[str]:
        async for event in self:
            if event.__class__ is CompletionText and event.choice_index == 0:
                yield event.text

    async def collect_text(self) -> str:
        """All text of the first choice (reads the stream to its end)."""
        parts = [piece async for piece in self._text()]
        return "".join(parts)


def _running(iterator: Any) -> bool:
    """Whether a (sync or async) generator is executing right now, in another thread or task."""
    return bool(getattr(iterator, "gi_running", False) or getattr(iterator, "ag_running", False))


def _settled(decoder: Any) -> Any:
    """The answer a finished stream assembled, or None when it cannot be assembled."""
    try:
        return decoder.final()
    except Exception:  # a broken stream has no trustworthy answer (final() then says why)
        return None
