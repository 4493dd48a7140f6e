"""``POST /inference/v1/generate``: token ids in, token ids out. Request, result and stream. Pure.

vLLM 0.32's scale-out route (``entrypoints/scale_out/token_in_token_out``): a server started
with ``--enable-scale-out`` (otherwise 403) takes ``token_ids`` and a full ``sampling_params``
object -- no chat template, no tokenizer on the way in -- and answers ``token_ids`` per choice
(``output_mode="text"`` adds ``text``). The client takes the sampling fields as keywords, as
``completions.create`` does, and nests them; request-level fields stay on top. An omitted
``max_tokens`` is the rest of the context (not 16). Streams are ``data: {"request_id",
"choices": [{"index", "token_ids": [delta], "finish_reason"...}]}`` frames, the usage as a
``choices: []`` frame, then ``[DONE]``; they yield :class:`GenerateStreamEvent` events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

from typing_extensions import TypedDict

from .events import Done, Finish
from .events import Usage as UsageEvent
from .params import CallOptions, Stop
from .requests import RequestSpec, _check_sampling, _options, body_fields, build_simple, split_kwargs
from .stream_decoder import DEFAULT_MAX_EVENT_SIZE, _StreamDecoder
from .types import RequestTiming, Usage, _RawView

__all__ = ["GenerateCall", "GenerateChoice", "GenerateResult", "GenerateStreamDecoder", "GenerateStreamEvent",
           "GenerateStreamState", "build_abort", "build_generate"]


class GenerateSampling(TypedDict, total=False):
    """vLLM ``SamplingParams`` fields, sent as ``sampling_params``."""

    n: int
    max_tokens: int | None
    min_tokens: int
    temperature: float
    top_p: float
    top_k: int
    min_p: float
    seed: int | None
    presence_penalty: float
    frequency_penalty: float
    repetition_penalty: float
    stop: Stop
    stop_token_ids: Sequence[int] | None
    ignore_eos: bool
    include_stop_str_in_output: bool
    logprobs: int | None
    prompt_logprobs: int | None
    logprob_token_ids: Sequence[int] | None
    prompt_logprob_token_ids: Sequence[int] | None
    detokenize: bool
    skip_special_tokens: bool
    spaces_between_special_tokens: bool
    structured_outputs: Mapping[str, Any] | None
    logit_bias: Mapping[int | str, float] | None
    allowed_token_ids: Sequence[int] | None
    bad_words: Sequence[str] | None
    extra_args: Mapping[str, Any] | None
    thinking_token_budget: int | None
    repetition_detection: Mapping[str, Any] | None
    watermarking: bool | None
    stream_interval: int


class GenerateRequestFields(TypedDict, total=False):
    """``GenerateRequest`` fields beside ``token_ids`` and ``sampling_params``."""

    model: str | None
    request_id: str
    output_mode: Literal["tokens", "text"]
    return_token_ids: bool | None
    stream_options: Mapping[str, Any] | None
    cache_salt: str | None
    priority: int
    kv_transfer_params: Mapping[str, Any] | None
    ec_transfer_params: Mapping[str, Any] | None
    reasoning_ended: bool | None
    reasoning_parser_kwargs: Mapping[str, Any] | None
    content_parts: Sequence[Mapping[str, Any]] | None
    features: Mapping[str, Any] | None
    token_offsets: Sequence[tuple[int, int]] | None


class GenerateCall(GenerateSampling, GenerateRequestFields, CallOptions, total=False):
    """Every keyword of ``generate`` besides ``token_ids``, ``stream`` and ``sampling_params``."""


_SAMPLING = frozenset(GenerateSampling.__annotations__)
_TOP = frozenset(GenerateRequestFields.__annotations__)


def build_generate(token_ids: Any, sampling_params: Mapping[str, Any] | None, kwargs: Mapping[str, Any], *,
                   stream: bool) -> RequestSpec:
    """``generate(...)`` -> ``POST /inference/v1/generate`` (server root)."""
    fields, options = split_kwargs("generate", kwargs, _SAMPLING | _TOP)
    if isinstance(token_ids, (str, bytes)) or not isinstance(token_ids, (list, tuple)):
        raise TypeError(f"token_ids must be a list of int, got {type(token_ids).__name__}")
    if not token_ids:
        raise ValueError("token_ids must not be empty")
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in token_ids):
        raise TypeError("token_ids must be a list of int")
    if any(t < 0 for t in token_ids):
        raise ValueError("token_ids must not contain negative values")
    if sampling_params is not None and not isinstance(sampling_params, Mapping):
        raise TypeError("sampling_params must be a mapping")
    sampling = body_fields({**(sampling_params or {}), **{k: v for k, v in fields.items() if k in _SAMPLING}})
    _check_sampling(sampling)
    if fields.get("output_mode") == "text" and sampling.get("detokenize") is False:
        raise ValueError("output_mode='text' needs detokenize (it is True unless you turn it off)")
    body = body_fields({k: v for k, v in fields.items() if k in _TOP})
    body["token_ids"] = list(token_ids)
    body["sampling_params"] = sampling
    if stream:
        body["stream"] = True
        body.setdefault("stream_options", {"include_usage": True})
    elif body.pop("stream_options", None) is not None:
        raise ValueError("stream_options needs stream=True")
    return _options(options, RequestSpec("POST", "/inference/v1/generate", body=body, root=True, stream=stream))


class GenerateChoice(_RawView):
    """One sample: ``token_ids``, ``finish_reason``, ``stop_reason``; ``text`` in text mode;
    ``logprobs`` as sent (token mode: ``{"content": [{"token_id", "logprob", "rank",
    "top_logprobs"}]}``)."""

    __slots__ = ()

    @property
    def index(self) -> int:
        return int(self.raw.get("index") or 0)

    @property
    def token_ids(self) -> list[int]:
        return list(self.raw.get("token_ids") or ())

    @property
    def text(self) -> str | None:
        return self.raw.get("text")

    @property
    def finish_reason(self) -> str | None:
        return self.raw.get("finish_reason")

    @property
    def stop_reason(self) -> str | int | None:
        return self.raw.get("stop_reason")

    @property
    def logprobs(self) -> dict[str, Any] | None:
        return self.raw.get("logprobs")

    def __repr__(self) -> str:
        return f"GenerateChoice(index={self.index}, token_ids={self.token_ids!r}, finish_reason={self.finish_reason!r})"


class GenerateResult(_RawView):
    """A ``generate`` answer: ``token_ids`` / ``text`` / ``finish_reason`` of the first choice,
    ``choices``, ``usage``, ``request_id``, ``prompt_token_ids`` (``return_token_ids=True``),
    ``raw``, ``timing``."""

    __slots__ = ("timing",)

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None) -> None:
        self.raw = raw
        self.timing = timing

    @property
    def request_id(self) -> str:
        return str(self.raw.get("request_id") or "")

    @property
    def model(self) -> str:
        return str(self.raw.get("model") or "")

    @property
    def output_mode(self) -> str:
        return str(self.raw.get("output_mode") or "tokens")

    @property
    def choices(self) -> list[GenerateChoice]:
        items = [GenerateChoice(c) for c in self.raw.get("choices") or () if isinstance(c, dict)]
        return sorted(items, key=lambda c: c.index)

    @property
    def token_ids(self) -> list[int]:
        choices = self.choices
        return choices[0].token_ids if choices else []

    @property
    def text(self) -> str | None:
        choices = self.choices
        return choices[0].text if choices else None

    @property
    def finish_reason(self) -> str | None:
        choices = self.choices
        return choices[0].finish_reason if choices else None

    @property
    def usage(self) -> Usage | None:
        usage = self.raw.get("usage")
        return Usage(usage) if isinstance(usage, dict) else None

    @property
    def prompt_token_ids(self) -> list[int] | None:
        return self.raw.get("prompt_token_ids")

    def __repr__(self) -> str:
        return f"GenerateResult(request_id={self.request_id!r}, token_ids={self.token_ids!r}, usage={self.usage!r})"


@dataclass(slots=True)
class Tokens:
    """New token ids of one choice (``text``: their text, in ``output_mode="text"``)."""

    token_ids: list[int]
    choice_index: int = 0
    text: str | None = None
    logprobs: Any = None


class GenerateStreamEvent:
    """Namespace of ``generate`` stream events: ``.Tokens``, ``.Finish``, ``.Usage``, ``.Done``."""

    Tokens = Tokens
    Finish = Finish
    Usage = UsageEvent
    Done = Done


GenerateStreamEventType = Union[Tokens, Finish, UsageEvent, Done]


class GenerateStreamState:
    """Generate stream frames -> events -> a :class:`GenerateResult` like the non-streamed one."""

    __slots__ = ("_choices", "_top", "_usage", "token_chunks")

    def __init__(self) -> None:
        self._choices: dict[int, dict[str, Any]] = {}
        self._top: dict[str, Any] = {}
        self._usage: dict[str, Any] | None = None
        self.token_chunks = 0

    @property
    def decode_plain(self) -> None:
        """No typed fast path (the chunks are not chat chunks)."""
        return None

    def feed_plain(self, chunk: Any, out: list[GenerateStreamEventType]) -> bool:
        raise NotImplementedError  # never called: decode_plain is None

    def feed(self, chunk: dict[str, Any]) -> list[GenerateStreamEventType]:
        out: list[GenerateStreamEventType] = []
        for key, value in chunk.items():
            if key not in ("choices", "usage") and (value is not None or key not in self._top):
                self._top[key] = value
        choices = chunk.get("choices") or ()
        carried = False
        for c in choices:
            index = c.get("index") or 0
            acc = self._choices.setdefault(index, {"index": index, "finish_reason": None, "stop_reason": None,
                                                   "token_ids": [], "logprobs": None})
            ids = c.get("token_ids") or []
            text = c.get("text")
            if ids or text:
                acc["token_ids"].extend(ids)
                if text is not None:
                    acc["text"] = acc.get("text", "") + text
                lp = c.get("logprobs")
                if isinstance(lp, dict) and lp.get("content") is not None:
                    have = acc["logprobs"] or {"content": []}
                    have["content"].extend(lp["content"])
                    acc["logprobs"] = have
                out.append(Tokens(list(ids), index, text, lp))
                carried = True
            finish = c.get("finish_reason")
            if finish is not None and acc["finish_reason"] is None:
                acc["finish_reason"], acc["stop_reason"] = finish, c.get("stop_reason")
                out.append(Finish(finish, c.get("stop_reason"), index))
        if carried:
            self.token_chunks += 1
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
            if not choices:
                out.append(UsageEvent(Usage(usage)))
        return out

    def end(self) -> list[GenerateStreamEventType]:
        return [Done()]

    def final(self) -> GenerateResult:
        raw = dict(self._top)
        raw["choices"] = [self._choices[i] for i in sorted(self._choices)]
        raw["usage"] = self._usage
        return GenerateResult(raw)


class GenerateStreamDecoder(_StreamDecoder[GenerateStreamEventType, GenerateResult]):
    """Bytes of a streamed ``generate`` -> :class:`GenerateStreamEvent` events."""

    __slots__ = ()

    def __init__(self, *, max_event_size: int = DEFAULT_MAX_EVENT_SIZE, request_id: str | None = None) -> None:
        super().__init__(GenerateStreamState(), max_event_size=max_event_size, request_id=request_id)


def build_abort(request_ids: Any, options: Mapping[str, Any]) -> RequestSpec:
    """``abort_requests(ids)`` -> ``POST /inference/v1/abort_requests`` (server root)."""
    if isinstance(request_ids, str) or not isinstance(request_ids, (list, tuple)) or not all(
            isinstance(r, str) for r in request_ids):
        raise TypeError("request_ids must be a list of str")
    return build_simple("POST", "/inference/v1/abort_requests", body={"request_ids": list(request_ids)}, root=True,
                        options=options)
