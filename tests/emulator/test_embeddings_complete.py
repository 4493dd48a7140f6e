"""Binary embeddings, ``embed_v2`` and ``tokenizer_info`` (sync and async) against the emulator."""

from __future__ import annotations

import math
from typing import Any

import pytest

from vllm_client import BadRequestError, EmbeddingResponse, NotFoundError, PoolingResult
from vllm_client._protocol.cohere import EmbedV2Result
from vllm_client.testing import MockVllmServer

TEXTS = ["hello world", "the capital of France"]
TOL = {"float32": 1e-6, "float16": 2e-3, "bfloat16": 1e-2, "fp8_e4m3": 0.07, "fp8_e5m2": 0.13}


@pytest.mark.parametrize("fmt", ["base64", "bytes", "bytes_only"])
def test_every_format_dtype_and_byte_order_decodes(api: Any, vllm_mock: MockVllmServer, fmt: str) -> None:
    floats = api(api.client.embeddings.create(input=TEXTS)).embeddings
    for dtype, tol in TOL.items():
        for order in ("native", "little", "big"):
            got = api(api.client.embeddings.create(input=TEXTS, encoding_format=fmt, embed_dtype=dtype,
                                                   endianness=order))
            assert isinstance(got, EmbeddingResponse) and len(got.embeddings) == 2
            for a, b in zip(got.embeddings, floats, strict=True):
                assert all(math.isclose(x, y, rel_tol=tol, abs_tol=tol / 10) for x, y in zip(a, b, strict=True))
            if fmt == "bytes":
                assert got.model == "mock-model" and got.id.startswith("embd-") and got.usage is not None
    last = vllm_mock.last_request.json
    assert last["encoding_format"] == fmt and last["embed_dtype"] == "fp8_e5m2" and last["endianness"] == "big"


def test_binary_answers_on_the_wire(api: Any, vllm_mock: MockVllmServer) -> None:
    api(api.client.embeddings.create(input=TEXTS, encoding_format="bytes"))
    chat = api(api.client.embeddings.create(messages=[[{"role": "user", "content": "a"}],
                                                      [{"role": "user", "content": "b"}]], encoding_format="bytes_only"))
    assert len(chat.embeddings) == 2 and len(chat.embeddings[0]) == 128
    pooled = api(api.client.pooling(TEXTS, encoding_format="bytes", embed_dtype="float16"))
    assert isinstance(pooled, PoolingResult) and [len(d.data) for d in pooled.data] == [128, 128]
    assert pooled.raw["data"][0]["object"] == "pooling"


def test_embed_v2(api: Any, vllm_mock: MockVllmServer) -> None:
    floats = api(api.client.embeddings.create(input=TEXTS)).embeddings
    v2 = api(api.client.embed_v2(TEXTS, embedding_types=["ubinary", "base64", "float", "binary"]))
    assert isinstance(v2, EmbedV2Result) and v2.texts == TEXTS and v2.input_tokens == 6
    assert list(v2.raw["embeddings"]) == ["float", "binary", "ubinary", "base64"]  # vLLM's order
    assert v2.floats == floats and v2.embeddings == floats
    assert v2.base64 is not None and all(math.isclose(x, y, abs_tol=1e-6) for x, y in zip(v2.base64[0], floats[0],
                                                                                            strict=True))
    bits = "".join("1" if x > 0 else "0" for x in floats[1])
    assert v2.ubinary is not None and v2.ubinary[1] == [int(bits[i:i + 8], 2) for i in range(0, 128, 8)]
    assert v2.binary == [[u - 128 for u in row] for row in v2.ubinary]
    assert vllm_mock.last_request.path == "/v2/embed" and vllm_mock.last_request.json["texts"] == TEXTS
    parts = api(api.client.embed_v2(inputs=[{"content": [{"type": "text", "text": "hello"}]}], model="mock-model"))
    assert parts.texts is None and len(parts.embeddings[0]) == 128 and "texts" not in parts.raw
    with pytest.raises(BadRequestError, match="input_type"):
        api(api.client.embed_v2(["x"], input_type="search_query"))
    with pytest.raises(BadRequestError, match="Matryoshka"):
        api(api.client.embed_v2(["x"], output_dimension=8))
    with pytest.raises(BadRequestError, match="truncate=NONE"):
        api(api.client.embed_v2(["one two three four"], truncate="NONE", max_tokens=2))
    assert api(api.client.embed_v2(["one two three four"], truncate="END", max_tokens=2)).input_tokens == 2


def test_tokenizer_info(api: Any, vllm_mock: MockVllmServer, make_api: Any) -> None:
    info = api(api.client.tokenizer_info())
    assert info["tokenizer_class"].endswith("Tokenizer") and info["eos_token"] == "<|im_end|>"
    assert vllm_mock.last_request.path == "/tokenizer_info" and vllm_mock.last_request.method == "GET"
    with MockVllmServer(tokenizer_info=False) as server:
        other = make_api(server.base_url)
        with pytest.raises(NotFoundError) as err:
            other(other.client.tokenizer_info())
        assert err.value.hint is not None and "--enable-tokenizer-info-endpoint" in err.value.hint
