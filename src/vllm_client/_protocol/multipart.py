"""``multipart/form-data`` bodies (RFC 7578), for the audio endpoints. Pure but for reading
the file a caller names by path.

vLLM's audio routes take their fields as a FastAPI ``Form()`` model: every value travels as
text and pydantic converts it back, so booleans go as ``true``/``false``, numbers as their
decimal text, a list as the field repeated (``timestamp_granularities[]``), and a dict
(``vllm_xargs``) as JSON text, which vLLM decodes. The upload is one part with a filename;
vLLM decodes audio by its content, so the name and content type are informational.
"""

from __future__ import annotations

import mimetypes
import os
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from .._json import dumps

__all__ = ["FileInput", "encode_form", "form_value", "read_file"]

FileInput = Any
"""A path (str or ``os.PathLike``), the bytes themselves, a binary file object, or
``(filename, bytes[, content_type])``."""


def read_file(file: Any) -> tuple[str, bytes, str]:
    """``(filename, data, content_type)`` of an upload given in any of the accepted forms."""
    if isinstance(file, (str, os.PathLike)):
        path = os.fspath(file)
        with open(path, "rb") as f:
            data = f.read()
        return os.path.basename(path), data, _content_type(path)
    if isinstance(file, (bytes, bytearray, memoryview)):
        return "audio", bytes(file), "application/octet-stream"
    if isinstance(file, tuple) and 2 <= len(file) <= 3:
        name, data = file[0], file[1]
        if not isinstance(name, str):
            raise TypeError(f"a (filename, data) file's name must be a str, got {type(name).__name__}")
        blob = read_file(data)[1]
        return name, blob, file[2] if len(file) == 3 else _content_type(name)
    read = getattr(file, "read", None)
    if callable(read):
        data = read()
        if isinstance(data, str):
            raise TypeError("the file object is open in text mode; open it with 'rb'")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"the file object's read() returned {type(data).__name__}, not bytes")
        name = os.path.basename(str(getattr(file, "name", "") or "audio"))
        return name, bytes(data), _content_type(name)
    raise TypeError(f"file must be a path, bytes, a binary file object or (filename, bytes); "
                    f"got {type(file).__name__}")


def _content_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def form_value(value: Any) -> str:
    """One form field's text, as pydantic reads it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, Mapping):
        return dumps(dict(value)).decode()
    raise TypeError(f"a form field cannot carry {type(value).__name__} ({value!r})")


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "%0D").replace("\n", "%0A")


def encode_form(fields: Iterable[tuple[str, str]], files: Iterable[tuple[str, str, bytes, str]],
                boundary: str | None = None) -> tuple[str, bytes]:
    """``(content_type, body)`` of a form with text ``fields`` (name, value) and ``files``
    (field name, filename, data, content type)."""
    boundary = boundary or f"vllm-client-{secrets.token_hex(16)}"
    sep = b"--" + boundary.encode() + b"\r\n"
    parts: list[bytes] = []
    for name, filename, data, ctype in files:
        parts += [sep, f'Content-Disposition: form-data; name="{_quote(name)}"; filename="{_quote(filename)}"\r\n'
                  f"Content-Type: {ctype}\r\n\r\n".encode(), data, b"\r\n"]
    for name, value in fields:
        parts += [sep, f'Content-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode(),
                  value.encode("utf-8"), b"\r\n"]
    parts.append(b"--" + boundary.encode() + b"--\r\n")
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)
