"""Typed results of the Responses API (``/v1/responses``), over the raw JSON.

The same rule as ``types``: each object wraps the dict exactly as received (``.raw``) and
reads fields on access, so decoding is one ``loads`` and fields a newer vLLM adds are never
lost. Shapes follow vLLM 0.32's ``ResponsesResponse`` (the responses_* captures): output
items are ``message`` (``output_text`` parts), ``reasoning`` (``reasoning_text`` parts, with
a reasoning parser), ``function_call`` (with a tool parser) and ``custom_tool_call``.

Names follow openai-python where it has one (``output_text``, ``item.id`` is the item's
``fc_...`` id and ``call_id`` the id a ``function_call_output`` refers to), so code written
for it reads the same; ``reasoning`` and ``tool_calls`` are the shortcuts the chat result has.
"""

from __future__ import annotations

import builtins
from typing import Any, TypeVar, overload

from .._tool_values import to_tool_content
from .types import RequestTiming, ToolCall, _RawView

__all__ = [
    "TERMINAL_STATUSES",
    "Response",
    "ResponseCustomToolCall",
    "ResponseFunctionCall",
    "ResponseItem",
    "ResponseMessage",
    "ResponseReasoning",
    "ResponseUsage",
    "item_of",
]

_T = TypeVar("_T")

TERMINAL_STATUSES = frozenset({"completed", "incomplete", "cancelled", "failed"})
"""Statuses after which a response changes no more (``queued`` and ``in_progress`` do)."""


def _texts(parts: Any, kind: str) -> list[str]:
    return [str(p.get("text") or "") for p in parts or () if isinstance(p, dict) and p.get("type") == kind]


class ResponseUsage(_RawView):
    """Token counts of a response: ``input_tokens``, ``output_tokens``, ``total_tokens``
    (and the chat spellings ``prompt_tokens`` / ``completion_tokens``, so code and stream
    metrics that read those work on both)."""

    __slots__ = ()

    @property
    def input_tokens(self) -> int:
        """Tokens of the prompt (instructions, history and input, after the chat template)."""
        return int(self.raw.get("input_tokens") or 0)

    @property
    def output_tokens(self) -> int:
        """Tokens generated (reasoning included)."""
        return int(self.raw.get("output_tokens") or 0)

    @property
    def total_tokens(self) -> int:
        total = self.raw.get("total_tokens")
        return int(total) if total is not None else self.input_tokens + self.output_tokens

    prompt_tokens = input_tokens
    completion_tokens = output_tokens

    @property
    def input_tokens_details(self) -> dict[str, Any] | None:
        return self.raw.get("input_tokens_details")

    @property
    def output_tokens_details(self) -> dict[str, Any] | None:
        return self.raw.get("output_tokens_details")

    @property
    def reasoning_tokens(self) -> int | None:
        """Output tokens the reasoning parser counted as reasoning, when sent."""
        details = self.raw.get("output_tokens_details")
        value = details.get("reasoning_tokens") if isinstance(details, dict) else None
        return int(value) if value is not None else None

    @property
    def cached_tokens(self) -> int | None:
        """Input tokens served from the prefix cache, when sent."""
        details = self.raw.get("input_tokens_details")
        value = details.get("cached_tokens") if isinstance(details, dict) else None
        return int(value) if value is not None else None

    def __repr__(self) -> str:
        return (f"ResponseUsage(input_tokens={self.input_tokens}, output_tokens={self.output_tokens}, "
                f"total_tokens={self.total_tokens})")


class ResponseItem(_RawView):
    """One output item; the subclasses add what their ``type`` carries."""

    __slots__ = ()

    @property
    def type(self) -> str:
        return str(self.raw.get("type") or "")

    @property
    def id(self) -> str:
        """The item id (``msg_...``, ``rs_...``, ``fc_...``); stream events name it ``item_id``."""
        return str(self.raw.get("id") or "")

    @property
    def status(self) -> str | None:
        return self.raw.get("status")

    def to_input(self) -> dict[str, Any]:
        """The item as an ``input`` item of a next request (a conversation kept by the
        caller, without the server's store)."""
        return self.raw


class ResponseMessage(ResponseItem):
    """A ``message`` item: the answer text in ``output_text`` parts."""

    __slots__ = ()

    @property
    def role(self) -> str:
        return str(self.raw.get("role") or "assistant")

    @property
    def content(self) -> list[dict[str, Any]]:
        """The parts as sent (``output_text``: ``text``, ``annotations``, ``logprobs``)."""
        return [p for p in self.raw.get("content") or () if isinstance(p, dict)]

    @property
    def text(self) -> str:
        """The ``output_text`` parts joined."""
        return "".join(_texts(self.raw.get("content"), "output_text"))


class ResponseReasoning(ResponseItem):
    """A ``reasoning`` item (a server started with ``--reasoning-parser``)."""

    __slots__ = ()

    @property
    def text(self) -> str:
        """The ``reasoning_text`` parts joined (else the summary's text)."""
        parts = _texts(self.raw.get("content"), "reasoning_text")
        if not parts:
            parts = _texts(self.raw.get("summary"), "summary_text")
        return "".join(parts)


class ResponseFunctionCall(ResponseItem):
    """A ``function_call`` item: the model asks to run ``name`` with ``arguments`` (JSON text).

    ``parse_args()`` / ``parse_args_as(T)`` decode the arguments as a chat ``ToolCall``
    does; ``result(value)`` is the ``function_call_output`` input item answering it.
    """

    __slots__ = ()

    @property
    def call_id(self) -> str:
        """The id the ``function_call_output`` answering this call refers to."""
        return str(self.raw.get("call_id") or "")

    @property
    def name(self) -> str:
        return str(self.raw.get("name") or "")

    @property
    def arguments(self) -> str:
        """The arguments as the JSON text the model wrote."""
        return str(self.raw.get("arguments") or "")

    def as_tool_call(self) -> ToolCall:
        """The call in the chat API's shape (``tc.function.name``...), for code written for chat."""
        return ToolCall({"id": self.call_id, "type": "function",
                         "function": {"name": self.name, "arguments": self.arguments}})

    def parse_args(self) -> dict[str, Any]:
        """The arguments as a dict; :class:`ToolArgumentsError` if they are not a JSON object."""
        return self.as_tool_call().parse_args()

    @overload
    def parse_args_as(self, tp: builtins.type[_T]) -> _T: ...

    @overload
    def parse_args_as(self, tp: Any) -> Any: ...

    def parse_args_as(self, tp: Any) -> Any:
        """The arguments as an instance of ``tp`` (pydantic model, dataclass, TypedDict...)."""
        return self.as_tool_call().parse_args_as(tp)

    def result(self, value: Any) -> dict[str, Any]:
        """The ``function_call_output`` input item answering this call (a str as is,
        anything else as JSON)."""
        return {"type": "function_call_output", "call_id": self.call_id, "output": to_tool_content(value)}

    def __repr__(self) -> str:
        return f"ResponseFunctionCall(call_id={self.call_id!r}, name={self.name!r}, arguments={self.arguments!r})"


class ResponseCustomToolCall(ResponseItem):
    """A ``custom_tool_call`` item: free-form ``input`` for a custom tool."""

    __slots__ = ()

    @property
    def call_id(self) -> str:
        return str(self.raw.get("call_id") or "")

    @property
    def name(self) -> str:
        return str(self.raw.get("name") or "")

    @property
    def input(self) -> str:
        return str(self.raw.get("input") or "")


_ITEM_TYPES: dict[str, type[ResponseItem]] = {
    "message": ResponseMessage,
    "reasoning": ResponseReasoning,
    "function_call": ResponseFunctionCall,
    "custom_tool_call": ResponseCustomToolCall,
}


def item_of(raw: dict[str, Any]) -> ResponseItem:
    """The typed view of an output item (an unknown type: a plain :class:`ResponseItem`)."""
    return _ITEM_TYPES.get(str(raw.get("type")), ResponseItem)(raw)


class Response(_RawView):
    """A Responses API answer (``object: "response"``), streamed or not.

    ``output_text`` is the text of every message item, ``reasoning`` that of the reasoning
    items (None without any), ``tool_calls`` the function calls. ``status`` is ``queued``,
    ``in_progress``, ``completed``, ``incomplete`` (see ``incomplete_details``),
    ``cancelled`` or ``failed``; ``finished`` is True once it cannot change any more.
    """

    __slots__ = ("_output", "timing")

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None) -> None:
        self.raw = raw
        self.timing = timing
        self._output: list[ResponseItem] | None = None

    @property
    def id(self) -> str:
        """``resp_...``, or the ``request_id`` the request gave (vLLM uses it as the id)."""
        return str(self.raw.get("id") or "")

    @property
    def object(self) -> str:
        return str(self.raw.get("object") or "")

    @property
    def created_at(self) -> int:
        return int(self.raw.get("created_at") or 0)

    created = created_at

    @property
    def model(self) -> str:
        return str(self.raw.get("model") or "")

    @property
    def status(self) -> str:
        return str(self.raw.get("status") or "")

    @property
    def finished(self) -> bool:
        """Whether the status is final (completed, incomplete, cancelled or failed)."""
        return self.status in TERMINAL_STATUSES

    @property
    def background(self) -> bool:
        return bool(self.raw.get("background"))

    @property
    def previous_response_id(self) -> str | None:
        return self.raw.get("previous_response_id")

    @property
    def incomplete_details(self) -> dict[str, Any] | None:
        """``{"reason": "max_output_tokens"}`` for a response cut by its token limit."""
        return self.raw.get("incomplete_details")

    @property
    def error(self) -> Any:
        return self.raw.get("error")

    @property
    def output(self) -> list[ResponseItem]:
        """The output items, typed by their ``type``."""
        if self._output is None:
            self._output = [item_of(i) for i in self.raw.get("output") or () if isinstance(i, dict)]
        return self._output

    @property
    def output_text(self) -> str:
        """The text of every message item, joined ("" when there is none)."""
        return "".join(i.text for i in self.output if isinstance(i, ResponseMessage))

    @property
    def reasoning(self) -> str | None:
        """The text of the reasoning items, or None when there are none. (The request's
        ``reasoning`` config, which vLLM echoes, is ``raw["reasoning"]``.)"""
        items = [i.text for i in self.output if isinstance(i, ResponseReasoning)]
        return "".join(items) if items else None

    @property
    def tool_calls(self) -> list[ResponseFunctionCall]:
        """The function calls the model made (empty list when none)."""
        return [i for i in self.output if isinstance(i, ResponseFunctionCall)]

    def has_tool_calls(self) -> bool:
        return bool(self.tool_calls)

    def first_tool_call(self) -> ResponseFunctionCall | None:
        calls = self.tool_calls
        return calls[0] if calls else None

    @property
    def usage(self) -> ResponseUsage | None:
        usage = self.raw.get("usage")
        return ResponseUsage(usage) if isinstance(usage, dict) else None

    @property
    def server_metrics(self) -> dict[str, Any] | None:
        """vLLM's per-request ``metrics`` (``--enable-per-request-metrics``), else None."""
        metrics = self.raw.get("metrics")
        return metrics if isinstance(metrics, dict) else None

    def __repr__(self) -> str:
        text = self.output_text
        shown = text if len(text) <= 60 else text[:57] + "..."
        return f"Response(id={self.id!r}, status={self.status!r}, output_text={shown!r})"
