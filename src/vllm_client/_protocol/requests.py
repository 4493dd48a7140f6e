"""Keyword arguments -> a validated request, per endpoint. Pure.

Bad input fails here, before anything is sent: unknown keyword names are a TypeError
(as a misspelt argument of a plain function would be), obviously invalid values a
ValueError. vLLM's removed ``guided_*`` fields are translated to ``structured_outputs``
because vLLM >= 0.11 silently ignores them, which would turn a constrained request into
an unconstrained one without a word.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._config import Timeout
from .params import CHAT_FIELDS, COMPLETION_FIELDS, OPTION_FIELDS

__all__ = [
    "RequestSpec",
    "build_chat",
    "build_completion",
    "build_simple",
    "new_request_id",
    "translate_guided",
]

_GUIDED = {
    "guided_json": "json",
    "guided_regex": "regex",
    "guided_choice": "choice",
    "guided_grammar": "grammar",
    "guided_whitespace_pattern": "whitespace_pattern",
}


@dataclass(slots=True)
class RequestSpec:
    """Everything the I/O shell needs to send one call.

    ``path`` is relative to the base URL (``/chat/completions``) or, with ``root=True``,
    to the server root (``/health``). ``needs_model`` asks the shell to fill ``body["model"]``
    with the served model when the caller gave none.
    """

    method: str
    path: str
    body: dict[str, Any] | None = None
    root: bool = False
    stream: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] | None = None
    timeout: Timeout | None = None
    needs_model: bool = False
    raw_body: bytes | None = None
    files: Any = None


_ID_PREFIX = os.urandom(8).hex()  # (not uuid: its import costs ~1 ms of startup)
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A fresh id for the ``X-Request-Id`` header (vLLM uses it as its request id).

    A random per-process prefix plus a counter: unique across processes and calls, and
    free of the per-call ``os.urandom`` syscall that ``uuid4()`` makes, which measured ~100 us
    per request on a busy machine.
    """
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


def _options(options: Mapping[str, Any], spec: RequestSpec) -> RequestSpec:
    extra_headers = options.get("extra_headers")
    if extra_headers:
        spec.headers.update({str(k): str(v) for k, v in extra_headers.items()})
    extra_query = options.get("extra_query")
    if extra_query:
        spec.query = dict(extra_query)
    if "timeout" in options:
        spec.timeout = Timeout.coerce(options["timeout"])
    extra = options.get("extra_body")
    alias = options.get("extra")
    if extra is not None and alias is not None:
        raise TypeError("pass extra_body or its alias extra, not both")
    extra = extra if extra is not None else alias
    if extra:
        if not isinstance(extra, Mapping):
            raise TypeError("extra_body must be a mapping")
        if spec.body is None:
            spec.body = {}
        spec.body.update(extra)
        translate_guided(spec.body)
    # ``session_id`` (a field of vLLM's chat, completions and responses requests) also goes
    # out as X-Session-ID: what gateways and our session_affinity routing read
    if spec.body and "session_id" in spec.body and spec.body["session_id"] is not None:
        spec.headers["X-Session-ID"] = str(spec.body["session_id"])
    return spec


def split_kwargs(
    method: str, kwargs: Mapping[str, Any], allowed: frozenset[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(request fields, call options); unknown names raise TypeError like a plain function would."""
    params: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in allowed:
            params[key] = value
        elif key in OPTION_FIELDS:
            options[key] = value
        else:
            raise TypeError(f"{method}() got an unexpected keyword argument {key!r}{_did_you_mean(key, allowed)}")
    return params, options


def _did_you_mean(key: str, allowed: frozenset[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, sorted(allowed | OPTION_FIELDS), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def translate_guided(body: dict[str, Any]) -> None:
    """Move removed ``guided_*`` fields into ``structured_outputs`` (in place)."""
    if not any(k in body for k in _GUIDED) and "guided_decoding_backend" not in body:
        return
    so = dict(body.get("structured_outputs") or {})
    for old, new in _GUIDED.items():
        if old in body:
            value = body.pop(old)
            if value is None:
                continue
            if new in so and so[new] != value:
                raise ValueError(f"{old} conflicts with structured_outputs[{new!r}]")
            so[new] = value
    body.pop("guided_decoding_backend", None)  # per-request backends are gone; the server's config decides
    if so:
        body["structured_outputs"] = so


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return value


def _check_sampling(p: Mapping[str, Any]) -> None:
    """ValueError for values vLLM would reject for sure; the server stays the judge of the rest."""
    v = p.get("temperature")
    if v is not None and _number("temperature", v) < 0:
        raise ValueError(f"temperature must be >= 0, got {v}")
    v = p.get("top_p")
    if v is not None and not 0 < _number("top_p", v) <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {v}")
    v = p.get("min_p")
    if v is not None and not 0 <= _number("min_p", v) <= 1:
        raise ValueError(f"min_p must be in [0, 1], got {v}")
    v = p.get("top_k")
    if v is not None and _integer("top_k", v) < -1:
        raise ValueError(f"top_k must be -1 (off), 0 (off) or >= 1, got {v}")
    v = p.get("repetition_penalty")
    if v is not None and _number("repetition_penalty", v) <= 0:
        raise ValueError(f"repetition_penalty must be > 0, got {v}")
    for name in ("presence_penalty", "frequency_penalty"):
        v = p.get(name)
        if v is not None and not -2 <= _number(name, v) <= 2:
            raise ValueError(f"{name} must be in [-2, 2], got {v}")
    v = p.get("n")
    if v is not None and _integer("n", v) < 1:
        raise ValueError(f"n must be >= 1, got {v}")
    for name in ("max_tokens", "max_completion_tokens"):
        v = p.get(name)
        if v is not None and _integer(name, v) < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    v = p.get("min_tokens")
    if v is not None:
        if _integer("min_tokens", v) < 0:
            raise ValueError(f"min_tokens must be >= 0, got {v}")
        cap = p.get("max_tokens") or p.get("max_completion_tokens")
        if cap is not None and v > cap:
            raise ValueError(f"min_tokens ({v}) must not exceed max_tokens ({cap})")
    v = p.get("seed")
    if v is not None:
        _integer("seed", v)
    stop = p.get("stop")
    if stop is not None and not isinstance(stop, str) and (
        not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop)
    ):
        raise TypeError(f"stop must be a str or a list of str, got {stop!r}")
    ids = p.get("stop_token_ids")
    if ids is not None and (not isinstance(ids, (list, tuple)) or not all(isinstance(i, int) for i in ids)):
        raise TypeError(f"stop_token_ids must be a list of int, got {ids!r}")


def body_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments as JSON body fields: ``None`` means "server default" and is left
    out; tuples become lists."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items() if v is not None}


def _body(params: Mapping[str, Any]) -> dict[str, Any]:
    """The generation body: the fields, with removed ``guided_*`` fields translated."""
    body = body_fields(params)
    translate_guided(body)
    return body


def _stream_defaults(body: dict[str, Any], params: Mapping[str, Any], stream: bool) -> None:
    if stream:
        body["stream"] = True
        if "stream_options" not in params:
            body["stream_options"] = {"include_usage": True}
    else:
        body.pop("stream_options", None)


def _check_messages(messages: Any) -> list[Any]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, (list, tuple)):
        raise TypeError(f"messages must be a list of message dicts, got {type(messages).__name__}")
    if not messages:
        raise ValueError("messages must not be empty")
    out: list[Any] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, Mapping):
            to_dict = getattr(msg, "to_param", None) or getattr(msg, "model_dump", None)
            if to_dict is None:
                raise TypeError(f"messages[{i}] must be a dict, got {type(msg).__name__}")
            msg = to_dict()
        if "role" not in msg:
            raise ValueError(f"messages[{i}] has no 'role'")
        out.append(msg if isinstance(msg, dict) else dict(msg))
    return out


def tool_specs(tools: Any) -> list[dict[str, Any]]:
    """``tools=`` as the JSON the server takes: tool dicts as they are, ``@tool`` functions
    (or anything with a ``schema`` dict) as their schema."""
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, (list, tuple)):
        raise TypeError(f"tools must be a list of tool dicts or @tool functions, got {type(tools).__name__}")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(tools):
        if isinstance(item, Mapping):
            out.append(dict(item))
            continue
        schema = getattr(item, "schema", None)
        if not isinstance(schema, Mapping):
            hint = " (decorate it with @vllm_client.tools.tool)" if callable(item) else ""
            raise TypeError(f"tools[{i}] must be a tool dict or a @tool function, got {type(item).__name__}{hint}")
        out.append(dict(schema))
    return out


def build_chat(messages: Any, kwargs: Mapping[str, Any], *, stream: bool) -> RequestSpec:
    """``chat.completions.create`` arguments -> RequestSpec for ``POST /chat/completions``."""
    params, options = split_kwargs("create", kwargs, CHAT_FIELDS)
    _check_sampling(params)
    top = params.get("top_logprobs")
    if top is not None and _integer("top_logprobs", top) < 0:
        raise ValueError(f"top_logprobs must be >= 0, got {top}")
    if top is not None and not params.get("logprobs"):
        raise ValueError("top_logprobs needs logprobs=True")
    rf = params.get("response_format")
    if isinstance(rf, type):
        from .schema import response_format_for

        params["response_format"] = response_format_for(rf)
    tools = params.get("tools")
    if tools is not None:
        params["tools"] = tool_specs(tools)
    body = _body(params)
    body["messages"] = _check_messages(messages)
    _stream_defaults(body, params, stream)
    spec = _options(options, RequestSpec("POST", "/chat/completions", body=body, stream=stream))
    spec.needs_model = "model" not in body
    return spec


def _is_token(t: Any) -> bool:
    return isinstance(t, int) and not isinstance(t, bool) and t >= 0


def _check_prompt(prompt: Any) -> Any:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        if not prompt:
            raise ValueError("prompt must not be empty")
        if all(isinstance(p, str) for p in prompt):
            return list(prompt)
        if all(_is_token(t) for t in prompt):
            return list(prompt)
        if all(isinstance(p, (list, tuple)) and p and all(_is_token(t) for t in p) for p in prompt):
            return [list(p) for p in prompt]
    raise TypeError("prompt must be a str, a list of str, a list of token ids or a list of token-id lists")


def build_completion(prompt: Any, kwargs: Mapping[str, Any], *, stream: bool) -> RequestSpec:
    """``completions.create`` arguments -> RequestSpec for ``POST /completions``."""
    params, options = split_kwargs("create", kwargs, COMPLETION_FIELDS)
    _check_sampling(params)
    lp = params.get("logprobs")
    if lp is not None and _integer("logprobs", lp) < 0:
        raise ValueError(f"logprobs must be >= 0, got {lp}")
    body = _body(params)
    if prompt is None and "prompt_embeds" not in body:
        raise ValueError("prompt is required")
    if prompt is not None:
        body["prompt"] = _check_prompt(prompt)
    _stream_defaults(body, params, stream)
    spec = _options(options, RequestSpec("POST", "/completions", body=body, stream=stream))
    spec.needs_model = "model" not in body
    return spec


def build_simple(
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    root: bool = False,
    options: Mapping[str, Any] | None = None,
    needs_model: bool = False,
) -> RequestSpec:
    """A request for the simpler endpoints (models, health, tokenize...)."""
    spec = RequestSpec(method, path, body=body, root=root, needs_model=needs_model)
    if options:
        for key in options:
            if key not in OPTION_FIELDS:
                raise TypeError(f"unexpected keyword argument {key!r}")
        _options(options, spec)
    return spec
