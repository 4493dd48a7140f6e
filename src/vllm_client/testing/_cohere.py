"""The emulator's ``POST /v2/embed`` (vLLM's Cohere-style embeddings, an embed model).

vLLM 0.32 checks the request model first (each ``embedding_types`` entry one of float /
binary / ubinary / base64; exactly one of ``texts``, ``images``, ``inputs``, non-empty), then
``input_type`` (a model without task instructions refuses any), ``output_dimension`` (the
Matryoshka check of /v1/embeddings), and after pooling ``truncate=NONE`` with ``max_tokens``.
The vectors are /v1/embeddings' (``inputs`` go through the chat template, like ``messages``);
``binary`` / ``ubinary`` pack their sign bits 8 a byte, MSB first, and ``base64`` is
little-endian float32. Keys in vLLM's order, ``None`` fields left out (``exclude_none``).
"""

from __future__ import annotations

import base64
from typing import Any

from . import _pooling as pool
from . import _shapes as shapes
from . import _validate as val
from ._packing import pack

__all__ = ["cohere_embed"]

_TYPES = ("float", "binary", "ubinary", "base64")
_ONE_INPUT = "Exactly one of texts, images, or inputs must be provided, and it must be non-empty"


def _ubinary(vector: list[float]) -> list[int]:
    bits = [1 if x > 0 else 0 for x in vector]
    return [int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8)]


def _typed(vectors: list[list[float]], types: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _TYPES:  # the response model's field order, whatever order was asked
        if name not in types:
            continue
        if name == "float":
            out[name] = vectors
        elif name == "base64":
            out[name] = [base64.b64encode(pack(v, "float32", "little")).decode() for v in vectors]
        else:
            packed = [_ubinary(v) for v in vectors]
            out[name] = packed if name == "ubinary" else [[b - 128 for b in row] for row in packed]
    return out


def _prompts(body: dict[str, Any]) -> list[Any]:
    if body.get("texts") is not None:
        return [pool._text_prompt(t) for t in body["texts"]]
    if body.get("images") is not None:
        return [pool._text_prompt(str(url)) for url in body["images"]]
    messages = []
    for item in body["inputs"]:
        parts = [p.get("text") if p.get("type") == "text" else {"type": "image_url", "image_url": p.get("image_url")}
                 for p in item.get("content") or ()]
        messages.append(pool._messages_prompt([{"role": "user", "content": " ".join(str(p) for p in parts)}]))
    return messages


def cohere_embed(body: dict[str, Any], s: pool.PoolingSettings, model: str) -> tuple[int, dict[str, Any]]:
    """vLLM's answer to a ``/v2/embed`` body (already a JSON object, its model served)."""
    types = body.get("embedding_types")
    for i, t in enumerate(types or ()):
        if t not in _TYPES:
            expected = "'float', 'binary', 'ubinary' or 'base64'"
            return val.invalid(f"embedding_types.{i}", "literal_error", f"Input should be {expected}", t,
                               expected=expected)
    given = [body[k] for k in ("texts", "images", "inputs") if body.get(k) is not None]
    if len(given) != 1 or not given[0]:
        return val.invalid("", "value_error", f"Value error, {_ONE_INPUT}", body, error=ValueError(_ONE_INPUT))
    if body.get("input_type") is not None:
        return val.bad_request(f"Unsupported input_type {body['input_type']!r}. "
                               "This model does not define any input_type task instructions.")
    if body.get("output_dimension") is not None:
        return pool.matryoshka(model, body["output_dimension"])
    prompts = _prompts(body)
    limit, mode = body.get("max_tokens"), body.get("truncate", "END")
    for p in prompts:
        if mode == "NONE" and limit is not None and p.tokens > limit:
            return val.bad_request(f"Input of {p.tokens} tokens exceeds max_tokens={limit} with truncate=NONE. "
                                   "Set truncate to END or START to allow truncation.")
        if mode != "NONE" and limit is not None and p.tokens > limit:
            p.words, p.tokens = (p.words[-limit:], limit) if mode == "START" else (p.words[:limit], limit)
    vectors = [pool.embed(p.words, s.embedding_dim) for p in prompts]
    tokens = sum(p.tokens for p in prompts)
    images = 0 if body.get("images") is None else tokens
    out: dict[str, Any] = {"id": f"embd-{shapes.random_hex()}", "embeddings": _typed(vectors, list(types or ["float"]))}
    if body.get("texts") is not None:
        out["texts"] = body["texts"]
    out["meta"] = {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens - images,
                                                                     "image_tokens": images}}
    out["response_type"] = "embeddings_by_type"
    return 200, out
