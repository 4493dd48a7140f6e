"""Measurement prototype (not used by the library): a minimal asyncio HTTP/1.1 transport
with the interface of ``_transport.async_http.AsyncTransport``, to learn what aiohttp's
request machinery costs us per request and per streamed chunk.

Why: after the decode path was made cheap, the async client's per-request CPU is ~1.0x
the raw-aiohttp floor and most of it is aiohttp itself (ClientRequest/ClientResponse
building, its StreamReader's per-HTTP-chunk flow control). This prototype keeps only
what a plaintext keep-alive connection to vLLM needs: one ``asyncio.Protocol`` per
connection, the request written in one ``write``, the status line and headers parsed
with ``find``/``split``, Content-Length bodies, chunked bodies de-chunked per socket read
by :class:`vllm_client._protocol.chunked.ChunkedDecoder`. No TLS, proxies, timeouts or
error mapping: it is a yardstick, so its numbers are a lower bound for a real transport.

``benchmarks/run_lean_prototype.py`` runs ``../shared/bench`` with an extra contender,
``vllm-client-async-lean``: our async client (request building, typed results, stream
decoding, everything else unchanged) with this transport swapped in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from vllm_client._protocol.chunked import ChunkedDecoder


class _Conn(asyncio.Protocol):
    """One keep-alive connection; a response at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.head: tuple[int, dict[str, str]] | None = None
        self.head_waiter: asyncio.Future[None] | None = None
        self.body: list[bytes] = []
        self.body_waiter: asyncio.Future[None] | None = None
        self.length: int | None = None
        self.chunked: ChunkedDecoder | None = None
        self.complete = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake()

    def start(self) -> None:
        self.buf, self.head, self.body, self.complete = b"", None, [], False
        self.length, self.chunked = None, None
        self.head_waiter = asyncio.get_running_loop().create_future()

    def _wake(self) -> None:
        for waiter in (self.head_waiter, self.body_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.head is None:
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self.buf[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.head = (int(lines[0].split(" ", 2)[1]), headers)
            data, self.buf = self.buf[end + 4 :], b""
            if "chunked" in headers.get("transfer-encoding", ""):
                self.chunked = ChunkedDecoder()
            else:
                self.length = int(headers.get("content-length", "0"))
            if self.head_waiter is not None and not self.head_waiter.done():
                self.head_waiter.set_result(None)
        if self.chunked is not None:
            payload = self.chunked.feed(data)
            if payload:
                self.body.append(payload)
            self.complete = self.chunked.done
        else:
            if data:
                self.body.append(data)
            assert self.length is not None
            self.length -= len(data)
            self.complete = self.length <= 0
        if self.body_waiter is not None and not self.body_waiter.done() and (self.body or self.complete):
            self.body_waiter.set_result(None)


class LeanResponse:
    def __init__(self, transport: LeanTransport, key: tuple[str, int], conn: _Conn) -> None:
        assert conn.head is not None
        self.status, self._headers = conn.head
        self._transport, self._key, self._conn = transport, key, conn
        self.closed = False

    @property
    def headers(self) -> dict[str, str]:
        return self._headers

    async def _more(self) -> bytes:
        conn = self._conn
        while not conn.body and not conn.complete:
            if conn.closed:
                raise ConnectionError("connection closed mid-body")
            conn.body_waiter = asyncio.get_running_loop().create_future()
            await conn.body_waiter
        data = conn.body[0] if len(conn.body) == 1 else b"".join(conn.body)
        conn.body = []
        return data

    async def aread(self) -> bytes:
        parts = []
        while True:
            data = await self._more()
            if data:
                parts.append(data)
            if self._conn.complete and not self._conn.body:
                break
        self._release()
        return b"".join(parts)

    async def aiter_bytes(self, deadlines: Any = None, read_timeout: float | None = None) -> AsyncIterator[bytes]:
        try:
            while True:
                data = await self._more()
                if data:
                    yield data
                if self._conn.complete and not self._conn.body:
                    break
        except BaseException:
            self.close_now()
            raise
        self._release()

    def _release(self) -> None:
        if not self.closed:
            self.closed = True
            self._transport.in_use -= 1
            self._transport.idle.setdefault(self._key, []).append(self._conn)

    def close_now(self) -> None:
        if not self.closed:
            self.closed = True
            self._transport.in_use -= 1
            if self._conn.transport is not None:
                self._conn.transport.close()

    async def aclose(self) -> None:
        self.close_now()


class LeanTransport:
    """``send``/``aclose`` like AsyncTransport; plaintext HTTP/1.1 keep-alive only."""

    def __init__(self) -> None:
        self.idle: dict[tuple[str, int], list[_Conn]] = {}
        self.in_use = 0
        self.closed = False

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                   timeout: Any) -> LeanResponse:
        parts = urlsplit(url)
        key = (parts.hostname or "", parts.port or 80)
        idle = self.idle.get(key)
        conn = None
        while idle:
            conn = idle.pop()
            if not conn.closed:
                break
            conn = None
        if conn is None:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(_Conn, key[0], key[1])
        target = parts.path + ("?" + parts.query if parts.query else "")
        head = f"{method} {target} HTTP/1.1\r\nHost: {key[0]}:{key[1]}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body or b'')}\r\n\r\n"
        conn.start()
        assert conn.transport is not None and conn.head_waiter is not None
        conn.transport.write(head.encode("latin-1") + (body or b""))
        await conn.head_waiter
        if conn.head is None:
            raise ConnectionError("connection closed before the response")
        self.in_use += 1
        return LeanResponse(self, key, conn)

    async def aclose(self) -> None:
        self.closed = True
        for conns in self.idle.values():
            for conn in conns:
                if conn.transport is not None:
                    conn.transport.close()
        self.idle.clear()

    def pool_stats(self) -> dict[str, Any]:
        return {"in_use": self.in_use}
