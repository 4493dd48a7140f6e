"""Capture a real server's answer in the fixture format of tests/fixtures/real-vllm-0.32.

``capture(server, scenario, method, path, body=...)`` sends one request over a raw HTTP/1.1
connection (nothing of the client under test in between), reads the body as it arrives (the
socket reads become ``chunk_sizes``) and returns the capture as a dict. With
``VLLM_IT_CAPTURE=1`` it is also written to ``tests/fixtures/real-vllm-0.32/<scenario>.json``,
which is how the captures of new endpoints were made; otherwise nothing is written, and the
test asserts on the fresh answer.

Bodies that are not UTF-8 (binary embeddings, WAV uploads) are kept as ``body_base64``
instead of ``body`` (see the fixtures README).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-vllm-0.32"
WRITE = os.environ.get("VLLM_IT_CAPTURE", "") == "1"
USER_AGENT = "real-vllm-capture/1"


def _body_fields(data: bytes) -> dict[str, Any]:
    try:
        return {"body": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(data).decode()}


def capture(server: Any, scenario: str, method: str, path: str, *, body: Any = None,
            headers: dict[str, str] | None = None, note: str = "") -> dict[str, Any]:
    """Send the request to ``server`` (a harness Server) and return (maybe write) its capture.
    ``body``: a dict (sent as JSON), str or bytes (sent as they are)."""
    hdrs = {"user-agent": USER_AGENT, "accept": "*/*"}
    if isinstance(body, dict):
        data = json.dumps(body).encode()
        hdrs["content-type"] = "application/json"
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body or b""
    hdrs.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    t0 = time.perf_counter()
    try:
        conn.request(method, path, body=data if (data or method != "GET") else None, headers=hdrs)
        resp = conn.getresponse()
        chunks: list[bytes] = []
        while True:
            piece = resp.read1(1 << 16)
            if not piece:
                break
            chunks.append(piece)
    finally:
        conn.close()
    elapsed = (time.perf_counter() - t0) * 1000
    raw = b"".join(chunks)
    request: dict[str, Any] = {"method": method, "path": path, "headers": hdrs}
    if data or method != "GET":
        request.update(_body_fields(data))
    response: dict[str, Any] = {
        "http_version": "HTTP/1.1", "status": resp.status, "reason": resp.reason,
        "headers": [[k.lower(), v] for k, v in resp.getheaders()],
        **_body_fields(raw), "body_bytes": len(raw), "body_sha256": hashlib.sha256(raw).hexdigest(),
    }
    if "text/event-stream" in (resp.getheader("content-type") or ""):
        response["chunk_sizes"] = [len(c) for c in chunks]
    response["elapsed_ms"] = round(elapsed, 1)
    fx = {"scenario": scenario, "server_variant": server.variant,
          "server_command": shlex.join(str(c) for c in server.command), "note": note,
          "request": request, "response": response}
    if WRITE:
        (FIXTURES / f"{scenario}.json").write_text(json.dumps(fx, indent=1, ensure_ascii=False) + "\n",
                                                   encoding="utf-8")
    return fx


def body_of(fx: dict[str, Any]) -> bytes:
    """A capture's response body bytes."""
    r = fx["response"]
    return base64.b64decode(r["body_base64"]) if "body_base64" in r else str(r.get("body", "")).encode()


def json_of(fx: dict[str, Any]) -> Any:
    return json.loads(body_of(fx))
