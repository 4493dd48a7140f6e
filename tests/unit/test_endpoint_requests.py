"""Request building of issue 9's endpoints (pure): multipart forms, audio, LoRA, ..."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllm_client import ClassificationResult, InternalServerError, RerankResult, ResponseParseError
from vllm_client._protocol.anthropic import MessagesStreamDecoder, build_count_tokens, build_messages
from vllm_client._protocol.audio import build_audio
from vllm_client._protocol.binary_pooling import decode_binary, input_count
from vllm_client._protocol.chat_batch import build_chat_batch
from vllm_client._protocol.cohere import build_embed_v2
from vllm_client._protocol.generate import GenerateStreamState, build_generate
from vllm_client._protocol.invocations import build_invocation, typed_answer
from vllm_client._protocol.lora import build_load, build_unload
from vllm_client._protocol.multipart import encode_form, form_value, read_file
from vllm_client._protocol.pooling_types import EmbeddingResponse
from vllm_client._protocol.vectors import decode_bytes
from vllm_client.testing._audio import Upload, parse_form
from vllm_client.testing._packing import pack


def test_encode_form_exact_bytes() -> None:
    ctype, body = encode_form([("language", "en"), ("a\"b", "é")], [("file", "t.wav", b"RIFF\x00\xff", "audio/x-wav")],
                              boundary="B")
    assert ctype == "multipart/form-data; boundary=B"
    assert body == (b'--B\r\nContent-Disposition: form-data; name="file"; filename="t.wav"\r\n'
                    b"Content-Type: audio/x-wav\r\n\r\nRIFF\x00\xff\r\n"
                    b'--B\r\nContent-Disposition: form-data; name="language"\r\n\r\nen\r\n'
                    b'--B\r\nContent-Disposition: form-data; name="a\\"b"\r\n\r\n\xc3\xa9\r\n--B--\r\n')
    form = parse_form(ctype, body)
    assert form == {"file": Upload("t.wav", b"RIFF\x00\xff"), "language": "en", 'a"b': "é"}


def test_form_values_as_pydantic_reads_them() -> None:
    assert [form_value(v) for v in (True, False, 3, 0.5, "x", {"k": [1, "a"]})] == [
        "true", "false", "3", "0.5", "x", '{"k":[1,"a"]}']
    with pytest.raises(TypeError, match="cannot carry"):
        form_value(object())


def test_read_file_forms(tmp_path: object) -> None:
    assert read_file(b"ab") == ("audio", b"ab", "application/octet-stream")
    f = io.BytesIO(b"xy")
    f.name = "/tmp/dir/a.flac"  # type: ignore[attr-defined]
    assert read_file(f) == ("a.flac", b"xy", "audio/flac")
    assert read_file(("n.mp3", b"z")) == ("n.mp3", b"z", "audio/mpeg")
    assert read_file(("n.bin", io.BytesIO(b"q"), "audio/ogg")) == ("n.bin", b"q", "audio/ogg")
    with pytest.raises(TypeError, match="text mode"):
        read_file(io.StringIO("s"))
    with pytest.raises(TypeError, match="file must be"):
        read_file(1.5)


def test_build_audio() -> None:
    spec = build_audio("transcription", b"RIFF", {"language": "en", "temperature": 0.0, "seed": None,
                                                  "timestamp_granularities": ("word",), "timeout": 5},
                       stream=True)
    assert (spec.method, spec.path, spec.root, spec.stream, spec.body) == ("POST", "/audio/transcriptions", False,
                                                                         True, None)
    assert spec.timeout is not None and spec.timeout.read == 5
    form = parse_form(spec.headers["Content-Type"], spec.raw_body or b"")
    assert {k: v for k, v in form.items() if k != "file"} == {
        "language": "en", "temperature": "0.0", "timestamp_granularities[]": "word", "stream": "true",
        "stream_include_usage": "true"}
    spec = build_audio("translation", b"x", {"stream_include_usage": False, "extra": {"k": 1}}, stream=True)
    form = parse_form(spec.headers["Content-Type"], spec.raw_body or b"")
    assert (form["stream_include_usage"], form["k"], spec.path) == ("false", "1", "/audio/translations")
    with pytest.raises(ValueError, match="temperature"):
        build_audio("transcription", b"x", {"temperature": -1}, stream=False)
    with pytest.raises(ValueError, match="use_beam_search cannot be streamed"):
        build_audio("transcription", b"x", {"use_beam_search": True}, stream=True)
    with pytest.raises(TypeError, match="not both"):
        build_audio("transcription", b"x", {"extra": {}, "extra_body": {}}, stream=False)
    with pytest.raises(TypeError, match="file is required"):
        build_audio("transcription", None, {}, stream=False)


def test_build_lora() -> None:
    spec = build_load("sql", "/p", load_inplace=False, is_3d_lora_weight=False, options={})
    assert (spec.method, spec.path, spec.body, spec.needs_model) == ("POST", "/load_lora_adapter",
                                                                     {"lora_name": "sql", "lora_path": "/p"}, False)
    spec = build_load("sql", "/p", load_inplace=True, is_3d_lora_weight=True, options={"extra_headers": {"A": "b"}})
    assert spec.body == {"lora_name": "sql", "lora_path": "/p", "load_inplace": True, "is_3d_lora_weight": True}
    assert spec.headers == {"A": "b"}
    assert build_unload("sql", {}).body == {"lora_name": "sql"}
    with pytest.raises(TypeError, match="name must be a str"):
        build_unload(None, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path must not be empty"):
        build_load("x", "", load_inplace=False, is_3d_lora_weight=False, options={})


# --- binary embeddings ------------------------------------------------------------------------

_TOL = {"float32": 1e-7, "float16": 1e-3, "bfloat16": 8e-3, "fp8_e4m3": 0.07, "fp8_e5m2": 0.13}


@given(st.lists(st.floats(-1, 1, width=32), min_size=1, max_size=64), st.sampled_from(sorted(_TOL)),
       st.sampled_from(["native", "little", "big"]))
def test_pack_then_decode_round_trips(vector: list[float], dtype: str, order: str) -> None:
    out = decode_bytes(pack(vector, dtype, order), dtype, order)
    assert len(out) == len(vector)
    for x, y in zip(vector, out, strict=True):
        assert abs(x - y) <= _TOL[dtype] * max(abs(x), 2**-6) + 2**-9 * (dtype.startswith("fp8"))


def test_decode_bytes_exact_values_and_errors() -> None:
    assert decode_bytes(b"\x00\x00\x80\x3f\x00\x00\x00\xc0", "float32") == [1.0, -2.0]
    assert decode_bytes(b"\x3f\x80\x00\x00", "float32", "big") == [1.0]
    assert decode_bytes(b"\x80\x3f", "bfloat16") == [1.0] and decode_bytes(b"\x3f\x80", "bfloat16", "big") == [1.0]
    assert decode_bytes(bytes([0x38, 0xC0]), "fp8_e4m3") == [1.0, -2.0]
    assert decode_bytes(bytes([0x3C, 0x7C]), "fp8_e5m2") == [1.0, float("inf")]
    with pytest.raises(ValueError, match="whole number"):
        decode_bytes(b"\x00\x00\x00", "float32")
    with pytest.raises(ValueError, match="cannot decode embed_dtype"):
        decode_bytes(b"", "int8")


def test_decode_binary_with_metadata_and_bytes_only() -> None:
    a, b = [0.5, -0.25], [1.0, 2.0]
    body = pack(a, "float16", "big") + pack(b, "float16", "big")
    meta = {"id": "embd-1", "created": 7, "model": "m", "usage": {"prompt_tokens": 3, "total_tokens": 3},
            "data": [{"index": 0, "embed_dtype": "float16", "endianness": "big", "start": 0, "end": 4, "shape": [2]},
                     {"index": 1, "embed_dtype": "float16", "endianness": "big", "start": 4, "end": 8, "shape": [2]}]}
    raw = decode_binary(body, {"metadata": json.dumps(meta)}, {"encoding_format": "bytes"})
    resp = EmbeddingResponse(raw)
    assert resp.embeddings == [a, b] and resp.id == "embd-1" and resp.model == "m"
    assert resp.usage is not None and resp.usage.prompt_tokens == 3
    only = decode_binary(body, {}, {"encoding_format": "bytes_only", "embed_dtype": "float16", "endianness": "big",
                                    "input": ["x", "y"], "model": "m"})
    assert EmbeddingResponse(only).embeddings == [a, b] and only["usage"] is None
    token_rows = decode_binary(pack([1, 2, 3, 4, 5, 6]), {"metadata": json.dumps(
        {"data": [{"index": 0, "start": 0, "end": 24, "shape": [3, 2]}]})}, {"encoding_format": "bytes"},
        object_name="pooling", key="data")
    assert token_rows["data"][0]["data"] == [[1, 2], [3, 4], [5, 6]]
    with pytest.raises(ResponseParseError, match="do not split into 3"):
        decode_binary(body, {}, {"encoding_format": "bytes_only", "input": ["a", "b", "c"]})
    assert [input_count(b) for b in ({"input": "x"}, {"input": [1, 2]}, {"input": [[1], [2]]},
                                     {"messages": [{"role": "user"}]}, {"messages": [[{}], [{}], [{}]]})] == [1, 1, 2, 1, 3]


def test_build_embed_v2() -> None:
    spec = build_embed_v2(["a"], None, None, {"embedding_types": ("float", "ubinary"), "truncate": "END"})
    assert (spec.path, spec.root, spec.needs_model) == ("/v2/embed", True, False)
    assert spec.body == {"texts": ["a"], "embedding_types": ["float", "ubinary"], "truncate": "END"}
    assert build_embed_v2(None, None, [{"content": []}], {}).body == {"inputs": [{"content": []}]}
    with pytest.raises(TypeError, match="exactly one"):
        build_embed_v2(["a"], ["data:,"], None, {})
    with pytest.raises(TypeError, match="list of str"):
        build_embed_v2("a", None, None, {})
    with pytest.raises(ValueError, match="embedding_types"):
        build_embed_v2(["a"], None, None, {"embedding_types": ["int8"]})


# --- chat batch, generate, invocations, /v1/messages ------------------------------------------


def test_build_chat_batch() -> None:
    conv = [{"role": "user", "content": "x"}]
    spec = build_chat_batch([conv, conv], {"max_tokens": 2, "temperature": 0, "model": "m", "timeout": 3})
    assert (spec.path, spec.needs_model) == ("/chat/completions/batch", False)
    assert spec.body == {"max_tokens": 2, "temperature": 0, "model": "m", "messages": [conv, conv]}
    assert build_chat_batch([conv], {}).needs_model
    with pytest.raises(TypeError, match="list of conversations"):
        build_chat_batch(conv[0], {})
    with pytest.raises(TypeError, match="messages must be a list"):
        build_chat_batch(["hi"], {})
    with pytest.raises(ValueError, match="temperature"):
        build_chat_batch([conv], {"temperature": -1})
    with pytest.raises(ValueError, match="logprob_token_ids needs logprobs"):
        build_chat_batch([conv], {"logprob_token_ids": [1]})
    with pytest.raises(TypeError, match="in extra_body"):
        build_chat_batch([conv], {"extra": {"tools": [{}]}})


def test_build_generate_nests_sampling_fields() -> None:
    spec = build_generate((5, 6), {"temperature": 0.5, "top_k": 3}, {"top_k": 7, "max_tokens": 4,
                                                                      "request_id": "r1", "priority": 2},
                          stream=True)
    assert (spec.path, spec.root, spec.stream, spec.needs_model) == ("/inference/v1/generate", True, True, False)
    assert spec.body == {"request_id": "r1", "priority": 2, "token_ids": [5, 6], "stream": True,
                         "sampling_params": {"temperature": 0.5, "top_k": 7, "max_tokens": 4},
                         "stream_options": {"include_usage": True}}
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_token'"):
        build_generate([1], None, {"max_token": 3}, stream=False)
    with pytest.raises(ValueError, match="detokenize"):
        build_generate([1], None, {"output_mode": "text", "detokenize": False}, stream=False)
    with pytest.raises(TypeError, match="sampling_params must be a mapping"):
        build_generate([1], [("a", 1)], {}, stream=False)  # type: ignore[arg-type]


def test_generate_stream_state_assembles() -> None:
    state = GenerateStreamState()
    events = state.feed({"request_id": "g", "usage": None, "prompt_token_ids": [1], "output_mode": "text",
                         "choices": [{"index": 0, "token_ids": [7], "text": "a", "finish_reason": None}]})
    events += state.feed({"request_id": "g", "usage": None, "output_mode": "text",
                          "choices": [{"index": 0, "token_ids": [8], "text": "b", "finish_reason": "length"}]})
    events += state.feed({"request_id": "g", "usage": {"prompt_tokens": 1, "completion_tokens": 2,
                                                       "total_tokens": 3}, "output_mode": "text", "choices": []})
    events += state.end()
    assert [type(e).__name__ for e in events] == ["Tokens", "Tokens", "Finish", "Usage", "Done"]
    final = state.final()
    assert (final.token_ids, final.text, final.prompt_token_ids, final.finish_reason) == ([7, 8], "ab", [1],
                                                                                         "length")
    assert final.usage is not None and final.usage.total_tokens == 3 and state.token_chunks == 2


def test_build_messages_and_invocations() -> None:
    msgs = [{"role": "user", "content": "x"}]
    spec = build_messages(msgs, 5, {"system": "s", "top_k": 2}, stream=True)
    assert (spec.path, spec.needs_model, spec.stream) == ("/messages", True, True)
    assert spec.body == {"system": "s", "top_k": 2, "messages": msgs, "max_tokens": 5, "stream": True}
    with pytest.raises(ValueError, match="max_tokens must be >= 1"):
        build_messages(msgs, 0, {}, stream=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'stop'"):
        build_messages(msgs, 5, {"stop": ["x"]}, stream=False)
    assert build_count_tokens(msgs, {"model": "m"}).body == {"model": "m", "messages": msgs}
    inv = build_invocation({"prompt": "p", "stream": True}, "lora-a", {})
    assert (inv.path, inv.root, inv.stream, inv.needs_model) == ("/invocations", True, True, False)
    assert inv.headers == {"X-Amzn-SageMaker-Adapter-Identifier": "lora-a"}
    assert typed_answer({"object": "list", "data": [{"index": 0, "label": "x", "probs": [1.0]}]}).__class__ \
        is ClassificationResult
    assert typed_answer({"results": []}).__class__ is RerankResult
    assert typed_answer({"whatever": 1}) == {"whatever": 1}


def test_messages_stream_decoder_tool_use_and_errors() -> None:
    def ev(name: str, data: dict[str, object]) -> bytes:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()

    decoder = MessagesStreamDecoder()
    body = (ev("message_start", {"message": {"id": "m", "type": "message", "role": "assistant", "content": [],
                                             "usage": {"input_tokens": 3, "output_tokens": 0}}})
            + ev("content_block_start", {"content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}},
                                         "index": 0})
            + ev("content_block_delta", {"delta": {"type": "input_json_delta", "partial_json": '{"a": '}, "index": 0})
            + ev("content_block_delta", {"delta": {"type": "input_json_delta", "partial_json": "1}"}, "index": 0})
            + ev("content_block_stop", {"index": 0})
            + ev("message_delta", {"delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                   "usage": {"output_tokens": 5}}))
    events = decoder.feed(body)
    assert len(events) == 6 and not decoder.done and decoder.token_chunks == 2
    final = decoder.final()
    assert final.tool_uses == [{"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}]
    assert final.stop_reason == "tool_use" and final.usage is not None and final.usage.input_tokens == 3
    assert final.usage.output_tokens == 5
    decoder.feed(ev("message_stop", {}))
    assert decoder.done
    decoder.close()
    failing = MessagesStreamDecoder()
    with pytest.raises(InternalServerError, match="boom"):
        failing.feed(ev("error", {"error": {"type": "internal_error", "message": "boom"}}))
