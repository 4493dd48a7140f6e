"""Typed results of the tokenizer and pooling endpoints, over the raw JSON (like ``types``).

Embeddings asked for with ``encoding_format="base64"`` arrive as base64 strings of packed
floats (vLLM: float32, native byte order, unless ``embed_dtype`` / ``endianness`` say
otherwise); they are decoded on first access so ``.embedding`` is a ``list[float]`` either
way and callers never branch on the wire format. (``"bytes"`` / ``"bytes_only"`` binary
bodies are decoded to the same JSON shape first, by ``binary_pooling``.) Rerank results are sorted by score here
too (vLLM sorts them; other servers may not), scores stay in input order.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from .types import RequestTiming, ResponseFields, TimedResponse, _RawView
from .vectors import decode_bytes

__all__ = [
    "ClassificationData",
    "ClassificationResult",
    "EmbeddingData",
    "EmbeddingResponse",
    "PoolingData",
    "PoolingResult",
    "RerankItem",
    "RerankResult",
    "ScoreData",
    "ScoreResult",
    "TokenizeResult",
    "decode_floats",
]


def decode_floats(data: str, dtype: str = "float32", endianness: str = "native") -> list[float]:
    """A base64 vector from vLLM -> floats (see ``vectors.decode_bytes``)."""
    return decode_bytes(base64.b64decode(data), dtype, endianness)


class _ListResponse(TimedResponse):
    """``{"id", "object": "list", "created", "model", "data": [...], "usage"}``."""

    __slots__ = ()

    def _items(self) -> list[dict[str, Any]]:
        return [d for d in self.raw.get("data") or () if isinstance(d, dict)]


class EmbeddingData(_RawView):
    """One input's vector: ``index`` (input position) and ``embedding`` (floats, decoded)."""

    __slots__ = ("_decoded", "_dtype", "_endianness")

    def __init__(self, raw: dict[str, Any], dtype: str = "float32", endianness: str = "native") -> None:
        self.raw = raw
        self._dtype = dtype
        self._endianness = endianness
        self._decoded: list[float] | None = None

    @property
    def index(self) -> int:
        return int(self.raw.get("index") or 0)

    @property
    def object(self) -> str:
        return str(self.raw.get("object") or "embedding")

    @property
    def embedding(self) -> list[float]:
        if self._decoded is None:
            value = self.raw.get("embedding")
            if isinstance(value, str):
                self._decoded = decode_floats(value, self._dtype, self._endianness)
            else:
                self._decoded = [float(x) for x in value or ()]
        return self._decoded

    def __repr__(self) -> str:
        return f"EmbeddingData(index={self.index}, dim={len(self.embedding)})"


class EmbeddingResponse(_ListResponse):
    """``embeddings.create``: ``.data[i].embedding``, ``.embeddings`` (all vectors, input order)."""

    __slots__ = ("_data", "_dtype", "_endianness")

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None, *,
                 embed_dtype: str = "float32", endianness: str = "native") -> None:
        super().__init__(raw, timing)
        self._dtype = embed_dtype
        self._endianness = endianness
        self._data: list[EmbeddingData] | None = None

    @property
    def data(self) -> list[EmbeddingData]:
        if self._data is None:
            items = [EmbeddingData(d, self._dtype, self._endianness) for d in self._items()]
            self._data = sorted(items, key=lambda d: d.index)
        return self._data

    @property
    def embeddings(self) -> list[list[float]]:
        return [d.embedding for d in self.data]

    def __repr__(self) -> str:
        dim = len(self.data[0].embedding) if self.data else 0
        return f"EmbeddingResponse(model={self.model!r}, count={len(self.data)}, dim={dim}, usage={self.usage!r})"


class TokenizeResult(_RawView):
    """``tokenize``: ``count``, ``tokens`` (ids), ``max_model_len``, ``token_strs`` (with
    ``return_token_strs=True``, else None)."""

    __slots__ = ()

    @property
    def count(self) -> int:
        return int(self.raw.get("count") or 0)

    @property
    def tokens(self) -> list[int]:
        return list(self.raw.get("tokens") or ())

    @property
    def max_model_len(self) -> int | None:
        value = self.raw.get("max_model_len")
        return int(value) if value is not None else None

    @property
    def token_strs(self) -> list[str] | None:
        return self.raw.get("token_strs")

    def __repr__(self) -> str:
        return (f"TokenizeResult(count={self.count}, tokens={self.tokens!r}, "
                f"max_model_len={self.max_model_len}, token_strs={self.token_strs!r})")


class RerankItem(_RawView):
    """One ranked document: ``index`` (its position in the request), ``relevance_score`` and
    ``document`` (its text; ``multi_modal`` for non-text documents). Unpacks as
    ``index, relevance_score, document``."""

    __slots__ = ()

    @property
    def index(self) -> int:
        return int(self.raw.get("index") or 0)

    @property
    def relevance_score(self) -> float:
        return float(self.raw.get("relevance_score") or 0.0)

    score = relevance_score

    @property
    def document(self) -> str | None:
        doc = self.raw.get("document")
        if isinstance(doc, dict):
            return doc.get("text")
        return doc if isinstance(doc, str) else None

    @property
    def multi_modal(self) -> list[Any] | None:
        doc = self.raw.get("document")
        return doc.get("multi_modal") if isinstance(doc, dict) else None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.index, self.relevance_score, self.document))

    def __repr__(self) -> str:
        return f"RerankItem(index={self.index}, relevance_score={self.relevance_score!r}, document={self.document!r})"


class RerankResult(ResponseFields, list[RerankItem]):
    """``rerank``: the documents best first (a list of :class:`RerankItem`), with ``.raw``,
    ``.usage``, ``.id``, ``.model`` and ``.timing``."""

    raw: dict[str, Any]
    timing: RequestTiming | None

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None) -> None:
        items = [RerankItem(r) for r in raw.get("results") or () if isinstance(r, dict)]
        super().__init__(sorted(items, key=lambda r: -r.relevance_score))
        self.raw = raw
        self.timing = timing


    @property
    def indices(self) -> list[int]:
        """The documents' request positions, best first."""
        return [r.index for r in self]


class ScoreData(_RawView):
    __slots__ = ()

    @property
    def index(self) -> int:
        return int(self.raw.get("index") or 0)

    @property
    def score(self) -> float:
        return float(self.raw.get("score") or 0.0)

    def __repr__(self) -> str:
        return f"ScoreData(index={self.index}, score={self.score!r})"


class ScoreResult(ResponseFields, list[float]):
    """``score``: one float per (query, document) pair, in input order, with ``.data``
    (the per-pair objects), ``.raw``, ``.usage``, ``.id``, ``.model`` and ``.timing``."""

    raw: dict[str, Any]
    timing: RequestTiming | None

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None) -> None:
        data = sorted((ScoreData(d) for d in raw.get("data") or () if isinstance(d, dict)), key=lambda d: d.index)
        super().__init__(d.score for d in data)
        self.data = data
        self.raw = raw
        self.timing = timing

    @property
    def scores(self) -> list[float]:
        return list(self)



class ClassificationData(_RawView):
    """One input's class: ``label`` (the argmax; None when the model has no label names),
    ``probs`` and ``num_classes``."""

    __slots__ = ()

    @property
    def index(self) -> int:
        return int(self.raw.get("index") or 0)

    @property
    def label(self) -> str | None:
        return self.raw.get("label")

    @property
    def probs(self) -> list[float]:
        return [float(p) for p in self.raw.get("probs") or ()]

    @property
    def num_classes(self) -> int:
        return int(self.raw.get("num_classes") or len(self.probs))

    def __repr__(self) -> str:
        return f"ClassificationData(index={self.index}, label={self.label!r}, probs={self.probs!r})"


class ClassificationResult(_ListResponse):
    """``classify``: ``.data[i]`` per input; ``.labels`` and ``.probs`` list them in input order."""

    __slots__ = ()

    @property
    def data(self) -> list[ClassificationData]:
        return sorted((ClassificationData(d) for d in self._items()), key=lambda d: d.index)

    @property
    def labels(self) -> list[str | None]:
        return [d.label for d in self.data]

    @property
    def probs(self) -> list[list[float]]:
        return [d.probs for d in self.data]

    def __repr__(self) -> str:
        return f"ClassificationResult(model={self.model!r}, labels={self.labels!r}, usage={self.usage!r})"


class PoolingData(_RawView):
    """One input's pooler output: ``data`` (a vector, or one vector per token for token tasks;
    base64 output is decoded to a flat float list)."""

    __slots__ = ("_dtype", "_endianness")

    def __init__(self, raw: dict[str, Any], dtype: str = "float32", endianness: str = "native") -> None:
        self.raw = raw
        self._dtype = dtype
        self._endianness = endianness

    @property
    def index(self) -> int:
        return int(self.raw.get("index") or 0)

    @property
    def data(self) -> Any:
        value = self.raw.get("data")
        if isinstance(value, str):
            return decode_floats(value, self._dtype, self._endianness)
        return value

    def __repr__(self) -> str:
        return f"PoolingData(index={self.index})"


class PoolingResult(_ListResponse):
    """``pooling``: ``.data[i].data`` per input, in input order."""

    __slots__ = ("_dtype", "_endianness")

    def __init__(self, raw: dict[str, Any], timing: RequestTiming | None = None, *,
                 embed_dtype: str = "float32", endianness: str = "native") -> None:
        super().__init__(raw, timing)
        self._dtype = embed_dtype
        self._endianness = endianness

    @property
    def data(self) -> list[PoolingData]:
        items = (PoolingData(d, self._dtype, self._endianness) for d in self._items())
        return sorted(items, key=lambda d: d.index)

    def __repr__(self) -> str:
        return f"PoolingResult(model={self.model!r}, count={len(self._items())}, usage={self.usage!r})"
