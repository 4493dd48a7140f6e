"""The emulator's ``/v1/messages`` and ``/v1/messages/count_tokens`` (Anthropic's shape).

vLLM 0.32 (``entrypoints/anthropic``) turns the request into a chat completion -- ``system``
into a system message, ``stop_sequences`` into ``stop``, tool choice ``any`` into
``required`` -- and renders the answer back: the text, ``thinking`` and ``tool_use`` blocks,
``stop_reason`` ``end_turn`` / ``max_tokens`` / ``stop_sequence`` / ``tool_use``, ``usage``
with ``input_tokens`` / ``output_tokens``, ``None`` fields dropped. Errors raised by the
handler are ``{"type": "error", "error": {"type", "message"}}``; request-model (pydantic)
errors keep the OpenAI shape. Streams are named events with no ``[DONE]``.
"""

from __future__ import annotations

import json
from typing import Any

from . import _shapes as shapes

__all__ = ["anthropic_error", "count_tokens_body", "render_message", "stream_frames", "to_chat_body"]


def anthropic_error(status: int, error_type: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"type": "error", "error": {"type": error_type, "message": message}}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or ():
        if isinstance(block, dict):
            if block.get("type") == "text":
                parts.append(str(block.get("text") or ""))
            elif block.get("type") == "tool_result":
                parts.append(_text(block.get("content")))
    return "".join(parts)


def to_chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """The chat completion vLLM runs for an Anthropic request."""
    messages: list[dict[str, Any]] = []
    if body.get("system"):
        messages.append({"role": "system", "content": _text(body["system"])})
    for m in body.get("messages") or ():
        messages.append({"role": m.get("role", "user"), "content": _text(m.get("content"))})
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages, "max_tokens": body.get("max_tokens")}
    renames = (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"), ("stop_sequences", "stop"))
    for src, dst in renames:
        if body.get(src) is not None:
            chat[dst] = body[src]
    tools = body.get("tools")
    if tools:
        chat["tools"] = [{"type": "function", "function": {"name": t.get("name"), "description": t.get("description"),
                                                          "parameters": t.get("input_schema") or {}}} for t in tools]
        choice = (body.get("tool_choice") or {}).get("type", "auto")
        named = {"type": "function", "function": {"name": (body.get("tool_choice") or {}).get("name")}}
        chat["tool_choice"] = {"any": "required", "tool": named}.get(choice, choice)
    return chat


def _stop(finish: str | None, stop_reason: Any) -> tuple[str, str | None]:
    if finish == "tool_calls":
        return "tool_use", None
    if finish == "length":
        return "max_tokens", None
    if isinstance(stop_reason, str):
        return "stop_sequence", stop_reason
    return "end_turn", None


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.get("reasoning"):
        blocks.append({"type": "thinking", "thinking": message["reasoning"], "signature": shapes.random_hex(32)})
    if message.get("content") or not message.get("tool_calls"):
        blocks.append({"type": "text", "text": message.get("content") or ""})
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            args = {}
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": args})
    return blocks


def render_message(chat: dict[str, Any]) -> dict[str, Any]:
    """The Anthropic message for a chat completion answer (first choice)."""
    choice = chat["choices"][0]
    stop_reason, stop_sequence = _stop(choice.get("finish_reason"), choice.get("stop_reason"))
    out: dict[str, Any] = {"id": chat["id"], "type": "message", "role": "assistant",
                           "content": _blocks(choice.get("message") or {}), "model": chat["model"],
                           "stop_reason": stop_reason}
    if stop_sequence is not None:
        out["stop_sequence"] = stop_sequence
    usage = chat.get("usage") or {}
    out["usage"] = {"input_tokens": usage.get("prompt_tokens", 0), "output_tokens": usage.get("completion_tokens", 0)}
    return out


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + shapes.dumps(data) + b"\n\n"


def stream_frames(chat: dict[str, Any], pieces: list[str]) -> list[bytes]:
    """The named events of a streamed answer (``pieces``: the text as it was generated)."""
    message = render_message(chat)
    usage = message["usage"]
    start = {k: message[k] for k in ("id", "type", "role")}
    start |= {"content": [], "model": message["model"], "stop_reason": None, "stop_sequence": None,
              "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 0}}
    frames = [_event("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        empty = {"text": {"type": "text", "text": ""}, "thinking": {"type": "thinking", "thinking": ""},
                 "tool_use": {"type": "tool_use", "id": block.get("id"), "name": block.get("name"), "input": {}}}[kind]
        frames.append(_event("content_block_start", {"type": "content_block_start", "content_block": empty,
                                                     "index": index}))
        if kind == "text":
            deltas = [{"type": "text_delta", "text": p} for p in pieces if p]
        elif kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": block["thinking"]},
                      {"type": "signature_delta", "signature": block["signature"]}]
        else:
            deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
        frames += [_event("content_block_delta", {"type": "content_block_delta", "delta": d, "index": index})
                   for d in deltas]
        frames.append(_event("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message.get("stop_sequence")}
    frames.append(_event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    frames.append(_event("message_stop", {"type": "message_stop"}))
    return frames


def count_tokens_body(tokens: int) -> dict[str, Any]:
    return {"input_tokens": tokens, "context_management": {"original_input_tokens": tokens}}
