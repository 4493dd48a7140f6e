"""A tiny HTTP/1.1 server as an asyncio Protocol: just what a vLLM emulator needs.

Why hand-written: the emulator must depend on nothing but the stdlib and orjson, must
stream `Transfer-Encoding: chunked` bodies one HTTP chunk per SSE event (as uvicorn
does), must notice at once when a client closes the connection mid-stream (vLLM
aborts the generation then), and must be able to misbehave on purpose (drop the
connection, stall, send broken framing). A Protocol gives all of that cheaply:
`connection_lost` is the disconnect signal, `pause_writing` is back-pressure.

Supported: keep-alive and pipelining (requests are answered in order), request
bodies with Content-Length or chunked transfer coding, `Expect: 100-continue`,
`Connection: close`, HTTP/1.0 clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

import orjson

#: Sleeps shorter than this (seconds) do not watch for a disconnect while they last.
_SHORT_SLEEP = 0.05

_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024

REASONS = {
    100: "Continue",
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_date_cache: tuple[int, bytes] = (0, b"")


def http_date() -> bytes:
    """The `date` header value, formatted once per second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode())
    return _date_cache[1]


_UNSET: Any = object()


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it (for assertions in tests)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    target: str = ""  # the raw request target, path and query string
    received_at: float = 0.0  # time.monotonic() when the request was complete
    http_version: str = "HTTP/1.1"
    _json_cache: list[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        if not self._json_cache:
            try:
                value: Any = orjson.loads(self.body) if self.body else None
            except orjson.JSONDecodeError:
                value = None
            self._json_cache.append(value)
        return self._json_cache[0]


class _BadRequest(Exception):
    pass


def _parse_head(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest("bad request line")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _BadRequest("bad header line")
        headers.append((name.lower(), value.strip()))
    return parts[0], parts[1], parts[2], headers


Handler = Callable[["Connection", RecordedRequest], Awaitable[None]]


class Connection(asyncio.Protocol):
    """One client connection: parses requests, hands them to the handler one at a time,
    and offers the handler ways to answer (whole or streamed) or to misbehave."""

    def __init__(self, handler: Handler, registry: set[Connection]) -> None:
        self._handler = handler
        self._registry = registry
        self._buf = bytearray()
        self._queue: asyncio.Queue[RecordedRequest | None] = asyncio.Queue()
        self._transport: asyncio.Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self.closed = asyncio.Event()
        self.keep_alive = True  # of the request being answered
        self._http10 = False
        self._expect_continue_sent = False

    # --- asyncio.Protocol -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (no isinstance check: uvloop's transports are not asyncio.Transport subclasses)
        self._transport = cast(asyncio.Transport, transport)
        self._registry.add(self)
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        self._buf += data
        try:
            self._parse()
        except _BadRequest:
            self._write_raw(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            self.close()

    def eof_received(self) -> bool | None:
        return False  # close our side too: a half-closed client is a gone client

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self._writable.set()
        self._registry.discard(self)
        self._queue.put_nowait(None)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # --- parsing ----------------------------------------------------------------
    def _parse(self) -> None:
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > _MAX_HEAD:
                    raise _BadRequest("head too large")
                return
            method, target, version, headers = _parse_head(bytes(self._buf[:end]))
            hdrs: dict[str, str] = {}
            for k, v in headers:
                hdrs[k] = f"{hdrs[k]}, {v}" if k in hdrs else v
            start = end + 4
            if "chunked" in hdrs.get("transfer-encoding", "").lower():
                parsed = self._parse_chunked(start)
                if parsed is None:
                    self._maybe_continue(hdrs)
                    return
                body, consumed = parsed
            else:
                try:
                    length = int(hdrs.get("content-length", "0"))
                except ValueError:
                    raise _BadRequest("bad content-length") from None
                if length < 0 or length > _MAX_BODY:
                    raise _BadRequest("bad content-length")
                if len(self._buf) - start < length:
                    self._maybe_continue(hdrs)
                    return
                body, consumed = bytes(self._buf[start : start + length]), start + length
            del self._buf[:consumed]
            self._expect_continue_sent = False
            origin_form = target
            if target.startswith(("http://", "https://")):  # absolute form, as sent to a proxy
                slash = target.find("/", target.index("//") + 2)
                origin_form = target[slash:] if slash >= 0 else "/"
            path, _, query = origin_form.partition("?")
            req = RecordedRequest(
                method=method,
                path=unquote(path),
                query=dict(parse_qsl(query, keep_blank_values=True)),
                headers=hdrs,
                body=body,
                target=target,
                received_at=time.monotonic(),
                http_version=version,
            )
            self._queue.put_nowait(req)

    def _parse_chunked(self, pos: int) -> tuple[bytes, int] | None:
        body = bytearray()
        buf = self._buf
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            try:
                size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
            except ValueError:
                raise _BadRequest("bad chunk size") from None
            pos = eol + 2
            if size == 0:
                end = buf.find(b"\r\n\r\n", pos - 2)
                if end < 0:
                    return None
                return bytes(body), end + 4
            if len(buf) < pos + size + 2:
                return None
            body += buf[pos : pos + size]
            pos += size + 2
            if len(body) > _MAX_BODY:
                raise _BadRequest("body too large")

    def _maybe_continue(self, hdrs: dict[str, str]) -> None:
        if hdrs.get("expect", "").lower() == "100-continue" and not self._expect_continue_sent:
            self._expect_continue_sent = True
            self._write_raw(b"HTTP/1.1 100 Continue\r\n\r\n")

    # --- serving ----------------------------------------------------------------
    async def _serve(self) -> None:
        while True:
            req = await self._queue.get()
            if req is None or self.closed.is_set():
                return
            conn_hdr = req.headers.get("connection", "").lower()
            self._http10 = req.http_version == "HTTP/1.0"
            self.keep_alive = "close" not in conn_hdr and (not self._http10 or "keep-alive" in conn_hdr)
            try:
                await self._handler(self, req)
            except asyncio.CancelledError:
                self.abort()
                raise
            except Exception as exc:  # a bug in the emulator must not hang the client
                body = orjson.dumps(
                    {
                        "error": {
                            "message": f"MockVllmServer error: {exc!r}",
                            "type": "InternalServerError",
                            "param": None,
                            "code": 500,
                        }
                    }
                )
                self._write_raw(
                    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\nconnection: close\r\n\r\n%b" % (len(body), body)
                )
                self.close()
                return
            if not self.keep_alive:
                self.close()
                return

    # --- writing ----------------------------------------------------------------
    def _write_raw(self, data: bytes) -> None:
        if self._transport is not None and not self.closed.is_set() and not self._transport.is_closing():
            self._transport.write(data)

    async def drain(self) -> bool:
        """Wait until the socket accepts more data; False when the client is gone."""
        if not self._writable.is_set():
            await self._writable.wait()
        return not self.closed.is_set()

    def _head(self, status: int, headers: Iterable[tuple[str, str]], extra: bytes = b"") -> bytes:
        reason = REASONS.get(status, "Unknown")
        lines = [f"HTTP/1.1 {status} {reason}\r\n".encode()]
        lines.append(b"date: " + http_date() + b"\r\nserver: uvicorn\r\n")
        lines.extend(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers)
        lines.append(extra)
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    async def send(
        self, status: int, headers: Iterable[tuple[str, str]], body: bytes, *, content_length: bool = True
    ) -> bool:
        """A whole response; `headers` follow date/server, content-length is slotted in
        where uvicorn puts it. False when the client has gone away."""
        hdrs = list(headers)
        if content_length and not any(k == "content-length" for k, _ in hdrs):
            hdrs.insert(_content_length_slot(hdrs), ("content-length", str(len(body))))
        self._write_raw(self._head(status, hdrs) + body)
        return await self.drain()

    async def start_stream(self, status: int, headers: Iterable[tuple[str, str]]) -> bool:
        hdrs = [*headers, ("transfer-encoding", "chunked")]
        self._write_raw(self._head(status, hdrs))
        return await self.drain()

    async def send_chunk(self, data: bytes) -> bool:
        """One HTTP chunk; False when the client has gone away."""
        if self.closed.is_set():
            return False
        if data:
            self._write_raw(b"%x\r\n%b\r\n" % (len(data), data))
        return await self.drain()

    async def end_stream(self) -> bool:
        self._write_raw(b"0\r\n\r\n")
        return await self.drain()

    async def sleep(self, seconds: float | None) -> bool:
        """Sleep (None: until the connection closes); False if the client went away.

        A short sleep (a token interval of ``token_rate``) is a plain ``asyncio.sleep``: waiting
        on ``closed`` with a timeout costs a task and a cancellation each time, which made the
        emulator spend ~100 us per streamed token (bench capacity runs need it cheaper than the
        client under test); a disconnect is then noticed one interval late."""
        if self.closed.is_set():
            return False
        if seconds is not None and seconds <= 0:
            return True
        if seconds is not None and seconds < _SHORT_SLEEP:
            await asyncio.sleep(seconds)
            return not self.closed.is_set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.closed.wait(), seconds)
        return not self.closed.is_set()

    def close(self) -> None:
        """Close after flushing what was written (a FIN, no RST)."""
        self.keep_alive = False
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        """Close at once, dropping unsent data (the peer may see a reset)."""
        self.keep_alive = False
        if self._transport is not None:
            self._transport.abort()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.abort()


def _content_length_slot(hdrs: list[tuple[str, str]]) -> int:
    # uvicorn sends headers a framework set explicitly (like `allow`) before content-length,
    # and content-type after it; keep that order.
    for i, (k, _) in enumerate(hdrs):
        if k in ("content-type", "vary", "x-request-id"):
            return i
    return len(hdrs)
