"""Tools: ``@tool`` turns a typed Python function into an OpenAI tool, and ``run_tools``
runs the agent loop (ask the model, run the tools it calls, send the results back, repeat).

The loop is written once, as the pure state machine :class:`ToolLoop` (which request to
send next, which calls to run, how results become messages); the sync and async drivers
below only do the I/O around it, so both clients behave the same by construction.

Failures inside a round do not crash the loop: a tool that raises, a tool name the model
made up, or arguments that do not parse become an error result (``{"error": "..."}``)
that the model sees and can correct. Only exceeding ``max_rounds`` raises
(:class:`ToolLoopError`, with the transcript so far).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import re
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, Union, cast, overload

from typing_extensions import ParamSpec

from ._errors import ToolArgumentsError, VllmError
from ._json import dumps_str, loads
from ._protocol.events import ChatStreamEvent
from ._protocol.schema import function_parameters, parse_docstring
from ._protocol.types import ChatCompletion, ToolCall
from ._tool_values import to_tool_content
from ._typed import ConversionError, FieldSpec, convert_fields, type_hints

if TYPE_CHECKING:
    from ._async.client import AsyncVllmClient
    from ._sync.client import VllmClient

__all__ = [
    "AsyncToolStream",
    "Tool",
    "ToolInvocation",
    "ToolLoop",
    "ToolLoopError",
    "ToolResult",
    "ToolStream",
    "run_tools",
    "run_tools_stream",
    "tool",
]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI-compatible servers accept as a function name


# -- @tool ----------------------------------------------------------------------------------------------------


class Tool(Protocol[P, R_co]):
    """What ``@tool`` returns: the function itself (same call, same sync/async nature)
    plus the tool description and an argument-converting ``call``."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def parameters(self) -> dict[str, Any]: ...
    @property
    def strict(self) -> bool: ...
    @property
    def schema(self) -> dict[str, Any]: ...
    @property
    def func(self) -> Callable[P, R_co]: ...
    @property
    def is_async(self) -> bool: ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...

    def call(self, arguments: str | Mapping[str, Any]) -> R_co:
        """Run with model-written arguments (JSON text or a dict), converted to the
        annotated types first; :class:`ToolArgumentsError` if they do not fit. For an
        async function this returns the coroutine."""
        ...

    def bind(self, arguments: str | Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """The converted ``(args, kwargs)`` ``call`` would use."""
        ...


@overload
def tool(func: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(*, name: str | None = None, description: str | None = None,
         strict: bool = False) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(func: Callable[P, R] | None = None, /, *, name: str | None = None, description: str | None = None,
         strict: bool = False) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Describe a function as a tool, from its signature, type hints and docstring.

    ``@tool`` or ``@tool(name=..., description=..., strict=True)``. The name defaults to
    the function's, the description to the docstring's prose before its first section;
    parameter descriptions come from ``Annotated[T, "..."]`` (or pydantic ``Field``) or
    the docstring (Google, NumPy or reST style). ``strict=True`` makes the schema strict
    (every property required, optional ones nullable, no extra keys), which vLLM enforces
    while decoding; a ``null`` for a parameter with a default then means "use the default".
    """
    def decorate(f: Callable[P, R]) -> Tool[P, R]:
        return _make_tool(f, name=name, description=description, strict=strict)

    return decorate(func) if func is not None else decorate


def _make_tool(func: Callable[P, R], *, name: str | None, description: str | None, strict: bool) -> Tool[P, R]:
    if not callable(func):
        raise TypeError(f"@tool needs a function, got {type(func).__name__}")
    tool_name: str = name or str(getattr(func, "__name__", ""))
    if not _NAME_RE.match(tool_name):
        raise ValueError(f"tool name {tool_name!r} must be 1-64 letters, digits, '_' or '-'")
    doc = parse_docstring(inspect.getdoc(func))
    parameters = function_parameters(func, strict=strict, descriptions=doc.params)
    desc = doc.description if description is None else description
    fn: dict[str, Any] = {"name": tool_name}
    if desc:
        fn["description"] = desc
    fn["parameters"] = parameters
    if strict:
        fn["strict"] = True
    is_async = inspect.iscoroutinefunction(func)
    binder = _Binder(func, tool_name)

    if is_async:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await cast(Callable[..., Awaitable[Any]], func)(*args, **kwargs)
    else:
        def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            return func(*args, **kwargs)

    def call(arguments: str | Mapping[str, Any]) -> Any:
        args, kwargs = binder.bind(arguments)
        return func(*args, **kwargs)

    functools.update_wrapper(wrapper, func)
    attrs = {"name": tool_name, "description": desc, "parameters": parameters, "strict": strict,
             "schema": {"type": "function", "function": fn}, "func": func, "is_async": is_async,
             "call": call, "bind": binder.bind, "__vllm_tool__": True}
    for key, value in attrs.items():
        setattr(wrapper, key, value)
    return cast(Tool[P, R], wrapper)


class _Binder:
    """Model-written arguments -> the function's ``(args, kwargs)``, converted by ``_typed``."""

    def __init__(self, func: Callable[..., Any], name: str) -> None:
        sig = inspect.signature(func)
        hints = type_hints(func)
        self.name = name
        self.params = list(sig.parameters.values())
        self.fields = [FieldSpec(p.name, hints.get(p.name, Any), p.default is p.empty) for p in self.params]

    def bind(self, arguments: str | Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        if isinstance(arguments, str):
            text = arguments
            try:
                value = loads(text) if text.strip() else {}
            except ValueError as exc:
                raise ToolArgumentsError(f"arguments of tool {self.name!r} are not valid JSON: {exc}",
                                         arguments=text, reason=str(exc)) from None
        elif isinstance(arguments, Mapping):
            value = dict(arguments)
            text = dumps_str(value)
        else:
            raise TypeError(f"arguments must be a JSON str or a mapping, got {type(arguments).__name__}")
        try:
            kwargs = convert_fields(value, self.fields, "$", owner=f"tool {self.name!r}")
        except ConversionError as exc:
            raise ToolArgumentsError(f"arguments of tool {self.name!r} do not fit: {exc}",
                                     arguments=text, reason=str(exc)) from None
        positional = [p for p in self.params if p.kind is p.POSITIONAL_ONLY]
        last = max((i for i, p in enumerate(positional) if p.name in kwargs), default=-1)
        args = [kwargs.pop(p.name, p.default) for p in positional[: last + 1]]
        return args, kwargs


def as_tool(obj: Any) -> Tool[..., Any]:
    """A ``@tool`` object as is; a plain function decorated on the fly."""
    if getattr(obj, "__vllm_tool__", False):
        return cast(Tool[..., Any], obj)
    if callable(obj):
        return tool(obj)
    raise TypeError(f"tools must be functions or @tool objects, got {type(obj).__name__}")


# -- the loop, sans I/O ---------------------------------------------------------------------------------------


class ToolLoopError(VllmError):
    """The model still asked for tools after ``max_rounds`` requests. ``.messages`` is the
    transcript (ending with the unanswered assistant message), ``.rounds`` the count."""

    def __init__(self, message: str, *, messages: list[dict[str, Any]], rounds: int) -> None:
        self.messages = messages
        self.rounds = rounds
        super().__init__(message)


@dataclasses.dataclass
class ToolResult:
    """A tool call that was executed (or failed): ``content`` is what the model is sent;
    ``error`` the exception when it failed (then ``content`` is ``{"error": "..."}``)."""

    tool_call: ToolCall
    content: str
    error: BaseException | None = None
    value: Any = None

    @property
    def message(self) -> dict[str, Any]:
        """The ``role: tool`` message for the transcript."""
        return {"role": "tool", "tool_call_id": self.tool_call.id, "content": self.content}


@dataclasses.dataclass
class ToolInvocation:
    """One call to execute: the tool and its converted arguments, or, when the call
    cannot run (unknown tool, bad arguments), the ready error ``result``."""

    tool_call: ToolCall
    tool: Tool[..., Any] | None = None
    args: list[Any] = dataclasses.field(default_factory=list)
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    result: ToolResult | None = None

    def succeeded(self, value: Any) -> ToolResult:
        try:
            return ToolResult(self.tool_call, to_tool_content(value), None, value)
        except TypeError as exc:  # a return value with no JSON form
            return self.failed(exc)

    def failed(self, error: BaseException) -> ToolResult:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return ToolResult(self.tool_call, to_tool_content({"error": text}), error)


def _forces_tools(choice: Any) -> bool:
    return choice == "required" or isinstance(choice, Mapping)


class ToolLoop:
    """The agent loop as a state machine; drivers call, in a cycle:
    ``next_request()`` -> send it -> ``record_response(resp)`` -> if ``done``: ``final``;
    else run ``pending_calls()`` -> ``record_results(results)``.

    A forcing ``tool_choice`` ("required" or a named function) applies to the first
    request only; later ones use "auto", otherwise the model could never answer.
    """

    def __init__(self, messages: Sequence[Any], tools: Sequence[Any], *, max_rounds: int = 5,
                 create_kwargs: Mapping[str, Any] | None = None) -> None:
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
            raise ValueError(f"max_rounds must be an integer >= 1, got {max_rounds!r}")
        kwargs = dict(create_kwargs or {})
        for reserved in ("stream", "messages", "tools"):
            if reserved in kwargs:
                raise TypeError(f"run_tools sets {reserved!r} itself; do not pass it")
        self.tools: dict[str, Tool[..., Any]] = {}
        for t in map(as_tool, tools):
            if t.name in self.tools:
                raise ValueError(f"two tools are named {t.name!r}")
            self.tools[t.name] = t
        if not self.tools:
            raise ValueError("run_tools needs at least one tool")
        self.messages: list[Any] = list(messages)  # a copy: the caller's list is left alone
        self.max_rounds = max_rounds
        self.rounds = 0
        self.final: ChatCompletion | None = None
        self._kwargs = kwargs
        self._pending: list[ToolInvocation] = []

    @property
    def done(self) -> bool:
        return self.final is not None

    @property
    def has_async_tools(self) -> bool:
        return any(t.is_async for t in self.tools.values())

    def next_request(self) -> dict[str, Any]:
        """Keyword arguments of the next ``chat.completions.create`` call."""
        kwargs = dict(self._kwargs)
        if self.rounds > 0 and _forces_tools(kwargs.get("tool_choice")):
            kwargs["tool_choice"] = "auto"
        kwargs["messages"] = list(self.messages)
        kwargs["tools"] = [t.schema for t in self.tools.values()]
        return kwargs

    def record_response(self, resp: ChatCompletion) -> None:
        """Take the model's answer: done if it calls no tool, else plan its calls.
        Raises :class:`ToolLoopError` when this was the last allowed round."""
        self.rounds += 1
        self.messages.append(resp.assistant_message())
        calls = resp.tool_calls
        if not calls:
            resp.messages = list(self.messages)
            self.final = resp
            return
        if self.rounds >= self.max_rounds:
            names = ", ".join(tc.name for tc in calls)
            raise ToolLoopError(f"the model still called tools ({names}) after {self.rounds} round(s) "
                                f"(max_rounds={self.max_rounds})", messages=list(self.messages), rounds=self.rounds)
        self._pending = [self._plan(tc) for tc in calls]

    def _plan(self, tc: ToolCall) -> ToolInvocation:
        inv = ToolInvocation(tc)
        fn = self.tools.get(tc.name)
        if fn is None:
            known = ", ".join(self.tools)
            inv.result = inv.failed(LookupError(f"unknown tool {tc.name!r}; available tools: {known}"))
            return inv
        inv.tool = fn
        try:
            inv.args, inv.kwargs = fn.bind(tc.arguments)
        except ToolArgumentsError as exc:
            inv.result = inv.failed(exc)
        return inv

    def pending_calls(self) -> list[ToolInvocation]:
        """The calls of the last answer, in the model's order (some may carry a ready ``result``)."""
        return list(self._pending)

    def record_results(self, results: Sequence[ToolResult]) -> None:
        """One result per pending call, in any order; they join the transcript in call order."""
        order = {id(inv.tool_call): i for i, inv in enumerate(self._pending)}
        if sorted(order.get(id(r.tool_call), -1) for r in results) != list(range(len(self._pending))):
            raise ValueError("record_results needs exactly one result per pending call")
        for r in sorted(results, key=lambda r: order[id(r.tool_call)]):
            self.messages.append(r.message)
        self._pending = []


# -- executing one call ---------------------------------------------------------------------------------------


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
    raise RuntimeError("async tools cannot run from the sync VllmClient inside a running event loop; "
                       "use AsyncVllmClient (await run_tools(...))")


def _is_async_client(client: Any) -> bool:
    return inspect.iscoroutinefunction(client.chat.completions.create)


# -- run_tools ------------------------------------------------------------------------------------------------


@overload
def run_tools(client: AsyncVllmClient, messages: Sequence[Any], *, tools: Sequence[Callable[..., Any]],
              max_rounds: int = 5, **create_kwargs: Any) -> Coroutine[Any, Any, ChatCompletion]: ...


@overload
def run_tools(client: VllmClient, messages: Sequence[Any], *, tools: Sequence[Callable[..., Any]],
              max_rounds: int = 5, **create_kwargs: Any) -> ChatCompletion: ...


def run_tools(client: Any, messages: Sequence[Any], *, tools: Sequence[Callable[..., Any]], max_rounds: int = 5,
              **create_kwargs: Any) -> ChatCompletion | Coroutine[Any, Any, ChatCompletion]:
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


# -- run_tools_stream -----------------------------------------------------------------------------------------

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
def run_tools_stream(client: AsyncVllmClient, messages: Sequence[Any], *, tools: Sequence[Callable[..., Any]],
                     max_rounds: int = 5, **create_kwargs: Any) -> AsyncToolStream: ...


@overload
def run_tools_stream(client: VllmClient, messages: Sequence[Any], *, tools: Sequence[Callable[..., Any]],
                     max_rounds: int = 5, **create_kwargs: Any) -> ToolStream: ...


def run_tools_stream(client: Any, messages: Sequence[Any], *, tools: Sequence[Callable[..., Any]],
                     max_rounds: int = 5, **create_kwargs: Any) -> ToolStream | AsyncToolStream:
    """:func:`run_tools`, streamed: the chat events of every round plus a :class:`ToolResult`
    per executed call; the final answer is ``.final`` on the returned object once iterated
    to the end. Nothing is sent before the iteration starts."""
    loop = ToolLoop(messages, tools, max_rounds=max_rounds, create_kwargs=create_kwargs)
    if _is_async_client(client):
        return AsyncToolStream(client, loop)
    _check_sync_async_tools(loop)
    return ToolStream(client, loop)
