"""``encoding_format="bytes"`` / ``"bytes_only"`` answers -> the JSON shape of a float answer. Pure.

vLLM 0.32 (``entrypoints/pooling/utils.py``) answers these with ``application/octet-stream``:
the items' packed vectors back to back. With ``bytes`` a ``metadata`` response header holds
the JSON the body lacks: ``{"id", "created", "model", "data": [{"index", "embed_dtype",
"endianness", "start", "end", "shape"}], "usage"}``; ``bytes_only`` sends no header, so the
caller's own request says how to cut the body: the dtype and byte order it asked for, and one
equal slice per input (an embedding model's vectors all have its dimension). Either way the
result is the dict a ``"float"`` answer would have been, so ``EmbeddingResponse`` and
``PoolingResult`` read it unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ResponseParseError
from .._json import loads
from .vectors import ITEMSIZE, decode_bytes

__all__ = ["BINARY_FORMATS", "decode_binary", "input_count", "wants_binary"]

BINARY_FORMATS = ("bytes", "bytes_only")


def wants_binary(body: Mapping[str, Any] | None) -> bool:
    """Whether the request asks for a binary body."""
    return body is not None and body.get("encoding_format") in BINARY_FORMATS


def input_count(body: Mapping[str, Any]) -> int:
    """How many vectors a pooling request asks for: its inputs, or its conversations."""
    if "messages" in body:
        msgs = body["messages"]
        return len(msgs) if msgs and all(isinstance(m, list) for m in msgs) else 1
    inp = body.get("input")
    if isinstance(inp, str) or not isinstance(inp, list) or all(isinstance(t, int) for t in inp):
        return 1
    return len(inp)


def _reshape(flat: list[float], shape: list[int]) -> Any:
    if len(shape) <= 1:
        return flat
    step = len(flat) // shape[0] if shape[0] else 0
    return [_reshape(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def decode_binary(body: bytes, headers: Mapping[str, str], request: Mapping[str, Any], *,
                  object_name: str = "embedding", key: str = "embedding") -> dict[str, Any]:
    """The JSON a float answer would be, from a binary one (``headers``: lower-case names).
    ``object_name`` / ``key``: ``embedding`` for /v1/embeddings, ``pooling`` / ``data`` for /pooling."""
    dtype = str(request.get("embed_dtype") or "float32")
    endianness = str(request.get("endianness") or "native")
    view = memoryview(body)
    meta_text = headers.get("metadata")
    try:
        if meta_text is not None:
            meta = loads(meta_text)
            data = []
            for item in meta.get("data") or ():
                flat = decode_bytes(view[item["start"]:item["end"]], str(item.get("embed_dtype") or dtype),
                                    str(item.get("endianness") or endianness))
                data.append({"index": item["index"], "object": object_name,
                             key: _reshape(flat, list(item.get("shape") or ()))})
            return {"id": meta.get("id"), "object": "list", "created": meta.get("created"),
                    "model": meta.get("model"), "data": data, "usage": meta.get("usage")}
        count = input_count(request)
        size = ITEMSIZE.get(dtype, 4)
        if count < 1 or len(body) % (count * size):
            raise ValueError(f"{len(body)} bytes do not split into {count} {dtype} vectors")
        step = len(body) // count
        data = [{"index": i, "object": object_name, key: decode_bytes(view[i * step:(i + 1) * step], dtype, endianness)}
                for i in range(count)]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ResponseParseError(f"cannot decode the binary {request.get('encoding_format')} answer: {exc}") from None
    return {"id": None, "object": "list", "created": None, "model": request.get("model"), "data": data, "usage": None}
