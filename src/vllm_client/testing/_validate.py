"""Request checks that answer with the very errors vLLM 0.32 sends (the err_*, tools_error_*,
so_error_* and embed_* captures; tests/emulator/test_replay_captures.py replays them all).

vLLM rejects a request in stages, and so do we, in the same order:

1. FastAPI decodes the body (`parse_body`): wrong content type, empty body, bad JSON.
2. pydantic validates it against the endpoint's request model (`check_fields`): required
   fields and field types, each error a repr line in a "N validation errors" message, type
   "Bad Request", `param` the first error's location ("body.messages").
3. vLLM's own checks (type "BadRequestError", most messages ending "(parameter=...)"):
   the model name, tools and tool_choice against the server's tool parser, structured
   outputs, the chat template, the context length, the sampling parameters.

Each endpoint's stage-3 checks are a tuple of functions (`CHAT_CHECKS`, ...) run in order;
each returns the first `Problem` (status, body) it finds, or None. On the happy path they
are a few dict lookups per request: the emulator is also a benchmark target.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from . import _shapes as shapes

Problem = tuple[int, dict[str, Any]]

MAX_LOGPROBS = 20


@dataclass(frozen=True)
class Facts:
    """What the checks need to know about the server: its flags, as `vllm serve` got them."""

    served: Sequence[str]  # every name a request may use: base models, then LoRA adapters
    max_model_len: int
    tool_parser: str | None = None
    bases: Sequence[str] = ()  # the base models alone (an unknown model's message lists them); () = served


Check = Callable[[dict[str, Any], Facts], "Problem | None"]


def bad_request(message: str, param: str | None = None) -> Problem:
    """A stage-3 rejection: `{"error": {"message", "type": "BadRequestError", ...}}`."""
    return 400, shapes.error_body(message, "BadRequestError", param, 400)


def _invalid(param: str) -> str:
    return f" (parameter={param})"


# --- stage 1: the body --------------------------------------------------------------------------


def parse_body(content_type: str | None, body: bytes) -> tuple[Any, Problem | None]:
    """Decode a JSON body as FastAPI does, with its error for each way it can fail."""
    if content_type is not None and "application/json" not in content_type.lower():
        msg = "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed"
        return None, (400, shapes.error_body(msg, "Bad Request", None, 400))
    if not body.strip():
        return None, _pydantic([_error("missing", "body", "Field required", None)])
    try:
        return orjson.loads(body), None
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body), None  # the stdlib gives the position and wording FastAPI reports
    except json.JSONDecodeError as exc:
        err = _error("json_invalid", f"body.{exc.pos}", "JSON decode error", {}, error=exc.msg)
    except UnicodeDecodeError:
        err = _error("json_invalid", "body.0", "JSON decode error", {}, error="Invalid UTF-8")
    return None, _pydantic([err])


# --- stage 2: pydantic ---------------------------------------------------------------------------


def _error(kind: str, loc: str, msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    err: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg, "input": shapes.input_repr(value)}
    if ctx:
        err["ctx"] = ctx
    return err


def _pydantic(errors: list[dict[str, Any]]) -> Problem:
    return 400, shapes.validation_error(errors)


def missing(body: Any, fields: Sequence[str]) -> Problem:
    """pydantic's "Field required" for each of `fields` (a request union reports one per member)."""
    return _pydantic([_error("missing", f"body.{f}", "Field required", body) for f in fields])


def invalid(field: str, kind: str, msg: str, value: Any, **ctx: Any) -> Problem:
    """One pydantic error for `field` ("" for the body itself)."""
    return _pydantic([_error(kind, f"body.{field}" if field else "body", msg, value, **ctx)])


def _is_int(v: Any) -> bool:
    return type(v) is int


@dataclass(frozen=True)
class _Kind:
    """A field type: the JSON types it takes (`element`: of a list's items too) and the
    pydantic errors a value of another type gets."""

    types: frozenset[type]
    errors: tuple[tuple[str, str], ...]
    element: type | None = None

    def accepts(self, value: Any) -> bool:
        t = type(value)  # exact types: a bool is not an int here, as in pydantic
        if t not in self.types:
            return False
        return self.element is None or t is not list or all(type(x) is self.element for x in value)


_LIST_ERROR = ("list_type", "Input should be a valid list")
_KINDS: dict[str, _Kind] = {
    "int": _Kind(frozenset((int,)), (("int_type", "Input should be a valid integer"),)),
    "number": _Kind(frozenset((int, float)), (("float_type", "Input should be a valid number"),)),
    "bool": _Kind(frozenset((bool,)), (("bool_type", "Input should be a valid boolean"),)),
    "list": _Kind(frozenset((list,)), (_LIST_ERROR,)),
    "str|list[str]": _Kind(
        frozenset((str, list)), (("string_type", "Input should be a valid string"), _LIST_ERROR), str
    ),
    "list[int]": _Kind(frozenset((list,)), (_LIST_ERROR,), int),
}

_SAMPLING_FIELDS = {
    "max_tokens": "int",
    "n": "int",
    "presence_penalty": "number",
    "frequency_penalty": "number",
    "seed": "int",
    "stop": "str|list[str]",
    "stream": "bool",
    "temperature": "number",
    "top_p": "number",
    "top_k": "int",
    "min_p": "number",
    "repetition_penalty": "number",
    "ignore_eos": "bool",
    "min_tokens": "int",
    "stop_token_ids": "list[int]",
    "include_stop_str_in_output": "bool",
    "return_token_ids": "bool",
}

# Per endpoint: the required fields and the typed fields, in the request model's field order
# (pydantic reports errors in that order).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "chat": ("messages",),
    "completion": (),
    "responses": ("input",),
    "detokenize": ("tokens",),
}
_FIELDS: dict[str, dict[str, str]] = {
    "chat": {"messages": "list", "max_completion_tokens": "int", **_SAMPLING_FIELDS, "echo": "bool"},
    "completion": {**_SAMPLING_FIELDS, "echo": "bool"},
    "responses": {"max_output_tokens": "int", "stream": "bool", "temperature": "number", "top_p": "number"},
    "detokenize": {"tokens": "list[int]"},
}


# Per endpoint, field -> kind, and field -> the JSON types that need no closer look (a
# list-typed field's items do): a dict lookup and a set test per body key on the happy path.
_FIELD_CHECKS = {endpoint: {k: _KINDS[kind] for k, kind in fields.items()} for endpoint, fields in _FIELDS.items()}
_PLAIN_TYPES = {
    endpoint: {k: kind.types if kind.element is None else kind.types - {list} for k, kind in checks.items()}
    for endpoint, checks in _FIELD_CHECKS.items()
}
_ANY_TYPE: frozenset[type] = frozenset((type(None), dict, list, str, int, float, bool))


def check_fields(body: Any, endpoint: str) -> Problem | None:
    """The pydantic stage for `endpoint` ("chat", "completion", "responses", "detokenize")."""
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return _pydantic([_error("model_attributes_type", "body", msg, body)])
    errors = [_error("missing", f"body.{f}", "Field required", body) for f in _REQUIRED[endpoint] if f not in body]
    plain, fields = _PLAIN_TYPES[endpoint], _FIELD_CHECKS[endpoint]
    wrong = [
        k
        for k, v in body.items()
        if v is not None and type(v) not in plain.get(k, _ANY_TYPE) and not fields[k].accepts(v)
    ]
    if wrong:  # reported in field order, like pydantic
        order = list(fields)
        for key in sorted(wrong, key=order.index):
            errors.extend(_error(t, f"body.{key}", msg, body[key]) for t, msg in fields[key].errors)
    return _pydantic(errors) if errors else None


def check_required_any(body: Any, fields: Sequence[str]) -> Problem | None:
    """Request unions (`/tokenize`: prompt or messages): each member reports its missing field."""
    if isinstance(body, dict) and any(f in body for f in fields):
        return None
    return missing(body, fields)


# --- stage 3: vLLM's checks ------------------------------------------------------------------------


def check_model(body: dict[str, Any], facts: Facts) -> Problem | None:
    model = body.get("model")
    if model is None or model in facts.served:
        return None
    msg = f"The model `{model}` does not exist. Valid aliases: {', '.join(facts.bases or facts.served)}."
    return 404, shapes.error_body(msg, "NotFoundError", "model", 404)


def check_messages(body: dict[str, Any], facts: Facts) -> Problem | None:
    """The chat template refuses an empty conversation (transformers' ValueError)."""
    if body["messages"]:
        return None
    return bad_request("Cannot apply chat template to an empty conversation. Provide at least one message.")


def tool_choice_of(body: dict[str, Any]) -> Any:
    """`tool_choice` as vLLM defaults it: "auto" when tools are given, else "none"."""
    choice = body.get("tool_choice")
    if choice is None:
        return "auto" if body.get("tools") else "none"
    return choice


def check_tools(body: dict[str, Any], facts: Facts) -> Problem | None:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if tools is None and choice is None:
        return None
    if isinstance(tools, list) and not tools:
        return bad_request(
            "`tools` must not be an empty array. Either provide at least one tool or omit the field entirely."
            + _invalid("tools"),
            "tools",
        )
    if choice is not None and choice != "none" and not tools:
        return bad_request("When using `tool_choice`, `tools` must be set." + _invalid("tool_choice"), "tool_choice")
    name = None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        names = [(t.get("function") or {}).get("name") for t in tools or () if isinstance(t, dict)]
        if name not in names:
            return bad_request(
                "The tool specified in `tool_choice` does not match any of the specified `tools`"
                + _invalid("tool_choice"),
                "tool_choice",
            )
    if facts.tool_parser is None and tools:
        choice = tool_choice_of(body)
        if choice == "auto":
            return bad_request('"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set')
        if choice == "required":
            return bad_request('tool_choice="required" requires --tool-call-parser to be set')
        if name is not None:
            return bad_request(f'tool_choice=function "{name}" requires --tool-call-parser to be set')
    return None


_CONSTRAINTS = ("json", "regex", "choice", "grammar", "json_object", "structural_tag")


def check_structured_outputs(body: dict[str, Any], facts: Facts) -> Problem | None:
    so = body.get("structured_outputs")
    if isinstance(so, dict) and len(so) > 1 and sum(so.get(k) is not None for k in _CONSTRAINTS) > 1:
        return bad_request(
            "You can only use one kind of constraints for structured outputs ('json', 'regex' or 'choice')."
        )
    return None


def check_suffix(body: dict[str, Any], facts: Facts) -> Problem | None:
    if body.get("suffix") is None:
        return None
    return bad_request("suffix is only supported for models with FIM completion rendering", "suffix")


def check_prompt_length(prompt_tokens: int, facts: Facts) -> Problem | None:
    """vLLM tokenizes at most one token past the context, so it reports "at least" that many."""
    if prompt_tokens < facts.max_model_len:
        return None
    n = min(prompt_tokens, facts.max_model_len + 1)
    return bad_request(
        f"This model's maximum context length is {facts.max_model_len} tokens. However, your prompt contains "
        f"at least {n} input tokens, which exceeds this limit even without any output tokens. Please reduce "
        f"the length of the input prompt. (parameter=input_tokens, value={n})",
        "input_tokens",
    )


def check_sampling(body: dict[str, Any], facts: Facts) -> Problem | None:
    """SamplingParams' checks, in the order vLLM runs them."""
    n = body.get("n")
    if n is not None and n < 1:
        return bad_request(f"n must be at least 1, got {n}.")
    temperature = body.get("temperature")
    if temperature is not None and temperature < 0:
        t = float(temperature)
        return bad_request(
            f"temperature must be non-negative, got {t!r}." + _invalid(f"temperature, value={t!r}"), "temperature"
        )
    top_p = body.get("top_p")
    if top_p is not None and not 0 < top_p <= 1:
        p = float(top_p)
        return bad_request(f"top_p must be in (0, 1], got {p!r}." + _invalid(f"top_p, value={p!r}"), "top_p")
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if value < 1:
            return bad_request(
                f"max_tokens must be at least 1, got {value}." + _invalid(f"max_tokens, value={value}"), "max_tokens"
            )
        if value > facts.max_model_len:
            return bad_request(
                f"max_tokens={value} cannot be greater than max_model_len={facts.max_model_len}. Please request "
                f"fewer output tokens." + _invalid(f"max_tokens, value={value}"),
                "max_tokens",
            )
    return None


def check_chat_logprobs(body: dict[str, Any], facts: Facts) -> Problem | None:
    top = body.get("top_logprobs")
    if top is None:
        return None
    if not body.get("logprobs"):
        return bad_request(
            "when using `top_logprobs`, `logprobs` must be set to true." + _invalid("top_logprobs"), "top_logprobs"
        )
    return _logprobs_limit(top)


def check_completion_logprobs(body: dict[str, Any], facts: Facts) -> Problem | None:
    lp = body.get("logprobs")
    return None if lp is None else _logprobs_limit(lp)


def _logprobs_limit(value: Any) -> Problem | None:
    if _is_int(value) and 0 <= value <= MAX_LOGPROBS:
        return None
    return bad_request(
        f"Requested sample logprobs of {value}, which is greater than max allowed: {MAX_LOGPROBS}"
        + _invalid(f"logprobs, value={value}"),
        "logprobs",
    )


# --- structured outputs the grammar compiler (xgrammar) rejects -------------------------------------

_JSON_TYPES = frozenset(("string", "number", "integer", "boolean", "object", "array", "null"))


def check_grammar(body: dict[str, Any], facts: Facts) -> Problem | None:
    """What xgrammar refuses when it compiles the constraint (after every other check)."""
    if "structured_outputs" not in body and "response_format" not in body:
        return None
    so = body.get("structured_outputs")
    schema: Any = None
    if isinstance(so, dict):
        regex = so.get("regex")
        if isinstance(regex, str):
            problem = _regex_problem(regex)
            if problem is not None:
                return _grammar_error("regex", 83, problem)
        schema = so.get("json")
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema" and isinstance(rf.get("json_schema"), dict):
        schema = rf["json_schema"].get("schema")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError:
            schema = None
    bad_type = _unsupported_type(schema)
    if bad_type is not None:
        return _grammar_error("json schema", 4944, f'Unsupported type "{bad_type}"')
    return None


def _grammar_error(what: str, line: int, problem: str) -> Problem:
    stamp = time.strftime("%H:%M:%S")
    return bad_request(f"Failed to transform {what} into a grammar: [{stamp}] <path>:{line}: {problem}")


def _regex_problem(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        if "missing )" in exc.msg:
            return f"Regex parsing error at position {len(pattern) + 1}: The parenthesis is not closed."
        return f"Regex parsing error at position {(exc.pos or 0) + 1}: {exc.msg}"
    return None


def _unsupported_type(schema: Any, depth: int = 0) -> str | None:
    if not isinstance(schema, dict) or depth > 16:
        return None
    types = schema.get("type")
    for t in types if isinstance(types, list) else [types]:
        if isinstance(t, str) and t not in _JSON_TYPES:
            return t
    children = [*(schema.get("properties") or {}).values(), schema.get("items")]
    for key in ("anyOf", "oneOf", "allOf"):
        children.extend(schema.get(key) or ())
    for child in children:
        found = _unsupported_type(child, depth + 1)
        if found is not None:
            return found
    return None


# --- the pipelines -----------------------------------------------------------------------------------

# Before the prompt is rendered and counted.
CHAT_CHECKS: tuple[Check, ...] = (
    check_model,
    check_chat_logprobs,
    check_tools,
    check_structured_outputs,
    check_messages,
)
COMPLETION_CHECKS: tuple[Check, ...] = (check_model, check_completion_logprobs, check_suffix, check_structured_outputs)
RESPONSES_CHECKS: tuple[Check, ...] = (check_model, check_structured_outputs)
# After the prompt length check.
GENERATION_CHECKS: tuple[Check, ...] = (check_sampling, check_grammar)


def run(checks: Sequence[Check], body: dict[str, Any], facts: Facts) -> Problem | None:
    for check in checks:
        problem = check(body, facts)
        if problem is not None:
            return problem
    return None
