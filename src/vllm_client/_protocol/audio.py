"""Audio requests: ``POST /v1/audio/transcriptions`` and ``/v1/audio/translations``. Pure
(but for reading a file named by path).

Field lists are vLLM 0.32's ``TranscriptionRequest`` / ``TranslationRequest``: the OpenAI
fields plus vLLM's sampling extras, ``hotwords``, ``to_language``, ``vllm_xargs`` and the
flattened stream options ``stream_include_usage`` / ``stream_continuous_usage_stats``. They
travel as ``multipart/form-data`` (see ``multipart``). A stream asks for its usage by default
(``stream_include_usage``), as chat streams do. Checked here because vLLM would refuse them
anyway: stream options without ``stream=True``, and streaming a ``verbose_json`` /
``diarized_json`` answer or beam search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from typing_extensions import TypedDict

from .multipart import FileInput, encode_form, form_value, read_file
from .params import CallOptions
from .requests import RequestSpec, _check_sampling, build_simple, split_kwargs

__all__ = ["TranscriptionCall", "TranslationCall", "build_audio"]

ResponseFormat = Literal["json", "text", "verbose_json", "diarized_json", "srt", "vtt"]


class _AudioParams(TypedDict, total=False):
    """What both audio endpoints take besides ``file``."""

    model: str | None
    prompt: str | None
    response_format: ResponseFormat
    language: str | None
    hotwords: str | None
    to_language: str | None
    temperature: float | None
    top_p: float | None
    top_k: int | None
    min_p: float | None
    seed: int | None
    frequency_penalty: float | None
    presence_penalty: float | None
    repetition_penalty: float | None
    max_completion_tokens: int | None
    use_beam_search: bool
    n: int
    length_penalty: float
    include_stop_str_in_output: bool
    watermarking: bool | None
    stream_include_usage: bool | None
    stream_continuous_usage_stats: bool | None
    vllm_xargs: Mapping[str, Any] | None


class TranscriptionParams(_AudioParams, total=False):
    """Keyword arguments of ``audio.transcriptions.create`` besides ``file`` and ``stream``."""

    timestamp_granularities: Sequence[Literal["word", "segment"]]


class TranslationParams(_AudioParams, total=False):
    """Keyword arguments of ``audio.translations.create`` besides ``file`` and ``stream``."""


class TranscriptionCall(TranscriptionParams, CallOptions, total=False):
    """Every keyword of ``audio.transcriptions.create``."""


class TranslationCall(TranslationParams, CallOptions, total=False):
    """Every keyword of ``audio.translations.create``."""


FIELDS = {
    "transcription": frozenset(TranscriptionParams.__annotations__),
    "translation": frozenset(TranslationParams.__annotations__),
}
PATHS = {"transcription": "/audio/transcriptions", "translation": "/audio/translations"}
_STREAM_OPTIONS = ("stream_include_usage", "stream_continuous_usage_stats")
_NOT_STREAMED = ("verbose_json", "diarized_json")


def _check(params: Mapping[str, Any], stream: bool) -> None:
    _check_sampling(params)
    if not stream:
        for name in _STREAM_OPTIONS:
            if params.get(name):
                raise ValueError(f"{name} needs stream=True")
        return
    fmt = params.get("response_format")
    if fmt in _NOT_STREAMED:
        raise ValueError(f"response_format={fmt!r} cannot be streamed (vLLM streams text deltas only)")
    if params.get("use_beam_search"):
        raise ValueError("use_beam_search cannot be streamed")


def _fields(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if name == "timestamp_granularities":
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise TypeError(f"timestamp_granularities must be a list, got {value!r}")
            out += [("timestamp_granularities[]", str(v)) for v in value]
        else:
            out.append((name, form_value(value)))
    return out


def build_audio(kind: str, file: FileInput, kwargs: Mapping[str, Any], *, stream: bool) -> RequestSpec:
    """``audio.transcriptions.create`` / ``audio.translations.create`` -> a multipart
    ``RequestSpec``. ``kind`` is "transcription" or "translation"; ``extra_body`` fields
    become form fields too."""
    params, options = split_kwargs("create", kwargs, FIELDS[kind])
    _check(params, stream)
    extra = options.pop("extra_body", None)
    alias = options.pop("extra", None)
    if extra is not None and alias is not None:
        raise TypeError("pass extra_body or its alias extra, not both")
    extra = extra if extra is not None else alias
    if extra is not None and not isinstance(extra, Mapping):
        raise TypeError("extra_body must be a mapping")
    if file is None:
        raise TypeError("file is required: a path, bytes, a binary file object or (filename, bytes)")
    filename, data, ctype = read_file(file)
    fields = _fields(params)
    if stream:
        fields.append(("stream", "true"))
        if "stream_include_usage" not in params:
            fields.append(("stream_include_usage", "true"))
    fields += [(str(k), form_value(v)) for k, v in (extra or {}).items() if v is not None]
    content_type, body = encode_form(fields, [("file", filename, data, ctype)])
    spec = build_simple("POST", PATHS[kind], options=options)
    spec.raw_body = body
    spec.stream = stream
    spec.headers["Content-Type"] = content_type
    return spec
