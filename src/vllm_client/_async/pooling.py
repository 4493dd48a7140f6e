"""``client.embeddings`` and the client's tokenizer / pooling methods (``embed_v2``,
``tokenizer_info`` included).

vLLM serves these next to the OpenAI API: embeddings under ``/v1``, the rest at the server
root (``/tokenize``, ``/detokenize``, ``/rerank``, ``/score``, ``/classify``, ``/pooling``).
Requests are built and checked in ``_protocol.pooling``; this module only sends them and
wraps the answers. The methods live in a mixin so ``AsyncVllmClient`` stays about
configuration and sending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack

from .._errors import ResponseParseError
from .._protocol.binary_pooling import decode_binary, wants_binary
from .._protocol.cohere import EmbedV2Call, EmbedV2Result, build_embed_v2
from .._protocol.params import CallOptions
from .._protocol.pooling import (
    ClassifyCall,
    DetokenizeCall,
    EmbeddingCall,
    PoolingCall,
    RerankCall,
    ScoreCall,
    ScoreInput,
    TokenizeCall,
    build_classify,
    build_detokenize,
    build_embeddings,
    build_pooling,
    build_rerank,
    build_score,
    build_tokenize,
)
from .._protocol.pooling_types import (
    ClassificationResult,
    EmbeddingResponse,
    PoolingResult,
    RerankResult,
    ScoreResult,
    TokenizeResult,
)
from .._protocol.requests import build_simple

if TYPE_CHECKING:
    from .._protocol.requests import RequestSpec
    from .._protocol.types import RequestTiming
    from .client import AsyncVllmClient

__all__ = ["AsyncEmbeddings", "AsyncPoolingMixin"]

def _encoding(spec: RequestSpec) -> dict[str, str]:
    """How base64 vectors were packed: as asked (``extra_body`` included), else vLLM's default."""
    body = spec.body or {}
    return {"embed_dtype": str(body.get("embed_dtype") or "float32"),
            "endianness": str(body.get("endianness") or "native")}


class AsyncEmbeddings:
    """``POST /v1/embeddings``."""

    def __init__(self, client: AsyncVllmClient) -> None:
        self._client = client

    async def create(self, input: Any = None, *, messages: Sequence[Any] | None = None,
                     **params: Unpack[EmbeddingCall]) -> EmbeddingResponse:
        """Embed ``input`` (a str, a list of str, a list of token ids or a list of token-id
        lists) or ``messages`` (one conversation or a list of them, rendered by the chat
        template). Every vLLM field is a keyword (``dimensions``, ``truncate_prompt_tokens``,
        ``use_activation``, ``encoding_format``...). ``.embeddings`` are floats either way:
        base64 answers are decoded."""
        spec = build_embeddings(input, messages, params)
        if wants_binary(spec.body):
            body, headers, timing = await self._client._request_bytes(spec)
            return EmbeddingResponse(decode_binary(body, headers, spec.body or {}), timing)
        data, timing = await self._client._request_json(spec)
        return EmbeddingResponse(data, timing, **_encoding(spec))


class AsyncPoolingMixin:
    """``tokenize``, ``detokenize``, ``rerank``, ``score``, ``classify`` and ``pooling``."""

    if TYPE_CHECKING:
        async def _request_json(self, spec: RequestSpec,
                                _server: int | None = None) -> tuple[Any, RequestTiming]: ...

        async def _request_bytes(self, spec: RequestSpec) -> tuple[bytes, dict[str, str], RequestTiming]: ...

    async def tokenize(self, prompt: str | None = None, *, messages: Sequence[Any] | None = None,
                       **params: Unpack[TokenizeCall]) -> TokenizeResult:
        """Token ids of ``prompt``, or of ``messages`` rendered by the chat template (with
        ``tools``, ``add_generation_prompt``...): count them before sending, check the room
        left in ``max_model_len``. ``return_token_strs=True`` adds the token strings."""
        data, _ = await self._request_json(build_tokenize(prompt, messages, params))
        return TokenizeResult(data)

    async def detokenize(self, tokens: Sequence[int], **params: Unpack[DetokenizeCall]) -> str:
        """The text of ``tokens``. (vLLM drops ids outside the vocabulary silently.)"""
        data, _ = await self._request_json(build_detokenize(tokens, params))
        return str(data.get("prompt", "")) if isinstance(data, dict) else str(data)

    async def rerank(self, query: ScoreInput, documents: Sequence[ScoreInput] | ScoreInput, *,
                     top_n: int | None = None, **params: Unpack[RerankCall]) -> RerankResult:
        """Rank ``documents`` by relevance to ``query``, best first; ``top_n`` keeps the best
        n. Items unpack as ``index, relevance_score, document``."""
        data, timing = await self._request_json(build_rerank(query, documents, top_n, params))
        return RerankResult(data, timing)

    async def score(self, queries: Sequence[ScoreInput] | ScoreInput, documents: Sequence[ScoreInput] | ScoreInput,
                    **params: Unpack[ScoreCall]) -> ScoreResult:
        """Similarity of each (query, document) pair, in input order: one query against N
        documents, or N queries against N documents pairwise."""
        data, timing = await self._request_json(build_score(queries, documents, params))
        return ScoreResult(data, timing)

    async def classify(self, input: Any = None, *, messages: Sequence[Any] | None = None,
                       **params: Unpack[ClassifyCall]) -> ClassificationResult:
        """Class probabilities per input (a classification model: ``--convert classify``)."""
        data, timing = await self._request_json(build_classify(input, messages, params))
        return ClassificationResult(data, timing)

    async def pooling(self, input: Any = None, *, messages: Sequence[Any] | None = None,
                      **params: Unpack[PoolingCall]) -> PoolingResult:
        """The pooler's raw output per input (``task=`` picks embed, classify, token_embed...)."""
        spec = build_pooling(input, messages, params)
        if wants_binary(spec.body):
            body, headers, timing = await self._request_bytes(spec)
            return PoolingResult(decode_binary(body, headers, spec.body or {}, object_name="pooling", key="data"),
                                 timing)
        data, timing = await self._request_json(spec)
        return PoolingResult(data, timing, **_encoding(spec))

    async def embed_v2(self, texts: Sequence[str] | None = None, *, images: Sequence[str] | None = None,
                       inputs: Sequence[Mapping[str, Any]] | None = None,
                       **params: Unpack[EmbedV2Call]) -> EmbedV2Result:
        """Cohere-style embeddings (``POST /v2/embed``, an embedding model): exactly one of
        ``texts``, ``images`` (data or http URLs) or ``inputs`` (``[{"content": [parts]}]``);
        ``embedding_types`` any of "float" (default), "binary", "ubinary", "base64";
        ``input_type`` only for a model with task instructions (vLLM refuses it otherwise).
        Named after the route so code written for Cohere's v2 ``embed`` maps one to one,
        beside the OpenAI-shaped ``embeddings.create``."""
        data, timing = await self._request_json(build_embed_v2(texts, images, inputs, params))
        return EmbedV2Result(data, timing)

    async def tokenizer_info(self, **options: Unpack[CallOptions]) -> dict[str, Any]:
        """The server's tokenizer configuration (``GET /tokenizer_info``: the tokenizer's init
        arguments, ``tokenizer_class``, the chat template when one was given); the server
        needs ``--enable-tokenizer-info-endpoint``."""
        data, _ = await self._request_json(build_simple("GET", "/tokenizer_info", root=True, options=options))
        if not isinstance(data, dict):
            raise ResponseParseError(f"expected a JSON object from /tokenizer_info, got {type(data).__name__}")
        return data
