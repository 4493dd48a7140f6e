"""Request checks that answer with the very errors vLLM 0.32 sends (see err_*.json).

vLLM rejects a request in two stages: FastAPI/pydantic validation of the body
(type "Bad Request", a repr of each pydantic error in the message), then its own
checks (type "BadRequestError", a "(parameter=..., value=...)" suffix). Each check
here returns `(status, body)` for the first problem, or None.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from . import _shapes as shapes

Problem = tuple[int, dict[str, Any]]

MAX_LOGPROBS = 20


def parse_body(content_type: str | None, body: bytes) -> tuple[Any, Problem | None]:
    """Decode a JSON body as FastAPI does, with its error for each way it can fail."""
    if content_type is not None and "application/json" not in content_type.lower():
        msg = "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed"
        return None, (400, shapes.error_body(msg, "Bad Request", None, 400))
    if not body.strip():
        missing = {"type": "missing", "loc": "body", "msg": "Field required", "input": "None"}
        return None, (400, shapes.validation_error([missing]))
    try:
        return orjson.loads(body), None
    except orjson.JSONDecodeError:
        pass
    try:
        value = json.loads(body)  # the stdlib gives the position and wording FastAPI reports
        return value, None
    except json.JSONDecodeError as exc:
        err: dict[str, Any] = {
            "type": "json_invalid",
            "loc": f"body.{exc.pos}",
            "msg": "JSON decode error",
            "input": "<dict of 0 items>",
            "ctx": {"error": exc.msg},
        }
        return None, (400, shapes.validation_error([err]))
    except UnicodeDecodeError:
        err2: dict[str, Any] = {
            "type": "json_invalid",
            "loc": "body.0",
            "msg": "JSON decode error",
            "input": "<dict of 0 items>",
            "ctx": {"error": "Invalid UTF-8"},
        }
        return None, (400, shapes.validation_error([err2]))


def _bad(message: str, param: str | None) -> Problem:
    return 400, shapes.error_body(message, "BadRequestError", param, 400)


_INT_FIELDS = ("max_tokens", "max_completion_tokens", "n", "seed", "top_k", "min_tokens")
_NUM_FIELDS = ("temperature", "top_p", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty")
_BOOL_FIELDS = ("stream", "echo", "ignore_eos", "include_stop_str_in_output", "return_token_ids")


def check_types(body: dict[str, Any], chat: bool) -> Problem | None:
    """The pydantic stage: field presence and types."""
    errors: list[dict[str, Any]] = []
    if chat:
        if "messages" not in body:
            errors.append(
                {
                    "type": "missing",
                    "loc": "body.messages",
                    "msg": "Field required",
                    "input": shapes.input_repr(body),
                }
            )
        elif not isinstance(body["messages"], list):
            errors.append(
                {
                    "type": "list_type",
                    "loc": "body.messages",
                    "msg": "Input should be a valid list",
                    "input": shapes.input_repr(body["messages"]),
                }
            )
    for key in _INT_FIELDS:
        v = body.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            errors.append(
                {
                    "type": "int_type",
                    "loc": f"body.{key}",
                    "msg": "Input should be a valid integer",
                    "input": shapes.input_repr(v),
                }
            )
    for key in _NUM_FIELDS:
        v = body.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            errors.append(
                {
                    "type": "float_type",
                    "loc": f"body.{key}",
                    "msg": "Input should be a valid number",
                    "input": shapes.input_repr(v),
                }
            )
    for key in _BOOL_FIELDS:
        v = body.get(key)
        if v is not None and not isinstance(v, bool):
            errors.append(
                {
                    "type": "bool_type",
                    "loc": f"body.{key}",
                    "msg": "Input should be a valid boolean",
                    "input": shapes.input_repr(v),
                }
            )
    stop = body.get("stop")
    if (
        stop is not None
        and not isinstance(stop, str)
        and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        errors.append(
            {
                "type": "string_type",
                "loc": "body.stop",
                "msg": "Input should be a valid string",
                "input": shapes.input_repr(stop),
            }
        )
        errors.append(
            {
                "type": "list_type",
                "loc": "body.stop",
                "msg": "Input should be a valid list",
                "input": shapes.input_repr(stop),
            }
        )
    ids = body.get("stop_token_ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, int) for i in ids)):
        errors.append(
            {
                "type": "list_type",
                "loc": "body.stop_token_ids",
                "msg": "Input should be a valid list",
                "input": shapes.input_repr(ids),
            }
        )
    return (400, shapes.validation_error(errors)) if errors else None


def check_model(body: dict[str, Any], served: Sequence[str]) -> Problem | None:
    model = body.get("model")
    if model is None or model in served:
        return None
    msg = f"The model `{model}` does not exist. Valid aliases: {', '.join(served)}."
    return 404, shapes.error_body(msg, "NotFoundError", "model", 404)


def check_tools(body: dict[str, Any]) -> Problem | None:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if tools is not None and isinstance(tools, list) and not tools:
        return _bad(
            "`tools` must not be an empty array. Either provide at least one tool or omit "
            "the field entirely. (parameter=tools)",
            "tools",
        )
    if choice is not None and choice != "none" and not tools:
        return _bad("When using `tool_choice`, `tools` must be set. (parameter=tool_choice)", "tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        names = [(t.get("function") or {}).get("name") for t in tools or [] if isinstance(t, dict)]
        if name not in names:
            return _bad(
                "The tool specified in `tool_choice` does not match any of the specified `tools` "
                "(parameter=tool_choice)",
                "tool_choice",
            )
    return None


def check_sampling(body: dict[str, Any], chat: bool, max_model_len: int, prompt_tokens: int) -> Problem | None:
    """vLLM's own checks, in the order it runs them."""
    if prompt_tokens >= max_model_len:
        return _bad(
            f"This model's maximum context length is {max_model_len} tokens. However, your prompt contains "
            f"at least {prompt_tokens} input tokens, which exceeds this limit even without any output "
            f"tokens. Please reduce the length of the input prompt. "
            f"(parameter=input_tokens, value={prompt_tokens})",
            "input_tokens",
        )
    n = body.get("n")
    if n is not None and n < 1:
        return _bad(f"n must be at least 1, got {n}.", None)
    temperature = body.get("temperature")
    if temperature is not None and temperature < 0:
        return _bad(
            f"temperature must be non-negative, got {float(temperature)!r}. "
            f"(parameter=temperature, value={float(temperature)!r})",
            "temperature",
        )
    top_p = body.get("top_p")
    if top_p is not None and not 0 < top_p <= 1:
        return _bad(
            f"top_p must be in (0, 1], got {float(top_p)!r}. (parameter=top_p, value={float(top_p)!r})",
            "top_p",
        )
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if value < 1:
            return _bad(
                f"max_tokens must be at least 1, got {value}. (parameter=max_tokens, value={value})",
                "max_tokens",
            )
        if value > max_model_len:
            return _bad(
                f"max_tokens={value} cannot be greater than max_model_len={max_model_len}. Please "
                f"request fewer output tokens. (parameter=max_tokens, value={value})",
                "max_tokens",
            )
    if chat:
        top = body.get("top_logprobs")
        if top is not None and not body.get("logprobs"):
            return _bad(
                "when using `top_logprobs`, `logprobs` must be set to true. (parameter=top_logprobs)",
                "top_logprobs",
            )
        if top is not None and (not isinstance(top, int) or top > MAX_LOGPROBS or top < 0):
            return _logprobs_problem(top)
    else:
        lp = body.get("logprobs")
        if lp is not None and (isinstance(lp, bool) or not isinstance(lp, int) or lp > MAX_LOGPROBS or lp < 0):
            return _logprobs_problem(lp)
    return None


def _logprobs_problem(value: Any) -> Problem:
    return _bad(
        f"Requested sample logprobs of {value}, which is greater than max allowed: {MAX_LOGPROBS} "
        f"(parameter=logprobs, value={value})",
        "logprobs",
    )
