"""The Responses API (`POST /v1/responses`) as vLLM 0.32 serves it (the responses_* captures).

vLLM answers a Responses request with its chat machinery, and so do we: the request becomes
a chat body (`to_chat_body`), the chat `Plan` of its one choice is built as usual, and this
module renders it as a Response object or as the typed event stream (`event: <type>` +
`data: {...}`, numbered by `sequence_number`, no `[DONE]`). Output items come in the order
reasoning, message, function calls. Key order follows the captures.

Stored responses (vLLM's `VLLM_ENABLE_RESPONSES_API_STORE=1`: background runs, retrieve,
cancel, `previous_response_id`) live in `_responses_store`; without the store, retrieving or
cancelling a response by id answers 404 (responses_get_by_id.json).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from . import _endpoints as ep
from . import _shapes as shapes

__all__ = ["history_messages", "not_found", "queued_json", "response_json", "stream_and_final", "stream_events",
           "to_chat_body"]


def not_found(response_id: str) -> dict[str, Any]:
    message = f"Response with id '{response_id}' not found."
    return shapes.error_body(message, "invalid_request_error", "response_id", 404)


# --- request -------------------------------------------------------------------------------------

_PASSED_ON = ("model", "temperature", "top_p", "seed", "stream", "structured_outputs", "logit_bias", "stop",
              "top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty", "ignore_eos",
              "chat_template_kwargs", "include_reasoning")


def _text_of(content: Any) -> Any:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str):
        messages.append({"role": "system", "content": body["instructions"]})
    items = body.get("input")
    if isinstance(items, str):
        return [*messages, {"role": "user", "content": items}]
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            messages.append({"role": item.get("role", "user"), "content": _text_of(item.get("content"))})
        elif kind == "function_call":
            call = shapes.tool_call_obj(str(item.get("call_id")), str(item.get("name")), str(item.get("arguments")))
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = _text_of(item.get("output"))
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": output})
    return messages


def to_chat_body(body: dict[str, Any], tool_parser: str | None,
                 history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The chat request vLLM runs for a Responses request (after `history`, the messages of
    the `previous_response_id` conversation). Without a tool parser the tools only reach
    the prompt: no call is forced or parsed (responses_tools_required.json)."""
    chat: dict[str, Any] = {k: body[k] for k in _PASSED_ON if k in body}
    messages = _messages(body)
    if history:  # after this request's instructions, before its input (vLLM's construct_input_messages)
        at = 1 if isinstance(body.get("instructions"), str) else 0
        messages[at:at] = history
    chat["messages"] = messages
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and t.get("type") == "function"]
    if tools and tool_parser is not None:
        keys = ("name", "description", "parameters", "strict")
        chat["tools"] = [{"type": "function", "function": {k: t[k] for k in keys if k in t}} for t in tools]
        choice = body.get("tool_choice", "auto")
        if isinstance(choice, dict) and choice.get("type") == "function":
            choice = {"type": "function", "function": {"name": choice.get("name")}}
        chat["tool_choice"] = choice
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = {"name": fmt.get("name"), "schema": fmt.get("schema")}
        chat["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
        chat["response_format"] = {"type": "json_object"}
    return chat


# --- shapes ----------------------------------------------------------------------------------------


def _tool(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": t.get("name"),
        "parameters": t.get("parameters"),
        "strict": t.get("strict"),
        "type": "function",
        "allowed_callers": None,
        "async": None,
        "defer_loading": None,
        "description": t.get("description"),
        "output_schema": None,
    }


def _text_config(body: dict[str, Any]) -> dict[str, Any] | None:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    out: dict[str, Any] = {"type": fmt.get("type")}
    if fmt.get("type") == "json_schema":
        out = {"name": fmt.get("name"), "schema": fmt.get("schema"), "type": "json_schema",
               "description": fmt.get("description"), "strict": fmt.get("strict")}
    return {"format": out, "verbosity": text.get("verbosity") if isinstance(text, dict) else None}


def _usage(plan: ep.Plan) -> dict[str, Any]:
    return {
        "input_tokens": plan.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": 0,
            "cache_write_tokens": 0,
            "input_tokens_per_turn": [],
            "cached_tokens_per_turn": [],
        },
        "output_tokens": plan.completion_tokens,
        "output_tokens_details": {
            "reasoning_tokens": plan.reasoning_tokens or 0,
            "tool_output_tokens": 0,
            "output_tokens_per_turn": [],
            "tool_output_tokens_per_turn": [],
        },
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
    }


def _response(body: dict[str, Any], plan: ep.Plan, output: list[dict[str, Any]], status: str,
              usage: dict[str, Any] | None) -> dict[str, Any]:
    """responses_basic.json, key for key."""
    tools = [_tool(t) for t in body.get("tools") or () if isinstance(t, dict) and t.get("type") == "function"]
    choice = body.get("tool_choice", "auto" if tools else "none")
    # Cut by max_output_tokens: "incomplete", except under a required or named tool_choice,
    # where vLLM reports "completed" all the same (responses_tools_required.json).
    forced = choice == "required" or isinstance(choice, dict)
    length = status == "completed" and plan.choices[0].finish_reason == "length" and not forced
    return {
        "id": plan.id,
        "created_at": plan.created,
        "incomplete_details": {"reason": "max_output_tokens"} if length else None,
        "instructions": body.get("instructions"),
        "metadata": body.get("metadata"),
        "model": plan.model,
        "object": "response",
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "temperature": float(body.get("temperature", 1.0)),
        "tool_choice": choice,
        "tools": tools,
        "top_p": float(body.get("top_p", 1.0)),
        "background": bool(body.get("background", False)),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "previous_response_id": body.get("previous_response_id"),
        "prompt": None,
        "reasoning": body.get("reasoning"),
        "service_tier": "auto",
        "status": "incomplete" if length else status,
        "text": _text_config(body),
        "top_logprobs": body.get("top_logprobs"),
        "truncation": "disabled",
        "usage": usage,
        "user": body.get("user"),
        "presence_penalty": float(body.get("presence_penalty", 0.0)),
        "frequency_penalty": float(body.get("frequency_penalty", 0.0)),
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "input_messages": None,
        "output_messages": None,
    }


def _reasoning_item(item_id: str, text: str | None, status: str | None) -> dict[str, Any]:
    content = None if text is None else [{"text": text, "type": "reasoning_text"}]
    return {"id": item_id, "summary": [], "type": "reasoning", "content": content, "encrypted_content": None,
            "status": status}


def _output_text(text: str, logprobs: list[Any] | None) -> dict[str, Any]:
    return {"annotations": [], "text": text, "type": "output_text", "logprobs": logprobs}


def _message_item(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [_output_text(text, None)]
    return {"id": item_id, "content": content, "role": "assistant", "status": status, "type": "message", "phase": None}


def _call_item(item_id: str, call: dict[str, Any], arguments: str, status: str) -> dict[str, Any]:
    return {
        "arguments": arguments,
        "call_id": call["id"],
        "name": call["function"]["name"],
        "type": "function_call",
        "id": item_id,
        "async": None,
        "caller": None,
        "namespace": None,
        "status": status,
    }


class _Items:
    """The output items of a plan's choice, with ids fixed once for both renderings."""

    def __init__(self, plan: ep.Plan) -> None:
        self.choice = plan.choices[0]
        c = self.choice
        self.reasoning_id = f"rs_{shapes.random_hex()}" if c.reasoning is not None else None
        has_message = c.content is not None and not (c.tool_calls and not c.content)
        self.message_id = f"msg_{shapes.random_hex()}" if has_message else None
        self.call_ids = [f"fc_{shapes.random_hex()}" for _ in c.tool_calls]

    def final(self, reasoning_status: str | None) -> list[dict[str, Any]]:
        c = self.choice
        out = []
        if self.reasoning_id is not None:
            out.append(_reasoning_item(self.reasoning_id, c.reasoning, reasoning_status))
        if self.message_id is not None:
            out.append(_message_item(self.message_id, c.content, "completed"))
        for item_id, call in zip(self.call_ids, c.tool_calls, strict=True):
            out.append(_call_item(item_id, call, call["function"]["arguments"], "completed"))
        return out


def response_json(body: dict[str, Any], plan: ep.Plan) -> dict[str, Any]:
    """The non-streamed Response (a reasoning item's status is null there, as in vLLM)."""
    return _response(body, plan, _Items(plan).final(None), "completed", _usage(plan))


def queued_json(body: dict[str, Any], plan: ep.Plan) -> dict[str, Any]:
    """What a `background=True` request answers at once (and the store holds until the end)."""
    return _response(body, plan, [], "queued", None)


def history_messages(messages: list[dict[str, Any]], response: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation a request with `previous_response_id` continues: the earlier
    request's messages without system ones (instructions do not carry over), then the text
    of each part of its output messages (reasoning and tool calls are not replayed), as
    vLLM's `construct_input_messages` does."""
    history = [m for m in messages if m.get("role") != "system"]
    for item in response.get("output") or ():
        if item.get("type") == "message":
            history.extend({"role": "assistant", "content": p.get("text")} for p in item.get("content") or ())
    return history


# --- stream ----------------------------------------------------------------------------------------

# One event before numbering: (type without "response.", fields, fields after sequence_number,
# fields after type, is it a token). vLLM's key order puts the `text` of the *.done events
# after sequence_number and the `name` of function_call_arguments.done after type.
_Event = tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], bool]
_NONE: dict[str, Any] = {}


def _ev(
    kind: str, fields: dict[str, Any], *, mid: dict[str, Any] = _NONE, tail: dict[str, Any] = _NONE, token: bool = False
) -> _Event:
    return kind, fields, mid, tail, token


def _reasoning_events(item_id: str, index: int, text: str, deltas: list[dict[str, Any]]) -> Iterator[_Event]:
    at = {"content_index": 0, "item_id": item_id, "output_index": index}
    yield _ev("output_item.added", {"item": _reasoning_item(item_id, None, "in_progress"), "output_index": index})
    yield _ev("content_part.added", {**at, "part": {"text": "", "type": "reasoning_text"}})
    for d in deltas:
        if "reasoning" in d:
            fields = {"content_index": 0, "delta": d["reasoning"], "item_id": item_id, "output_index": index}
            yield _ev("reasoning_text.delta", fields, token=True)
    yield _ev("reasoning_text.done", at, mid={"text": text})
    yield _ev("content_part.done", {**at, "part": {"text": text, "type": "reasoning_text"}})
    yield _ev("output_item.done", {"item": _reasoning_item(item_id, text, "completed"), "output_index": index})


def _message_events(item_id: str, index: int, text: str, deltas: list[dict[str, Any]]) -> Iterator[_Event]:
    at = {"content_index": 0, "item_id": item_id, "output_index": index}
    yield _ev("output_item.added", {"item": _message_item(item_id, None, "in_progress"), "output_index": index})
    yield _ev("content_part.added", {**at, "part": _output_text("", [])})
    for d in deltas:
        if d.get("content"):
            fields = {"content_index": 0, "delta": d["content"], "item_id": item_id, "logprobs": []}
            yield _ev("output_text.delta", {**fields, "output_index": index}, token=True)
    done = {"content_index": 0, "item_id": item_id, "logprobs": [], "output_index": index}
    yield _ev("output_text.done", done, mid={"text": text})
    yield _ev("content_part.done", {**at, "part": _output_text(text, None)})
    yield _ev("output_item.done", {"item": _message_item(item_id, text, "completed"), "output_index": index})


def _call_events(
    item_id: str, index: int, k: int, call: dict[str, Any], deltas: list[dict[str, Any]]
) -> Iterator[_Event]:
    """The k-th tool call of the choice: its argument pieces are the chat deltas' ones."""
    arguments = call["function"]["arguments"]
    yield _ev("output_item.added", {"item": _call_item(item_id, call, "", "in_progress"), "output_index": index})
    for d in deltas:
        for tc in d.get("tool_calls") or ():
            piece = tc.get("function", {}).get("arguments")
            if tc.get("index") == k and piece:
                fields = {"delta": piece, "item_id": item_id, "output_index": index}
                yield _ev("function_call_arguments.delta", fields, token=True)
    done = {"arguments": arguments, "item_id": item_id, "output_index": index}
    yield _ev("function_call_arguments.done", done, tail={"name": call["function"]["name"]})
    item = _call_item(item_id, call, arguments, "completed")
    yield _ev("output_item.done", {"item": item, "output_index": index})


def _events(body: dict[str, Any], plan: ep.Plan, items: _Items, final: dict[str, Any]) -> Iterator[_Event]:
    c = items.choice
    started = {"response": _response(body, plan, [], "in_progress", None)}
    yield _ev("created", started)
    yield _ev("in_progress", started)
    deltas = [e.delta for e in c.events]
    index = 0
    if items.reasoning_id is not None:
        yield from _reasoning_events(items.reasoning_id, index, c.reasoning or "", deltas)
        index += 1
    if items.message_id is not None:
        yield from _message_events(items.message_id, index, c.content or "", deltas)
        index += 1
    for k, (item_id, call) in enumerate(zip(items.call_ids, c.tool_calls, strict=True)):
        yield from _call_events(item_id, index + k, k, call, deltas)
    yield _ev("completed", {"response": final})


def _sse(body: dict[str, Any], plan: ep.Plan, items: _Items, final: dict[str, Any]) -> Iterator[tuple[bytes, bool]]:
    for seq, (kind, fields, mid, tail, token) in enumerate(_events(body, plan, items, final)):
        obj = {**fields, "sequence_number": seq, **mid, "type": f"response.{kind}", **tail}
        yield b"event: response." + kind.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n", token


def stream_and_final(body: dict[str, Any], plan: ep.Plan) -> tuple[Iterator[tuple[bytes, bool]], dict[str, Any]]:
    """The SSE events, as (bytes, is_token), from response.created to response.completed,
    and the response the last one carries (what the store keeps)."""
    items = _Items(plan)
    final = _response(body, plan, items.final("completed"), "completed", _usage(plan))
    return _sse(body, plan, items, final), final


def stream_events(body: dict[str, Any], plan: ep.Plan) -> Iterator[tuple[bytes, bool]]:
    """The SSE events, as (bytes, is_token), from response.created to response.completed."""
    return stream_and_final(body, plan)[0]
