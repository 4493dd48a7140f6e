"""Keyword arguments -> validated requests of the Responses API. Pure.

``ResponsesParams`` lists every field of vLLM 0.32's ``ResponsesRequest`` (OpenAI's fields
and vLLM's extras: ``top_k``, ``min_p``, ``repetition_penalty``, ``structured_outputs``,
``request_id``...), so ``responses.create(**params: Unpack[...])`` is checked by editors and
mypy, and an unknown keyword is a TypeError (with a did-you-mean) before anything is sent.

Conveniences, each a translation vLLM would otherwise reject or ignore:

* ``tools`` takes Responses tool dicts (``{"type": "function", "name": ...}``), chat-style
  ones (``{"type": "function", "function": {...}}``) and ``@tool`` functions: the chat
  shapes are flattened, which vLLM's Responses route requires;
* a named ``tool_choice`` may be given in the chat shape too;
* ``input`` items may be output items of an earlier :class:`Response` (their ``.raw``),
  so a conversation can be kept client-side without the server's store;
* ``background=True`` with ``store=False`` is a ValueError (vLLM's 400 says the same).

The stored-response features (``retrieve``, ``cancel``, ``background``,
``previous_response_id``) need a server started with ``VLLM_ENABLE_RESPONSES_API_STORE=1``
(an integer: ``=true`` fails at startup); without it vLLM ignores ``store=True``, answers
every id with 404 and ``background=True`` with 400.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union
from urllib.parse import quote

from typing_extensions import TypedDict

from .params import CallOptions, Stop
from .requests import RequestSpec, _check_sampling, _integer, _options, body_fields, split_kwargs, tool_specs

__all__ = [
    "RESPONSES_FIELDS",
    "STORE_ENV",
    "ResponsesCreateParams",
    "ResponsesParams",
    "build_cancel",
    "build_create",
    "build_retrieve",
]

STORE_ENV = "VLLM_ENABLE_RESPONSES_API_STORE=1"
"""What ``vllm serve`` needs in its environment for stored responses."""

Input = Union[str, Sequence[Any]]


class ResponsesParams(TypedDict, total=False):
    """Keyword arguments of ``responses.create`` besides ``input`` and ``stream``."""

    model: str | None
    instructions: str | None
    max_output_tokens: int | None
    max_tool_calls: int | None
    metadata: Mapping[str, str] | None
    background: bool | None
    store: bool | None
    previous_response_id: str | None
    include: Sequence[str] | None
    reasoning: Mapping[str, Any] | None
    include_reasoning: bool
    text: Mapping[str, Any] | None
    tools: Sequence[Any] | None
    tool_choice: Union[Literal["none", "auto", "required"], Mapping[str, Any], None]
    parallel_tool_calls: bool | None
    temperature: float | None
    top_p: float | None
    top_logprobs: int | None
    logit_bias: Mapping[str, float] | None
    presence_penalty: float | None
    frequency_penalty: float | None
    truncation: Literal["auto", "disabled"] | None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"]
    user: str | None
    prompt: Mapping[str, Any] | None
    prompt_cache_key: str | None
    # vLLM extras
    top_k: int | None
    min_p: float | None
    repetition_penalty: float | None
    seed: int | None
    stop: Stop
    stop_token_ids: Sequence[int] | None
    ignore_eos: bool
    skip_special_tokens: bool
    include_stop_str_in_output: bool
    structured_outputs: Mapping[str, Any] | None
    request_id: str
    session_id: str | None
    priority: int
    cache_salt: str | None
    chat_template_kwargs: Mapping[str, Any] | None
    media_io_kwargs: Mapping[str, Any] | None
    mm_processor_kwargs: Mapping[str, Any] | None
    mm_payload: Literal["tensors", "none"]
    return_mm_kwargs: bool | None
    enable_response_messages: bool
    previous_input_messages: Sequence[Any] | None
    vllm_xargs: Mapping[str, Any] | None
    kv_transfer_params: Mapping[str, Any] | None
    ec_transfer_params: Mapping[str, Any] | None
    watermarking: bool | None


class ResponsesCreateParams(ResponsesParams, CallOptions, total=False):
    """Every keyword of ``responses.create``."""


RESPONSES_FIELDS = frozenset(ResponsesParams.__annotations__)


def _flat_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A chat-shaped function tool as the Responses API's flat one (other tools as they are)."""
    fn = tool.get("function")
    if tool.get("type") != "function" or not isinstance(fn, Mapping):
        return tool
    flat = {"type": "function", **{k: v for k, v in fn.items() if k in ("name", "description", "parameters", "strict")}}
    return flat


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, Mapping) and choice.get("type") == "function" and isinstance(choice.get("function"), Mapping):
        return {"type": "function", "name": choice["function"].get("name")}
    return choice


def _input_item(i: int, item: Any) -> Any:
    if isinstance(item, Mapping):
        return item if isinstance(item, dict) else dict(item)
    raw = getattr(item, "raw", None)
    if isinstance(raw, dict):
        return raw  # an output item of an earlier Response (or a chat Message)
    to_dict = getattr(item, "to_param", None) or getattr(item, "model_dump", None)
    if to_dict is None:
        raise TypeError(f"input[{i}] must be an input item dict, got {type(item).__name__}")
    return to_dict()


def _check_input(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"input must be a str or a list of input items, got {type(value).__name__}")
    if not value:
        raise ValueError("input must not be an empty list")
    return [_input_item(i, item) for i, item in enumerate(value)]


def _check(params: dict[str, Any]) -> None:
    _check_sampling(params)
    for name in ("max_output_tokens", "max_tool_calls"):
        v = params.get(name)
        if v is not None and _integer(name, v) < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    v = params.get("top_logprobs")
    if v is not None and _integer("top_logprobs", v) < 0:
        raise ValueError(f"top_logprobs must be >= 0, got {v}")
    for name in ("background", "store"):
        v = params.get(name)
        if v is not None and not isinstance(v, bool):
            raise TypeError(f"{name} must be a bool, got {v!r}")
    if params.get("background") and params.get("store") is False:
        raise ValueError("background=True needs store=True (the default): vLLM keeps background responses "
                         f"in its store (and the server needs {STORE_ENV})")
    rid = params.get("previous_response_id")
    if rid is not None and (not isinstance(rid, str) or not rid):
        raise TypeError(f"previous_response_id must be a response id (str), got {rid!r}")


def build_create(input: Any, kwargs: Mapping[str, Any], *, stream: bool) -> RequestSpec:
    """``responses.create`` arguments -> RequestSpec for ``POST /responses``."""
    if not isinstance(stream, bool):
        raise TypeError(f"stream must be a bool, got {stream!r}")
    params, options = split_kwargs("create", kwargs, RESPONSES_FIELDS)
    _check(params)
    tools = params.get("tools")
    if tools is not None:
        params["tools"] = [_flat_tool(t) for t in tool_specs(tools)]
    if params.get("tool_choice") is not None:
        params["tool_choice"] = _tool_choice(params["tool_choice"])
    body = body_fields(params)
    body["input"] = _check_input(input)
    if stream:
        body["stream"] = True
    spec = _options(options, RequestSpec("POST", "/responses", body=body, stream=stream))
    spec.needs_model = spec.body is not None and "model" not in spec.body
    return spec


def _id_path(response_id: Any, suffix: str = "") -> str:
    if not isinstance(response_id, str) or not response_id:
        raise TypeError(f"response_id must be a non-empty str, got {response_id!r}")
    return f"/responses/{quote(response_id, safe='')}{suffix}"


def build_retrieve(response_id: Any, options: Mapping[str, Any], *, stream: bool,
                   starting_after: int | None) -> RequestSpec:
    """``GET /responses/{id}`` (``?stream=true&starting_after=N`` to replay a background stream)."""
    if not isinstance(stream, bool):
        raise TypeError(f"stream must be a bool, got {stream!r}")
    if starting_after is not None:
        if not stream:
            raise ValueError("starting_after needs stream=True (it says where a replayed stream resumes)")
        if _integer("starting_after", starting_after) < -1:
            raise ValueError(f"starting_after must be a sequence number (>= -1), got {starting_after}")
    _, opts = split_kwargs("retrieve", options, frozenset())
    spec = _options(opts, RequestSpec("GET", _id_path(response_id), stream=stream))
    if stream:
        query = dict(spec.query or {})
        query["stream"] = "true"
        if starting_after is not None:
            query["starting_after"] = str(starting_after)
        spec.query = query
    return spec


def build_cancel(response_id: Any, options: Mapping[str, Any]) -> RequestSpec:
    """``POST /responses/{id}/cancel``."""
    _, opts = split_kwargs("cancel", options, frozenset())
    return _options(opts, RequestSpec("POST", _id_path(response_id, "/cancel")))
