"""Typed events of a Responses API stream (``ResponseEvent.*``).

One event per server-sent event, in the server's order, each with the ``sequence_number``
the server gave it (the number ``retrieve(id, stream=True, starting_after=N)`` resumes
after) and ``type``, the wire type (``"response.output_text.delta"``). Small slotted
dataclasses, matched by keyword::

    match event:
        case ResponseEvent.TextDelta(text=t): ...
        case ResponseEvent.ReasoningDelta(text=t): ...
        case ResponseEvent.FunctionCallArgumentsDelta(arguments=piece): ...
        case ResponseEvent.OutputItemDone(item=item): ...
        case ResponseEvent.Completed(response=r): ...

Delta events name their piece ``text`` (``arguments`` / ``input`` for tool calls), as the
chat events do; ``.delta`` is the openai-python spelling of the same. ``raw`` is the
event's decoded data (left out of repr and equality). Event types this
client does not know (a newer vLLM, harmony's extra events) arrive as ``Other`` with the
decoded data, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from .responses_types import Response, ResponseItem

__all__ = ["ResponseEvent", "ResponseStreamEvent"]



@dataclass(slots=True)
class Created:
    """``response.created``: the response as it starts (``status`` ``in_progress``, no output)."""

    type: ClassVar[str] = "response.created"
    response: Response
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class InProgress:
    """``response.in_progress``."""

    type: ClassVar[str] = "response.in_progress"
    response: Response
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class OutputItemAdded:
    """``response.output_item.added``: an item opens (a message, reasoning, a function call)."""

    type: ClassVar[str] = "response.output_item.added"
    item: ResponseItem
    output_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class OutputItemDone:
    """``response.output_item.done``: the item complete (a function call: ready to run)."""

    type: ClassVar[str] = "response.output_item.done"
    item: ResponseItem
    output_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class ContentPartAdded:
    """``response.content_part.added``: a part of a message or reasoning item opens."""

    type: ClassVar[str] = "response.content_part.added"
    part: dict[str, Any]
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class ContentPartDone:
    """``response.content_part.done``: the part with its whole text."""

    type: ClassVar[str] = "response.content_part.done"
    part: dict[str, Any]
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class TextDelta:
    """``response.output_text.delta``: a piece of the answer text."""

    type: ClassVar[str] = "response.output_text.delta"
    text: str
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    logprobs: Any = None
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def delta(self) -> str:
        return self.text


@dataclass(slots=True)
class TextDone:
    """``response.output_text.done``: the part's whole text."""

    type: ClassVar[str] = "response.output_text.done"
    text: str
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class ReasoningDelta:
    """``response.reasoning_text.delta``: a piece of the reasoning."""

    type: ClassVar[str] = "response.reasoning_text.delta"
    text: str
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def delta(self) -> str:
        return self.text


@dataclass(slots=True)
class ReasoningDone:
    """``response.reasoning_text.done``: the whole reasoning text of the part."""

    type: ClassVar[str] = "response.reasoning_text.done"
    text: str
    item_id: str = ""
    output_index: int = 0
    content_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class FunctionCallArgumentsDelta:
    """``response.function_call_arguments.delta``: a piece of a call's arguments JSON."""

    type: ClassVar[str] = "response.function_call_arguments.delta"
    arguments: str
    item_id: str = ""
    output_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def delta(self) -> str:
        return self.arguments


@dataclass(slots=True)
class FunctionCallArgumentsDone:
    """``response.function_call_arguments.done``: the whole arguments and the function's name."""

    type: ClassVar[str] = "response.function_call_arguments.done"
    arguments: str
    name: str | None = None
    item_id: str = ""
    output_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class CustomToolCallInputDelta:
    """``response.custom_tool_call_input.delta``: a piece of a custom tool's input."""

    type: ClassVar[str] = "response.custom_tool_call_input.delta"
    input: str
    item_id: str = ""
    output_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def delta(self) -> str:
        return self.input


@dataclass(slots=True)
class CustomToolCallInputDone:
    """``response.custom_tool_call_input.done``: a custom tool's whole input."""

    type: ClassVar[str] = "response.custom_tool_call_input.done"
    input: str
    item_id: str = ""
    output_index: int = 0
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class Completed:
    """``response.completed``: the last event; ``response`` is the whole answer (its
    ``status`` ``completed`` or, cut by ``max_output_tokens``, ``incomplete``)."""

    type: ClassVar[str] = "response.completed"
    response: Response
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class Incomplete:
    """``response.incomplete`` (OpenAI's; vLLM 0.32 sends ``completed`` with that status)."""

    type: ClassVar[str] = "response.incomplete"
    response: Response
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class Failed:
    """``response.failed`` (OpenAI's; vLLM 0.32 drops the connection instead)."""

    type: ClassVar[str] = "response.failed"
    response: Response
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True)
class Other:
    """An event type this client does not model; ``raw`` is its decoded data."""

    type: str
    sequence_number: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


class ResponseEvent:
    """Namespace of Responses stream events: ``Created``, ``InProgress``,
    ``OutputItemAdded``, ``OutputItemDone``, ``ContentPartAdded``, ``ContentPartDone``,
    ``TextDelta``, ``TextDone``, ``ReasoningDelta``, ``ReasoningDone``,
    ``FunctionCallArgumentsDelta``, ``FunctionCallArgumentsDone``,
    ``CustomToolCallInputDelta``, ``CustomToolCallInputDone``, ``Completed``,
    ``Incomplete``, ``Failed``, ``Other``."""

    Created = Created
    InProgress = InProgress
    OutputItemAdded = OutputItemAdded
    OutputItemDone = OutputItemDone
    ContentPartAdded = ContentPartAdded
    ContentPartDone = ContentPartDone
    TextDelta = TextDelta
    TextDone = TextDone
    ReasoningDelta = ReasoningDelta
    ReasoningDone = ReasoningDone
    FunctionCallArgumentsDelta = FunctionCallArgumentsDelta
    FunctionCallArgumentsDone = FunctionCallArgumentsDone
    CustomToolCallInputDelta = CustomToolCallInputDelta
    CustomToolCallInputDone = CustomToolCallInputDone
    Completed = Completed
    Incomplete = Incomplete
    Failed = Failed
    Other = Other


ResponseStreamEvent = Union[
    Created, InProgress, OutputItemAdded, OutputItemDone, ContentPartAdded, ContentPartDone, TextDelta, TextDone,
    ReasoningDelta, ReasoningDone, FunctionCallArgumentsDelta, FunctionCallArgumentsDone, CustomToolCallInputDelta,
    CustomToolCallInputDone, Completed, Incomplete, Failed, Other,
]

TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
"""Event types after which a Responses stream has nothing more to send."""
