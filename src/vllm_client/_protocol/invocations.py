"""``POST /invocations``: the SageMaker entry point. Request and typed answer, pure.

vLLM 0.32 (``serve/sagemaker/api_router.py``) validates the body against each request type the
served task has, in order -- chat (``messages``), then completion (``prompt``) on a generating
model; embeddings, classification, rerank, score, pooling on a pooling model -- and answers as
the first that fits would (a stream for ``"stream": true``); nothing fits: 400 "Cannot find
suitable handler". The header ``X-Amzn-SageMaker-Adapter-Identifier`` picks a LoRA adapter in
place of ``model``. The route is never authenticated. Which endpoint answered is told by the
answer's shape, so the result is typed from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from .pooling_types import ClassificationResult, EmbeddingResponse, PoolingResult, RerankResult, ScoreResult
from .requests import RequestSpec, build_simple
from .types import ChatCompletion, Completion, RequestTiming

__all__ = ["ADAPTER_HEADER", "InvocationResult", "build_invocation", "typed_answer"]

ADAPTER_HEADER = "X-Amzn-SageMaker-Adapter-Identifier"

InvocationResult = Union[ChatCompletion, Completion, EmbeddingResponse, ClassificationResult, PoolingResult,
                         ScoreResult, RerankResult, "dict[str, Any]"]


def build_invocation(body: Mapping[str, Any], adapter: str | None, options: Mapping[str, Any]) -> RequestSpec:
    if not isinstance(body, Mapping):
        raise TypeError(f"invocations() takes the request body as a dict, got {type(body).__name__}")
    spec = build_simple("POST", "/invocations", body=dict(body), root=True, options=options)
    spec.stream = bool(body.get("stream"))
    if adapter is not None:
        spec.headers[ADAPTER_HEADER] = adapter
    return spec


def typed_answer(raw: Any, timing: RequestTiming | None = None) -> InvocationResult:
    """The result type of the endpoint that answered, read off the answer (else the dict)."""
    if not isinstance(raw, dict):
        return {"value": raw}
    obj = raw.get("object")
    if obj == "chat.completion":
        return ChatCompletion(raw, timing)
    if obj == "text_completion":
        return Completion(raw, timing)
    if isinstance(raw.get("results"), list):
        return RerankResult(raw, timing)
    data = raw.get("data")
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    kind = first.get("object")
    if kind == "embedding":
        return EmbeddingResponse(raw, timing)
    if kind == "pooling":
        return PoolingResult(raw, timing)
    if kind == "score":
        return ScoreResult(raw, timing)
    if "probs" in first:
        return ClassificationResult(raw, timing)
    return raw
