"""The emulator's pooling endpoints: embeddings, pooling, score, rerank, classify.

Answers have the exact shapes of vLLM 0.32's (the real-vllm-0.32 ``embed_*``, ``classify_*``
and ``crossenc_*`` captures: same keys, same order, same types) and its validation errors
(captured from a real server with ``--runner pooling``). One emulator serves them all,
where a real server serves either generation or one pooling task.

Vectors are deterministic and unit-norm: the normalised sum of one seeded random vector per
lower-cased word, so texts that share words are similar and score / rerank order by word
overlap, which is enough for tests to assert on. Scores and rerank relevance are the
cosine similarity of the two embeddings (what vLLM computes for an embedding model).
"""

from __future__ import annotations

import base64
import functools
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import _generate as gen
from . import _shapes as shapes
from . import _validate as val
from ._packing import pack

__all__ = ["ROUTES", "Binary", "PoolingSettings", "embed", "handle", "routes_for"]

_POST = ("POST",)
ROUTES: dict[str, tuple[str, ...]] = {
    "/v1/embeddings": _POST,
    "/pooling": _POST,
    "/classify": _POST,
    "/score": _POST,
    "/v1/score": _POST,
    "/rerank": _POST,
    "/v1/rerank": _POST,
    "/v2/rerank": _POST,
    "/v2/embed": _POST,
}

_SCORE_ROUTES = ("/score", "/v1/score", "/rerank", "/v1/rerank", "/v2/rerank")
# What each pooling task serves on vLLM 0.32 (the embed_*, classify_* and crossenc_* captures:
# the others are 404 {"detail": "Not Found"}). A classifier with one label is a cross-encoder,
# which scores and reranks too.
_TASK_ROUTES: dict[str | None, tuple[str, ...]] = {
    None: tuple(ROUTES),
    "generate": (),
    "embed": ("/v1/embeddings", "/pooling", "/v2/embed", *_SCORE_ROUTES),
    "classify": ("/classify", "/pooling"),
    "transcription": (),
}


def routes_for(task: str | None, num_labels: int) -> dict[str, tuple[str, ...]]:
    """The pooling routes a server started for `task` answers."""
    paths = _TASK_ROUTES[task] + (_SCORE_ROUTES if task == "classify" and num_labels == 1 else ())
    return {p: ROUTES[p] for p in paths}


Problem = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class PoolingSettings:
    model: str
    served: Sequence[str]
    max_model_len: int
    embedding_dim: int
    num_labels: int


# -- vectors ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _word_vector(word: str, dim: int) -> tuple[float, ...]:
    rng = random.Random(f"embed:{word}")
    return tuple(rng.gauss(0.0, 1.0) for _ in range(dim))


def embed(words: Sequence[str], dim: int) -> list[float]:
    """The unit vector of a bag of words (a fixed vector for an empty bag)."""
    acc = [0.0] * dim
    for word in words or ("<empty>",):
        for i, x in enumerate(_word_vector(word, dim)):
            acc[i] += x
    norm = math.sqrt(math.fsum(x * x for x in acc)) or 1.0
    return [x / norm for x in acc]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


@dataclass
class _Prompt:
    words: list[str]
    tokens: int
    text: str | None


def _text_prompt(text: str) -> _Prompt:
    pieces = gen.split_pieces(text)
    return _Prompt([p.strip().lower() for p in pieces if p.strip()], len(pieces), text)


def _ids_prompt(ids: Sequence[int]) -> _Prompt:
    return _Prompt([f"#{i}" for i in ids], len(ids), None)


def _messages_prompt(messages: Sequence[Any]) -> _Prompt:
    p = _text_prompt(gen.render_chat_prompt(messages))
    p.tokens = len(gen.chat_prompt_tokens(messages))
    return p


# -- errors -------------------------------------------------------------------------------------


class _Reject(Exception):
    """Raised with the (status, body) vLLM would answer; ``handle`` sends it."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem[0])
        self.problem = problem


_bad = val.bad_request
_invalid = val.invalid


def _missing(body: Any, *fields: str) -> Problem:
    return val.missing(body, fields)


def _check_model(body: dict[str, Any], served: Sequence[str]) -> Problem | None:
    """Pooling routes word an unknown model more tersely than chat (embed_err_unknown_model)."""
    model = body.get("model")
    if model is None or model in served:
        return None
    return 404, shapes.error_body(f"The model `{model}` does not exist.", "NotFoundError", None, 404)


# Which fields each route's request union reports missing (probed on vLLM 0.32).
_MISSING_INPUT = {
    "/v1/embeddings": ("input", "messages", "messages", "messages", "input", "messages", "input"),
    "/pooling": ("input", "messages", "data"),
    "/classify": ("input", "messages"),
}
_MISSING_SCORE = ("queries", "queries", "items", "data_1", "data_2", "text_1", "text_2")


def _prompts(body: dict[str, Any], s: PoolingSettings) -> list[_Prompt]:
    """The inputs of an embeddings / pooling / classify request, checked as vLLM checks them."""
    if "messages" in body:
        msgs = body["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise _Reject(_invalid("messages", "list_type", "Input should be a valid list", msgs))
        batch = msgs if all(isinstance(m, list) for m in msgs) else [msgs]
        prompts = [_messages_prompt(m) for m in batch]
    else:
        inp = body["input"]
        if isinstance(inp, str):
            items: list[Any] = [inp]
        elif isinstance(inp, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in inp) and inp:
            items = [inp]
        elif isinstance(inp, list):
            items = inp
        else:
            raise _Reject(_invalid("input", "string_type", "Input should be a valid string", inp))
        if not items:
            raise _Reject(_bad("You must pass at least one prompt"))
        prompts = []
        for item in items:
            if isinstance(item, str):
                prompts.append(_text_prompt(item))
            elif isinstance(item, list) and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
                prompts.append(_ids_prompt(item))
            else:
                raise _Reject(_invalid("input", "string_type", "Input should be a valid string", item))
            if prompts[-1].tokens == 0:
                raise _Reject(_bad("The decoder prompt cannot be empty"))
    return _truncate(prompts, body, s)


def _truncate(prompts: list[_Prompt], body: dict[str, Any], s: PoolingSettings) -> list[_Prompt]:
    limit = body.get("truncate_prompt_tokens")
    if isinstance(limit, int) and limit > s.max_model_len:
        raise _Reject(_bad("truncate_prompt_tokens value is greater than max_model_len. "
                    "Please request a smaller truncation size."))
    if isinstance(limit, int) and limit != 0:
        keep = s.max_model_len if limit < 0 else limit
        for p in prompts:
            if p.tokens > keep:
                p.words, p.tokens = p.words[-keep:], keep
    for p in prompts:
        if p.tokens > s.max_model_len:
            n = s.max_model_len + 1  # vLLM tokenizes one past the limit, so it reports "at least"
            raise _Reject(_bad(
                f"This model's maximum context length is {s.max_model_len} tokens. However, your prompt "
                f"contains at least {n} input tokens, which exceeds this limit even without any output "
                f"tokens. Please reduce the length of the input prompt. (parameter=input_tokens, value={n})",
                "input_tokens",
            ))
    return prompts


@dataclass(frozen=True)
class Binary:
    """A binary answer (``encoding_format`` "bytes" / "bytes_only"): the packed vectors, and
    the ``metadata`` header's JSON (None for bytes_only)."""

    chunks: list[bytes]
    metadata: dict[str, Any] | None


Answer = tuple[int, "dict[str, Any] | Binary"]


def _encode(vector: list[float], body: dict[str, Any]) -> list[float] | str:
    if body.get("encoding_format") != "base64":
        return vector
    packed = pack(vector, body.get("embed_dtype") or "float32", body.get("endianness") or "native")
    return base64.b64encode(packed).decode()


_DTYPES = ("float32", "float16", "bfloat16", "fp8_e4m3", "fp8_e5m2")


def _check_encoding(body: dict[str, Any], model: str) -> None:
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64", "bytes", "bytes_only"):
        expected = "'float', 'base64', 'bytes' or 'bytes_only'"
        raise _Reject(_invalid("encoding_format", "literal_error", f"Input should be {expected}", fmt,
                               expected=expected))
    for name, allowed in (("embed_dtype", _DTYPES), ("endianness", ("native", "big", "little"))):
        value = body.get(name, allowed[0])
        if value not in allowed:
            expected = ", ".join(f"'{a}'" for a in allowed[:-1]) + f" or '{allowed[-1]}'"
            raise _Reject(_invalid(name, "literal_error", f"Input should be {expected}", value, expected=expected))
    if body.get("dimensions") is not None:
        raise _Reject(matryoshka(model, body["dimensions"]))


def matryoshka(model: str, dimensions: Any) -> Problem:
    return _bad(f"Model '{model}' does not support Matryoshka embeddings; dimensions must be unset "
                f"(received dimensions={dimensions}).")


def _binary(prefix: str, body: dict[str, Any], vectors: list[list[float]], tokens: int, model: str) -> Binary:
    dtype, order = body.get("embed_dtype") or "float32", body.get("endianness") or "native"
    chunks = [pack(v, dtype, order) for v in vectors]
    if body.get("encoding_format") == "bytes_only":
        return Binary(chunks, None)
    items, at = [], 0
    for i, (chunk, v) in enumerate(zip(chunks, vectors, strict=True)):
        items.append({"index": i, "embed_dtype": dtype, "endianness": order, "start": at, "end": at + len(chunk),
                      "shape": [len(v)]})
        at += len(chunk)
    head = {"id": f"{prefix}-{shapes.random_hex()}", "created": int(time.time()), "model": model}
    return Binary(chunks, {**head, "data": items, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _usage(tokens: int) -> dict[str, Any]:
    return {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0,
            "prompt_tokens_details": None, "completion_tokens_details": None}


def _head(prefix: str, model: str) -> dict[str, Any]:
    return {"id": f"{prefix}-{shapes.random_hex()}", "object": "list", "created": int(time.time()), "model": model}


# -- endpoints ----------------------------------------------------------------------------------


def _embeddings(path: str, body: dict[str, Any], s: PoolingSettings, model: str) -> Answer:
    _check_encoding(body, model)
    prompts = _prompts(body, s)
    if body.get("encoding_format") in ("bytes", "bytes_only"):
        floats = [embed(p.words, s.embedding_dim) for p in prompts]
        prefix = "pooling" if path == "/pooling" else "embd"
        return 200, _binary(prefix, body, floats, sum(p.tokens for p in prompts), model)
    vectors = [_encode(embed(p.words, s.embedding_dim), body) for p in prompts]
    if path == "/pooling":
        data = [{"index": i, "object": "pooling", "data": v} for i, v in enumerate(vectors)]
        return 200, {**_head("pooling", model), "data": data, "usage": _usage(sum(p.tokens for p in prompts))}
    data = [{"index": i, "object": "embedding", "embedding": v} for i, v in enumerate(vectors)]
    return 200, {**_head("embd", model), "data": data, "usage": _usage(sum(p.tokens for p in prompts))}


def _classify(body: dict[str, Any], s: PoolingSettings, model: str) -> Problem:
    prompts = _prompts(body, s)
    data = []
    for i, p in enumerate(prompts):
        logits = embed(p.words, max(s.num_labels, 1))
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]
        probs = [e / sum(exps) for e in exps] if s.num_labels > 1 else [1 / (1 + math.exp(-logits[0]))]
        label = f"LABEL_{probs.index(max(probs))}"
        data.append({"index": i, "label": label, "probs": probs, "num_classes": s.num_labels})
    return 200, {**_head("classify", model), "data": data, "usage": _usage(sum(p.tokens for p in prompts))}


def _score_items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _score_prompt(item: Any) -> _Prompt:
    if isinstance(item, dict):  # multimodal {"content": [parts]}: score its text parts
        item = " ".join(str(p.get("text", "")) for p in item.get("content") or () if isinstance(p, dict))
    return _text_prompt(str(item))


def _pairs(first: list[Any], second: list[Any], s: PoolingSettings) -> tuple[list[float], int]:
    """Cosine scores of 1:1, 1:N or N:N pairs, and the prompt tokens they took."""
    if len(first) > 1 and len(first) != len(second):
        raise _Reject(_bad("Input lengths must be either 1:1, 1:N or N:N"))
    if not first:
        raise _Reject(_bad("At least one text element must be given"))
    if not second:
        raise _Reject(_bad("At least one text_pair element must be given"))
    a = [_score_prompt(x) for x in first]
    b = [_score_prompt(x) for x in second]
    va = [embed(p.words, s.embedding_dim) for p in a]
    scores = [_cosine(va[i if len(va) > 1 else 0], embed(p.words, s.embedding_dim)) for i, p in enumerate(b)]
    return scores, sum(p.tokens for p in a) + sum(p.tokens for p in b)


_SCORE_FORMS = (("queries", "documents"), ("queries", "items"), ("data_1", "data_2"), ("text_1", "text_2"))


def _score(body: dict[str, Any], s: PoolingSettings, model: str) -> Problem:
    form = next((f for f in _SCORE_FORMS if f[0] in body and f[1] in body), None)
    if form is None:
        return _missing(body, *_MISSING_SCORE)
    scores, tokens = _pairs(_score_items(body[form[0]]), _score_items(body[form[1]]), s)
    data = [{"index": i, "object": "score", "score": x} for i, x in enumerate(scores)]
    return 200, {**_head("score", model), "data": data, "usage": _usage(tokens)}


def _rerank(body: dict[str, Any], s: PoolingSettings, model: str) -> Problem:
    missing = [f for f in ("query", "documents") if f not in body]
    if missing:
        return _missing(body, *missing)
    top_n = body.get("top_n", 0)
    if not isinstance(top_n, int) or isinstance(top_n, bool):
        return _invalid("top_n", "int_type", "Input should be a valid integer", top_n)
    if top_n < 0:
        return _invalid("top_n", "greater_than_equal", "Input should be greater than or equal to 0", top_n, ge=0)
    docs = _score_items(body["documents"])
    scores, tokens = _pairs([body["query"]], docs, s)
    results: list[dict[str, Any]] = []
    for i, (doc, x) in enumerate(zip(docs, scores, strict=True)):
        if isinstance(doc, dict):
            document = {"text": None, "multi_modal": doc.get("content") or []}
        else:
            document = {"text": doc, "multi_modal": None}
        results.append({"index": i, "document": document, "relevance_score": x})
    results.sort(key=lambda r: -float(r["relevance_score"]))
    if 0 < top_n < len(results):
        results = results[:top_n]
    head = {"id": f"score-{shapes.random_hex()}", "model": model}
    return 200, {**head, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}, "results": results}


def handle(path: str, content_type: str | None, raw: bytes, s: PoolingSettings) -> Answer:
    """(status, JSON object or :class:`Binary`) for a POST to one of :data:`ROUTES`."""
    body, problem = val.parse_body(content_type, raw)
    if problem is not None:
        return problem
    if not isinstance(body, dict):
        return _invalid("", "model_attributes_type",
                        "Input should be a valid dictionary or object to extract fields from", body)
    problem = _check_model(body, s.served)
    if problem is not None:
        return problem
    model = str(body.get("model") or s.model)
    if path in _MISSING_INPUT and "input" not in body and "messages" not in body:
        return _missing(body, *_MISSING_INPUT[path])
    try:
        if path == "/v2/embed":
            from ._cohere import cohere_embed  # (it builds on this module)

            return cohere_embed(body, s, model)
        if path in ("/v1/embeddings", "/pooling"):
            return _embeddings(path, body, s, model)
        if path == "/classify":
            return _classify(body, s, model)
        if path.endswith("/score"):
            return _score(body, s, model)
        return _rerank(body, s, model)
    except _Reject as reject:
        return reject.problem
