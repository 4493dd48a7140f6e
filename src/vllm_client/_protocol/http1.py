"""HTTP/1.1 client framing, sans-I/O: a request head out, a response head and body in.

Why our own: the async transport drives keep-alive connections to vLLM directly on an
``asyncio.Protocol`` (see ``_transport/async_http.py`` for the measurements against
aiohttp). All it needs from HTTP/1.1 is here: the request head written in one piece,
the status line and headers parsed with ``find``/``split`` once the blank line is in, and
the body framed by ``Transfer-Encoding: chunked`` (:class:`~.chunked.ChunkedDecoder`,
which de-chunks whole socket reads), ``Content-Length`` or the end of the connection.
Informational (1xx) answers are skipped. Malformed input raises :class:`HTTPError`.
"""

from __future__ import annotations

from collections.abc import Mapping

from .chunked import ChunkedDecoder, ChunkedError

__all__ = ["HTTPError", "ResponseReader", "encode_request"]

_MAX_HEAD = 65536  # a response head longer than this is malformed
_NO_BODY_STATUS = (204, 304)


class HTTPError(ValueError):
    """The server's answer does not follow HTTP/1.1."""


def encode_request(method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
    """The request head (and body) as one ``bytes``. ``Content-Length`` is ours; a CR or
    LF inside a header name or value is refused (it would smuggle a header in)."""
    parts = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"]
    for name, value in headers.items():
        parts.append(f"{name}: {value}\r\n")
    if body is not None:
        end = f"Content-Length: {len(body)}\r\n\r\n"
    elif method in ("POST", "PUT", "PATCH"):
        end = "Content-Length: 0\r\n\r\n"
    else:
        end = "\r\n"
    parts.append(end)
    head = "".join(parts)
    lines = len(parts) + end.count("\n")  # the first part has two, each header one
    if head.count("\n") != lines or head.count("\r") != lines:
        raise ValueError(f"a CR or LF in the request target or a header: {target!r}, {dict(headers)!r}")
    data = head.encode("utf-8")
    return data + body if body else data


class ResponseReader:
    """Feed raw bytes of one response as they arrive.

    ``status``/``headers`` are set once the head is complete (``headers`` with lower-cased
    names, repeated fields joined with ``", "``); :meth:`feed` returns the body payload the
    bytes complete; ``done`` turns True at the end of the body; ``keep_alive`` tells
    whether the connection can carry another request afterwards.
    """

    __slots__ = ("_buf", "_chunked", "_left", "_no_body", "done", "headers", "keep_alive", "status")

    def __init__(self, *, no_body: bool = False) -> None:
        self._buf = b""
        self._no_body = no_body  # a HEAD request or a CONNECT tunnel: the answer has no body
        self._chunked: ChunkedDecoder | None = None
        self._left = -1  # Content-Length bytes still due; -1: until the connection ends
        self.status = 0
        self.headers: dict[str, str] | None = None
        self.done = False
        self.keep_alive = True

    def feed(self, data: bytes) -> bytes:
        if self.headers is None:
            data = self._head(data)
            if self.headers is None or not data:
                return b""
        if self.done:
            if data:
                self.keep_alive = False  # bytes after the body: never reuse this connection
            return b""
        chunked = self._chunked
        if chunked is not None:
            try:
                payload = chunked.feed(data)
            except ChunkedError as exc:
                raise HTTPError(f"malformed chunked body: {exc}") from None
            if chunked.done:
                self.done = True
                if chunked.extra:
                    self.keep_alive = False
            return payload
        left = self._left
        if left < 0:
            return data
        if len(data) >= left:
            if len(data) > left:
                self.keep_alive = False
                data = data[:left]
            self._left = 0
            self.done = True
            return data
        self._left = left - len(data)
        return data

    def eof(self) -> bool:
        """The connection ended: whether that completes the body (a body without length)."""
        if self.headers is not None and not self._chunked and self._left < 0 and not self.done:
            self.done = True
            self.keep_alive = False
        return self.done

    def _head(self, data: bytes) -> bytes:
        """Collect the head; once complete, parse it and return the bytes after it."""
        buf = self._buf + data if self._buf else data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    raise HTTPError("response head too long")
                self._buf = buf
                return b""
            lines = buf[:end].decode("latin-1").split("\r\n")
            buf = buf[end + 4 :]
            status = _status(lines[0])
            if 100 <= status < 200:
                continue  # 100 Continue and friends: the real answer follows
            break
        self._buf = b""
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise HTTPError(f"bad header line {line[:60]!r}")
            name = name.lower()
            value = value.strip(" \t")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self.status = status
        self.headers = headers
        conn = headers.get("connection", "").lower()
        if "close" in conn or (lines[0].startswith("HTTP/1.0") and "keep-alive" not in conn):
            self.keep_alive = False
        if self._no_body or status in _NO_BODY_STATUS:
            self.done = True
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = ChunkedDecoder()
        elif "content-length" in headers:
            raw = headers["content-length"]
            if not raw.isdigit():
                raise HTTPError(f"bad Content-Length {raw[:40]!r}")
            self._left = int(raw)
            self.done = self._left == 0
        else:
            self.keep_alive = False  # the body ends with the connection
        return buf


def _status(line: str) -> int:
    version, _, rest = line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit() or (len(rest) > 3 and rest[3] != " "):
        raise HTTPError(f"bad status line {line[:60]!r}")
    return int(code)
