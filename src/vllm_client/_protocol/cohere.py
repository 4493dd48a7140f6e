"""``POST /v2/embed``: vLLM's Cohere-style embeddings. Request and result, pure.

vLLM 0.32 (``entrypoints/pooling/embed/protocol.py``, ``CohereEmbedRequest``) takes exactly one
of ``texts``, ``images`` (data or http URLs) or ``inputs`` (``[{"content": [{"type": "text",
"text"} | {"type": "image_url", "image_url": {"url"}}]}]``), plus ``input_type`` (only for a
model with task instructions: otherwise any value is a 400), ``embedding_types`` (``float``,
``binary``, ``ubinary``, ``base64``), ``output_dimension``, ``truncate`` (``END`` / ``START`` /
``NONE``) and ``max_tokens``. It answers ``{"id", "embeddings": {type: [...]}, "texts", "meta":
{"api_version", "billed_units"}, "response_type": "embeddings_by_type"}``. ``binary`` /
``ubinary`` are sign bits packed 8 to a byte (``binary`` as signed bytes); ``base64`` is
little-endian float32, decoded here like every other packed vector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from typing_extensions import TypedDict

from .params import CallOptions
from .pooling_types import decode_floats
from .requests import RequestSpec, _options, body_fields, split_kwargs
from .types import RequestTiming, _RawView

__all__ = ["EmbedV2Call", "EmbedV2Result", "build_embed_v2"]

EmbeddingType = Literal["float", "binary", "ubinary", "base64"]


class EmbedV2Params(TypedDict, total=False):
    """Keyword arguments of ``embed_v2`` besides the inputs."""

    model: str | None
    input_type: str | None
    embedding_types: Sequence[EmbeddingType] | None
    output_dimension: int | None
    truncate: Literal["NONE", "START", "END"] | None
    max_tokens: int | None
    priority: int | None


class EmbedV2Call(EmbedV2Params, CallOptions, total=False):
    """Every keyword of ``embed_v2``."""


_FIELDS = frozenset(EmbedV2Params.__annotations__)
_TYPES = ("float", "binary", "ubinary", "base64")


def _strings(name: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a list of str, got {value!r}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return list(value)


def build_embed_v2(texts: Any, images: Any, inputs: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """``embed_v2(...)`` -> ``POST /v2/embed`` (at the server root)."""
    params, options = split_kwargs("embed_v2", kwargs, _FIELDS)
    given = [(n, v) for n, v in (("texts", texts), ("images", images), ("inputs", inputs)) if v is not None]
    if len(given) != 1:
        raise TypeError("embed_v2() takes exactly one of texts, images or inputs")
    name, value = given[0]
    body = body_fields(params)
    if name == "inputs":
        if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, Mapping) for v in value):
            raise TypeError("inputs must be a non-empty list of {'content': [...]} dicts")
        body["inputs"] = [dict(v) for v in value]
    else:
        body[name] = _strings(name, value)
    types = body.get("embedding_types")
    if types is not None:
        if isinstance(types, str) or not all(t in _TYPES for t in types):
            raise ValueError(f"embedding_types must be a list of {', '.join(map(repr, _TYPES))}, got {types!r}")
        body["embedding_types"] = list(types)
    spec = _options(options, RequestSpec("POST", "/v2/embed", body=body, root=True))
    return spec


class EmbedV2Result(_RawView):
    """A ``/v2/embed`` answer: ``embeddings`` (float vectors, input order), ``float``-less
    answers decoded from ``base64``; ``binary`` / ``ubinary`` (packed sign bits as ints), the
    ``texts`` echoed, ``id``, ``meta``, ``input_tokens``; ``raw`` as received."""

    __slots__ = ("timing",)

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None) -> None:
        self.raw = raw
        self.timing = timing

    def _by_type(self, name: str) -> Any:
        by_type = self.raw.get("embeddings")
        return by_type.get(name) if isinstance(by_type, dict) else None

    @property
    def id(self) -> str:
        return str(self.raw.get("id") or "")

    @property
    def floats(self) -> list[list[float]] | None:
        """The ``float`` embeddings, when asked for (the default)."""
        value = self._by_type("float")
        return [[float(x) for x in v] for v in value] if value is not None else None

    @property
    def base64(self) -> list[list[float]] | None:
        """The ``base64`` embeddings, decoded to floats."""
        value = self._by_type("base64")
        return [decode_floats(v, "float32", "little") for v in value] if value is not None else None

    @property
    def binary(self) -> list[list[int]] | None:
        """Sign bits, 8 a byte, MSB first, as signed bytes (``ubinary`` + -128)."""
        value = self._by_type("binary")
        return [[int(x) for x in v] for v in value] if value is not None else None

    @property
    def ubinary(self) -> list[list[int]] | None:
        """Sign bits, 8 a byte, MSB first, as unsigned bytes."""
        value = self._by_type("ubinary")
        return [[int(x) for x in v] for v in value] if value is not None else None

    @property
    def embeddings(self) -> list[list[float]]:
        """Float vectors: the ``float`` ones, else the decoded ``base64`` ones, else []."""
        floats = self.floats
        if floats is not None:
            return floats
        return self.base64 or []

    @property
    def texts(self) -> list[str] | None:
        return self.raw.get("texts")

    @property
    def meta(self) -> dict[str, Any] | None:
        return self.raw.get("meta")

    @property
    def input_tokens(self) -> int | None:
        """``meta.billed_units.input_tokens``."""
        units = (self.meta or {}).get("billed_units") or {}
        value = units.get("input_tokens")
        return int(value) if value is not None else None

    def __repr__(self) -> str:
        types = sorted((self.raw.get("embeddings") or {}).keys())
        return f"EmbedV2Result(id={self.id!r}, count={len(self.embeddings)}, types={types})"
