"""Tokenizer and pooling methods of both clients (sync and async, via the ``api`` fixture)
against the emulator: routes and bodies sent, results decoded, errors raised."""

from __future__ import annotations

import http.client
import json
import math
from typing import Any

import pytest

from vllm_client import (
    AuthenticationError,
    BadRequestError,
    ClassificationResult,
    EmbeddingResponse,
    ModelNotFoundError,
    RerankResult,
    ScoreResult,
    TokenizeResult,
)
from vllm_client.testing import MockVllmServer

DOCS = ["Bananas are yellow.", "Paris is the capital of France.", "France is in Europe."]
QUERY = "capital of France"


def _norm(v: list[float]) -> float:
    return math.sqrt(math.fsum(x * x for x in v))


def test_embeddings_float_and_base64_agree(api: Any, vllm_mock: MockVllmServer) -> None:
    floats = api(api.client.embeddings.create(input=["hello world", "hi"]))
    b64 = api(api.client.embeddings.create(input=["hello world", "hi"], encoding_format="base64"))
    assert isinstance(floats, EmbeddingResponse) and floats.model == "mock-model"
    assert len(floats.embeddings) == 2 and len(floats.embeddings[0]) == 128
    assert all(math.isclose(_norm(v), 1.0) for v in floats.embeddings)
    assert isinstance(b64.data[0].raw["embedding"], str)
    for a, b in zip(floats.embeddings, b64.embeddings, strict=True):
        assert b == pytest.approx(a, abs=1e-6)
    assert floats.embeddings[0] != floats.embeddings[1]
    assert floats.usage is not None and floats.usage.prompt_tokens == 3
    sent = vllm_mock.requests_to("/v1/embeddings")
    assert [r.json for r in sent] == [
        {"input": ["hello world", "hi"], "model": "mock-model"},
        {"encoding_format": "base64", "input": ["hello world", "hi"], "model": "mock-model"},
    ]


def test_embeddings_token_ids_messages_and_options(api: Any, vllm_mock: MockVllmServer) -> None:
    ids = api(api.client.embeddings.create(input=[[100, 200, 300]], model="mock-model"))
    assert len(ids.data) == 1 and ids.usage.prompt_tokens == 3
    chat = api(api.client.embeddings.create(messages=[{"role": "user", "content": "hello"}],
                                            extra_headers={"X-Trace": "t1"}, extra_body={"priority": 0}))
    assert len(chat.embeddings) == 1
    last = vllm_mock.last_request
    assert last.headers["x-trace"] == "t1"
    assert last.json == {"messages": [{"role": "user", "content": "hello"}], "priority": 0, "model": "mock-model"}


def test_embedding_dimension_is_configurable(make_api: Any) -> None:
    with MockVllmServer(embedding_dim=16) as server:
        api = make_api(server.base_url)
        assert len(api(api.client.embeddings.create(input="x")).embeddings[0]) == 16


def test_tokenize_detokenize_round_trip(api: Any, vllm_mock: MockVllmServer) -> None:
    tok = api(api.client.tokenize("Hello, world!", return_token_strs=True))
    assert isinstance(tok, TokenizeResult)
    assert tok.count == len(tok.tokens) > 0 and tok.max_model_len == 2048
    assert tok.token_strs is not None and "".join(tok.token_strs) == "Hello, world!"
    assert api(api.client.detokenize(tok.tokens)) == "Hello, world!"
    chat = api(api.client.tokenize(messages=[{"role": "user", "content": "Hello, world!"}]))
    assert chat.count > tok.count and chat.token_strs is None  # the template adds tokens
    assert [r.path for r in vllm_mock.requests if r.path != "/v1/models"] == ["/tokenize", "/detokenize",
                                                                             "/tokenize"]


def test_rerank_sorted_with_top_n(api: Any, vllm_mock: MockVllmServer) -> None:
    full = api(api.client.rerank(QUERY, DOCS))
    assert isinstance(full, RerankResult) and len(full) == 3
    scores = [r.relevance_score for r in full]
    assert scores == sorted(scores, reverse=True)
    assert full[0].index == 1 and full[0].document == DOCS[1]  # the most shared words
    for index, score, document in full:
        assert document == DOCS[index] and -1 <= score <= 1
    top = api(api.client.rerank(QUERY, DOCS, top_n=2))
    assert top.indices == full.indices[:2] and top.usage is not None
    assert vllm_mock.last_request.path == "/rerank"
    assert vllm_mock.last_request.json["top_n"] == 2


def test_score_in_input_order_and_equal_to_rerank(api: Any, vllm_mock: MockVllmServer) -> None:
    scores = api(api.client.score(QUERY, DOCS))
    assert isinstance(scores, ScoreResult) and len(scores) == 3
    ranked = api(api.client.rerank(QUERY, DOCS))
    for item in ranked:
        assert scores[item.index] == pytest.approx(item.relevance_score)
    pairwise = api(api.client.score(["a b", "c d"], ["a b", "x y"]))
    assert pairwise[0] == pytest.approx(1.0) and pairwise[1] < 0.9
    assert vllm_mock.requests_to("/score")[0].json == {"queries": QUERY, "documents": DOCS, "model": "mock-model"}


def test_classify(api: Any, vllm_mock: MockVllmServer) -> None:
    res = api(api.client.classify(["good", "bad"]))
    assert isinstance(res, ClassificationResult) and len(res.data) == 2
    for item in res.data:
        assert item.num_classes == 2 and math.isclose(sum(item.probs), 1.0)
        assert item.label == f"LABEL_{item.probs.index(max(item.probs))}"
    assert res.labels == [d.label for d in res.data]
    assert vllm_mock.last_request.path == "/classify"


def test_pooling_is_the_embedding(api: Any) -> None:
    pooled = api(api.client.pooling("hello"))
    emb = api(api.client.embeddings.create(input="hello"))
    assert pooled.data[0].data == emb.embeddings[0]
    b64 = api(api.client.pooling("hello", encoding_format="base64"))
    assert b64.data[0].data == pytest.approx(emb.embeddings[0], abs=1e-6)


def test_server_errors_map(api: Any) -> None:
    with pytest.raises(BadRequestError, match="Matryoshka"):
        api(api.client.embeddings.create(input="x", dimensions=8))
    with pytest.raises(ModelNotFoundError):
        api(api.client.rerank("q", ["a"], model="nope"))
    with pytest.raises(BadRequestError, match="maximum context length is 2048"):
        api(api.client.embeddings.create(input="word " * 2100))


def test_invalid_arguments_send_nothing(api: Any, vllm_mock: MockVllmServer) -> None:
    with pytest.raises(ValueError, match="top_n"):
        api(api.client.rerank("q", ["a"], top_n=0))
    with pytest.raises(ValueError, match="documents must not be empty"):
        api(api.client.rerank("q", []))
    with pytest.raises(ValueError, match="must not be empty"):
        api(api.client.embeddings.create(input=[]))
    with pytest.raises(TypeError, match="prompt or messages"):
        api(api.client.tokenize())
    with pytest.raises(TypeError, match="list of int"):
        api(api.client.detokenize("12"))
    assert vllm_mock.requests == []


def test_emulator_validates_what_the_client_would_not_send(vllm_mock: MockVllmServer) -> None:
    """Bodies the client refuses, sent raw: the emulator answers as vLLM 0.32 does."""

    def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", vllm_mock.port, timeout=10)
        conn.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
        resp = conn.getresponse()
        out = resp.status, json.loads(resp.read())
        conn.close()
        return out

    assert post("/v1/embeddings", {"input": []}) == (400, {"error": {
        "message": "You must pass at least one prompt", "type": "BadRequestError", "param": None, "code": 400}})
    assert post("/v1/embeddings", {"input": ""})[1]["error"]["message"] == "The decoder prompt cannot be empty"
    status, body = post("/score", {"queries": ["a", "b", "c"], "documents": ["x", "y"]})
    assert (status, body["error"]["message"]) == (400, "Input lengths must be either 1:1, 1:N or N:N")
    status, body = post("/rerank", {"query": "q", "documents": ["a"], "top_n": -1})
    assert (status, body["error"]["param"]) == (400, "body.top_n")
    status, body = post("/rerank", {"query": "q", "documents": []})
    assert body["error"]["message"] == "At least one text_pair element must be given"
    status, body = post("/v1/embeddings", {"model": "mock-model"})
    assert status == 400 and body["error"]["message"].startswith("7 validation errors:")
    status, body = post("/pooling", {})
    assert body["error"]["message"].startswith("3 validation errors:") and body["error"]["param"] == "body.input"
    assert post("/v1/classify", {"input": "x"}) == (404, {"detail": "Not Found"})  # vLLM serves /classify only
    assert post("/v2/rerank", {"query": "q", "documents": ["a", "b"], "top_n": 1})[1]["results"][0]["index"] in (0, 1)


def test_api_key_guards_v1_and_v2_only(make_api: Any) -> None:
    with MockVllmServer(api_key="k") as server:
        keyless = make_api(server.base_url, max_retries=0)
        # /tokenize is at the root, which vLLM does not guard (auth_tokenize_no_key.json)
        assert keyless(keyless.client.tokenize("hi", model="mock-model")).count == 1
        with pytest.raises(AuthenticationError):
            keyless(keyless.client.embeddings.create(input="x", model="mock-model"))
        keyed = make_api(server.base_url, api_key="k")
        assert len(keyed(keyed.client.embeddings.create(input="x")).embeddings) == 1
