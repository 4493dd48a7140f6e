"""Binary embeddings, ``/v2/embed`` and ``/tokenizer_info`` against a real vLLM 0.32.

Every ``encoding_format`` x ``embed_dtype`` x ``endianness`` is asked of the embed server and
decoded by the client; each must give the float answer's vectors within its dtype's precision.
The raw answers are captured too (``VLLM_IT_CAPTURE=1``: embed_bytes*, embed_v2_*, tokenizer_info).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from vllm_client import BadRequestError

from .capture import capture, json_of

TEXTS = ["hello world", "the capital of France"]
DTYPES = {"float32": 1e-6, "float16": 2e-3, "bfloat16": 1e-2, "fp8_e4m3": 7e-2, "fp8_e5m2": 0.13}


def _close(a: list[float], b: list[float], tol: float) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=tol, abs_tol=tol * 0.1) for x, y in zip(a, b,
                                                                                                        strict=True))


@pytest.mark.parametrize("fmt", ["base64", "bytes", "bytes_only"])
def test_every_dtype_and_byte_order(vllm_embed: Any, fmt: str) -> None:
    with vllm_embed.client() as client:
        floats = client.embeddings.create(input=TEXTS).embeddings
        assert len(floats) == 2 and len(floats[0]) == 128
        for dtype, tol in DTYPES.items():
            for order in ("native", "little", "big"):
                got = client.embeddings.create(input=TEXTS, encoding_format=fmt, embed_dtype=dtype, endianness=order)
                assert len(got.embeddings) == 2, (fmt, dtype, order)
                for a, b in zip(got.embeddings, floats, strict=True):
                    assert _close(a, b, tol), (fmt, dtype, order, a[:4], b[:4])
                if fmt == "bytes":
                    assert got.model == "tiny" and got.usage is not None and got.usage.prompt_tokens > 0
        pooled = client.pooling(TEXTS, encoding_format=fmt)
        assert [len(d.data) for d in pooled.data] == [128, 128]


def test_v2_embed(vllm_embed: Any) -> None:
    with vllm_embed.client() as client:
        floats = client.embeddings.create(input=TEXTS).embeddings
        v2 = client.embed_v2(TEXTS, embedding_types=["float", "binary", "ubinary", "base64"])
        assert v2.texts == TEXTS and v2.input_tokens is not None and v2.input_tokens > 0
        assert v2.floats is not None and _close(v2.floats[0], floats[0], 1e-5)
        assert v2.base64 is not None and _close(v2.base64[1], floats[1], 1e-6)
        assert v2.ubinary is not None and v2.binary is not None and len(v2.ubinary[0]) == 16
        bits = [int(x > 0) for x in floats[0]]
        packed = [int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, 128, 8)]
        assert v2.ubinary[0] == packed and v2.binary[0] == [u - 128 for u in packed]
        only_b64 = client.embed_v2(TEXTS, embedding_types=["base64"])
        assert only_b64.floats is None and _close(only_b64.embeddings[0], floats[0], 1e-6)
        parts = client.embed_v2(inputs=[{"content": [{"type": "text", "text": "hello world"}]}])
        assert parts.texts is None and len(parts.embeddings[0]) == 128  # (content parts go through the template)
        with pytest.raises(BadRequestError, match="input_type"):
            client.embed_v2(TEXTS, input_type="search_query")
        with pytest.raises(TypeError, match="exactly one"):
            client.embed_v2(TEXTS, images=["data:,"])

    async def main() -> None:
        async with vllm_embed.aclient() as aclient:
            assert len((await aclient.embed_v2(["x"])).embeddings[0]) == 128
            got = await aclient.embeddings.create(input="x", encoding_format="bytes_only", embed_dtype="bfloat16")
            assert len(got.embeddings[0]) == 128

    asyncio.run(main())


def test_embed_captures(vllm_embed: Any) -> None:
    srv = vllm_embed
    emb = "/v1/embeddings"
    ok = [
        ("embed_bytes", emb, {"model": "tiny", "input": TEXTS, "encoding_format": "bytes"}),
        ("embed_bytes_only", emb, {"model": "tiny", "input": TEXTS, "encoding_format": "bytes_only"}),
        ("embed_bytes_fp8_big", emb, {"model": "tiny", "input": "hello", "encoding_format": "bytes",
                                      "embed_dtype": "fp8_e4m3", "endianness": "big"}),
        ("embed_base64_bf16_big", emb, {"model": "tiny", "input": "hello", "encoding_format": "base64",
                                        "embed_dtype": "bfloat16", "endianness": "big"}),
        ("embed_pooling_bytes", "/pooling", {"model": "tiny", "input": "hello", "encoding_format": "bytes"}),
        ("embed_v2_texts", "/v2/embed", {"model": "tiny", "texts": TEXTS,
                                         "embedding_types": ["float", "binary", "ubinary", "base64"]}),
        ("embed_v2_default", "/v2/embed", {"texts": ["hello"]}),
        ("embed_v2_inputs", "/v2/embed", {"inputs": [{"content": [{"type": "text", "text": "hello"}]}]}),
    ]
    for name, path, body in ok:
        assert capture(srv, name, "POST", path, body=body)["response"]["status"] == 200, name
    bad = [
        ("embed_v2_input_type", {"texts": ["hello"], "input_type": "search_query"}),
        ("embed_v2_no_input", {"model": "tiny"}),
        ("embed_v2_two_inputs", {"texts": ["a"], "images": ["data:,"]}),
        ("embed_v2_output_dimension", {"texts": ["hello"], "output_dimension": 32}),
        ("embed_v2_bad_type", {"texts": ["hello"], "embedding_types": ["int8"]}),
        ("embed_v2_truncate_none_too_long", {"texts": ["hello world " * 20], "truncate": "NONE", "max_tokens": 5}),
    ]
    for name, body in bad:
        fx = capture(srv, name, "POST", "/v2/embed", body=body)
        assert fx["response"]["status"] == 400, (name, fx["response"])
    assert capture(srv, "embed_tokenizer_info_disabled", "GET", "/tokenizer_info")["response"]["status"] == 404


def test_tokenizer_info(vllm_extras: Any) -> None:
    with vllm_extras.client() as client:
        info = client.tokenizer_info()
    assert info["tokenizer_class"].endswith("Qwen2Tokenizer") and "eos_token" in info  # vLLM's wrapper class
    fx = capture(vllm_extras, "tokenizer_info", "GET", "/tokenizer_info")
    assert json_of(fx) == info
