"""Span and metric attributes from what a call sent and received. Pure: dicts in, dicts out.

Kept apart from the observer so the exact attribute sets are tested without OpenTelemetry
and so that no attribute work happens unless telemetry is on (the observer is the only
caller). Names come from :mod:`.semconv`.

Rules from the conventions (v1.41.1 ``gen-ai-spans.md``): request parameters only when
the request set them; ``gen_ai.request.stream`` only when true; ``choice.count`` only when
not 1; ``max_completion_tokens`` is ``max_tokens``. Token usage comes from the answer's
``usage`` once, never estimated; reasoning tokens are part of the output tokens and get
their own attribute only. Content (messages, instructions, tools) only on request
(:func:`capture_content`), as JSON strings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .._json import dumps
from . import semconv as sc

__all__ = [
    "capture_content",
    "error_attributes",
    "input_content",
    "operation_of",
    "output_content",
    "request_attributes",
    "response_attributes",
    "server_attributes",
]

_SAMPLING = (
    ("temperature", sc.REQUEST_TEMPERATURE, float),
    ("top_p", sc.REQUEST_TOP_P, float),
    ("top_k", sc.REQUEST_TOP_K, float),
    ("frequency_penalty", sc.REQUEST_FREQUENCY_PENALTY, float),
    ("presence_penalty", sc.REQUEST_PRESENCE_PENALTY, float),
    ("seed", sc.REQUEST_SEED, int),
)


def operation_of(path: str) -> str | None:
    """``chat`` / ``text_completion`` / ``embeddings`` for a GenAI endpoint, else None (other
    endpoints get no GenAI span). ``path`` is relative to ``/v1`` or from the server root."""
    if path.startswith("/v1/"):
        path = path[3:]
    return sc.OPERATIONS.get(path)


def server_attributes(base_url: str) -> dict[str, Any]:
    """``server.address`` and ``server.port`` (the scheme's default when the URL has none)."""
    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return {}
    if not host:
        return {}
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return {sc.SERVER_ADDRESS: host, sc.SERVER_PORT: port}


def request_attributes(operation: str, body: Mapping[str, Any] | None, *, stream: bool) -> dict[str, Any]:
    """The attributes known before sending (the sampling-relevant ones among them)."""
    attrs: dict[str, Any] = {sc.OPERATION_NAME: operation, sc.PROVIDER_NAME: sc.PROVIDER}
    if not body:
        return attrs
    model = body.get("model")
    if isinstance(model, str):
        attrs[sc.REQUEST_MODEL] = model
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        attrs[sc.REQUEST_MAX_TOKENS] = max_tokens
    for field, name, kind in _SAMPLING:
        value = body.get(field)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[name] = kind(value)
    stop = body.get("stop")
    if isinstance(stop, str):
        attrs[sc.REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
        attrs[sc.REQUEST_STOP_SEQUENCES] = list(stop)
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n != 1:
        attrs[sc.REQUEST_CHOICE_COUNT] = n
    if stream:
        attrs[sc.REQUEST_STREAM] = True
    output = _output_type(body)
    if output is not None:
        attrs[sc.OUTPUT_TYPE] = output
    encoding = body.get("encoding_format")
    if isinstance(encoding, str):
        attrs[sc.REQUEST_ENCODING_FORMATS] = [encoding]
    return attrs


def _output_type(body: Mapping[str, Any]) -> str | None:
    fmt = body.get("response_format")
    if isinstance(fmt, Mapping):
        kind = fmt.get("type")
        if kind in ("json_schema", "json_object", "structural_tag"):
            return "json"
        if kind == "text":
            return "text"
    structured = body.get("structured_outputs")
    if isinstance(structured, Mapping) and ("json" in structured or "json_object" in structured):
        return "json"
    return None


def response_attributes(data: Any) -> dict[str, Any]:
    """From the answer's JSON (or a stream's assembled answer): id, model, finish reasons, usage."""
    attrs: dict[str, Any] = {}
    if not isinstance(data, Mapping):
        return attrs
    rid = data.get("id")
    if isinstance(rid, str):
        attrs[sc.RESPONSE_ID] = rid
    model = data.get("model")
    if isinstance(model, str):
        attrs[sc.RESPONSE_MODEL] = model
    choices = data.get("choices")
    if isinstance(choices, list):
        reasons = [str(c.get("finish_reason")) for c in choices
                   if isinstance(c, Mapping) and c.get("finish_reason") is not None]
        if reasons:
            attrs[sc.RESPONSE_FINISH_REASONS] = reasons
    attrs.update(usage_attributes(data.get("usage")))
    return attrs


def usage_attributes(usage: Any) -> dict[str, Any]:
    """Token counts from a ``usage`` object; nothing for what it does not say."""
    attrs: dict[str, Any] = {}
    if not isinstance(usage, Mapping):
        return attrs
    prompt = usage.get("prompt_tokens")
    if isinstance(prompt, int):
        attrs[sc.USAGE_INPUT_TOKENS] = prompt
    completion = usage.get("completion_tokens")
    if isinstance(completion, int):
        attrs[sc.USAGE_OUTPUT_TOKENS] = completion
    details = usage.get("prompt_tokens_details")
    if isinstance(details, Mapping) and isinstance(details.get("cached_tokens"), int):
        attrs[sc.USAGE_CACHE_READ_INPUT_TOKENS] = details["cached_tokens"]
    details = usage.get("completion_tokens_details")
    if isinstance(details, Mapping) and isinstance(details.get("reasoning_tokens"), int):
        attrs[sc.USAGE_REASONING_OUTPUT_TOKENS] = details["reasoning_tokens"]
    return attrs


def error_attributes(error: BaseException) -> dict[str, Any]:
    """``error.type``: the exception class's qualified name (``_OTHER`` if it has none);
    HTTP errors add ``http.response.status_code``."""
    name = getattr(type(error), "__qualname__", None) or sc.ERROR_OTHER
    attrs: dict[str, Any] = {sc.ERROR_TYPE: name}
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        attrs[sc.HTTP_STATUS_CODE] = status
    return attrs


# -- opt-in content ------------------------------------------------------------------------------
def capture_content(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for content on spans
    (``span_only`` / ``span_and_event``; legacy ``true``). Default: no content."""
    value = (env if env is not None else os.environ).get(sc.CAPTURE_CONTENT_ENV, "")
    return value.strip().lower() in sc.CAPTURE_ON_SPAN


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                parts.append({"type": "text", "content": part.get("text", "")})
            elif isinstance(part, Mapping):
                parts.append({"type": str(part.get("type", "unknown"))})  # media: the kind, not the bytes
    return parts


def _message(msg: Mapping[str, Any]) -> dict[str, Any]:
    parts = _parts(msg.get("content"))
    reasoning = msg.get("reasoning") or msg.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        parts.insert(0, {"type": "reasoning", "content": reasoning})
    for call in msg.get("tool_calls") or ():
        if isinstance(call, Mapping):
            fn = call.get("function") or {}
            parts.append({"type": "tool_call", "id": call.get("id"), "name": fn.get("name"),
                          "arguments": fn.get("arguments")})
    if msg.get("role") == "tool":
        parts = [{"type": "tool_call_response", "id": msg.get("tool_call_id"), "response": msg.get("content")}]
    return {"role": str(msg.get("role", "user")), "parts": parts}


def input_content(body: Mapping[str, Any] | None) -> dict[str, str]:
    """``gen_ai.input.messages`` / ``system_instructions`` / ``tool.definitions`` as JSON strings."""
    attrs: dict[str, str] = {}
    if not body:
        return attrs
    messages = body.get("messages")
    if isinstance(messages, list):
        system = [p for m in messages if isinstance(m, Mapping) and m.get("role") in ("system", "developer")
                  for p in _parts(m.get("content"))]
        rest = [_message(m) for m in messages
                if isinstance(m, Mapping) and m.get("role") not in ("system", "developer")]
        if system:
            attrs[sc.SYSTEM_INSTRUCTIONS] = dumps(system).decode()
        attrs[sc.INPUT_MESSAGES] = dumps(rest).decode()
    elif "prompt" in body:
        prompt = body["prompt"]
        prompts = prompt if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt) else [prompt]
        attrs[sc.INPUT_MESSAGES] = dumps([{"role": "user", "parts": [{"type": "text", "content": p}]}
                                          for p in prompts]).decode()
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        attrs[sc.TOOL_DEFINITIONS] = dumps(tools).decode()
    return attrs


def output_content(data: Any) -> dict[str, str]:
    """``gen_ai.output.messages`` from the answer's choices (chat or text completion)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("choices"), list):
        return {}
    out = []
    for choice in data["choices"]:
        if not isinstance(choice, Mapping):
            continue
        if isinstance(choice.get("message"), Mapping):
            msg = _message(choice["message"])
            msg["role"] = "assistant"
        else:
            msg = {"role": "assistant", "parts": _parts(choice.get("text", ""))}
        msg["finish_reason"] = choice.get("finish_reason") or "error"
        out.append(msg)
    return {sc.OUTPUT_MESSAGES: dumps(out).decode()}
