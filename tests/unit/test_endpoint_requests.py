"""Request building of issue 9's endpoints (pure): multipart forms, audio, LoRA, ..."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllm_client import ResponseParseError
from vllm_client._protocol.audio import build_audio
from vllm_client._protocol.binary_pooling import decode_binary, input_count
from vllm_client._protocol.cohere import build_embed_v2
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
