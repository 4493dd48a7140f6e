"""Tokenizer and pooling endpoints against REAL vLLM 0.32 servers (variants ``embed``,
``classify``, ``crossenc`` and ``plain``).

The model is a tiny random-weight Qwen2, so values are noise: the assertions are on protocol
facts (routes, shapes, sorting, top_n, pairing), on identities that hold for any weights
(base64 decodes to the float vector, /pooling equals the embedding, score equals rerank,
detokenize inverts tokenize) and on the errors vLLM raises. Each variant costs a server start
(~30 s on 2 cores), so each gets a few dense tests.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest

from vllm_client import BadRequestError, NotFoundError

if TYPE_CHECKING:
    from .conftest import RealServer

DOCS = ["Paris is the capital.", "Bananas are yellow.", "France is in Europe."]
QUERY = "capital of France"


# -- embed ------------------------------------------------------------------------------------------


def test_embeddings_float_base64_list_and_token_ids(vllm_embed: RealServer) -> None:
    with vllm_embed.client() as client:
        floats = client.embeddings.create(input=["hello", "world"])  # model=None: resolved to "tiny"
        b64 = client.embeddings.create(input="hello", encoding_format="base64")
        ids = client.tokenize("hello")
        by_ids = client.embeddings.create(input=[ids.tokens])
        chat = client.embeddings.create(messages=[{"role": "user", "content": "hello"}])
        pooled = client.pooling("hello")
    assert floats.model == "tiny" and floats.id.startswith("embd-")
    assert len(floats.embeddings) == 2 and floats.embeddings[0] != floats.embeddings[1]
    for vec in floats.embeddings:
        assert len(vec) == 128 and math.isclose(math.fsum(x * x for x in vec), 1.0, rel_tol=1e-4)
    assert isinstance(b64.data[0].raw["embedding"], str)
    assert b64.embeddings[0] == pytest.approx(floats.embeddings[0], abs=1e-6)
    assert by_ids.embeddings[0] == pytest.approx(floats.embeddings[0], abs=1e-5)  # same tokens, same vector
    assert len(chat.embeddings[0]) == 128
    assert pooled.data[0].data == pytest.approx(floats.embeddings[0], abs=1e-6)


async def test_rerank_and_score_on_embed_model_async(vllm_embed: RealServer) -> None:
    async with vllm_embed.aclient() as client:
        full = await client.rerank(QUERY, DOCS)
        top = await client.rerank(QUERY, DOCS, top_n=2)
        scores = await client.score(QUERY, DOCS)
        pairwise = await client.score(["a", "b"], ["a", "c"])
        with pytest.raises(BadRequestError, match="Matryoshka"):
            await client.embeddings.create(input="x", dimensions=8)
        with pytest.raises(NotFoundError):
            await client.classify("x")  # an embed server does not serve /classify
    ranked = [r.relevance_score for r in full]
    assert ranked == sorted(ranked, reverse=True) and sorted(full.indices) == [0, 1, 2]
    assert top.indices == full.indices[:2]
    for index, score, document in full:
        assert document == DOCS[index]
        assert score == pytest.approx(scores[index], abs=1e-6)  # /score (queries/documents) == /rerank
    assert len(scores) == 3 and len(pairwise) == 2
    assert pairwise[0] == pytest.approx(1.0, abs=1e-5)  # cosine of identical texts


# -- classify ---------------------------------------------------------------------------------------


def test_classify_and_pooling_on_classify_model(vllm_classify: RealServer) -> None:
    with vllm_classify.client() as client:
        res = client.classify(["good", "bad"])
        one = client.classify("I love this!")
        pooled = client.pooling("hello")
        with pytest.raises(NotFoundError):
            client.embeddings.create(input="x")
    assert res.id.startswith("classify-") and len(res.data) == 2
    for item in [*res.data, *one.data]:
        assert item.num_classes == 2 and math.isclose(sum(item.probs), 1.0, rel_tol=1e-5)
        assert item.label == f"LABEL_{item.probs.index(max(item.probs))}"
    assert len(pooled.data[0].data) == 2  # the class probabilities


# -- cross-encoder ----------------------------------------------------------------------------------


def test_cross_encoder_rerank_score_classify(vllm_crossenc: RealServer) -> None:
    with vllm_crossenc.client() as client:
        full = client.rerank(QUERY, DOCS)
        best = client.rerank(QUERY, DOCS, top_n=1)
        scores = client.score(QUERY, DOCS)
        cls = client.classify("I love this!")
        with pytest.raises(BadRequestError, match="truncate_prompt_tokens"):
            client.rerank(QUERY, DOCS, truncate_prompt_tokens=5000)
    assert len(full) == 3 and len(best) == 1
    ranked = [r.relevance_score for r in full]
    assert ranked == sorted(ranked, reverse=True)
    assert best[0].relevance_score == full[0].relevance_score
    for item in full:
        assert item.relevance_score == pytest.approx(scores[item.index], abs=1e-6)
        assert 0.0 <= item.relevance_score <= 1.0  # a sigmoid score
    assert cls.data[0].num_classes == 1


# -- plain (generate model) ---------------------------------------------------------------------------


def test_tokenize_detokenize_round_trip(vllm_plain: RealServer) -> None:
    text = "Hello, world! def f(x): return x"
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    with vllm_plain.client() as client:
        tok = client.tokenize(text, return_token_strs=True)
        back = client.detokenize(tok.tokens)
        chat = client.tokenize(messages=messages, add_generation_prompt=True)
        bare = client.tokenize(messages=messages, add_generation_prompt=False)
        with pytest.raises(NotFoundError):
            client.embeddings.create(input="hello")  # err_embeddings_on_generate_model
    assert tok.count == len(tok.tokens) == 14 and tok.max_model_len == 2048
    assert tok.token_strs is not None and len(tok.token_strs) == 14
    assert back == text
    assert chat.count > bare.count and chat.token_strs is None
