"""Typed results over the raw JSON.

Each result wraps the dict exactly as received (``.raw``) and reads fields from it on
access. Decoding a response is therefore one ``orjson.loads`` and one small object: no
model validation on the hot path, and fields a newer vLLM adds never break decoding (they
are in ``.raw``). Sub-objects (choices, messages, tool calls) are built on first access
and cached.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .._errors import ToolArgumentsError
from .._json import dumps, loads

if TYPE_CHECKING:
    from .logprobs import ChatLogprobs, CompletionLogprobs

__all__ = [
    "ChatCompletion",
    "Choice",
    "Completion",
    "CompletionChoice",
    "Function",
    "Message",
    "Model",
    "RequestTiming",
    "ToolCall",
    "Usage",
]


_T = TypeVar("_T")


class RawJSON:
    """The JSON forms of a result that keeps its ``raw`` body (openai-python's pydantic
    spellings included, so code written for it runs unchanged)."""

    __slots__ = ()
    raw: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The JSON as received (same as ``.raw``)."""
        return self.raw

    def model_dump(self) -> dict[str, Any]:
        """Same as :meth:`to_dict` (openai-python's name)."""
        return self.raw

    def model_dump_json(self) -> str:
        """The JSON as text."""
        return dumps(self.raw).decode()


class _RawView(RawJSON):
    """Base of the dict-backed result types: equality and repr by the raw JSON."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self.raw == other.raw)  # type: ignore[attr-defined,unused-ignore]

    __hash__ = None  # type: ignore[assignment]  # equal by value, like the dict it wraps

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw!r})"


@dataclass(slots=True)
class RequestTiming:
    """Client-measured timing: wall-clock send time, seconds to the first response byte
    (headers), and seconds for the whole call; ``server``: the base URL that answered."""

    sent_at: float
    first_byte_s: float
    total_s: float
    server: str | None = None


class Usage(_RawView):
    """Token counts. ``prompt_tokens_details`` (e.g. ``cached_tokens``) when the server sends it."""

    __slots__ = ()

    @property
    def prompt_tokens(self) -> int:
        """Tokens in the prompt (after the chat template)."""
        return int(self.raw.get("prompt_tokens") or 0)

    @property
    def completion_tokens(self) -> int:
        """Tokens generated, over all choices."""
        return int(self.raw.get("completion_tokens") or 0)

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        total = self.raw.get("total_tokens")
        return int(total) if total is not None else self.prompt_tokens + self.completion_tokens

    @property
    def prompt_tokens_details(self) -> dict[str, Any] | None:
        """Details such as ``cached_tokens`` (prefix-cache hits), when sent."""
        return self.raw.get("prompt_tokens_details")

    @property
    def completion_tokens_details(self) -> dict[str, Any] | None:
        """Details such as ``reasoning_tokens``, when sent."""
        return self.raw.get("completion_tokens_details")

    @property
    def cached_tokens(self) -> int | None:
        """Prompt tokens served from the prefix cache, when the server reports them."""
        details = self.raw.get("prompt_tokens_details")
        if isinstance(details, dict) and details.get("cached_tokens") is not None:
            return int(details["cached_tokens"])
        return None

    def __repr__(self) -> str:
        return (f"Usage(prompt_tokens={self.prompt_tokens}, completion_tokens={self.completion_tokens}, "
                f"total_tokens={self.total_tokens})")


class Function(_RawView):
    """The OpenAI-shaped ``function`` of a tool call: ``name`` and ``arguments`` (a JSON string)."""

    __slots__ = ()

    @property
    def name(self) -> str:
        """The function's name."""
        return str(self.raw.get("name") or "")

    @property
    def arguments(self) -> str:
        """The arguments as the JSON text the model wrote."""
        args = self.raw.get("arguments")
        if args is None:
            return ""
        return args if isinstance(args, str) else dumps(args).decode()


class ToolCall(_RawView):
    """A tool call the model made. ``arguments`` is the JSON text as the model wrote it."""

    __slots__ = ()

    @property
    def id(self) -> str:
        """The call id; tool results refer to it as ``tool_call_id``."""
        return str(self.raw.get("id") or "")

    @property
    def type(self) -> str:
        """Always ``"function"`` today."""
        return str(self.raw.get("type") or "function")

    @property
    def index(self) -> int | None:
        """Position among the calls of a streamed message (None when not streamed)."""
        return self.raw.get("index")

    @property
    def function(self) -> Function:
        """The OpenAI-shaped ``function`` object (``name``, ``arguments``)."""
        fn = self.raw.get("function")
        return Function(fn if isinstance(fn, dict) else {})

    @property
    def name(self) -> str:
        """The called function's name (``function.name``)."""
        return self.function.name

    @property
    def arguments(self) -> str:
        """The arguments as JSON text (``function.arguments``); ``parse_args()`` decodes them."""
        return self.function.arguments

    def _json_arguments(self) -> Any:
        text = self.arguments
        if text.strip() == "":
            return {}  # some parsers send "" for a call without arguments
        try:
            return loads(text)
        except ValueError as exc:
            raise ToolArgumentsError(
                f"arguments of tool call {self.name!r} are not valid JSON: {exc}",
                arguments=text,
                reason=str(exc),
            ) from None

    def parse_args(self) -> dict[str, Any]:
        """The arguments as a dict; :class:`ToolArgumentsError` if they are not a JSON object."""
        value = self._json_arguments()
        if not isinstance(value, dict):
            raise ToolArgumentsError(
                f"arguments of tool call {self.name!r} are not a JSON object",
                arguments=self.arguments,
                reason=f"expected an object, got {type(value).__name__}",
            )
        return value

    @overload
    def parse_args_as(self, tp: builtins.type[_T]) -> _T: ...

    @overload
    def parse_args_as(self, tp: Any) -> Any: ...

    def parse_args_as(self, tp: Any) -> Any:
        """The arguments as an instance of ``tp``: a pydantic model, a dataclass (nested
        ones, ``Optional``, lists, ``Literal`` and ``Enum`` fields converted), a TypedDict
        (checked, returned as a dict) or a plain type such as ``dict[str, int]``.
        :class:`ToolArgumentsError` (``.arguments`` = the raw text, ``.reason`` naming the
        field path) when they are not JSON or do not fit."""
        from .._typed import ConversionError, convert

        value = self._json_arguments()
        try:
            return convert(value, tp)
        except ConversionError as exc:
            name = getattr(tp, "__name__", None) or repr(tp)
            raise ToolArgumentsError(
                f"arguments of tool call {self.name!r} do not fit {name}: {exc}",
                arguments=self.arguments,
                reason=str(exc),
            ) from None

    def result(self, value: Any) -> dict[str, Any]:
        """The ``role: tool`` message answering this call. A str is sent as is; anything
        else as JSON (non-ASCII kept; dataclass and pydantic instances serialised)."""
        from .._tool_values import to_tool_content

        return {"role": "tool", "tool_call_id": self.id, "content": to_tool_content(value)}

    def to_message_dict(self) -> dict[str, Any]:
        """The tool call as it goes back into an assistant message."""
        return {"id": self.id, "type": self.type, "function": {"name": self.name, "arguments": self.arguments}}

    def __repr__(self) -> str:
        return f"ToolCall(id={self.id!r}, name={self.name!r}, arguments={self.arguments!r})"


class Message(_RawView):
    """A choice's message. ``reasoning`` reads vLLM's ``reasoning`` or the older ``reasoning_content``."""

    __slots__ = ("_tool_calls",)

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self._tool_calls: list[ToolCall] | None = None

    @property
    def role(self) -> str:
        """The author: ``"assistant"`` for answers."""
        return str(self.raw.get("role") or "assistant")

    @property
    def content(self) -> str | None:
        """The answer text (None for a tool-call-only answer)."""
        return self.raw.get("content")

    @property
    def reasoning(self) -> str | None:
        """The model's reasoning (vLLM ``reasoning``, or ``reasoning_content`` from older servers)."""
        value = self.raw.get("reasoning")
        if value is None:
            value = self.raw.get("reasoning_content")
        return value

    reasoning_content = reasoning

    @property
    def refusal(self) -> str | None:
        """A refusal message, when the server sends one."""
        return self.raw.get("refusal")

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls the model made (empty list when none)."""
        if self._tool_calls is None:
            self._tool_calls = [ToolCall(tc) for tc in self.raw.get("tool_calls") or () if isinstance(tc, dict)]
        return self._tool_calls

    def to_param(self, *, include_reasoning: bool = False) -> dict[str, Any]:
        """This message as a request message (content, tool_calls; reasoning only if asked)."""
        msg: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [tc.to_message_dict() for tc in self.tool_calls]
        if include_reasoning and self.reasoning is not None:
            msg["reasoning"] = self.reasoning
        return msg


class _ChoiceBase(_RawView):
    """What chat and completion choices share."""

    __slots__ = ()

    @property
    def index(self) -> int:
        """The choice's position (``n`` samples; for completions prompt index * n + sample)."""
        return int(self.raw.get("index") or 0)

    @property
    def finish_reason(self) -> str | None:
        """Why generation stopped: ``"stop"``, ``"length"``, ``"tool_calls"``..."""
        return self.raw.get("finish_reason")

    @property
    def stop_reason(self) -> str | int | None:
        """vLLM: the stop string or token id that ended this choice (None for EOS or length)."""
        return self.raw.get("stop_reason")

    @property
    def token_ids(self) -> list[int] | None:
        """Generated token ids (``return_token_ids=True``)."""
        return self.raw.get("token_ids")


class Choice(_ChoiceBase):
    """One of the ``n`` answers."""

    __slots__ = ("_message",)

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self._message: Message | None = None

    @property
    def logprobs(self) -> ChatLogprobs | None:
        """Token log-probabilities, when requested: ``logprobs.content[i].token`` / ``.logprob``."""
        lp = self.raw.get("logprobs")
        if not isinstance(lp, dict):
            return None
        from .logprobs import ChatLogprobs

        return ChatLogprobs(lp)

    @property
    def message(self) -> Message:
        """The generated message."""
        if self._message is None:
            msg = self.raw.get("message")
            self._message = Message(msg if isinstance(msg, dict) else {})
        return self._message


class ResponseFields(RawJSON):
    """The envelope every vLLM answer shares (``id``, ``object``, ``created``, ``model``,
    ``usage``), read from ``self.raw``: mixed into dict views and list-shaped results alike."""

    __slots__ = ()
    raw: dict[str, Any]

    @property
    def id(self) -> str:
        """The response id (``chatcmpl-...``, ``cmpl-...``)."""
        return str(self.raw.get("id") or "")

    @property
    def object(self) -> str:
        """The JSON ``object`` type of the answer."""
        return str(self.raw.get("object") or "")

    @property
    def created(self) -> int:
        """Unix time the server created the answer."""
        return int(self.raw.get("created") or 0)

    @property
    def model(self) -> str:
        """The model that answered."""
        return str(self.raw.get("model") or "")

    @property
    def usage(self) -> Usage | None:
        """Token counts, when the server sent them."""
        usage = self.raw.get("usage")
        return Usage(usage) if isinstance(usage, dict) else None


class TimedResponse(ResponseFields, _RawView):
    """A response object with the client-measured ``timing`` of its request."""

    __slots__ = ("timing",)

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None) -> None:
        self.raw = raw
        self.timing = timing

    @property
    def server(self) -> str | None:
        """Base URL of the server that answered (several servers: which one the client chose)."""
        return self.timing.server if self.timing is not None else None


class _Timed(TimedResponse):
    __slots__ = ()

    @property
    def server_metrics(self) -> dict[str, Any] | None:
        """vLLM's per-request ``metrics`` object when the server sends one, else None."""
        metrics = self.raw.get("metrics")
        return metrics if isinstance(metrics, dict) else None

    @property
    def prompt_token_ids(self) -> list[int] | None:
        return self.raw.get("prompt_token_ids")

    @property
    def prompt_logprobs(self) -> list[Any] | None:
        return self.raw.get("prompt_logprobs")

    @property
    def choices(self) -> Sequence[_ChoiceBase]:
        raise NotImplementedError

    @property
    def finish_reason(self) -> str | None:
        """The first choice's finish reason."""
        choices = self.choices
        return choices[0].finish_reason if choices else None

    @property
    def stop_reason(self) -> str | int | None:
        """The first choice's stop reason (vLLM: the stop string or token id)."""
        choices = self.choices
        return choices[0].stop_reason if choices else None


class ChatCompletion(_Timed):
    """A chat answer. Shortcuts read the first choice."""

    __slots__ = ("_choices", "messages", "parsed")

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None) -> None:
        self.raw = raw
        self.timing = timing
        self._choices: list[Choice] | None = None
        self.parsed: Any = None
        self.messages: list[dict[str, Any]] | None = None

    @property
    def choices(self) -> list[Choice]:
        """The ``n`` answers."""
        if self._choices is None:
            self._choices = [Choice(c) for c in self.raw.get("choices") or () if isinstance(c, dict)]
        return self._choices

    def _first(self) -> Choice | None:
        choices = self.choices
        return choices[0] if choices else None

    @property
    def message(self) -> Message | None:
        """The first choice's message."""
        first = self._first()
        return first.message if first else None

    @property
    def content(self) -> str | None:
        """The first choice's text."""
        first = self._first()
        return first.message.content if first else None

    @property
    def reasoning(self) -> str | None:
        """The first choice's reasoning (alias ``reasoning_content``)."""
        first = self._first()
        return first.message.reasoning if first else None

    reasoning_content = reasoning

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The first choice's tool calls (empty list when none)."""
        first = self._first()
        return first.message.tool_calls if first else []

    def has_tool_calls(self) -> bool:
        """Whether the first choice called tools."""
        return bool(self.tool_calls)

    def first_tool_call(self) -> ToolCall | None:
        """The first choice's first tool call, or None."""
        calls = self.tool_calls
        return calls[0] if calls else None

    def assistant_message(self, *, include_reasoning: bool = False) -> dict[str, Any]:
        """The first choice as a message to append to the conversation. Reasoning is left
        out unless asked: chat templates of reasoning models expect it dropped."""
        msg = self.message
        if msg is None:
            return {"role": "assistant", "content": None}
        return msg.to_param(include_reasoning=include_reasoning)

    def __repr__(self) -> str:
        return (f"ChatCompletion(id={self.id!r}, model={self.model!r}, content={self.content!r}, "
                f"finish_reason={self.finish_reason!r}, usage={self.usage!r})")


class CompletionChoice(_ChoiceBase):
    """One choice of a legacy completion: ``index`` = prompt index * n + sample index."""

    __slots__ = ()

    @property
    def logprobs(self) -> CompletionLogprobs | None:
        """Token log-probabilities, when requested: ``.tokens``, ``.token_logprobs``, ..."""
        lp = self.raw.get("logprobs")
        if not isinstance(lp, dict):
            return None
        from .logprobs import CompletionLogprobs

        return CompletionLogprobs(lp)

    @property
    def text(self) -> str:
        """The generated text."""
        return str(self.raw.get("text") or "")

    @property
    def prompt_token_ids(self) -> list[int] | None:
        """The prompt's token ids, when requested."""
        return self.raw.get("prompt_token_ids")


class Completion(_Timed):
    """A legacy ``/v1/completions`` answer; ``.text`` is the first choice's text."""

    __slots__ = ("_choices",)

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None) -> None:
        self.raw = raw
        self.timing = timing
        self._choices: list[CompletionChoice] | None = None

    @property
    def choices(self) -> list[CompletionChoice]:
        """All choices (prompt index * n + sample order)."""
        if self._choices is None:
            self._choices = [CompletionChoice(c) for c in self.raw.get("choices") or () if isinstance(c, dict)]
        return self._choices

    @property
    def text(self) -> str | None:
        """The first choice's text."""
        choices = self.choices
        return choices[0].text if choices else None

    @property
    def texts(self) -> list[str]:
        """Every choice's text, in choice order."""
        return [c.text for c in self.choices]

    def __repr__(self) -> str:
        return f"Completion(id={self.id!r}, model={self.model!r}, text={self.text!r}, usage={self.usage!r})"


class Model(_RawView):
    """A model the server serves (``/v1/models``)."""

    __slots__ = ()

    @property
    def id(self) -> str:
        """The name to pass as ``model=``."""
        return str(self.raw.get("id") or "")

    @property
    def object(self) -> str:
        """Always ``"model"``."""
        return str(self.raw.get("object") or "model")

    @property
    def created(self) -> int:
        """Unix time the server registered the model."""
        return int(self.raw.get("created") or 0)

    @property
    def owned_by(self) -> str | None:
        """Owner (``"vllm"``)."""
        return self.raw.get("owned_by")

    @property
    def root(self) -> str | None:
        """The path or hub name the model was loaded from."""
        return self.raw.get("root")

    @property
    def parent(self) -> str | None:
        """For a LoRA adapter, the base model."""
        return self.raw.get("parent")

    @property
    def max_model_len(self) -> int | None:
        """Context length: prompt plus completion tokens."""
        value = self.raw.get("max_model_len")
        return int(value) if value is not None else None

    def __repr__(self) -> str:
        return f"Model(id={self.id!r}, max_model_len={self.max_model_len!r}, root={self.root!r})"


class ModelList(RawJSON, list[Model]):
    """``models.list()``: a list of :class:`Model` that also keeps the raw JSON. ``.data``
    is the list itself (the ``client.models.list().data`` idiom of vLLM's docs)."""

    raw: dict[str, Any]

    def __init__(self, raw: dict[str, Any]) -> None:
        super().__init__(Model(m) for m in raw.get("data") or () if isinstance(m, dict))
        self.raw = raw

    @property
    def data(self) -> list[Model]:
        """The models (this list)."""
        return self

    @property
    def ids(self) -> list[str]:
        """The served model ids."""
        return [m.id for m in self]

    def __iter__(self) -> Iterator[Model]:
        return super().__iter__()
