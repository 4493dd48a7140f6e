"""The agent loop as a pure state machine: which request to send next, which calls to
run, how results become messages. The sync and async drivers (``_run``) only do I/O."""

from __future__ import annotations

import dataclasses
from collections.abc import (
    Mapping,
    Sequence,
)
from typing import Any

from .._errors import ToolArgumentsError, VllmError
from .._protocol.types import ChatCompletion, ToolCall
from .._tool_values import to_tool_content
from ._decorator import Tool, as_tool

__all__ = ["ToolInvocation", "ToolLoop", "ToolLoopError", "ToolResult"]


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

    def __init__(
        self,
        messages: Sequence[Any],
        tools: Sequence[Any],
        *,
        max_rounds: int = 5,
        create_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
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
            raise ToolLoopError(
                f"the model still called tools ({names}) after {self.rounds} round(s) (max_rounds={self.max_rounds})",
                messages=list(self.messages),
                rounds=self.rounds,
            )
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
