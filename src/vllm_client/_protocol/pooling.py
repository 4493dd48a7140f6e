"""Keyword arguments -> validated requests for vLLM's tokenizer and pooling endpoints. Pure.

Routes follow what vLLM 0.32 serves (see the real-vllm-0.32 captures): ``/v1/embeddings``
under the base URL; ``/tokenize``, ``/detokenize``, ``/pooling``, ``/classify``, ``/score``
and ``/rerank`` at the server root (``/v1/score`` and ``/v1/rerank`` are deprecated aliases
that log a warning on every call, and ``/v1/classify`` does not exist). ``score`` sends
``queries``/``documents``, the first form of vLLM's score request union (``text_1``/``text_2``
is the legacy spelling). Field lists were read off vLLM 0.32's request models
(``PoolingBasicRequestMixin`` and the embed/classify/pooling/scoring/tokenize models).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union

from typing_extensions import TypedDict

from .params import CallOptions
from .requests import RequestSpec, _check_messages, _options, body_fields, split_kwargs
from .vectors import ITEMSIZE

__all__ = [
    "ClassifyParams",
    "DetokenizeParams",
    "EmbeddingParams",
    "PoolingParams",
    "RerankParams",
    "ScoreParams",
    "TokenizeParams",
    "build_classify",
    "build_detokenize",
    "build_embeddings",
    "build_pooling",
    "build_rerank",
    "build_score",
    "build_tokenize",
]

EmbedInput = Union[str, Sequence[str], Sequence[int], Sequence[Sequence[int]]]
ScoreInput = Union[str, Mapping[str, Any]]
EmbedDType = Literal["float32", "float16", "bfloat16", "fp8_e4m3", "fp8_e5m2"]


class _PoolingBase(TypedDict, total=False):
    """``PoolingBasicRequestMixin``: fields every pooling request takes."""

    model: str | None
    user: str | None
    truncate_prompt_tokens: int | None
    padding: Literal["max_length", "do_not_pad"] | None
    truncation_side: Literal["left", "right"] | None
    request_id: str
    priority: int
    mm_processor_kwargs: Mapping[str, Any] | None
    cache_salt: str | None


class _ChatOptions(TypedDict, total=False):
    """Chat-template options; they apply when the input is ``messages``."""

    add_generation_prompt: bool
    continue_final_message: bool
    chat_template: str | None
    chat_template_kwargs: Mapping[str, Any] | None
    media_io_kwargs: Mapping[str, Any] | None


class _Encoding(TypedDict, total=False):
    encoding_format: Literal["float", "base64", "bytes", "bytes_only"]
    embed_dtype: EmbedDType
    endianness: Literal["native", "big", "little"]


class EmbeddingParams(_PoolingBase, _ChatOptions, _Encoding, total=False):
    """Keyword arguments of ``embeddings.create`` besides ``input`` / ``messages``."""

    add_special_tokens: bool
    dimensions: int | None
    use_activation: bool | None


class PoolingParams(EmbeddingParams, total=False):
    """Keyword arguments of ``pooling`` besides ``input`` / ``messages``."""

    task: Literal["embed", "classify", "token_embed", "token_classify", "plugin"] | None


class ClassifyParams(_PoolingBase, _ChatOptions, total=False):
    """Keyword arguments of ``classify`` besides ``input`` / ``messages``."""

    add_special_tokens: bool
    use_activation: bool | None


class ScoreParams(_PoolingBase, total=False):
    """Keyword arguments of ``score`` besides ``queries`` and ``documents`` (``ScoringRequestMixin``)."""

    use_activation: bool | None
    max_tokens_per_query: int
    max_tokens_per_doc: int
    instruction: str | None
    chat_template_kwargs: Mapping[str, Any] | None


class RerankParams(ScoreParams, total=False):
    """Keyword arguments of ``rerank`` besides ``query``, ``documents`` and ``top_n``."""


class TokenizeParams(TypedDict, total=False):
    """Keyword arguments of ``tokenize`` (prompt form and chat form)."""

    model: str | None
    add_special_tokens: bool
    return_token_strs: bool | None
    add_generation_prompt: bool
    continue_final_message: bool
    chat_template: str | None
    chat_template_kwargs: Mapping[str, Any] | None
    media_io_kwargs: Mapping[str, Any] | None
    mm_processor_kwargs: Mapping[str, Any] | None
    tools: Sequence[Any] | None


class DetokenizeParams(TypedDict, total=False):
    model: str | None


class EmbeddingCall(EmbeddingParams, CallOptions, total=False):
    """Every keyword of ``embeddings.create``."""


class PoolingCall(PoolingParams, CallOptions, total=False):
    """Every keyword of ``pooling``."""


class ClassifyCall(ClassifyParams, CallOptions, total=False):
    """Every keyword of ``classify``."""


class ScoreCall(ScoreParams, CallOptions, total=False):
    """Every keyword of ``score``."""


class RerankCall(RerankParams, CallOptions, total=False):
    """Every keyword of ``rerank`` besides ``top_n``."""


class TokenizeCall(TokenizeParams, CallOptions, total=False):
    """Every keyword of ``tokenize``."""


class DetokenizeCall(DetokenizeParams, CallOptions, total=False):
    """Every keyword of ``detokenize``."""


EMBEDDING_FIELDS = frozenset(EmbeddingParams.__annotations__)
POOLING_FIELDS = frozenset(PoolingParams.__annotations__)
CLASSIFY_FIELDS = frozenset(ClassifyParams.__annotations__)
SCORE_FIELDS = frozenset(ScoreParams.__annotations__)
RERANK_FIELDS = frozenset(RerankParams.__annotations__)
TOKENIZE_FIELDS = frozenset(TokenizeParams.__annotations__)
DETOKENIZE_FIELDS = frozenset(DetokenizeParams.__annotations__)
CHAT_ONLY = frozenset(_ChatOptions.__annotations__) | {"tools"}


# -- value checks -----------------------------------------------------------------------------


def _is_token(t: Any) -> bool:
    return isinstance(t, int) and not isinstance(t, bool)


def _token_ids(name: str, ids: Any) -> list[int]:
    if not isinstance(ids, (list, tuple)) or not all(_is_token(t) for t in ids):
        raise TypeError(f"{name} must be a list of int token ids, got {ids!r}")
    if any(t < 0 for t in ids):
        raise ValueError(f"{name} must be token ids >= 0, got {list(ids)!r}")
    return list(ids)


def _text_input(name: str, value: Any) -> Any:
    """``str | list[str] | list[int] | list[list[int]]``, non-empty: what vLLM's completion-style
    pooling requests take as ``input``."""
    if isinstance(value, str):
        if not value:
            raise ValueError(f"{name} must not be an empty string (vLLM refuses empty prompts)")
        return value
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{name} must not be empty")
        if all(isinstance(v, str) for v in value):
            if not all(value):
                raise ValueError(f"{name} must not contain an empty string (vLLM refuses empty prompts)")
            return list(value)
        if all(_is_token(v) for v in value):
            return _token_ids(name, value)
        if all(isinstance(v, (list, tuple)) for v in value):
            if any(not v for v in value):
                raise ValueError(f"{name} must not contain an empty token list")
            return [_token_ids(name, v) for v in value]
    raise TypeError(f"{name} must be a str, a list of str, a list of token ids or a list of token-id lists, "
                    f"got {type(value).__name__}")


def _conversations(messages: Any) -> list[Any]:
    """One conversation (a list of message dicts) or a batch of them (a list of such lists)."""
    if isinstance(messages, (list, tuple)) and messages and all(isinstance(m, (list, tuple)) for m in messages):
        return [_check_messages(m) for m in messages]
    return _check_messages(messages)


def _input_or_messages(method: str, input: Any, messages: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    if (input is None) == (messages is None):
        raise TypeError(f"{method}() takes input or messages (exactly one)")
    if messages is None:
        misplaced = sorted(CHAT_ONLY & params.keys())
        if misplaced:
            raise TypeError(f"{method}(): {', '.join(misplaced)} apply to messages= only")
        return {"input": _text_input("input", input)}
    _check_generation_flags(params)
    return {"messages": _conversations(messages)}


def _check_generation_flags(params: Mapping[str, Any]) -> None:
    if params.get("add_generation_prompt") and params.get("continue_final_message"):
        raise ValueError("add_generation_prompt and continue_final_message cannot both be True")


def _positive_int(name: str, value: Any, minimum: int) -> None:
    if value is None:
        return
    if not _is_token(value):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _check_pooling(params: Mapping[str, Any]) -> None:
    """ValueError for values vLLM rejects for sure; the server stays the judge of the rest."""
    _positive_int("truncate_prompt_tokens", params.get("truncate_prompt_tokens"), -1)
    _positive_int("dimensions", params.get("dimensions"), 1)
    for name in ("max_tokens_per_query", "max_tokens_per_doc"):
        _positive_int(name, params.get(name), 0)
    fmt = params.get("encoding_format")
    if fmt is not None and fmt not in ("float", "base64", "bytes", "bytes_only"):
        raise ValueError(f"encoding_format must be 'float', 'base64', 'bytes' or 'bytes_only', got {fmt!r}")
    dtype = params.get("embed_dtype")
    if dtype is not None and dtype not in ITEMSIZE:
        raise ValueError(f"embed_dtype must be one of {', '.join(map(repr, ITEMSIZE))}, got {dtype!r}")
    order = params.get("endianness")
    if order is not None and order not in ("native", "big", "little"):
        raise ValueError(f"endianness must be 'native', 'big' or 'little', got {order!r}")


def _score_item(name: str, value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "content" in value:
        return dict(value)
    raise TypeError(f"{name} must be a str or a multimodal {{'content': [...]}} dict, got {type(value).__name__}")


def _score_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, (str, Mapping)):
        return [_score_item(name, value)]
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a str or a list of str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    return [_score_item(f"{name}[{i}]", v) for i, v in enumerate(value)]


# -- builders ---------------------------------------------------------------------------------


def _spec(path: str, body: dict[str, Any], options: Mapping[str, Any], *, root: bool,
          resolve_model: bool = True) -> RequestSpec:
    spec = _options(options, RequestSpec("POST", path, body=body, root=root))
    spec.needs_model = resolve_model and "model" not in body
    return spec


def _input_request(method: str, fields: frozenset[str], path: str, *, root: bool,
                   input: Any, messages: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """The requests that pool one input (text, tokens or chat ``messages``) per item."""
    params, options = split_kwargs(method, kwargs, fields)
    _check_pooling(params)
    body = body_fields(params) | _input_or_messages(method, input, messages, params)
    return _spec(path, body, options, root=root)


def build_embeddings(input: Any, messages: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """``embeddings.create`` -> ``POST /v1/embeddings``."""
    return _input_request("create", EMBEDDING_FIELDS, "/embeddings", root=False, input=input, messages=messages,
                          kwargs=kwargs)


def build_pooling(input: Any, messages: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """``pooling`` -> ``POST /pooling`` (root): the pooler's raw output."""
    return _input_request("pooling", POOLING_FIELDS, "/pooling", root=True, input=input, messages=messages,
                          kwargs=kwargs)


def build_classify(input: Any, messages: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """``classify`` -> ``POST /classify`` (root; vLLM 0.32 has no ``/v1/classify``)."""
    return _input_request("classify", CLASSIFY_FIELDS, "/classify", root=True, input=input, messages=messages,
                          kwargs=kwargs)


def build_score(queries: Any, documents: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """``score`` -> ``POST /score`` (root) with ``queries`` / ``documents``.

    vLLM pairs them 1:1, 1:N or N:N; any other shape is refused here as it would be there.
    """
    params, options = split_kwargs("score", kwargs, SCORE_FIELDS)
    _check_pooling(params)
    q = _score_list("queries", queries)
    d = _score_list("documents", documents)
    if len(q) > 1 and len(q) != len(d):
        raise ValueError(f"queries and documents must pair 1:1, 1:N or N:N, got {len(q)}:{len(d)}")
    body = body_fields(params)
    body["queries"] = q[0] if isinstance(queries, (str, Mapping)) else q
    body["documents"] = d[0] if isinstance(documents, (str, Mapping)) else d
    return _spec("/score", body, options, root=True)


def build_rerank(query: Any, documents: Any, top_n: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """``rerank`` -> ``POST /rerank`` (root). ``top_n=None`` returns every document."""
    params, options = split_kwargs("rerank", kwargs, RERANK_FIELDS | {"top_n"})  # top_n: for the hint
    top_n = params.pop("top_n", top_n)
    _check_pooling(params)
    if isinstance(top_n, bool) or (top_n is not None and not isinstance(top_n, int)):
        raise TypeError(f"top_n must be an integer, got {top_n!r}")
    if top_n is not None and top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    body = body_fields(params)
    body["query"] = _score_item("query", query)
    body["documents"] = _score_list("documents", documents)
    if top_n is not None:
        body["top_n"] = top_n
    return _spec("/rerank", body, options, root=True)


def build_tokenize(prompt: Any, messages: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """``tokenize`` -> ``POST /tokenize`` (root), prompt form or chat form."""
    params, options = split_kwargs("tokenize", kwargs, TOKENIZE_FIELDS)
    if (prompt is None) == (messages is None):
        raise TypeError("tokenize() takes a prompt or messages (exactly one)")
    body = body_fields(params)
    if messages is None:
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        misplaced = sorted(CHAT_ONLY & body.keys())
        if misplaced:
            raise TypeError(f"tokenize(): {', '.join(misplaced)} apply to messages= only")
        body["prompt"] = prompt
    else:
        _check_generation_flags(params)
        body["messages"] = _check_messages(messages)
    # The tokenizer routes take the served model when none is named: no /v1/models round trip.
    return _spec("/tokenize", body, options, root=True, resolve_model=False)


def build_detokenize(tokens: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """``detokenize`` -> ``POST /detokenize`` (root)."""
    params, options = split_kwargs("detokenize", kwargs, DETOKENIZE_FIELDS)
    body = body_fields(params)
    body["tokens"] = _token_ids("tokens", tokens)
    return _spec("/detokenize", body, options, root=True, resolve_model=False)
