"""Reading the real vLLM 0.32 captures in ``tests/fixtures/real-vllm-0.32``:
plain functions, imported by the golden tests and by ``conftest.py`` (which adds the pytest
fixtures and parametrisation). Set ``VLLM_CLIENT_FIXTURES`` to use another copy."""

from __future__ import annotations

import base64
import functools
import json
import os
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(
    os.environ.get("VLLM_CLIENT_FIXTURES")
    or Path(__file__).resolve().parents[1] / "fixtures" / "real-vllm-0.32"
)

# Stream endpoints our chat/completion stream decoders handle (/v1/responses has its own format).
STREAM_PATHS = ("/v1/chat/completions", "/v1/completions")


def fixture_names() -> list[str]:
    """Every capture's name (file name without ``.json``), sorted. The captures are part of the
    repository, so a missing or empty directory is an error, never a reason to skip."""
    names = sorted(p.stem for p in FIXTURES_DIR.glob("*.json"))
    if not names:
        raise FileNotFoundError(f"no real-vLLM captures (*.json) in {FIXTURES_DIR}")
    return names


@functools.cache
def _load(name: str) -> str:
    return (FIXTURES_DIR / f"{name.removesuffix('.json')}.json").read_text(encoding="utf-8")


def load_fixture(name: str) -> dict[str, Any]:
    """The capture ``name`` (with or without ``.json``) as a fresh dict."""
    data: dict[str, Any] = json.loads(_load(name))
    return data


def response_headers(fx: dict[str, Any]) -> dict[str, str]:
    """Response headers, names lower-cased (the last one wins for repeated names)."""
    return {k.lower(): v for k, v in (fx.get("response") or {}).get("headers", [])}


def response_bytes(fx: dict[str, Any]) -> bytes:
    """The exact response body bytes (``body_base64`` holds a body that is not UTF-8)."""
    return _bytes(fx["response"])


def request_bytes(fx: dict[str, Any]) -> bytes:
    """The exact request body bytes."""
    return _bytes(fx["request"])


def _bytes(part: dict[str, Any]) -> bytes:
    if "body_base64" in part:
        return base64.b64decode(part["body_base64"])
    body: str = part.get("body") or ""
    return body.encode("utf-8")


def request_json(fx: dict[str, Any]) -> Any:
    """The request body as JSON (None when it is empty or not JSON)."""
    try:
        return json.loads(fx["request"].get("body") or "null")
    except ValueError:
        return None


def is_event_stream(fx: dict[str, Any]) -> bool:
    return "text/event-stream" in response_headers(fx).get("content-type", "") and "body" in fx.get("response", {})


def stream_fixture_names() -> list[str]:
    """SSE captures of the chat and legacy completion endpoints."""
    names = []
    for name in fixture_names():
        fx = load_fixture(name)
        if is_event_stream(fx) and fx["request"].get("path") in STREAM_PATHS:
            names.append(name)
    return names


def stream_pairs() -> list[tuple[str, str]]:
    """``(x_stream, x)`` pairs where both are 200 answers (stream as SSE)."""
    known = set(fixture_names())
    pairs = []
    for name in stream_fixture_names():
        base = name.removesuffix("_stream")
        if base != name and base in known and (load_fixture(base).get("response") or {}).get("status") == 200:
            pairs.append((name, base))
    return pairs
