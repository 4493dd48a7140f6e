"""``client.audio`` (sync and async) against the emulator: multipart uploads from a path,
bytes or a file object, every field as a keyword, json / verbose_json, streams, errors."""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path
from typing import Any

import pytest

from vllm_client import BadRequestError, CompletionStreamEvent, NotFoundError
from vllm_client._protocol.audio_types import AudioUsage, Transcription, Translation
from vllm_client.testing import MockVllmServer
from vllm_client.testing._audio import Upload, parse_form


def wav(seconds: float = 1.5, freq: float = 440.0, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = int(seconds * rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                               for i in range(n)))
    return buf.getvalue()


def sent_form(server: MockVllmServer) -> dict[str, Any]:
    req = server.last_request
    return parse_form(req.headers.get("content-type"), req.body)


def test_file_as_path_bytes_file_object_or_tuple(api: Any, vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    audio = wav(1.5)
    path = tmp_path / "talk.wav"
    path.write_bytes(audio)
    by_path = api(api.client.audio.transcriptions.create(file=path, language="en"))
    assert isinstance(by_path, Transcription) and by_path.text
    assert isinstance(by_path.usage, AudioUsage) and by_path.usage.seconds == 2 and by_path.usage.type == "duration"
    form = sent_form(vllm_mock)
    assert form["file"] == Upload("talk.wav", audio) and form["language"] == "en"
    assert vllm_mock.last_request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert vllm_mock.last_request.path == "/v1/audio/transcriptions"
    assert api(api.client.audio.transcriptions.create(file=audio)).text == by_path.text  # same audio, same words
    assert sent_form(vllm_mock)["file"].filename == "audio"
    with path.open("rb") as f:
        assert api(api.client.audio.transcriptions.create(file=f)).text == by_path.text
    assert sent_form(vllm_mock)["file"].filename == "talk.wav"
    assert api(api.client.audio.transcriptions.create(file=("x.wav", audio, "audio/wav"))).text == by_path.text
    assert api(api.client.audio.transcriptions.create(file=wav(1.5, freq=300))).text != by_path.text
    assert by_path.raw == {"text": by_path.text, "usage": {"type": "duration", "seconds": 2}}
    assert by_path.timing is not None


def test_every_field_is_a_form_field(api: Any, vllm_mock: MockVllmServer) -> None:
    api(api.client.audio.transcriptions.create(
        file=wav(), model="mock-model", language="fr", prompt="Bonjour", response_format="json", temperature=0.2,
        top_p=0.9, top_k=5, min_p=0.1, seed=3, frequency_penalty=0.1, presence_penalty=0.2, repetition_penalty=1.1,
        max_completion_tokens=4, hotwords="vLLM", to_language="en", timestamp_granularities=["segment", "word"],
        vllm_xargs={"a": 1}, extra_body={"custom": True}, extra_headers={"X-Trace": "t"}))
    form = sent_form(vllm_mock)
    assert {k: v for k, v in form.items() if k != "file"} == {
        "model": "mock-model", "language": "fr", "prompt": "Bonjour", "response_format": "json",
        "temperature": "0.2", "top_p": "0.9", "top_k": "5", "min_p": "0.1", "seed": "3",
        "frequency_penalty": "0.1", "presence_penalty": "0.2", "repetition_penalty": "1.1",
        "max_completion_tokens": "4", "hotwords": "vLLM", "to_language": "en",
        "timestamp_granularities[]": ["segment", "word"], "vllm_xargs": '{"a":1}', "custom": "true",
    }
    assert vllm_mock.last_request.headers["x-trace"] == "t"


def test_verbose_json_and_translation(api: Any, vllm_mock: MockVllmServer) -> None:
    verbose = api(api.client.audio.transcriptions.create(file=wav(2.0), response_format="verbose_json"))
    assert verbose.language == "en" and verbose.duration == 2.0 and verbose.usage is None
    (segment,) = verbose.segments
    assert (segment.start, segment.end, segment.text) == (0.0, 2.0, verbose.text) and segment.tokens
    translated = api(api.client.audio.translations.create(file=wav(2.0), language="de"))
    assert isinstance(translated, Translation) and translated.text and translated.usage is None
    assert vllm_mock.last_request.path == "/v1/audio/translations"
    assert translated.raw == {"text": translated.text}
    with pytest.raises(TypeError, match="timestamp_granularities"):
        api(api.client.audio.translations.create(file=wav(), timestamp_granularities=["word"]))


def test_stream_events_and_final(api: Any, vllm_mock: MockVllmServer) -> None:
    audio = wav(2.0)
    plain = api(api.client.audio.transcriptions.create(file=audio))
    stream = api(api.client.audio.transcriptions.create(file=audio, stream=True))
    events = api.events(stream)
    form = sent_form(vllm_mock)
    assert form["stream"] == "true" and form["stream_include_usage"] == "true"
    texts = [e.text for e in events if isinstance(e, CompletionStreamEvent.Text)]
    assert "".join(texts) == plain.text and len(texts) == 6
    kinds = [type(e).__name__ for e in events]
    assert kinds[-3:] == ["Finish", "Usage", "Done"] and kinds.count("Text") == 6
    usage = next(e.usage for e in events if isinstance(e, CompletionStreamEvent.Usage))
    assert usage.completion_tokens == 6 and usage.prompt_tokens == 204
    final = api(stream.final())
    assert isinstance(final, Transcription) and final.text == plain.text and final.finish_reason == "stop"
    assert final.usage is not None and final.usage.type == "tokens" and final.usage.total_tokens == 210
    assert stream.metrics.completion_tokens == 6
    quiet = api(api.client.audio.translations.stream(file=audio, stream_include_usage=False))
    kinds = [type(e).__name__ for e in api.events(quiet)]
    assert "Usage" not in kinds and kinds[-1] == "Done"
    assert isinstance(api(quiet.final()), Translation)


def test_errors(api: Any, vllm_mock: MockVllmServer) -> None:
    with pytest.raises(BadRequestError, match="Invalid or unsupported audio file"):
        api(api.client.audio.transcriptions.create(file=b"not audio at all"))
    with pytest.raises(BadRequestError, match="Unsupported language: 'xx'"):
        api(api.client.audio.transcriptions.create(file=wav(), language="xx"))
    with pytest.raises(BadRequestError, match="only support response_format"):
        api(api.client.audio.transcriptions.create(file=wav(), response_format="srt"))
    with pytest.raises(NotFoundError, match="does not exist"):
        api(api.client.audio.transcriptions.create(file=wav(), model="nope"))
    sent = len(vllm_mock.requests)
    with pytest.raises(ValueError, match="cannot be streamed"):
        api(api.client.audio.transcriptions.create(file=wav(), stream=True, response_format="verbose_json"))
    with pytest.raises(ValueError, match="needs stream=True"):
        api(api.client.audio.transcriptions.create(file=wav(), stream_include_usage=True))
    with pytest.raises(TypeError, match="unexpected keyword"):
        api(api.client.audio.transcriptions.create(file=wav(), langauge="en"))
    with pytest.raises(TypeError, match="file must be"):
        api(api.client.audio.transcriptions.create(file=123))
    with pytest.raises(TypeError, match="text mode"):
        api(api.client.audio.transcriptions.create(file=io.StringIO("x")))
    with pytest.raises(FileNotFoundError):
        api(api.client.audio.transcriptions.create(file="/no/such/file.wav"))
    assert len(vllm_mock.requests) == sent  # none of those was sent


def test_a_whisper_server_has_no_chat(make_api: Any) -> None:
    with MockVllmServer(model="whisper", task="transcription") as server:
        api = make_api(server.base_url)
        assert api(api.client.audio.transcriptions.create(file=wav())).text
        with pytest.raises(NotFoundError) as err:
            api(api.client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], model="whisper"))
        assert err.value.hint is not None
    with MockVllmServer(task="generate") as server:
        api = make_api(server.base_url)
        with pytest.raises(NotFoundError) as err:
            api(api.client.audio.transcriptions.create(file=wav()))
        assert err.value.hint is not None and "speech-to-text model" in err.value.hint
