"""One input line of an OpenAI batch file -> a request to send, or the reason it cannot be
sent. Pure.

A line is ``{"custom_id", "method", "url", "body"}``. We check what would otherwise fail
late or silently: ``custom_id`` a non-empty string, ``method`` POST (missing means POST, as
vLLM reads it), ``url`` one of the POST routes the client knows, ``body`` an object,
``stream`` not true (a batch line gets one JSON answer). Extra keys are ignored, as the
OpenAI and vLLM readers do. Whether a ``custom_id`` repeats is the reader's question
(:mod:`._seen`), since it needs the lines before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._json import loads

__all__ = ["KNOWN_URLS", "Invalid", "Request", "is_blank", "parse_line"]

#: POST routes a line may name -> whether a body without "model" gets the served model
#: (tokenize/detokenize take none). Paths from the server root, as in vLLM's own batch files.
KNOWN_URLS: dict[str, bool] = {
    "/v1/chat/completions": True,
    "/v1/completions": True,
    "/v1/embeddings": True,
    "/v1/responses": True,
    "/v1/score": True,
    "/v1/rerank": True,
    "/v2/rerank": True,
    "/score": True,
    "/rerank": True,
    "/classify": True,
    "/pooling": True,
    "/tokenize": False,
    "/detokenize": False,
}

INVALID = "invalid_request"
DUPLICATE = "duplicate_custom_id"


@dataclass(slots=True)
class Request:
    """A line to send: ``body`` goes to ``url`` (``fill_model``: the served model if absent)."""

    seq: int
    custom_id: str
    url: str
    body: dict[str, Any]
    fill_model: bool


@dataclass(slots=True)
class Invalid:
    """A line that gets an error line instead of a request (``code``: see API.md)."""

    seq: int
    custom_id: str | None
    code: str
    message: str


def is_blank(raw: bytes) -> bool:
    """Blank lines are skipped (no output line, no sequence number), as vLLM does."""
    return not raw.strip()


def parse_line(raw: bytes, seq: int, lineno: int) -> Request | Invalid:
    """Check one non-blank line; ``lineno`` (1-based, in the file) only goes into messages."""
    try:
        line = loads(raw)
    except ValueError as exc:
        return Invalid(seq, None, INVALID, f"line {lineno} is not valid JSON ({exc})")
    if not isinstance(line, dict):
        return Invalid(seq, None, INVALID, f"line {lineno} is not a JSON object")
    cid = line.get("custom_id")
    if not isinstance(cid, str) or not cid:
        return Invalid(seq, None, INVALID, f"line {lineno}: custom_id must be a non-empty string, got {cid!r}")
    method = line.get("method", "POST")
    if method != "POST":
        return Invalid(seq, cid, INVALID, f"line {lineno}: method must be POST, got {method!r}")
    url = line.get("url")
    fill = KNOWN_URLS.get(url) if isinstance(url, str) else None
    if fill is None:
        return Invalid(seq, cid, INVALID, f"line {lineno}: unknown url {url!r} (one of: {', '.join(KNOWN_URLS)})")
    body = line.get("body")
    if not isinstance(body, dict):
        return Invalid(seq, cid, INVALID, f"line {lineno}: body must be a JSON object, got {type(body).__name__}")
    if body.get("stream") is True:
        return Invalid(seq, cid, INVALID, f"line {lineno}: stream: true is not supported in a batch "
                                          "(one answer per line)")
    return Request(seq, cid, str(url), body, fill)


def custom_id_of(raw: bytes) -> str | None:
    """The line's custom_id if it has a valid one (for lines skipped on resume)."""
    try:
        line = loads(raw)
    except ValueError:
        return None
    cid = line.get("custom_id") if isinstance(line, dict) else None
    return cid if isinstance(cid, str) and cid else None
