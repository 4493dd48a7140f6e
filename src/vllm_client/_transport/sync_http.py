"""Sync transport: the standard library's ``http.client`` with our own keep-alive pool.

Chosen by measurement (``benchmarks/``): per request it costs less than half of urllib3
and a quarter of httpx on the same loopback server, and its chunked reader is as cheap
per streamed event. What it lacks we add here, in little code: a thread-safe pool with a
connection cap, keep-alive expiry, proxies (absolute-form for http, CONNECT for https),
TLS verification with an optional CA bundle, and a silent reconnect when a pooled
connection is found closed by the server before our request goes out.

A request is sent again silently only when it provably did not reach the server: the idle
connection is checked before reuse (one ``poll``, as urllib3 does), and a failure while
sending on a reused connection means the server never had the whole request. A reused
connection that dies after the request went out is an ambiguous failure: it raises a
retryable :class:`APIConnectionError` and the visible retry policy decides (vLLM may
already be generating; a tool's side effect may have run).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Hashable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from .._config import Limits, Timeout, redact_url
from .._errors import APIConnectionError, APITimeoutError, StreamTimeoutError
from .._protocol.deadlines import StreamDeadlines
from .idle import limit_note, peer_closed
from .proxies import proxies_from_env, proxy_for
from .proxies import proxy_auth as _proxy_auth
from .sync_chunked import ChunkedReader
from .tls import ssl_context as _ssl_context

__all__ = ["SyncResponse", "SyncTransport", "sleep"]

_Key = tuple[str, str, int, str | None]

#: seconds to wait, after a stream's last event, for the end of its body (the chunked
#: terminator that follows ``[DONE]``) so the connection can go back to the pool
END_GRACE = 1.0
#: one lock for the rare race of two threads finishing one response (close from another thread)
_FINISH_LOCK = threading.Lock()

#: how the retry loop waits (a module attribute so the generated sync client gets time.sleep)
sleep = time.sleep


def _dropped(sock: socket.socket | None) -> bool:
    """Whether an idle pooled connection was closed by the peer (see idle.py)."""
    return sock is None or peer_closed(sock.fileno())


class _Pool:
    """Idle keep-alive connections per (scheme, host, port, proxy), plus a cap on all open ones."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._idle: dict[_Key, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self.closed = False
        self.in_use = 0

    def acquire_slot(self, timeout: float | None) -> None:
        if not self._slots.acquire(timeout=timeout if timeout is not None else -1):
            raise APITimeoutError("timed out waiting for a free connection in the pool")
        with self._lock:
            self.in_use += 1

    def release_slot(self) -> None:
        with self._lock:
            self.in_use -= 1
        self._slots.release()

    def take(self, key: _Key) -> http.client.HTTPConnection | None:
        """An idle connection that is still open, or None."""
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                conn, since = idle.pop()
            if now - since < self.limits.keepalive_expiry and not _dropped(conn.sock):
                return conn
            conn.close()

    def give_back(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if self.closed:
                conn.close()
                return
            idle = self._idle.setdefault(key, [])
            if len(idle) >= self.limits.max_keepalive:
                conn.close()
                return
            idle.append((conn, time.monotonic()))

    def close(self) -> None:
        with self._lock:
            self.closed = True
            for idle in self._idle.values():
                for conn, _ in idle:
                    conn.close()
            self._idle.clear()

    @property
    def idle_count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._idle.values())


class SyncResponse:
    """An answer whose body is read on demand. Reading it to the end returns the
    connection to the pool; ``close()`` before the end closes the connection (which makes
    vLLM abort the generation) and frees the pool slot."""

    __slots__ = ("_conn", "_done", "_ending", "_headers", "_key", "_pool", "_read_limit", "_resp", "call", "status")

    def __init__(self, pool: _Pool, key: _Key, conn: http.client.HTTPConnection,
                 resp: http.client.HTTPResponse, read_limit: float | None = None) -> None:
        self._read_limit = read_limit
        self._pool = pool
        self._key = key
        self._conn = conn
        self._resp = resp
        self.status = resp.status
        self._headers: dict[str, str] | None = None
        self._done = False
        self._ending = False
        self.call: Any = None  # the call this answer belongs to (set by the retry loop, see _call.py)

    @property
    def headers(self) -> dict[str, str]:
        """Response headers, names lower-cased (built on first use: most calls never look)."""
        if self._headers is None:
            self._headers = {k.lower(): v for k, v in self._resp.getheaders()}
        return self._headers

    def read(self) -> bytes:
        """The whole body; the connection goes back to the pool."""
        try:
            data = self._resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self._finish(reuse=False)
            if isinstance(exc, TimeoutError):
                raise APITimeoutError(f"timed out reading the response body{limit_note('read', self._read_limit)}",
                                     retryable=False) from exc
            raise APIConnectionError(f"connection broke while reading the response: {exc!r}",
                                     retryable=False) from exc
        except BaseException:  # KeyboardInterrupt, a closed response...: never keep the slot
            self._finish(reuse=False)
            raise
        self._finish(reuse=not self._resp.will_close)
        return data

    def expect_end(self) -> None:
        """The stream's last event arrived: wait only briefly for the end of the body (then
        the connection is reused; a body that does not end is closed, not an error)."""
        self._ending = True

    def set_read_timeout(self, seconds: float | None) -> None:
        sock = self._conn.sock
        if sock is not None:
            sock.settimeout(seconds)

    def iter_bytes(self, deadlines: StreamDeadlines | None = None,
                   read_timeout: float | None = None) -> Iterator[bytes]:
        """Body chunks as they arrive (one read each). Each read waits at most until the
        nearest stream deadline; expiry raises StreamTimeoutError, a silent socket
        ``read_timeout`` APITimeoutError, and breaks APIConnectionError."""
        resp = self._resp
        # One event per HTTP chunk: de-chunk whole socket reads (sync_chunked.py, measured).
        read1 = ChunkedReader(resp).read1 if resp.chunked and resp.chunk_left is None else resp.read1
        sock = self._conn.sock
        timed = deadlines is not None and deadlines.active
        try:
            while True:
                if self._ending:
                    yield from self._read_end(read1, sock)
                    return
                if timed and deadlines is not None and sock is not None:
                    now = time.monotonic()
                    rem = deadlines.remaining(now)
                    if rem is not None:
                        if rem <= 0:
                            raise StreamTimeoutError(f"stream {deadlines.expired(now) or 'timeout'} expired")
                        sock.settimeout(rem if read_timeout is None else min(rem, read_timeout))
                try:
                    data = read1(65536)
                except TimeoutError as exc:
                    what = deadlines.expired(time.monotonic()) if deadlines is not None else None
                    if what:
                        raise StreamTimeoutError(f"stream {what} expired") from exc
                    limit = limit_note("read", read_timeout)
                    raise APITimeoutError(f"timed out reading the stream{limit}", retryable=False) from exc
                except http.client.IncompleteRead as exc:
                    raise APIConnectionError(f"connection closed mid-body: {exc!r}", retryable=False) from exc
                except (OSError, http.client.HTTPException) as exc:
                    raise APIConnectionError(f"connection broke mid-body: {exc!r}", retryable=False) from exc
                except (AttributeError, ValueError) as exc:  # http.client after a close from another thread
                    if not self._done:
                        raise
                    raise APIConnectionError("the response was closed while being read", retryable=False) from exc
                if not data:
                    break
                yield data
        except BaseException:
            self._finish(reuse=False)
            raise
        self._finish(reuse=not self._resp.will_close)

    def _read_end(self, read1: Any, sock: socket.socket | None) -> Iterator[bytes]:
        """After the last event: the rest of the body within ``END_GRACE``, then back to the
        pool; a body that does not end in time (or breaks) only costs the connection."""
        if sock is not None:
            sock.settimeout(END_GRACE)
        try:
            while True:
                data = read1(65536)
                if not data:
                    break
                yield data
        except (OSError, http.client.HTTPException, AttributeError, ValueError):
            self._finish(reuse=False)
            return
        self._finish(reuse=not self._resp.will_close)

    def _finish(self, *, reuse: bool) -> None:
        with _FINISH_LOCK:
            if self._done:
                return
            self._done = True
        if reuse and self._resp.isclosed():
            self._pool.give_back(self._key, self._conn)
        else:
            _shutdown(self._conn)
            self._conn.close()
        self._pool.release_slot()

    def close(self) -> None:
        """Give up on the rest of the body: the connection is closed, not reused. Safe from
        another thread than the reader's: its blocked read wakes up and fails."""
        if not self._done:
            self._finish(reuse=False)

    close_now = close

    @property
    def closed(self) -> bool:
        return self._done


class SyncTransport:
    """Thread-safe HTTP/1.1 client for one or more vLLM servers."""

    def __init__(self, *, limits: Limits | None = None, verify: bool | str = True,
                 trust_env: bool = True) -> None:
        self._pool = _Pool(limits or Limits())
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None
        self._proxies = proxies_from_env() if trust_env else {}
        self._opened = 0
        self._locks: dict[Hashable, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # -- connections -------------------------------------------------------------------
    def _ssl_ctx(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = _ssl_context(self._verify)
        return self._ssl

    def _new_conn(self, key: _Key, timeout: Timeout) -> http.client.HTTPConnection:
        scheme, host, port, proxy = key
        conn: http.client.HTTPConnection
        if proxy is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(host, port, timeout=timeout.connect, context=self._ssl_ctx())
            else:
                conn = http.client.HTTPConnection(host, port, timeout=timeout.connect)
        else:
            p = urlsplit(proxy)
            pport = p.port or (443 if p.scheme == "https" else 80)
            auth = _proxy_auth(proxy)
            if scheme == "https":
                conn = http.client.HTTPSConnection(p.hostname or "", pport, timeout=timeout.connect,
                                                   context=self._ssl_ctx())
                conn.set_tunnel(host, port, headers=auth)
            else:
                conn = http.client.HTTPConnection(p.hostname or "", pport, timeout=timeout.connect)
        self._opened += 1
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            note = limit_note("connect", timeout.connect)
            raise APITimeoutError(f"timed out connecting to {host}:{port}{note}") from exc
        except OSError as exc:
            conn.close()
            raise APIConnectionError(f"cannot connect to {host}:{port}: {exc}") from exc
        if conn.sock is not None:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    # -- requests ----------------------------------------------------------------------
    def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
             timeout: Timeout) -> SyncResponse:
        """Send a request and return once the status line and headers are in."""
        parts = urlsplit(url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        proxy = proxy_for(scheme, host, self._proxies)
        key: _Key = (scheme, host, port, proxy)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        hdrs = dict(headers)
        if proxy is not None and scheme == "http":
            target = url
            hdrs.update(_proxy_auth(proxy))
        if self._pool.closed:
            raise APIConnectionError("the client is closed")
        self._pool.acquire_slot(timeout.connect)
        try:
            return self._send_on_pool(key, method, target, hdrs, body, timeout, url)
        except BaseException:
            self._pool.release_slot()
            raise

    def _send_on_pool(self, key: _Key, method: str, target: str, headers: dict[str, str],
                      body: bytes | None, timeout: Timeout, url: str) -> SyncResponse:
        read_timeout = timeout.read
        if timeout.total is not None:
            read_timeout = timeout.total if read_timeout is None else min(read_timeout, timeout.total)
        while True:
            conn = self._pool.take(key)
            reused = conn is not None
            if conn is None:
                conn = self._new_conn(key, timeout)
            try:
                if conn.sock is not None:
                    conn.sock.settimeout(read_timeout)
                try:
                    conn.request(method, target, body=body, headers=headers)
                except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
                    conn.close()
                    if reused:
                        continue  # the request did not go out whole: the server cannot have run it
                    raise APIConnectionError(f"connection to {redact_url(url)} failed: {exc!r}") from exc
                resp = conn.getresponse()
            except TimeoutError as exc:
                conn.close()
                raise APITimeoutError(f"timed out waiting for the first byte from {redact_url(url)}"
                                      f"{limit_note('read', read_timeout)}") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                what = "the server closed the connection before answering" if reused else "request failed"
                raise APIConnectionError(f"{what} ({redact_url(url)}): {exc!r}") from exc
            except BaseException:  # KeyboardInterrupt while waiting: close, so vLLM stops generating
                conn.close()
                raise
            return SyncResponse(self._pool, key, conn, resp, read_timeout)

    def lock_for(self, key: Hashable) -> threading.Lock:
        """One lock per ``key`` for this transport (and the clients sharing it): makes a
        one-time lookup, such as the served model, single-flight across threads."""
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
            return lock

    def close(self) -> None:
        self._pool.close()

    @property
    def closed(self) -> bool:
        return self._pool.closed

    def pool_stats(self) -> dict[str, Any]:
        """Idle connections, busy slots and connections opened so far, for tests and debugging."""
        return {"idle": self._pool.idle_count, "in_use": self._pool.in_use, "opened": self._opened}


def _shutdown(conn: http.client.HTTPConnection) -> None:
    """Wake a read blocked on this connection in another thread (``close`` alone does not)."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
