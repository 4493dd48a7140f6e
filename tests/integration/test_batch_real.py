"""run_batch against REAL vLLM 0.32 servers: chat and completions lines on a generate
server (one line the server rejects keeps its 400 body), embeddings and score lines on a
pooling server; every output line in the documented OpenAI batch shape."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vllm_client.batch import run_batch

if TYPE_CHECKING:
    from .conftest import RealServer


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _records(path: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for r in records:
        assert list(r) == ["id", "custom_id", "response", "error"] and r["id"].startswith("vllm-batch-")
        if r["response"] is not None:
            assert list(r["response"]) == ["status_code", "request_id", "body"] and r["error"] is None
    return records


def test_chat_and_completion_lines_and_a_rejected_line(vllm_plain: RealServer, tmp_path: Path) -> None:
    inp = _write(tmp_path / "in.jsonl", [
        {"custom_id": "chat", "method": "POST", "url": "/v1/chat/completions",
         "body": {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 5}},
        {"custom_id": "completion", "method": "POST", "url": "/v1/completions",
         "body": {"prompt": "Once upon a time", "max_tokens": 5}},
        {"custom_id": "too-long", "method": "POST", "url": "/v1/chat/completions",
         "body": {"messages": [{"role": "user", "content": "hello world " * 1500}], "max_tokens": 5}},
    ])
    out = tmp_path / "out.jsonl"
    with vllm_plain.client() as client:
        summary = run_batch(client, inp, out, progress=False)
    chat, completion, rejected = _records(out)
    assert chat["response"]["status_code"] == 200 and chat["response"]["body"]["object"] == "chat.completion"
    assert completion["response"]["body"]["object"] == "text_completion"
    assert rejected["response"]["status_code"] == 400
    assert "maximum context length" in rejected["response"]["body"]["error"]["message"]
    assert (summary.succeeded, summary.failed_by_kind) == (2, {"http_400": 1})


def test_embedding_and_score_lines_async(vllm_embed: RealServer, tmp_path: Path) -> None:
    inp = _write(tmp_path / "in.jsonl", [
        {"custom_id": "emb", "method": "POST", "url": "/v1/embeddings", "body": {"input": ["a cat", "a dog"]}},
        {"custom_id": "score", "method": "POST", "url": "/score", "body": {"text_1": "cat", "text_2": ["dog", "car"]}},
    ])
    out = tmp_path / "out.jsonl.gz"

    async def go() -> Any:
        async with vllm_embed.aclient() as client:
            return await run_batch(client, inp, out, progress=False)

    summary = asyncio.run(go())
    import gzip

    out.with_suffix("").write_bytes(gzip.decompress(out.read_bytes()))
    emb, score = _records(out.with_suffix(""))
    assert len(emb["response"]["body"]["data"]) == 2 and score["response"]["body"]["object"] == "list"
    assert len(score["response"]["body"]["data"]) == 2 and summary.succeeded == 2
