"""Builders for chat messages, including images, audio and video.

A message is a plain dict in the OpenAI shape vLLM reads, so what these functions return
can be inspected, stored as JSON, or mixed with hand-written dicts. Media become content
parts: ``image_url`` / ``audio_url`` / ``video_url`` for URLs (the server fetches them) and
inline base64 data for local files and bytes (the server may not see the client's disk).

The media type of local data is taken from its first bytes, not from its file name: a PNG
saved as ``photo.jpg`` is sent as ``image/png``, because a wrong type can make the
server's decoder fail or guess. The extension is only the fallback.

    from vllm_client.messages import system, user
    messages = [system("Be brief."), user("What is in this picture?", images=["photo.jpg"])]
"""

from __future__ import annotations

import base64
import errno
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeGuard, Union

from ._tool_values import to_tool_content

__all__ = [
    "assistant",
    "audio",
    "developer",
    "image",
    "system",
    "tool_result",
    "user",
    "video",
]



class SupportsSave(Protocol):
    """What we need of a PIL image (duck-typed, so pillow stays an optional dependency)."""

    def save(self, fp: Any, format: Any = ..., **params: Any) -> None: ...


#: A medium: a file path, raw bytes, a URL, a ``data:`` URL, a PIL image (images only),
#: or an already built content part dict (passed through by ``user()``).
MediaSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, SupportsSave, Mapping[str, Any]]

_URL_PREFIXES = ("http://", "https://", "data:", "file://")

# (offset, magic bytes, MIME type); checked in order, so longer signatures come first.
_IMAGE_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (8, b"WEBP", "image/webp"),  # after b"RIFF" + size
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"BM", "image/bmp"),
)
_IMAGE_EXT = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
}

# ``input_audio.format`` values: vLLM turns the part into ``data:audio/<format>;base64,...``.
_AUDIO_EXT = {".wav": "wav", ".mp3": "mp3", ".flac": "flac", ".ogg": "ogg", ".oga": "ogg", ".m4a": "m4a",
              ".webm": "webm"}
_VIDEO_EXT = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
              ".mkv": "video/x-matroska", ".avi": "video/x-msvideo"}


# --------------------------------------------------------------------------- messages


def system(text: str) -> dict[str, Any]:
    """A ``system`` message."""
    return {"role": "system", "content": _text(text, "system")}


def developer(text: str) -> dict[str, Any]:
    """A ``developer`` message (the newer OpenAI name for system instructions; chat
    templates that do not know the role may reject it)."""
    return {"role": "developer", "content": _text(text, "developer")}


def user(
    text: str | None = None,
    *,
    images: MediaSource | Sequence[MediaSource] | None = None,
    audio: MediaSource | Sequence[MediaSource] | None = None,
    video: MediaSource | Sequence[MediaSource] | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    """A ``user`` message. Text alone stays a plain string (what every chat template
    accepts); with media the content is a list of parts: the text first, then images,
    audio and video in the order given. Each medium is anything :func:`image`,
    :func:`audio` or :func:`video` accepts, or an already built part dict; ``detail``
    applies to every image that is not already a part.
    """
    parts: list[dict[str, Any]] = []
    if text is not None:
        parts.append({"type": "text", "text": _text(text, "user")})
    parts += [_part(src, lambda s: image(s, detail=detail)) for src in _many(images)]
    parts += [_part(src, _audio_part) for src in _many(audio)]
    parts += [_part(src, _video_part) for src in _many(video)]
    if not parts:
        raise ValueError("user() needs text or at least one image, audio or video")
    if len(parts) == 1 and text is not None:
        return {"role": "user", "content": parts[0]["text"]}
    return {"role": "user", "content": parts}


def assistant(
    content: str | None = None,
    *,
    tool_calls: Sequence[Any] | None = None,
    reasoning: str | None = None,
) -> dict[str, Any]:
    """An ``assistant`` message, e.g. to replay an earlier answer or to prefill one
    (with ``continue_final_message=True``). ``tool_calls`` takes :class:`ToolCall`
    objects or OpenAI-shaped dicts. ``reasoning`` is only sent when given: most chat
    templates of reasoning models expect earlier reasoning to be dropped.
    """
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        calls = []
        for call in tool_calls:
            to_dict = getattr(call, "to_message_dict", None)
            calls.append(to_dict() if callable(to_dict) else dict(call))
        msg["tool_calls"] = calls
    if reasoning is not None:
        msg["reasoning"] = reasoning
    return msg


def tool_result(tool_call_id: Any, content: Any) -> dict[str, Any]:
    """The ``tool`` message answering a tool call. ``tool_call_id`` is the call's id (or
    the :class:`ToolCall` itself); a str ``content`` is sent as is, anything else as JSON."""
    call_id = getattr(tool_call_id, "id", tool_call_id)
    if not isinstance(call_id, str) or not call_id:
        raise ValueError(f"tool_call_id must be a non-empty str (or a ToolCall), got {tool_call_id!r}")
    return {"role": "tool", "tool_call_id": call_id, "content": to_tool_content(content)}


# --------------------------------------------------------------------------- media parts


def image(source: MediaSource, *, detail: str | None = None) -> dict[str, Any]:
    """An ``image_url`` content part.

    ``source`` is an ``http(s)://``, ``file://`` or ``data:`` URL (passed through), a file
    path (str or Path), raw bytes, or a PIL image (anything with ``.save``: encoded as
    PNG, so pillow stays optional). Local data goes inline as a base64 ``data:`` URL with
    the type read from its magic bytes (PNG, JPEG, GIF, WEBP, BMP, TIFF), else from the
    file extension. ``detail`` ("low", "high", "auto") is passed on for servers that use it.
    """
    if isinstance(source, str) and source.startswith(_URL_PREFIXES):
        url = source
    elif _is_pil(source):
        buf = io.BytesIO()
        source.save(buf, format="PNG")
        url = _data_url("image/png", buf.getvalue())
    else:
        data, path = _read(source, "image")
        mime = _sniff(data, _IMAGE_MAGIC) or _by_extension(path, _IMAGE_EXT)
        if mime is None:
            raise ValueError(f"{_describe(path)} is not a supported image (PNG, JPEG, GIF, WEBP, BMP, TIFF); "
                             f"pass a data: URL to send another format")
        url = _data_url(mime, data)
    body: dict[str, Any] = {"url": url}
    if detail is not None:
        if detail not in ("low", "high", "auto"):
            raise ValueError(f"detail must be 'low', 'high' or 'auto', got {detail!r}")
        body["detail"] = detail
    return {"type": "image_url", "image_url": body}


def audio(source: MediaSource, *, format: str | None = None) -> dict[str, Any]:
    """An audio content part in one of the two forms vLLM accepts: a URL becomes
    ``{"type": "audio_url", "audio_url": {"url": ...}}``; a file or bytes becomes
    ``{"type": "input_audio", "input_audio": {"data": <base64>, "format": "wav"}}``
    with the format read from the magic bytes (WAV, MP3, FLAC, OGG, M4A, WEBM), else
    the extension, else ``format=``.
    """
    if isinstance(source, str) and source.startswith(_URL_PREFIXES):
        return {"type": "audio_url", "audio_url": {"url": source}}
    data, path = _read(source, "audio")
    fmt = format or _sniff_audio(data) or _by_extension(path, _AUDIO_EXT)
    if fmt is None:
        raise ValueError(f"{_describe(path)} is not a recognised audio format (WAV, MP3, FLAC, OGG, M4A, WEBM); "
                         f"pass format=... to name it")
    return {"type": "input_audio", "input_audio": {"data": base64.b64encode(data).decode("ascii"), "format": fmt}}


def video(source: MediaSource) -> dict[str, Any]:
    """A ``video_url`` content part: URLs pass through, files and bytes go inline as a
    base64 ``data:`` URL (MP4, MOV, WEBM, MKV, AVI recognised from their bytes)."""
    if isinstance(source, str) and source.startswith(_URL_PREFIXES):
        url = source
    else:
        data, path = _read(source, "video")
        mime = _sniff_video(data) or _by_extension(path, _VIDEO_EXT)
        if mime is None:
            raise ValueError(f"{_describe(path)} is not a recognised video format (MP4, MOV, WEBM, MKV, AVI); "
                             f"pass a data: URL to send another format")
        url = _data_url(mime, data)
    return {"type": "video_url", "video_url": {"url": url}}


_audio_part = audio
_video_part = video  # ``user()`` has parameters named ``audio``/``video`` that shadow the functions


# --------------------------------------------------------------------------- helpers


def _text(text: Any, role: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{role}() text must be a str, got {type(text).__name__}")
    return text


def _many(value: Any) -> list[Any]:
    """``None`` -> [], one medium -> [it], a list/tuple -> its items."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _part(source: Any, build: Any) -> dict[str, Any]:
    if isinstance(source, Mapping) and "type" in source:
        return dict(source)  # already a content part
    result: dict[str, Any] = build(source)
    return result


def _is_pil(source: object) -> TypeGuard[SupportsSave]:
    return (not isinstance(source, (str, bytes, bytearray, memoryview, os.PathLike))
            and callable(getattr(source, "save", None)))


def _read(source: Any, kind: str) -> tuple[bytes, Path | None]:
    """The bytes of a path or bytes-like source, and the path when it was one."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise ValueError(f"empty {kind} data")
        return data, None
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"{kind} must be a path, bytes or a URL, got {type(source).__name__}")
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"{kind} file not found", str(path)) from None
    except OSError as exc:
        raise ValueError(f"cannot read {kind} file '{path}': {exc.strerror or exc}") from exc
    if not data:
        raise ValueError(f"{kind} file '{path}' is empty")
    return data, path


def _describe(path: Path | None) -> str:
    return f"file '{path}'" if path is not None else "the bytes given"


def _sniff(data: bytes, table: tuple[tuple[int, bytes, str], ...]) -> str | None:
    for offset, magic, mime in table:
        if data[offset:offset + len(magic)] == magic:
            if mime == "image/webp" and not data.startswith(b"RIFF"):
                continue
            return mime
    return None


def _sniff_audio(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"
    if data[4:8] == b"ftyp":
        return "m4a"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    return None


def _sniff_video(data: bytes) -> str | None:
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm" if b"webm" in data[:64] else "video/x-matroska"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "video/x-msvideo"
    return None


def _by_extension(path: Path | None, table: Mapping[str, str]) -> str | None:
    return table.get(path.suffix.lower()) if path is not None else None


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
