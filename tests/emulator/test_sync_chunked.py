"""The sync transport de-chunks stream bodies itself (``_transport/sync_chunked.py``): a
chunked body read to its end is exactly the bytes the server framed, and the connection
goes back to the pool for the next request, as with ``http.client``'s own reader."""

from __future__ import annotations

import json

from vllm_client import Timeout
from vllm_client._protocol.sse import SSEDecoder
from vllm_client._transport.sync_http import SyncTransport
from vllm_client.testing import MockVllmServer


def _stream_body(transport: SyncTransport, url: str, seed: int) -> bytes:
    body = json.dumps({"model": "mock-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 30,
                       "seed": seed, "stream": True}).encode()
    resp = transport.send("POST", url + "/chat/completions", {"Content-Type": "application/json"}, body, Timeout())
    assert resp.status == 200 and resp.headers["transfer-encoding"] == "chunked"
    return b"".join(resp.iter_bytes())


def test_chunked_stream_read_to_the_end_returns_its_connection(vllm_mock: MockVllmServer) -> None:
    transport = SyncTransport(trust_env=False)
    try:
        first = _stream_body(transport, vllm_mock.base_url, 1)
        assert transport.pool_stats() == {"idle": 1, "in_use": 0, "opened": 1}
        second = _stream_body(transport, vllm_mock.base_url, 2)
        assert transport.pool_stats() == {"idle": 1, "in_use": 0, "opened": 1}
    finally:
        transport.close()
    for raw in (first, second):
        data = SSEDecoder().feed_data(raw)
        assert data[-1] == b"[DONE]" and len(data) >= 32  # role, 30 tokens, finish/usage...
        assert all(json.loads(d)["object"] == "chat.completion.chunk" for d in data[:-1])
    assert first != second
