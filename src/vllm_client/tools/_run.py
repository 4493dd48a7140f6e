"""The I/O drivers of the tool loop: ``run_tools`` and ``run_tools_stream`` for the sync
client (calls in order) and the async one (calls of a round run concurrently)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Union, overload

from .._protocol.events import ChatStreamEvent
from .._protocol.types import ChatCompletion

if TYPE_CHECKING:
    from .._async.client import AsyncVllmClient
    from .._sync.client import VllmClient

from ._loop import ToolInvocation, ToolLoop, ToolResult

__all__ = ["AsyncToolStream", "ToolStream", "run_tools", "run_tools_stream"]


def _execute_sync(inv: ToolInvocation) -> ToolResult:
    if inv.result is not None:
        return inv.result
    assert inv.tool is not None
    try:
        value = inv.tool.func(*inv.args, **inv.kwargs)
        if inv.tool.is_async:
            value = asyncio.run(value)
    except Exception as exc:
        return inv.failed(exc)
    return inv.succeeded(value)


async def _execute_async(inv: ToolInvocation) -> ToolResult:
    if inv.result is not None:
        return inv.result
    assert inv.tool is not None
    try:
        if inv.tool.is_async:
            value = await inv.tool.func(*inv.args, **inv.kwargs)
        else:  # a blocking function must not stall the event loop (or the other tools)
            value = await asyncio.to_thread(inv.tool.func, *inv.args, **inv.kwargs)
    except Exception as exc:
        return inv.failed(exc)
    return inv.succeeded(value)


def _check_sync_async_tools(loop: ToolLoop) -> None:
    """From the sync client, async tools run with ``asyncio.run`` (one fresh event loop per
    call), which is impossible inside a running loop: say so before anything is sent."""
    if not loop.has_async_tools:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "async tools cannot run from the sync VllmClient inside a running event loop; "
        "use AsyncVllmClient (await run_tools(...))"
    )


def _is_async_client(client: Any) -> bool:
    return inspect.iscoroutinefunction(client.chat.completions.create)


@overload
def run_tools(
    client: AsyncVllmClient,
    messages: Sequence[Any],
    *,
    tools: Sequence[Callable[..., Any]],
    max_rounds: int = 5,
    **create_kwargs: Any,
) -> Coroutine[Any, Any, ChatCompletion]: ...


@overload
def run_tools(
    client: VllmClient,
    messages: Sequence[Any],
    *,
    tools: Sequence[Callable[..., Any]],
    max_rounds: int = 5,
    **create_kwargs: Any,
) -> ChatCompletion: ...


def run_tools(
    client: Any,
    messages: Sequence[Any],
    *,
    tools: Sequence[Callable[..., Any]],
    max_rounds: int = 5,
    **create_kwargs: Any,
) -> ChatCompletion | Coroutine[Any, Any, ChatCompletion]:
    """Run the tool loop until the model answers without calling a tool; return that
    answer, with the whole transcript (``messages`` + every round + the answer) in
    ``.messages``. ``create_kwargs`` go to every ``chat.completions.create`` call.

    With :class:`AsyncVllmClient` this returns a coroutine (``await run_tools(...)``), and
    the calls of one round run concurrently: async tools awaited together, sync ones in
    threads. With :class:`VllmClient` calls run one after the other, in the model's order;
    async tools are run with ``asyncio.run`` (so not from inside a running event loop).
    """
    loop = ToolLoop(messages, tools, max_rounds=max_rounds, create_kwargs=create_kwargs)
    if _is_async_client(client):
        return _run_async(client, loop)
    _check_sync_async_tools(loop)
    while True:
        loop.record_response(client.chat.completions.create(**loop.next_request()))
        if loop.final is not None:
            return loop.final
        loop.record_results([_execute_sync(inv) for inv in loop.pending_calls()])


async def _run_async(client: Any, loop: ToolLoop) -> ChatCompletion:
    while True:
        loop.record_response(await client.chat.completions.create(**loop.next_request()))
        if loop.final is not None:
            return loop.final
        loop.record_results(await asyncio.gather(*(_execute_async(inv) for inv in loop.pending_calls())))


ToolStreamEvent = Union[ChatStreamEvent, ToolResult]


class _ToolStreamBase:
    def __init__(self, client: Any, loop: ToolLoop) -> None:
        self._client = client
        self._loop = loop

    @property
    def final(self) -> ChatCompletion | None:
        """The last answer (transcript in ``.messages``) once the iteration has ended."""
        return self._loop.final

    @property
    def messages(self) -> list[Any]:
        """The transcript so far."""
        return list(self._loop.messages)

    @property
    def rounds(self) -> int:
        return self._loop.rounds


class ToolStream(_ToolStreamBase):
    """``run_tools_stream`` with :class:`VllmClient`: iterate chat ``StreamEvent``s of every
    round and a :class:`ToolResult` after each executed call; ``.final`` afterwards.
    ``with`` (or ``close()``) stops early and closes the current HTTP stream."""

    def __init__(self, client: Any, loop: ToolLoop) -> None:
        super().__init__(client, loop)
        self._gen = self._events()

    def __iter__(self) -> Iterator[ToolStreamEvent]:
        return self._gen

    def __next__(self) -> ToolStreamEvent:
        return next(self._gen)

    def _events(self) -> Generator[ToolStreamEvent, None, None]:
        loop = self._loop
        while True:
            with self._client.chat.completions.create(stream=True, **loop.next_request()) as stream:
                yield from stream
                resp = stream.final()
            loop.record_response(resp)
            if loop.final is not None:
                return
            results = []
            for inv in loop.pending_calls():
                result = _execute_sync(inv)
                results.append(result)
                yield result
            loop.record_results(results)

    def close(self) -> None:
        self._gen.close()

    def __enter__(self) -> ToolStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncToolStream(_ToolStreamBase):
    """``run_tools_stream`` with :class:`AsyncVllmClient`: ``async for`` over the same
    events; a round's calls run concurrently and each :class:`ToolResult` is yielded as
    soon as its call finishes (the transcript still gets them in call order)."""

    def __init__(self, client: Any, loop: ToolLoop) -> None:
        super().__init__(client, loop)
        self._gen = self._events()

    def __aiter__(self) -> AsyncIterator[ToolStreamEvent]:
        return self._gen

    async def __anext__(self) -> ToolStreamEvent:
        return await self._gen.__anext__()

    async def _events(self) -> AsyncGenerator[ToolStreamEvent, None]:
        loop = self._loop
        while True:
            stream = await self._client.chat.completions.create(stream=True, **loop.next_request())
            async with stream:
                async for event in stream:
                    yield event
                resp = await stream.final()
            loop.record_response(resp)
            if loop.final is not None:
                return
            tasks = [asyncio.ensure_future(_execute_async(inv)) for inv in loop.pending_calls()]
            results = []
            try:
                for next_done in asyncio.as_completed(tasks):
                    result = await next_done
                    results.append(result)
                    yield result
            finally:
                for task in tasks:
                    task.cancel()
            loop.record_results(results)

    async def aclose(self) -> None:
        await self._gen.aclose()

    async def __aenter__(self) -> AsyncToolStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@overload
def run_tools_stream(
    client: AsyncVllmClient,
    messages: Sequence[Any],
    *,
    tools: Sequence[Callable[..., Any]],
    max_rounds: int = 5,
    **create_kwargs: Any,
) -> AsyncToolStream: ...


@overload
def run_tools_stream(
    client: VllmClient,
    messages: Sequence[Any],
    *,
    tools: Sequence[Callable[..., Any]],
    max_rounds: int = 5,
    **create_kwargs: Any,
) -> ToolStream: ...


def run_tools_stream(
    client: Any,
    messages: Sequence[Any],
    *,
    tools: Sequence[Callable[..., Any]],
    max_rounds: int = 5,
    **create_kwargs: Any,
) -> ToolStream | AsyncToolStream:
    """:func:`run_tools`, streamed: the chat events of every round plus a :class:`ToolResult`
    per executed call; the final answer is ``.final`` on the returned object once iterated
    to the end. Nothing is sent before the iteration starts."""
    loop = ToolLoop(messages, tools, max_rounds=max_rounds, create_kwargs=create_kwargs)
    if _is_async_client(client):
        return AsyncToolStream(client, loop)
    _check_sync_async_tools(loop)
    return ToolStream(client, loop)
