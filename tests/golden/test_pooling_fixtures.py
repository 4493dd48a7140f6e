"""Real vLLM 0.32 captures of the tokenizer and pooling endpoints, decoded into the result types;
the requests we build against the requests captured; and the emulator's answers against the
captures' shapes (same keys, order and types) and error bodies.

Captures come from three pooling servers (``embed``, ``classify``, ``crossenc``) and the
plain generate server (tokenize / detokenize, embeddings on a generate model).
"""

from __future__ import annotations

import http.client
import json
import math
from typing import Any

import pytest
from golden_fixtures import load_fixture, request_json

from vllm_client import (
    BadRequestError,
    ClassificationResult,
    EmbeddingResponse,
    ModelNotFoundError,
    NotFoundError,
    PoolingResult,
    RerankResult,
    ScoreResult,
    TokenizeResult,
)
from vllm_client._errors import error_from_response
from vllm_client._protocol.pooling import (
    build_classify,
    build_detokenize,
    build_embeddings,
    build_pooling,
    build_rerank,
    build_score,
    build_tokenize,
)
from vllm_client._protocol.requests import RequestSpec
from vllm_client.testing import MockVllmServer

EMBEDDINGS = ["embed_basic", "embed_list", "embed_messages", "embed_token_ids", "embed_base64"]
RERANKS = ["embed_rerank", "embed_rerank_v1_top_n", "embed_rerank_v2", "crossenc_rerank",
           "crossenc_rerank_v1_top_n", "crossenc_rerank_v2"]
SCORES = ["embed_score", "embed_score_v1", "crossenc_score", "crossenc_score_v1_queries_documents"]
CLASSIFIES = ["classify_basic", "classify_list", "crossenc_classify"]
POOLINGS = ["embed_pooling", "classify_pooling"]
TOKENIZES = ["tokenize_prompt", "tokenize_messages", "tokenize_messages_tools", "tokenize_prompt_special_text",
             "embed_tokenize", "auth_tokenize_no_key"]


def raw(name: str) -> Any:
    return json.loads(load_fixture(name)["response"]["body"])


def req(name: str) -> dict[str, Any]:
    body: dict[str, Any] = request_json(load_fixture(name))
    return body


# -- decoding -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EMBEDDINGS)
def test_embeddings_decode(name: str) -> None:
    data = raw(name)
    resp = EmbeddingResponse(data)
    assert resp.raw is data
    assert (resp.id, resp.model, resp.created) == (data["id"], data["model"], data["created"])
    assert resp.id.startswith("embd-")
    assert len(resp.data) == len(data["data"]) == len(resp.embeddings)
    assert resp.usage is not None and resp.usage.prompt_tokens == data["usage"]["prompt_tokens"]
    for item, vec in zip(resp.data, resp.embeddings, strict=True):
        assert item.embedding is vec
        assert len(vec) == 128 and all(isinstance(x, float) for x in vec)
        assert math.isclose(math.fsum(x * x for x in vec), 1.0, rel_tol=1e-5)  # vLLM normalises
        if isinstance(item.raw["embedding"], list):
            assert vec == item.raw["embedding"]


def test_base64_embedding_equals_the_float_one() -> None:
    """embed_base64 embeds "hello" as base64 float32; embed_list's first vector is "hello" as floats."""
    b64 = EmbeddingResponse(raw("embed_base64"))
    assert isinstance(b64.data[0].raw["embedding"], str)
    floats = EmbeddingResponse(raw("embed_list")).embeddings[0]
    assert req("embed_base64")["input"] == req("embed_list")["input"][0] == "hello"
    assert b64.embeddings[0] == pytest.approx(floats, abs=1e-7)


def test_pooling_on_an_embed_model_is_the_embedding() -> None:
    pooled = PoolingResult(raw("embed_pooling"))
    assert pooled.data[0].data == EmbeddingResponse(raw("embed_list")).embeddings[0]


@pytest.mark.parametrize("name", POOLINGS)
def test_pooling_decodes(name: str) -> None:
    data = raw(name)
    res = PoolingResult(data)
    assert res.raw is data and res.id.startswith("pooling-")
    assert [d.data for d in res.data] == [d["data"] for d in data["data"]]
    assert res.usage is not None and res.usage.total_tokens == data["usage"]["total_tokens"]


@pytest.mark.parametrize("name", TOKENIZES)
def test_tokenize_decodes(name: str) -> None:
    data = raw(name)
    tok = TokenizeResult(data)
    assert tok.raw is data
    assert tok.count == len(tok.tokens) == data["count"]
    assert tok.tokens == data["tokens"]
    assert tok.max_model_len == 2048
    assert tok.token_strs == data["token_strs"]
    if req(name).get("return_token_strs"):
        assert tok.token_strs is not None and len(tok.token_strs) == tok.count


def test_tokenize_detokenize_captures_agree() -> None:
    """detokenize.json sends tokenize_prompt's ids back and gets the prompt."""
    assert req("detokenize")["tokens"] == TokenizeResult(raw("tokenize_prompt")).tokens
    assert raw("detokenize")["prompt"] == req("tokenize_prompt")["prompt"]


@pytest.mark.parametrize("name", RERANKS)
def test_rerank_decodes_sorted(name: str) -> None:
    data = raw(name)
    docs = req(name)["documents"]
    res = RerankResult(data)
    assert res.raw is data and res.id.startswith("score-") and res.model == "tiny"
    assert len(res) == min(req(name).get("top_n") or len(docs), len(docs))
    scores = [r.relevance_score for r in res]
    assert scores == sorted(scores, reverse=True)
    for item in res:
        index, score, document = item
        assert document == docs[index] and item.multi_modal is None
        assert score == item.score
    assert res.usage is not None and res.usage.prompt_tokens == data["usage"]["prompt_tokens"]
    assert res.usage.completion_tokens == 0


def test_rerank_is_sorted_even_when_the_server_is_not() -> None:
    data = raw("embed_rerank_v2")
    data["results"].reverse()
    assert RerankResult(data).indices == [0, 1]


@pytest.mark.parametrize("name", SCORES)
def test_score_decodes_in_input_order(name: str) -> None:
    data = raw(name)
    res = ScoreResult(data)
    assert res.raw is data
    assert res == [d["score"] for d in sorted(data["data"], key=lambda d: d["index"])] == res.scores
    assert [d.index for d in res.data] == list(range(len(res)))
    assert res.usage is not None and res.usage.prompt_tokens == data["usage"]["prompt_tokens"]


def test_score_and_rerank_agree() -> None:
    """Same query and documents: /v1/score (queries/documents) and /v2/rerank give the same numbers."""
    for score_name, rerank_name in (("embed_score_v1", "embed_rerank_v2"),
                                    ("crossenc_score_v1_queries_documents", "crossenc_rerank_v2")):
        scores = ScoreResult(raw(score_name))
        for item in RerankResult(raw(rerank_name)):
            assert item.relevance_score == scores[item.index]


@pytest.mark.parametrize("name", CLASSIFIES)
def test_classify_decodes(name: str) -> None:
    data = raw(name)
    res = ClassificationResult(data)
    assert res.raw is data and res.id.startswith("classify-")
    inputs = req(name)["input"]
    assert len(res.data) == (len(inputs) if isinstance(inputs, list) else 1)
    for item in res.data:
        assert item.num_classes == len(item.probs)
        assert item.label == f"LABEL_{item.probs.index(max(item.probs))}"
        if item.num_classes > 1:
            assert math.isclose(sum(item.probs), 1.0, rel_tol=1e-5)
    assert res.labels == [d.label for d in res.data] and res.probs == [d.probs for d in res.data]


@pytest.mark.parametrize(("name", "cls"), [
    ("err_embeddings_on_generate_model", NotFoundError),
    ("classify_embeddings_unsupported", NotFoundError),
    ("embed_classify_unsupported", NotFoundError),
    ("classify_rerank", NotFoundError),
    ("classify_score", NotFoundError),
    ("classify_v1", NotFoundError),
    ("embed_err_unknown_model", ModelNotFoundError),
    ("embed_dimensions", BadRequestError),
    ("embed_err_too_long", BadRequestError),
    ("err_tokenize_missing_prompt", BadRequestError),
])
def test_errors_map(name: str, cls: type[Exception]) -> None:
    fx = load_fixture(name)
    resp = fx["response"]
    err = error_from_response(resp["status"], {}, resp["body"].encode())
    assert type(err) is cls
    if name.startswith("classify_") or "unsupported" in name or name.startswith("err_embeddings"):
        assert err.body == {"detail": "Not Found"}  # a route the server does not serve: not a model error


# -- requests: what we send is what was captured ----------------------------------------------------


def _same(spec: RequestSpec, name: str, path: str, *, root: bool) -> None:
    assert spec.body == req(name)
    assert (spec.method, spec.path, spec.root) == ("POST", path, root)


def test_requests_match_the_captures() -> None:
    b = req
    _same(build_embeddings(b("embed_list")["input"], None, {"model": "tiny"}), "embed_list", "/embeddings", root=False)
    _same(build_embeddings(None, b("embed_messages")["messages"], {"model": "tiny"}), "embed_messages",
          "/embeddings", root=False)
    _same(build_embeddings([[100, 200, 300]], None, {"model": "tiny"}), "embed_token_ids", "/embeddings", root=False)
    _same(build_embeddings("hello", None, {"model": "tiny", "encoding_format": "base64"}), "embed_base64",
          "/embeddings", root=False)
    _same(build_pooling("hello", None, {"model": "tiny"}), "embed_pooling", "/pooling", root=True)
    _same(build_classify(["good", "bad"], None, {"model": "tiny"}), "classify_list", "/classify", root=True)
    r = b("embed_rerank_v1_top_n")
    _same(build_rerank(r["query"], r["documents"], 2, {"model": "tiny"}), "embed_rerank_v1_top_n", "/rerank",
          root=True)
    s = b("crossenc_score_v1_queries_documents")
    _same(build_score(s["queries"], s["documents"], {"model": "tiny"}), "crossenc_score_v1_queries_documents",
          "/score", root=True)
    t = b("tokenize_messages")
    _same(build_tokenize(None, t["messages"], {"model": "tiny", "add_generation_prompt": True,
                                               "return_token_strs": True}), "tokenize_messages", "/tokenize",
          root=True)
    _same(build_tokenize("Hello, world! def f(x): return x", None, {"model": "tiny", "return_token_strs": True}),
          "tokenize_prompt", "/tokenize", root=True)
    _same(build_detokenize(b("detokenize")["tokens"], {"model": "tiny"}), "detokenize", "/detokenize", root=True)


# -- the emulator answers with the captures' shapes --------------------------------------------------


def shape(value: Any) -> Any:
    """Keys in order and value types, recursively; lists of scalars by their element types."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return ("list of", sorted({type(v).__name__ for v in value}))
        return [shape(v) for v in value]
    return type(value).__name__


@pytest.fixture(scope="module")
def mock() -> Any:
    with MockVllmServer(model="tiny", max_model_len=2048, embedding_dim=128) as server:
        yield server


def _post(server: MockVllmServer, path: str, body: str) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST", path, body=body.encode(), headers={"content-type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@pytest.mark.parametrize("name", EMBEDDINGS + RERANKS + SCORES + POOLINGS + ["classify_basic", "classify_list"])
def test_emulator_shapes(mock: MockVllmServer, name: str) -> None:
    fx = load_fixture(name)
    status, body = _post(mock, fx["request"]["path"], fx["request"]["body"])
    assert status == 200
    assert shape(body) == shape(raw(name))


@pytest.mark.parametrize("name", ["embed_err_unknown_model", "embed_dimensions", "embed_err_too_long",
                                  "err_tokenize_missing_prompt"])
def test_emulator_errors_are_the_captured_ones(mock: MockVllmServer, name: str) -> None:
    fx = load_fixture(name)
    status, body = _post(mock, fx["request"]["path"], fx["request"]["body"])
    assert (status, body) == (fx["response"]["status"], raw(name))
