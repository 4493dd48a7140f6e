"""The emulator's speech to text: ``/v1/audio/transcriptions`` and ``/v1/audio/translations``.

vLLM 0.32 (``speech_to_text/``) takes a ``multipart/form-data`` form and checks, in order: the
form against the request model (no ``file``: 400 "Field required"; ``file`` sent as a plain
field: 422), the stream options (only with ``stream=true``), the upload's size (25 MB), then
streaming with beam search, the model, the response format (``srt``/``vtt``: 400), streaming a
``verbose_json``, the language (Whisper's 57 codes), and the audio itself ("Invalid or
unsupported audio file." for what it cannot decode). The emulated model decodes WAV (the
standard library's ``wave``) and "hears" words seeded by the audio's bytes: the same file
always gives the same text, about three words a second.

Answers are vLLM's: ``{"text", "usage": {"type": "duration", "seconds"}}`` for json and text
(translations without usage), ``verbose_json`` with ``segments``, and streams of
``transcription.chunk`` / ``translation.chunk`` chunks, a usage chunk when asked, ``[DONE]``.
"""

from __future__ import annotations

import io
import json
import math
import random
import time
import wave
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import _generate as gen
from . import _shapes as shapes
from . import _validate as val

__all__ = ["LANGUAGES", "ROUTES", "AudioAnswer", "handle", "parse_form"]

_POST = ("POST",)
ROUTES: dict[str, tuple[str, ...]] = {"/v1/audio/transcriptions": _POST, "/v1/audio/translations": _POST}

#: the ISO-639-1 codes vLLM's Whisper accepts (whisper_utils.ISO639_1_SUPPORTED_LANGS, in order)
LANGUAGES = (
    "af", "ar", "hy", "az", "be", "bs", "bg", "ca", "zh", "hr", "cs", "da", "nl", "en", "et", "fi", "fr",
    "gl", "de", "el", "he", "hi", "hu", "is", "id", "it", "ja", "kn", "kk", "ko", "lv", "lt", "mk", "ms",
    "mr", "mi", "ne", "no", "fa", "pl", "pt", "ro", "ru", "sr", "sk", "sl", "es", "sw", "sv", "tl", "ta",
    "th", "tr", "uk", "ur", "vi", "cy",
)

MAX_FILE_BYTES = 25 * 1024 * 1024
_WORDS_PER_SECOND = 3
_DECODER_PROMPT = 4  # <|startoftranscript|><|lang|><|task|><|notimestamps|>
_MEL_FRAMES_PER_SECOND = 100  # what vLLM adds to a stream's prompt_tokens per second of audio

# Form fields with a default, per route: FastAPI's form model reports them as received
# ("<dict of N items>") when the form fails validation.
_DEFAULTED = {
    "transcription": ("prompt", "response_format", "timestamp_granularities[]", "stream", "stream_include_usage",
                      "stream_continuous_usage_stats", "use_beam_search", "n", "length_penalty",
                      "include_stop_str_in_output", "temperature", "frequency_penalty", "presence_penalty"),
    "translation": ("prompt", "response_format", "use_beam_search", "n", "length_penalty",
                    "include_stop_str_in_output", "temperature", "frequency_penalty", "presence_penalty", "stream",
                    "stream_include_usage", "stream_continuous_usage_stats"),
}


@dataclass
class AudioAnswer:
    """A JSON answer (``events`` None) or a stream: its SSE events (the server adds ``[DONE]``)."""

    status: int
    body: Any = None
    events: list[bytes] | None = None


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def parse_form(content_type: str | None, raw: bytes) -> dict[str, Any]:
    """A multipart form as ``{name: str | Upload | list[...]}`` (repeated names become lists)."""
    ctype = content_type or ""
    if not ctype.lower().startswith("multipart/form-data") or "boundary=" not in ctype:
        return {}
    boundary = ctype.split("boundary=", 1)[1].split(";", 1)[0].strip().strip('"').encode()
    form: dict[str, Any] = {}
    for part in raw.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, body = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        body = body.removesuffix(b"\r\n")
        disposition = next((ln for ln in head.decode("utf-8", "replace").split("\r\n")
                            if ln.lower().startswith("content-disposition")), "")
        params = dict(_param(p) for p in disposition.split(";")[1:])
        name = params.get("name")
        if name is None:
            continue
        value: Any = Upload(params.get("filename", ""), body) if "filename" in params else body.decode("utf-8")
        if name in form:
            old = form[name]
            form[name] = [*old, value] if isinstance(old, list) else [old, value]
        else:
            form[name] = value
    return form


def _param(text: str) -> tuple[str, str]:
    key, _, value = text.strip().partition("=")
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return key.strip().lower(), value


def _true(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes", "on")


def _bad(message: str, param: str | None = None) -> AudioAnswer:
    return AudioAnswer(*val.bad_request(message, param))


def _duration(data: bytes) -> float | None:
    """Seconds of audio in a WAV file, or None when it is not one the emulator decodes."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate = w.getframerate()
            return w.getnframes() / rate if rate else None
    except (wave.Error, EOFError, ValueError):
        return None


def _words(data: bytes, task: str, count: int, seed: str | None) -> list[str]:
    rng = random.Random(f"audio:{task}:{seed if seed is not None else zlib.crc32(data)}")
    return [gen.sample_token(rng) for _ in range(count)]


def handle(kind: str, content_type: str | None, raw: bytes, *, model: str, served: Sequence[str],
           max_model_len: int, request_id: str) -> AudioAnswer:
    """vLLM's answer to a POST to one of :data:`ROUTES` (``kind``: transcription / translation)."""
    form = parse_form(content_type, raw)
    upload = form.get("file")
    if upload is None:
        received = dict.fromkeys(_DEFAULTED[kind]) | form
        return AudioAnswer(*val.missing(received, ["file"]))
    if not isinstance(upload, Upload):
        return AudioAnswer(422, shapes.error_body("Expected 'file' to be a file-like object, not 'str'.",
                                                  "Unprocessable Entity", None, 422))
    stream = _true(form.get("stream", "false"))
    for option in ("stream_include_usage", "stream_continuous_usage_stats"):
        if _true(form.get(option, "false")) and not stream:
            return _bad(f"Stream options can only be defined when `stream=True`. (parameter={option})", option)
    if "vllm_xargs" in form:
        try:
            json.loads(str(form["vllm_xargs"]))
        except ValueError as exc:
            return _bad(f"Failed to parse vllm_xargs. Must be valid JSON: {exc}", "vllm_xargs")
    if len(upload.data) > MAX_FILE_BYTES:
        size = len(upload.data) / (1024 * 1024)
        return _bad(f"Maximum file size exceeded (parameter=audio_filesize_mb, value={size})", "audio_filesize_mb")
    if stream and _true(form.get("use_beam_search", "false")):
        return _bad("Streaming is not currently supported with beam search")
    name = form.get("model") or model
    if name not in served:
        return AudioAnswer(404, shapes.error_body(f"The model `{name}` does not exist. Valid aliases: "
                                                  f"{', '.join(served)}.", "NotFoundError", "model", 404))
    fmt = str(form.get("response_format", "json"))
    if fmt not in ("text", "json", "verbose_json", "diarized_json"):
        return _bad("Currently only support response_format: `text`, `json`, `verbose_json` or `diarized_json`")
    if fmt == "diarized_json":
        return _bad(f"Currently do not support diarized_json for {name}")
    if fmt == "verbose_json" and stream:
        return _bad("verbose_json format doesn't support streaming case")
    language = form.get("language")
    for code in (language, form.get("to_language")):
        if code is not None and code not in LANGUAGES:
            return _bad(f"Unsupported language: {code!r}.  Must be one of {list(LANGUAGES)}.")
    duration = _duration(upload.data)
    if duration is None:
        return _bad("Invalid or unsupported audio file.")
    task = "transcribe" if kind == "transcription" else "translate"
    limit = max_model_len - _DECODER_PROMPT
    if form.get("max_completion_tokens"):
        limit = min(limit, int(form["max_completion_tokens"]))
    count = max(1, min(limit, math.ceil(duration * _WORDS_PER_SECOND)))
    words = _words(upload.data, task, count, form.get("seed"))
    text = "".join(words)
    if stream:
        return AudioAnswer(200, events=_stream_events(kind, task, words, form, name, request_id, duration, count,
                                                      count == limit))
    if fmt == "verbose_json":
        segment = {"id": 0, "avg_logprob": -0.5, "compression_ratio": 1.0, "end": round(duration, 2),
                   "no_speech_prob": None, "seek": 0, "start": 0.0, "temperature": 0.0, "text": text,
                   "tokens": [gen.token_id(w) for w in words]}
        return AudioAnswer(200, {"duration": duration, "language": language or "en", "text": text,
                                 "segments": [segment], "words": None})
    if kind == "translation":
        return AudioAnswer(200, {"text": text})
    return AudioAnswer(200, {"text": text, "usage": {"type": "duration", "seconds": math.ceil(duration)}})


def _stream_events(kind: str, task: str, words: list[str], form: dict[str, Any], model: str, request_id: str,
                   duration: float, count: int, truncated: bool) -> list[bytes]:
    head = {"id": f"{task}-{request_id}", "object": f"{kind}.chunk", "created": int(time.time()), "model": model}
    include_usage = _true(form.get("stream_include_usage", "false"))
    continuous = include_usage and _true(form.get("stream_continuous_usage_stats", "false"))
    prompt = _DECODER_PROMPT + round(duration * _MEL_FRAMES_PER_SECOND)
    events = []
    for i, word in enumerate(words):
        choice: dict[str, Any] = {"delta": {"content": word}}
        if i == len(words) - 1:
            choice |= {"finish_reason": "length" if truncated else "stop", "stop_reason": None}
        chunk: dict[str, Any] = {**head, "choices": [choice]}
        if continuous:
            chunk["usage"] = {"prompt_tokens": prompt, "total_tokens": prompt + i + 1, "completion_tokens": i + 1}
        events.append(shapes.sse(chunk))
    if include_usage:
        usage = {"prompt_tokens": prompt, "total_tokens": prompt + count, "completion_tokens": count}
        events.append(shapes.sse({**head, "choices": [], "usage": usage}))
    return events
