"""vLLM 0.32 response bodies, key for key and in vLLM's key order.

Each builder mirrors one capture in shared/fixtures/real-vllm-0.32 (named in its
docstring). Keeping the shapes here, apart from generation and HTTP, means one place
to update when vLLM adds a field.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

VLLM_VERSION = "0.32.0"
SYSTEM_FINGERPRINT = f"vllm-{VLLM_VERSION}-6d6f636b"

JSON = "application/json"
SSE = "text/event-stream; charset=utf-8"
PROMETHEUS = "text/plain; version=1.0.0; charset=utf-8"

_ERROR_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    408: "RequestTimeoutError",
    409: "ConflictError",
    413: "RequestEntityTooLarge",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
    500: "InternalServerError",
    501: "NotImplementedError",
    502: "BadGatewayError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}


def random_hex(n: int = 16) -> str:
    return secrets.token_hex(n // 2)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def error_type_for(status: int) -> str:
    return _ERROR_TYPES.get(status, "InternalServerError" if status >= 500 else "BadRequestError")


def error_body(message: str, error_type: str, param: str | None, code: int) -> dict[str, Any]:
    """err_*.json: `{"error": {"message", "type", "param", "code"}}`."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def validation_error(errors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """FastAPI request-validation errors as vLLM re-wraps them (err_missing_messages.json)."""
    n = len(errors)
    lines = "\n".join("  " + repr(dict(e)) for e in errors)
    msg = f"{n} validation error{'s' if n != 1 else ''}:\n{lines}"
    loc = errors[0].get("loc") if errors else None
    return error_body(msg, "Bad Request", loc if isinstance(loc, str) else None, 400)


def input_repr(value: Any) -> str:
    """How pydantic shows an input in those messages: dicts as `<dict of N items>`, lists
    as `<list of N items>`."""
    if isinstance(value, dict):
        return f"<dict of {len(value)} items>"
    if isinstance(value, list):
        return f"<list of {len(value)} items>"
    return str(value)


def stream_error_event(message: str, error_type: str, code: int, param: str | None) -> bytes:
    """The in-stream error vLLM sends (json.dumps formatting, hence the spaces)."""
    return b"data: " + json.dumps(error_body(message, error_type, param, code)).encode() + b"\n\n"


def sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


DONE = b"data: [DONE]\n\n"

# --- models ---------------------------------------------------------------------------


def model_card(model: str, created: int, root: str, parent: str | None, max_model_len: int | None) -> dict[str, Any]:
    """One entry of models.json (a LoRA adapter: `root` its path, `parent` the base, no max_model_len)."""
    return {
        "id": model,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": root,
        "parent": parent,
        "max_model_len": max_model_len,
        "permission": [
            {
                "id": f"modelperm-{random_hex()}",
                "object": "model_permission",
                "created": created,
                "allow_create_engine": False,
                "allow_sampling": True,
                "allow_logprobs": True,
                "allow_search_indices": False,
                "allow_view": True,
                "allow_fine_tuning": False,
                "organization": "*",
                "group": None,
                "is_blocking": False,
            }
        ],
    }


def models_list(models: Sequence[str], created: int, max_model_len: int, roots: Mapping[str, str],
                extra: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """models.json (`extra`: the LoRA adapters' cards, after the base models)."""
    cards = [model_card(m, created, roots.get(m, m), None, max_model_len) for m in models]
    return {"object": "list", "data": [*cards, *extra]}


def tokenizer_info(model: str) -> dict[str, Any]:
    """tokenizer_info.json: the tokenizer's init arguments, vLLM's wrapper class first."""
    return {
        "tokenizer_class": "TokenizerPoolCachedMockTokenizer",
        "unk_token": None,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "add_prefix_space": False,
        "added_tokens_decoder": {"4087": "<|endoftext|>", "4088": "<|im_start|>", "4089": "<|im_end|>"},
        "chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
        "clean_up_tokenization_spaces": False,
        "errors": "replace",
        "model_max_length": 4096,
        "split_special_tokens": False,
        "truncation_side": "left",
        "extra_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "name_or_path": model,
        "is_local": True,
        "local_files_only": True,
        "backend": "tokenizers",
    }


# --- usage ------------------------------------------------------------------------------


def usage_full(prompt: int, completion: int, reasoning_tokens: int | None) -> dict[str, Any]:
    """The non-streaming usage object (chat_basic.json, r1_plain.json)."""
    details = None if reasoning_tokens is None else {"reasoning_tokens": reasoning_tokens}
    return {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": None,
        "completion_tokens_details": details,
    }


def usage_final_chunk(prompt: int, completion: int, reasoning_tokens: int | None) -> dict[str, Any]:
    """The `choices: []` usage chunk (chat_stream_include_usage.json)."""
    u: dict[str, Any] = {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
    }
    if reasoning_tokens is not None:
        u["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return u


def usage_continuous(prompt: int, completion: int, chat: bool) -> dict[str, Any]:
    """Per-chunk usage (chat_stream_continuous_usage.json, completions_stream_usage.json)."""
    u: dict[str, Any] = {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
    }
    if chat:
        u["completion_tokens_details"] = None
    return u


def apply_usage_override(usage: dict[str, Any], override: Mapping[str, int] | None) -> dict[str, Any]:
    if not override:
        return usage
    for k, v in override.items():
        usage[k] = v
    if "total_tokens" not in override:
        usage["total_tokens"] = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    return usage


# --- chat ---------------------------------------------------------------------------------


def chat_message(content: str | None, reasoning: str | None, tool_calls: list[dict[str, Any]] | None) -> dict[str, Any]:
    """chat_basic.json / hermes_auto_forced_tool_call.json: `tool_calls` only when present."""
    msg: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": None,
        "audio": None,
        "function_call": None,
    }
    if tool_calls:
        msg["tool_calls"] = tool_calls
    msg["reasoning"] = reasoning
    return msg


def tool_call_obj(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chat_choice(
    *,
    index: int,
    message: dict[str, Any],
    logprobs: Any,
    finish_reason: str,
    stop_reason: str | int | None,
    token_ids: list[int] | None,
) -> dict[str, Any]:
    return {
        "index": index,
        "message": message,
        "logprobs": logprobs,
        "finish_reason": finish_reason,
        "stop_reason": stop_reason,
        "token_ids": token_ids,
        "routed_experts": None,
    }


def chat_completion(
    *,
    cid: str,
    created: int,
    model: str,
    choices: list[dict[str, Any]],
    usage: dict[str, Any],
    prompt_token_ids: list[int] | None,
    prompt_logprobs: list[Any] | None = None,
    prompt_text: str | None = None,
) -> dict[str, Any]:
    """chat_basic.json (chat_prompt_logprobs.json, chat_return_prompt_text.json)"""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "service_tier": None,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": usage,
        "prompt_logprobs": prompt_logprobs,
        "prompt_token_ids": prompt_token_ids,
        "prompt_text": prompt_text,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


def chat_chunk_head(cid: str, created: int, model: str) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}


def chat_role_chunk(
    head: dict[str, Any], index: int, usage: dict[str, Any] | None, prompt_token_ids: list[int] | None
) -> dict[str, Any]:
    """The first event of a chat stream, one per choice (chat_n2_stream.json)."""
    chunk = dict(head)
    chunk["choices"] = [
        {
            "index": index,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    if usage is not None:
        chunk["usage"] = usage
    chunk["prompt_token_ids"] = prompt_token_ids
    chunk["prompt_text"] = None
    return chunk


def chat_delta_chunk(
    *,
    head: dict[str, Any],
    index: int,
    delta: dict[str, Any],
    logprobs: Any,
    token_ids: list[int] | None,
    finish: tuple[str, str | int | None] | None,
    usage: dict[str, Any] | None,
    fingerprint: bool,
) -> dict[str, Any]:
    """A content / reasoning / tool-call event; the last one of a choice carries
    finish_reason and stop_reason (chat_stream.json)."""
    choice: dict[str, Any] = {"index": index, "delta": delta, "logprobs": logprobs}
    if finish is None:
        choice["finish_reason"] = None
    else:
        choice["finish_reason"] = finish[0]
        choice["stop_reason"] = finish[1]
    choice["token_ids"] = token_ids
    chunk = dict(head)
    chunk["choices"] = [choice]
    if usage is not None:
        chunk["usage"] = usage
    if fingerprint:
        chunk["system_fingerprint"] = SYSTEM_FINGERPRINT
    return chunk


def usage_chunk(head: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    chunk = dict(head)
    chunk["choices"] = []
    chunk["usage"] = usage
    chunk["system_fingerprint"] = SYSTEM_FINGERPRINT
    return chunk


def chat_logprob_entry(token: str, logprob: float, top: list[tuple[str, float]]) -> dict[str, Any]:
    """One entry of `logprobs.content` (chat_logprobs.json)."""
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top],
    }


def prompt_logprob_entry(candidates: Sequence[tuple[int, str, float, int]]) -> dict[str, Any]:
    """One position of `prompt_logprobs`: token id -> logprob, rank, text; the prompt's token
    first, then the top alternatives (chat_prompt_logprobs.json). The list starts with None."""
    return {str(tid): {"logprob": lp, "rank": rank, "decoded_token": text} for tid, text, lp, rank in candidates}


# --- completions ------------------------------------------------------------------------


def completion_choice(
    *,
    index: int,
    text: str,
    logprobs: Any,
    finish_reason: str,
    stop_reason: str | int | None,
    token_ids: list[int] | None,
    prompt_token_ids: list[int] | None,
    prompt_logprobs: list[Any] | None = None,
) -> dict[str, Any]:
    """completions_basic.json (completions_echo_logprobs.json)"""
    return {
        "index": index,
        "text": text,
        "logprobs": logprobs,
        "finish_reason": finish_reason,
        "stop_reason": stop_reason,
        "token_ids": token_ids,
        "prompt_logprobs": prompt_logprobs,
        "prompt_token_ids": prompt_token_ids,
        "routed_experts": None,
    }


def completion(
    cid: str, created: int, model: str, choices: list[dict[str, Any]], usage: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": choices,
        "service_tier": None,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "usage": usage,
        "kv_transfer_params": None,
        "ec_transfer_params": None,
        "metrics": None,
    }


def completion_chunk(
    *,
    cid: str,
    created: int,
    model: str,
    index: int,
    text: str,
    logprobs: Any,
    finish: tuple[str, str | int | None] | None,
    prompt_token_ids: list[int] | None,
    token_ids: list[int] | None,
    usage: dict[str, Any] | None,
    fingerprint: bool,
) -> dict[str, Any]:
    """completions_stream.json"""
    chunk: dict[str, Any] = {
        "id": cid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": index,
                "text": text,
                "logprobs": logprobs,
                "finish_reason": None if finish is None else finish[0],
                "stop_reason": None if finish is None else finish[1],
                "prompt_token_ids": prompt_token_ids,
                "token_ids": token_ids,
            }
        ],
    }
    if usage is not None:
        chunk["usage"] = usage
    if fingerprint:
        chunk["system_fingerprint"] = SYSTEM_FINGERPRINT
    return chunk


def completion_logprobs(
    tokens: list[str], lps: list[float | None], tops: list[dict[str, float] | None], offset: int
) -> dict[str, Any]:
    """completions_logprobs.json: text_offset, token_logprobs, tokens, top_logprobs."""
    offsets = []
    pos = offset
    for t in tokens:
        offsets.append(pos)
        pos += len(t)
    return {"text_offset": offsets, "token_logprobs": lps, "tokens": tokens, "top_logprobs": tops}


# --- server endpoints ---------------------------------------------------------------------
