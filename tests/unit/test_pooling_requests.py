"""Request building for the tokenizer and pooling endpoints: validation before sending, the
bodies and routes, call options; and the base64 vector decoding. Pure: nothing is sent."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable
from typing import Any

import pytest

from vllm_client import Timeout
from vllm_client._protocol.pooling import (
    CLASSIFY_FIELDS,
    EMBEDDING_FIELDS,
    POOLING_FIELDS,
    RERANK_FIELDS,
    SCORE_FIELDS,
    TOKENIZE_FIELDS,
    build_classify,
    build_detokenize,
    build_embeddings,
    build_pooling,
    build_rerank,
    build_score,
    build_tokenize,
)
from vllm_client._protocol.pooling_types import EmbeddingResponse, decode_floats
from vllm_client._protocol.requests import RequestSpec

MSGS = [{"role": "user", "content": "hi"}]


def emb(input: Any = "hi", messages: Any = None, **kw: Any) -> RequestSpec:
    return build_embeddings(input, messages, kw)


def tok(prompt: Any = "hi", messages: Any = None, **kw: Any) -> RequestSpec:
    return build_tokenize(prompt, messages, kw)


def rerank(query: Any = "q", documents: Any = ("a", "b"), top_n: Any = None, **kw: Any) -> RequestSpec:
    return build_rerank(query, documents, top_n, kw)


def score(queries: Any = "q", documents: Any = ("a", "b"), **kw: Any) -> RequestSpec:
    return build_score(queries, documents, kw)


INVALID: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    # embeddings / pooling / classify input
    ("no input", lambda: emb(None), TypeError, "input or messages"),
    ("input and messages", lambda: emb("x", MSGS), TypeError, "exactly one"),
    ("empty list", lambda: emb([]), ValueError, "must not be empty"),
    ("empty string", lambda: emb(""), ValueError, "empty string"),
    ("empty string in list", lambda: emb(["a", ""]), ValueError, "empty string"),
    ("empty token list", lambda: emb([[1], []]), ValueError, "empty token list"),
    ("int input", lambda: emb(5), TypeError, "must be a str"),
    ("mixed list", lambda: emb(["a", 1]), TypeError, "must be a str"),
    ("negative token", lambda: emb([1, -2]), ValueError, ">= 0"),
    ("bool token", lambda: emb([True]), TypeError, "must be a str"),
    ("dict input", lambda: emb({"a": 1}), TypeError, "must be a str"),
    ("empty messages", lambda: emb(None, []), ValueError, "must not be empty"),
    ("messages str", lambda: emb(None, "hi"), TypeError, "messages must be a list"),
    ("message without role", lambda: emb(None, [{"content": "x"}]), ValueError, "no 'role'"),
    ("chat option with input", lambda: emb("x", add_generation_prompt=True), TypeError, "messages= only"),
    ("both template flags", lambda: emb(None, MSGS, add_generation_prompt=True, continue_final_message=True),
     ValueError, "cannot both"),
    ("unknown format", lambda: emb("x", encoding_format="npy"), ValueError, "'bytes' or 'bytes_only'"),
    ("unknown dtype", lambda: emb("x", embed_dtype="int8"), ValueError, "embed_dtype must be one of"),
    ("unknown byte order", lambda: emb("x", endianness="middle"), ValueError, "endianness must be"),
    ("dimensions 0", lambda: emb("x", dimensions=0), ValueError, "dimensions must be >= 1"),
    ("dimensions str", lambda: emb("x", dimensions="8"), TypeError, "must be an integer"),
    ("truncate -2", lambda: emb("x", truncate_prompt_tokens=-2), ValueError, ">= -1"),
    ("unknown kw", lambda: emb("x", dimension=8), TypeError, "did you mean 'dimensions'"),
    ("top_n on embeddings", lambda: emb("x", top_n=2), TypeError, "unexpected keyword argument 'top_n'"),
    ("pooling no input", lambda: build_pooling(None, None, {}), TypeError, "pooling()"),
    ("classify unknown kw", lambda: build_classify("x", None, {"encoding_format": "float"}), TypeError,
     "encoding_format"),
    # rerank
    ("top_n 0", lambda: rerank(top_n=0), ValueError, "top_n must be >= 1"),
    ("top_n negative", lambda: rerank(top_n=-3), ValueError, "top_n must be >= 1"),
    ("top_n float", lambda: rerank(top_n=2.0), TypeError, "top_n must be an integer"),
    ("top_n bool", lambda: rerank(top_n=True), TypeError, "top_n must be an integer"),
    ("no documents", lambda: rerank(documents=[]), ValueError, "documents must not be empty"),
    ("document int", lambda: rerank(documents=["a", 3]), TypeError, r"documents\[1\]"),
    ("query list", lambda: rerank(query=["a"]), TypeError, "query must be a str"),
    ("query None", lambda: rerank(query=None), TypeError, "query must be a str"),
    ("rerank unknown kw", lambda: rerank(topn=3), TypeError, "did you mean 'top_n'"),
    ("max_tokens_per_doc -1", lambda: rerank(max_tokens_per_doc=-1), ValueError, ">= 0"),
    # score
    ("no queries", lambda: score(queries=[]), ValueError, "queries must not be empty"),
    ("no documents", lambda: score(documents=[]), ValueError, "documents must not be empty"),
    ("3:2 pairs", lambda: score(["a", "b", "c"], ["x", "y"]), ValueError, "1:1, 1:N or N:N"),
    ("documents int", lambda: score(documents=5), TypeError, "documents must be a str"),
    ("text_1 kw", lambda: score(text_1="q"), TypeError, "text_1"),
    # tokenize / detokenize
    ("tokenize nothing", lambda: tok(None), TypeError, "prompt or messages"),
    ("tokenize both", lambda: tok("x", MSGS), TypeError, "exactly one"),
    ("tokenize list prompt", lambda: tok(["a"]), TypeError, "prompt must be a str"),
    ("tokenize tools with prompt", lambda: tok("x", tools=[]), TypeError, "messages= only"),
    ("tokenize both flags", lambda: tok(None, MSGS, add_generation_prompt=True, continue_final_message=True),
     ValueError, "cannot both"),
    ("tokenize unknown kw", lambda: tok("x", return_token_str=True), TypeError, "did you mean 'return_token_strs'"),
    ("detokenize str", lambda: build_detokenize("1 2", {}), TypeError, "list of int"),
    ("detokenize negative", lambda: build_detokenize([1, -1], {}), ValueError, ">= 0"),
    ("detokenize float", lambda: build_detokenize([1.0], {}), TypeError, "list of int"),
    ("detokenize unknown kw", lambda: build_detokenize([1], {"skip_special_tokens": True}), TypeError,
     "skip_special_tokens"),
    # call options
    ("extra_body and extra", lambda: emb("x", extra_body={"a": 1}, extra={"b": 2}), TypeError, "not both"),
]


@pytest.mark.parametrize(("case", "call", "exc", "match"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_arguments_fail_before_sending(case: str, call: Callable[[], Any], exc: type[Exception],
                                               match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_embeddings_body_and_route() -> None:
    spec = emb(("a", "b"), dimensions=None, truncate_prompt_tokens=8, encoding_format="base64", user="u")
    assert (spec.method, spec.path, spec.root, spec.needs_model) == ("POST", "/embeddings", False, True)
    assert spec.body == {"truncate_prompt_tokens": 8, "encoding_format": "base64", "user": "u", "input": ["a", "b"]}
    assert emb([1, 2]).body == {"input": [1, 2]}
    assert emb(((1, 2), [3])).body == {"input": [[1, 2], [3]]}
    assert emb(model="m").needs_model is False


def test_embeddings_messages_single_and_batch() -> None:
    assert emb(None, MSGS, add_generation_prompt=True).body == {"add_generation_prompt": True, "messages": MSGS}
    assert emb(None, [MSGS, MSGS]).body == {"messages": [MSGS, MSGS]}


def test_routes_of_the_root_endpoints() -> None:
    cases = {
        "/pooling": build_pooling("x", None, {"task": "embed"}),
        "/classify": build_classify(None, MSGS, {}),
        "/score": score(),
        "/rerank": rerank(),
        "/tokenize": tok(),
        "/detokenize": build_detokenize([1, 2], {}),
    }
    for path, spec in cases.items():
        # The tokenizer routes let the server pick its model: no /v1/models round trip first.
        resolves = path not in ("/tokenize", "/detokenize")
        assert (spec.method, spec.path, spec.root, spec.needs_model) == ("POST", path, True, resolves), path


def test_rerank_body() -> None:
    assert rerank("q", "only", 1, instruction="Find it").body == {
        "instruction": "Find it", "query": "q", "documents": ["only"], "top_n": 1}
    assert "top_n" not in (rerank().body or {})
    mm = {"content": [{"type": "text", "text": "a"}]}
    assert (rerank("q", [mm]).body or {})["documents"] == [mm]


def test_score_keeps_the_callers_shapes() -> None:
    assert score("q", ["a", "b"]).body == {"queries": "q", "documents": ["a", "b"]}
    assert score(["q1", "q2"], ("a", "b")).body == {"queries": ["q1", "q2"], "documents": ["a", "b"]}
    assert score("q", "a").body == {"queries": "q", "documents": "a"}


def test_tokenize_bodies() -> None:
    assert tok("hi", return_token_strs=True, add_special_tokens=False).body == {
        "return_token_strs": True, "add_special_tokens": False, "prompt": "hi"}
    assert tok("").body == {"prompt": ""}
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert tok(None, MSGS, tools=tools).body == {"tools": tools, "messages": MSGS}
    assert build_detokenize((5, 6), {"model": "m"}).body == {"model": "m", "tokens": [5, 6]}
    assert build_detokenize([], {}).body == {"tokens": []}  # vLLM answers "" for no tokens


def test_call_options_apply() -> None:
    spec = emb("x", extra_body={"use_activation": False}, extra_headers={"X-A": "1"}, extra_query={"q": 1},
               timeout=5)
    assert spec.body == {"input": "x", "use_activation": False}
    assert spec.headers == {"X-A": "1"} and spec.query == {"q": 1}
    assert spec.timeout == Timeout.coerce(5)


def test_field_sets_cover_vllm() -> None:
    common = {"model", "user", "truncate_prompt_tokens", "padding", "truncation_side", "request_id", "priority",
              "mm_processor_kwargs", "cache_salt"}
    assert common <= EMBEDDING_FIELDS & POOLING_FIELDS & CLASSIFY_FIELDS & SCORE_FIELDS & RERANK_FIELDS
    assert {"dimensions", "encoding_format", "embed_dtype", "endianness", "use_activation", "add_special_tokens",
            "add_generation_prompt", "chat_template", "chat_template_kwargs"} <= EMBEDDING_FIELDS
    pooling_only = POOLING_FIELDS - EMBEDDING_FIELDS
    assert pooling_only == {"task"}
    assert {"max_tokens_per_query", "max_tokens_per_doc", "instruction", "chat_template_kwargs"} <= SCORE_FIELDS
    assert {"tools", "add_generation_prompt", "continue_final_message", "return_token_strs"} <= TOKENIZE_FIELDS


# -- base64 vectors ----------------------------------------------------------------------------------


VEC = [0.5, -1.25, 3.0, 0.0]


@pytest.mark.parametrize(("dtype", "fmt"), [("float32", "f"), ("float16", "e")])
@pytest.mark.parametrize("endianness", ["native", "little", "big"])
def test_decode_floats(dtype: str, fmt: str, endianness: str) -> None:
    order = ">" if endianness == "big" else "<"
    data = base64.b64encode(struct.pack(f"{order}4{fmt}", *VEC)).decode()
    assert decode_floats(data, dtype, endianness) == VEC


def test_decode_bfloat16_and_fp8() -> None:
    words = struct.unpack("<4I", struct.pack("<4f", *VEC))
    bf16 = base64.b64encode(struct.pack("<4H", *(w >> 16 for w in words))).decode()
    assert decode_floats(bf16, "bfloat16") == VEC
    # e4m3: 0x38 = 1.0, 0xC0 = -2.0, 0x01 = 2**-9 (subnormal); e5m2: 0x3C = 1.0, 0xC0 = -2.0, 0x7C = inf
    assert decode_floats(base64.b64encode(bytes([0x38, 0xC0, 0x01])).decode(), "fp8_e4m3") == [1.0, -2.0, 2**-9]
    assert decode_floats(base64.b64encode(bytes([0x3C, 0xC0, 0x7C])).decode(), "fp8_e5m2") == [1.0, -2.0,
                                                                                              float("inf")]
    with pytest.raises(ValueError, match="int8"):
        decode_floats("AAAA", "int8")


def test_embedding_response_decodes_as_requested() -> None:
    data = base64.b64encode(struct.pack(">4e", *VEC)).decode()
    raw = {"data": [{"index": 1, "embedding": [1.0]}, {"index": 0, "embedding": data}]}
    resp = EmbeddingResponse(raw, embed_dtype="float16", endianness="big")
    assert resp.embeddings == [VEC, [1.0]]  # input order, by index
    assert [d.index for d in resp.data] == [0, 1]
