"""Helpers for the batch tests: input files, running either client, reading outputs."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

from vllm_client import AsyncVllmClient, VllmClient
from vllm_client.batch import BatchSummary, run_batch


def chat_line(cid: str, content: str | None = None, **body: Any) -> dict[str, Any]:
    return {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions",
            "body": {"messages": [{"role": "user", "content": content or f"prompt {cid}"}], "max_tokens": 4, **body}}


def write_input(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.write_bytes(gzip.compress(text.encode()) if path.name.endswith(".gz") else text.encode())
    return path


def read_output(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    assert not data or data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


def check_shape(record: dict[str, Any]) -> None:
    """The OpenAI batch output line, as API.md documents it."""
    assert list(record) == ["id", "custom_id", "response", "error"]
    assert record["id"].startswith("vllm-batch-")
    if record["response"] is None:
        assert set(record["error"]) == {"code", "message"}
        assert record["error"]["code"] in {"invalid_request", "duplicate_custom_id", "timeout", "connection_error",
                                           "stream_error"}
    else:
        assert record["error"] is None
        assert list(record["response"]) == ["status_code", "request_id", "body"]
        assert isinstance(record["response"]["body"], dict)


def run(kind: str, base_url: str, inp: Path, out: Path, **options: Any) -> BatchSummary:
    """run_batch with a sync or an async client (retries waiting 0 s), progress off."""
    options.setdefault("progress", False)
    client_kwargs = {k: options.pop(k) for k in ("max_retries",) if k in options}
    if kind == "sync":
        with VllmClient(base_url, **client_kwargs) as client:
            client._sleep = lambda d: None
            return run_batch(client, inp, out, **options)

    async def go() -> BatchSummary:
        async with AsyncVllmClient(base_url, **client_kwargs) as client:
            async def no_sleep(d: float) -> None:
                pass
            client._sleep = no_sleep
            return await run_batch(client, inp, out, **options)

    return asyncio.run(go())
