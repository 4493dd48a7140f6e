"""MockVllmServer scripting: canned replies, HTTP faults, mid-stream faults, client
disconnects (abort), pacing, concurrency and HTTP/1.1 details, over raw sockets,
http.client and aiohttp."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vllm_client.testing import (
    ChatReply,
    CompletionReply,
    Delay,
    DropConnection,
    EmptyBody,
    HtmlError,
    HttpError,
    MockVllmServer,
    RawResponse,
    StreamDrop,
    StreamErrorFrame,
    StreamKeepAlive,
    StreamMalformed,
    StreamNoDone,
    StreamStall,
    ToolCall,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-vllm-0.32"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
CHAT = "/v1/chat/completions"


# --- helpers ------------------------------------------------------------------------------


def post(
    server: MockVllmServer,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"content-type": "application/json", **(headers or {})},
        )
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def sse_data(raw: bytes) -> list[str]:
    return [b[len("data: ") :] for b in raw.decode().split("\n\n") if b.startswith("data: ")]


def request_bytes(body: Any, extra_headers: str = "") -> bytes:
    data = json.dumps(body).encode()
    return (
        f"POST {CHAT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"content-length: {len(data)}\r\n{extra_headers}\r\n"
    ).encode() + data


class RawStream:
    """A raw socket reading a chunked SSE response event by event."""

    def __init__(self, server: MockVllmServer, body: Any, extra_headers: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.sock.sendall(request_bytes(body, extra_headers))
        self.buf = b""
        self.head = self._read_until(b"\r\n\r\n")

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self.buf)
            self.buf += data
        out, _, self.buf = self.buf.partition(marker)
        return out

    def chunk(self) -> bytes:
        size = int(self._read_until(b"\r\n"), 16)
        while len(self.buf) < size + 2:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self.buf)
            self.buf += data
        out, self.buf = self.buf[:size], self.buf[size + 2 :]
        return out

    def rest(self) -> bytes:
        """Everything until the server closes the connection."""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return self.buf
            self.buf += data

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server() -> Iterator[MockVllmServer]:
    with MockVllmServer(model="tiny") as s:
        yield s


def collapse(shapes: list[Any]) -> list[Any]:
    out: list[Any] = []
    for s in shapes:
        if not out or out[-1] != s:
            out.append(s)
    return out


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [shape(v) for v in value]
    return (
        "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__
    )


# --- scripted replies --------------------------------------------------------------------------


def test_queue_chat_content_reasoning_and_usage(server: MockVllmServer) -> None:
    server.queue_chat("Paris.", reasoning="The capital of France is Paris.", usage={"prompt_tokens": 7})
    _status, _, raw = post(server, CHAT, {"messages": MESSAGES})
    body = json.loads(raw)
    msg = body["choices"][0]["message"]
    assert (msg["content"], msg["reasoning"], body["choices"][0]["finish_reason"]) == (
        "Paris.",
        "The capital of France is Paris.",
        "stop",
    )
    assert body["usage"]["prompt_tokens"] == 7
    assert body["usage"]["total_tokens"] == 7 + body["usage"]["completion_tokens"]
    # consumed: the next answer is generated again
    assert (
        json.loads(post(server, CHAT, {"messages": MESSAGES})[2])["choices"][0]["message"]["reasoning"]
        is None
    )


def test_queued_reply_streams_in_pieces(server: MockVllmServer) -> None:
    server.queue_chat("Hello there, world!", reasoning="think")
    _, _, raw = post(
        server, CHAT, {"messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    )
    events = [json.loads(d) for d in sse_data(raw)[:-1]]
    deltas = [e["choices"][0]["delta"] for e in events if e["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"reasoning": "think"}
    # the EOS token has no text: its chunk is an empty delta carrying the finish, as in vLLM
    assert [d["content"] for d in deltas[2:]] == ["Hello", " there", ",", " world", "!", ""]
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 6


def test_scripted_tool_calls_look_like_hermes(server: MockVllmServer) -> None:
    calls = [ToolCall("get_weather", {"location": "Tokyo"}), ToolCall("get_time", {"timezone": "Asia/Tokyo"})]
    server.queue_chat(tool_calls=calls)
    body = json.loads(post(server, CHAT, {"messages": MESSAGES})[2])
    real = json.loads(
        json.loads((FIXTURES / "hermes_auto_forced_two_tool_calls.json").read_text())["response"]["body"]
    )
    real["choices"][0]["stop_reason"] = None
    assert shape(body) == shape(real)
    got = body["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["arguments"] for c in got] == [
        '{"location": "Tokyo"}',
        '{"timezone": "Asia/Tokyo"}',
    ]
    assert got[0]["id"].startswith("chatcmpl-tool-") and len(got[0]["id"]) == len("chatcmpl-tool-") + 16
    assert body["choices"][0]["finish_reason"] == "tool_calls"

    server.queue_chat(tool_calls=calls)
    _, _, raw = post(server, CHAT, {"messages": MESSAGES, "stream": True})
    ours = [json.loads(d) for d in sse_data(raw)[:-1]]
    fx = json.loads((FIXTURES / "hermes_auto_forced_two_tool_calls_stream.json").read_text())
    theirs = [json.loads(d) for d in sse_data(fx["response"]["body"].encode())[:-1]]
    theirs[-1]["choices"][0]["stop_reason"] = None
    assert collapse([shape(e) for e in ours]) == collapse([shape(e) for e in theirs])
    args = ["", ""]
    for e in ours[1:-1]:
        tc = e["choices"][0]["delta"]["tool_calls"][0]
        args[tc["index"]] += tc["function"].get("arguments", "")
    assert args == ['{"location": "Tokyo"}', '{"timezone": "Asia/Tokyo"}']


def test_queue_completion_and_raw_response(server: MockVllmServer) -> None:
    server.queue_completion("forty-two", usage={"completion_tokens": 1})
    body = json.loads(post(server, "/v1/completions", {"prompt": "x"})[2])
    assert body["choices"][0]["text"] == "forty-two" and body["usage"]["completion_tokens"] == 1
    server.queue_reply(RawResponse(201, {"X-Custom": "1", "content-type": "text/plain"}, b"hi"), path=CHAT)
    status, headers, raw = post(server, CHAT, {"messages": MESSAGES})
    assert (status, headers["x-custom"], raw) == (201, "1", b"hi")
    server.queue_reply(
        RawResponse(200, [("content-type", "text/event-stream")], [b"data: 1\n\n", b"data: 2\n\n"])
    )
    status, headers, raw = post(server, CHAT, {"messages": MESSAGES})
    assert headers["transfer-encoding"] == "chunked" and raw == b"data: 1\n\ndata: 2\n\n"


def test_reply_times_and_clear(server: MockVllmServer) -> None:
    server.queue_reply(ChatReply("again"), times=None)
    for _ in range(3):
        assert (
            json.loads(post(server, CHAT, {"messages": MESSAGES})[2])["choices"][0]["message"]["content"]
            == "again"
        )
    server.queue_reply(CompletionReply("c"), times=2)
    server.clear_script()
    assert (
        json.loads(post(server, CHAT, {"messages": MESSAGES})[2])["choices"][0]["message"]["content"]
        != "again"
    )


# --- HTTP faults ----------------------------------------------------------------------------


def test_http_error_with_retry_after(server: MockVllmServer) -> None:
    server.add_fault(HttpError(503, retry_after=2, retry_after_ms=1500), times=2, path=CHAT)
    for _ in range(2):
        status, headers, raw = post(server, CHAT, {"messages": MESSAGES})
        assert status == 503
        assert headers["retry-after"] == "2" and headers["retry-after-ms"] == "1500"
        err = json.loads(raw)["error"]
        assert list(err) == ["message", "type", "param", "code"]
        assert (err["type"], err["code"]) == ("ServiceUnavailableError", 503)
    assert post(server, CHAT, {"messages": MESSAGES})[0] == 200


def test_fault_path_filter_and_http_date(server: MockVllmServer) -> None:
    server.fail_next(
        429, path="/v1/completions", retry_after="Wed, 21 Oct 2015 07:28:00 GMT", message="slow down"
    )
    assert post(server, CHAT, {"messages": MESSAGES})[0] == 200
    status, headers, raw = post(server, "/v1/completions", {"prompt": "x"})
    assert status == 429 and headers["retry-after"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert json.loads(raw)["error"]["message"] == "slow down"


def test_delay_then_normal_answer(server: MockVllmServer) -> None:
    server.add_fault(Delay(0.2))
    start = time.monotonic()
    assert post(server, CHAT, {"messages": MESSAGES, "max_tokens": 1})[0] == 200
    assert time.monotonic() - start >= 0.2


def test_dropped_connection(server: MockVllmServer) -> None:
    server.drop_next()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        post(server, CHAT, {"messages": MESSAGES})
    server.add_fault(DropConnection(reset=True))
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        post(server, CHAT, {"messages": MESSAGES})
    assert post(server, CHAT, {"messages": MESSAGES})[0] == 200
    assert len(server.requests) == 3


def test_html_and_empty_bodies(server: MockVllmServer) -> None:
    server.add_fault(HtmlError())
    status, headers, raw = post(server, CHAT, {"messages": MESSAGES})
    assert status == 502 and headers["content-type"] == "text/html" and raw.startswith(b"<html>")
    server.add_fault(EmptyBody(504))
    status, headers, raw = post(server, CHAT, {"messages": MESSAGES})
    assert (status, raw, headers["content-length"]) == (504, b"", "0")


def test_faults_apply_before_auth() -> None:
    with MockVllmServer(api_key="k") as s:
        s.fail_next(503)
        assert post(s, CHAT, {"messages": MESSAGES})[0] == 503
        assert post(s, CHAT, {"messages": MESSAGES})[0] == 401
        assert post(s, CHAT, {"messages": MESSAGES}, {"authorization": "Bearer k"})[0] == 200


# --- stream faults --------------------------------------------------------------------------


def test_stream_error_frame(server: MockVllmServer) -> None:
    server.add_fault(
        StreamErrorFrame(after_chunks=2, message="boom", code=503, error_type="ServiceUnavailableError")
    )
    status, _, raw = post(server, CHAT, {"messages": MESSAGES, "stream": True, "max_tokens": 5})
    data = sse_data(raw)
    assert status == 200 and len(data) == 4 and data[-1] == "[DONE]"
    assert data[2] == (
        '{"error": {"message": "boom", "type": "ServiceUnavailableError", "param": null, "code": 503}}'
    )
    # a non-streaming request does not consume a stream fault
    server.add_fault(StreamErrorFrame(after_chunks=0))
    assert post(server, CHAT, {"messages": MESSAGES})[0] == 200
    assert "error" in json.loads(sse_data(post(server, CHAT, {"messages": MESSAGES, "stream": True})[2])[0])


def test_stream_drop_leaves_the_body_unterminated(server: MockVllmServer) -> None:
    server.add_fault(StreamDrop(after_chunks=3))
    stream = RawStream(server, {"messages": MESSAGES, "stream": True, "max_tokens": 10})
    rest = stream.rest()
    stream.close()
    assert rest.count(b"data: ") == 3
    assert not rest.endswith(b"0\r\n\r\n")
    assert server.aborted_requests == []  # cut by the server, not abandoned by the client


def test_stream_malformed_no_done_and_keepalive(server: MockVllmServer) -> None:
    server.add_fault(StreamMalformed(after_chunks=1))
    data = sse_data(post(server, CHAT, {"messages": MESSAGES, "stream": True, "max_tokens": 3})[2])
    with pytest.raises(json.JSONDecodeError):
        json.loads(data[1])
    assert data[-1] == "[DONE]" and len(data) == 6
    server.add_fault(StreamNoDone())
    status, _, raw = post(server, CHAT, {"messages": MESSAGES, "stream": True, "max_tokens": 3})
    assert status == 200 and "[DONE]" not in sse_data(raw)
    server.add_fault(StreamKeepAlive(every=2))
    raw = post(server, CHAT, {"messages": MESSAGES, "stream": True, "max_tokens": 3})[2]
    assert raw.count(b": keep-alive\n\n") == 2 and sse_data(raw)[-1] == "[DONE]"


def test_stall_then_client_disconnect_is_an_abort(server: MockVllmServer) -> None:
    server.add_fault(StreamStall(after_chunks=2))
    stream = RawStream(
        server, {"messages": MESSAGES, "stream": True, "max_tokens": 10, "request_id": "stall-1"}
    )
    assert b'"role":"assistant"' in stream.chunk()
    stream.chunk()
    # while that stream stalls, other requests are answered
    assert post(server, CHAT, {"messages": MESSAGES, "max_tokens": 2})[0] == 200
    deadline = time.monotonic() + 5
    while server.active_requests != 1:  # the other answer's bookkeeping may lag its bytes
        assert time.monotonic() < deadline
        time.sleep(0.002)
    stream.close()
    assert server.wait_for_abort("stall-1") == "stall-1"


def test_stall_for_seconds_then_resume(server: MockVllmServer) -> None:
    server.add_fault(StreamStall(after_chunks=1, seconds=0.15))
    start = time.monotonic()
    data = sse_data(post(server, CHAT, {"messages": MESSAGES, "stream": True, "max_tokens": 2})[2])
    assert time.monotonic() - start >= 0.15 and data[-1] == "[DONE]" and len(data) == 4


def test_client_closing_a_paced_stream_aborts_it() -> None:
    with MockVllmServer(token_rate=200) as s:
        stream = RawStream(
            s,
            {"messages": MESSAGES, "stream": True, "max_tokens": 1500, "ignore_eos": True},
            "x-request-id: abort-me\r\n",
        )
        assert b"x-request-id: abort-me" in stream.head
        for _ in range(4):
            stream.chunk()
        stream.close()
        assert s.wait_for_abort() == "abort-me"
        deadline = time.monotonic() + 5
        while s.active_requests and time.monotonic() < deadline:
            time.sleep(0.005)
        assert s.active_requests == 0


def test_stop_ends_stalled_streams_quickly() -> None:
    s = MockVllmServer().start()
    s.add_fault(StreamStall(after_chunks=1))
    stream = RawStream(s, {"messages": MESSAGES, "stream": True})
    stream.chunk()
    start = time.monotonic()
    s.stop()
    assert time.monotonic() - start < 5
    stream.sock.settimeout(5)
    assert not stream.rest().endswith(b"0\r\n\r\n")
    stream.close()


def test_ttft_and_token_rate_pace_the_stream() -> None:
    with MockVllmServer(token_rate=100, ttft=0.1) as s:
        start = time.monotonic()
        data = sse_data(post(s, CHAT, {"messages": MESSAGES, "stream": True, "max_tokens": 10})[2])
        assert len(data) == 12
        assert time.monotonic() - start >= 0.1 + 10 / 100 * 0.9
        start = time.monotonic()
        post(s, CHAT, {"messages": MESSAGES, "max_tokens": 10})
        assert time.monotonic() - start >= 0.1 + 10 / 100 * 0.9


# --- HTTP/1.1 details ---------------------------------------------------------------------------


def test_pipelined_requests_answered_in_order(server: MockVllmServer) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    one = request_bytes({"messages": MESSAGES, "max_tokens": 1}, "x-request-id: one\r\n")
    two = request_bytes({"messages": MESSAGES, "max_tokens": 1}, "x-request-id: two\r\nconnection: close\r\n")
    sock.sendall(one + two)
    raw = b""
    while chunk := sock.recv(65536):
        raw += chunk
    sock.close()
    assert raw.count(b"HTTP/1.1 200 OK") == 2
    assert raw.index(b'"chatcmpl-one"') < raw.index(b'"chatcmpl-two"')
    assert b"connection: close" in raw


def test_chunked_request_body_and_expect_continue(server: MockVllmServer) -> None:
    body = json.dumps({"messages": MESSAGES, "max_tokens": 1}).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(
        f"POST {CHAT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        "transfer-encoding: chunked\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n".encode()
    )
    assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
    sock.sendall(b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body))
    raw = b""
    while chunk := sock.recv(65536):
        raw += chunk
    sock.close()
    assert raw.startswith(b"HTTP/1.1 200 OK")
    assert server.last_request.json == {"messages": MESSAGES, "max_tokens": 1}


def test_malformed_request_line_gets_400(server: MockVllmServer) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(b"NONSENSE\r\n\r\n")
    assert sock.recv(1000).startswith(b"HTTP/1.1 400")
    sock.close()


# --- concurrency, async clients --------------------------------------------------------------------


async def test_many_concurrent_requests_with_aiohttp() -> None:
    async with MockVllmServer(token_rate=2000) as s:
        connector = aiohttp.TCPConnector(limit=50)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def one(i: int) -> str:
                body = {"messages": MESSAGES, "max_tokens": 8, "seed": i, "stream": i % 2 == 0}
                async with session.post(s.base_url + "/chat/completions", json=body) as resp:
                    assert resp.status == 200
                    if i % 2:
                        data = await resp.json()
                        return str(data["choices"][0]["message"]["content"])
                    text = ""
                    async for line in resp.content:
                        if line.startswith(b"data: {"):
                            delta = json.loads(line[6:])["choices"][0]["delta"]
                            text += delta.get("content") or ""
                    return text

            results = await asyncio.gather(*(one(i) for i in range(200)))
        assert all(results)
        assert len(s.requests) == 200


async def test_aiohttp_stream_close_aborts_generation() -> None:
    async with MockVllmServer(token_rate=100) as s, aiohttp.ClientSession() as session:
        body = {
            "messages": MESSAGES,
            "max_tokens": 1000,
            "stream": True,
            "ignore_eos": True,
            "request_id": "async-abort",
        }
        async with session.post(s.base_url + "/chat/completions", json=body) as resp:
            seen = 0
            async for line in resp.content:
                seen += line.startswith(b"data: ")
                if seen == 3:
                    break
            resp.close()
        deadline = time.monotonic() + 5
        while "async-abort" not in s.aborted_requests:
            assert time.monotonic() < deadline, "abort not recorded"
            await asyncio.sleep(0.005)


def test_requests_survive_a_long_stream_on_another_connection() -> None:
    with MockVllmServer(token_rate=50) as s:
        stream = RawStream(s, {"messages": MESSAGES, "stream": True, "max_tokens": 200, "ignore_eos": True})
        stream.chunk()
        start = time.monotonic()
        for _ in range(20):
            assert post(s, "/v1/completions", {"prompt": "x", "max_tokens": 1})[0] == 200
        assert time.monotonic() - start < 2
        stream.close()
        s.wait_for_abort()
