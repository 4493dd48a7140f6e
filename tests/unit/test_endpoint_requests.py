"""Request building of issue 9's endpoints (pure): multipart forms, audio, LoRA, ..."""

from __future__ import annotations

import io

import pytest

from vllm_client._protocol.audio import build_audio
from vllm_client._protocol.lora import build_load, build_unload
from vllm_client._protocol.multipart import encode_form, form_value, read_file
from vllm_client.testing._audio import Upload, parse_form


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
