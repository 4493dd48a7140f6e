"""``client.audio`` against a real vLLM 0.32 serving a tiny random-weight Whisper (variant
``whisper``: harness/tiny_whisper.py, soundfile in the server's venv to decode uploads).

The text is noise (random weights: the same token until the 12-token limit); what is real is
the multipart handling, the answer shapes, usage, streaming and the errors. The raw answers
are captured too (``VLLM_IT_CAPTURE=1`` writes them to the fixtures: audio_*.json).
"""

from __future__ import annotations

import asyncio
import io
import math
import struct
import wave
from typing import Any

import pytest

from vllm_client import BadRequestError, CompletionStreamEvent, NotFoundError
from vllm_client._protocol.audio_types import Transcription, Translation
from vllm_client._protocol.multipart import encode_form

from .capture import capture, json_of

BOUNDARY = "vllm-client-capture-boundary"


def wav(seconds: float = 2.0, freq: float = 440.0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / 16000)))
                               for i in range(int(seconds * 16000))))
    return buf.getvalue()


def test_transcriptions(vllm_whisper: Any, tmp_path: Any) -> None:
    path = tmp_path / "talk.wav"
    path.write_bytes(wav())
    with vllm_whisper.client() as client:
        t = client.audio.transcriptions.create(file=path, language="en")
        assert isinstance(t, Transcription) and len(t.text) > 0
        assert t.usage is not None and t.usage.type == "duration" and t.usage.seconds == 2
        assert client.audio.transcriptions.create(file=wav(), language="en", temperature=0).text == t.text
        as_text = client.audio.transcriptions.create(file=path.read_bytes(), language="en", response_format="text")
        assert as_text.text == t.text  # vLLM answers "text" with JSON too
        verbose = client.audio.transcriptions.create(file=path.open("rb"), response_format="verbose_json",
                                                     language="en", timestamp_granularities=["segment"])
        assert verbose.language == "en" and verbose.duration == 2.0 and isinstance(verbose.segments, list)
        short = client.audio.transcriptions.create(file=wav(), language="en", max_completion_tokens=3,
                                                   seed=1, top_k=5, vllm_xargs={"tag": "x"})
        assert 0 < len(short.text) <= len(t.text)
        detected = client.audio.transcriptions.create(file=wav())  # language=None: vLLM detects it
        assert detected.text
        translated = client.audio.translations.create(file=wav(), language="fr")
        assert isinstance(translated, Translation) and translated.text and translated.usage is None


def test_streams(vllm_whisper: Any) -> None:
    with vllm_whisper.client() as client:
        with client.audio.transcriptions.create(file=wav(), language="en", stream=True) as stream:
            events = list(stream)
        texts = [e.text for e in events if isinstance(e, CompletionStreamEvent.Text)]
        assert texts and [type(e).__name__ for e in events][-3:] == ["Finish", "Usage", "Done"]
        final = stream.final()
        assert final.text == "".join(texts) and final.finish_reason == "length"
        assert final.usage is not None and final.usage.completion_tokens == 12
        assert final.usage.prompt_tokens == 4 + 200  # the decoder prompt + 100 mel frames a second
        assert stream.metrics.ttft_s is not None and stream.metrics.completion_tokens == 12
        plain = client.audio.transcriptions.create(file=wav(), language="en")
        assert final.text == plain.text
        with client.audio.translations.stream(file=wav(), language="fr", stream_include_usage=False) as tr:
            assert tr.collect_text()
        assert tr.final().usage is None


def test_errors(vllm_whisper: Any) -> None:
    with vllm_whisper.client() as client:
        with pytest.raises(BadRequestError, match="Invalid or unsupported audio file"):
            client.audio.transcriptions.create(file=b"definitely not audio", language="en")
        with pytest.raises(BadRequestError, match="Unsupported language: 'xx'"):
            client.audio.transcriptions.create(file=wav(), language="xx")
        with pytest.raises(BadRequestError, match="only support response_format"):
            client.audio.transcriptions.create(file=wav(), response_format="vtt")
        with pytest.raises(NotFoundError) as no_chat:
            client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], max_tokens=1)
        assert no_chat.value.hint is not None


def test_async_client(vllm_whisper: Any) -> None:
    async def main() -> None:
        async with vllm_whisper.aclient() as client:
            t = await client.audio.transcriptions.create(file=wav(), language="en")
            async with await client.audio.transcriptions.stream(file=wav(), language="en") as s:
                text = await s.collect_text()
            assert text == t.text
            assert (await s.final()).usage is not None

    asyncio.run(main())


def _form(fields: list[tuple[str, str]], audio: bytes | None = None) -> tuple[dict[str, str], bytes]:
    files = [("file", "talk.wav", audio, "audio/x-wav")] if audio is not None else []
    ctype, body = encode_form(fields, files, boundary=BOUNDARY)
    return {"content-type": ctype}, body


def test_captures(vllm_whisper: Any) -> None:
    """The raw answers (fixtures audio_*.json)."""
    srv, audio = vllm_whisper, wav()
    tr, tl = "/v1/audio/transcriptions", "/v1/audio/translations"
    cases: list[tuple[str, str, list[tuple[str, str]], bytes | None, int]] = [
        ("audio_transcription_json", tr, [("language", "en")], audio, 200),
        ("audio_transcription_text", tr, [("language", "en"), ("response_format", "text")], audio, 200),
        ("audio_transcription_verbose_json", tr, [("language", "en"), ("response_format", "verbose_json")], audio,
         200),
        ("audio_transcription_stream", tr, [("language", "en"), ("stream", "true"), ("stream_include_usage", "true")],
         audio, 200),
        ("audio_transcription_stream_continuous_usage", tr,
         [("language", "en"), ("stream", "true"), ("stream_include_usage", "true"),
          ("stream_continuous_usage_stats", "true")], audio, 200),
        ("audio_translation_json", tl, [("language", "fr")], audio, 200),
        ("audio_translation_stream", tl, [("language", "fr"), ("stream", "true")], audio, 200),
        ("audio_err_not_audio", tr, [("language", "en")], b"definitely not audio", 400),
        ("audio_err_language", tr, [("language", "xx")], audio, 400),
        ("audio_err_format_srt", tr, [("response_format", "srt")], audio, 400),
        ("audio_err_stream_verbose_json", tr, [("stream", "true"), ("response_format", "verbose_json")], audio, 400),
        ("audio_err_stream_options_without_stream", tr, [("stream_include_usage", "true")], audio, 400),
        ("audio_err_missing_file", tr, [("language", "en")], None, 400),
        ("audio_err_file_as_string", tr, [("file", "talk.wav")], None, 422),
        ("audio_err_unknown_model", tr, [("model", "nope")], audio, 404),
    ]
    for name, path, fields, data, status in cases:
        headers, body = _form(fields, data)
        fx = capture(srv, name, "POST", path, body=body, headers=headers)
        assert fx["response"]["status"] == status, (name, fx["response"])
    assert json_of(capture(srv, "audio_models", "GET", "/v1/models"))["data"][0]["id"] == "whisper"
    chat = capture(srv, "audio_chat_unsupported", "POST", "/v1/chat/completions",
                   body={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
    assert chat["response"]["status"] == 404
