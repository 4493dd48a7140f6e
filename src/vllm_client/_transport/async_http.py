"""Async transport: our own HTTP/1.1 client on asyncio (no aiohttp).

Why our own, measured on ``../shared/bench`` (benchmarks/results-2026-12-01.md): with
aiohttp, our own per-request Python was 10-20 µs of 140-230 µs and the rest aiohttp's
ClientRequest/ClientResponse machinery; per streamed event its StreamReader resumes
reading once per HTTP chunk (vLLM sends one chunk per event). Here a request is one
``write`` of a head built with one f-string per header, the answer is parsed by
``_protocol/http1.py`` on whole socket reads, and a stream's reader gets every event of
a read as one de-chunked piece, waiting on a future only when nothing is queued
(``async_conn.py``). The numbers against aiohttp are in the module's results section.

What it keeps from the aiohttp-based transport: a keep-alive pool with ``Limits``,
connect/read timeouts and the stream deadlines, TLS (``verify`` True/False/CA path, SNI),
proxies from the environment (absolute-form for http, CONNECT + ``start_tls`` for
https), the error mapping, one client across several event loops (``async_pool.py``).
No ``Accept-Encoding`` is sent, so no server compresses (vLLM never does by default).

A request is sent again silently only when it provably did not reach the server: an idle
connection found closed (or readable) before reuse. A reused connection that dies after
the request went out raises a retryable :class:`APIConnectionError`, as in the sync transport.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Hashable, Mapping
from typing import Any
from urllib.parse import urlsplit

from .._config import Limits, Timeout, redact_url
from .._errors import APIConnectionError, APITimeoutError, StreamTimeoutError, VllmError
from .._protocol.deadlines import StreamDeadlines
from .._protocol.http1 import HTTPError, ResponseReader, encode_request
from .async_conn import ClosedHere, Connection, ReadTimeout, ServerClosed
from .async_pool import Pool, close_at_loop_end, finish_guard
from .idle import limit_note
from .proxies import proxies_from_env, proxy_auth, proxy_for
from .tls import ssl_context

__all__ = ["AsyncResponse", "AsyncTransport", "sleep"]

#: how the retry loop waits (a module attribute so the generated sync client gets time.sleep)
sleep = asyncio.sleep

#: seconds to wait, after a stream's last event, for the end of its body (see the sync transport)
END_GRACE = 1.0

_Key = tuple[str, str, int, "str | None"]
#: per URL: pool key, request target, Host header, extra headers (proxy credentials)
_Route = tuple[_Key, str, str, dict[str, str]]


class AsyncResponse:
    """An answer whose body is read on demand. Reading to the end releases the connection
    to the pool; ``aclose()`` before the end closes it (vLLM then aborts the generation)."""

    __slots__ = ("_conn", "_ending", "_pool", "_read_limit", "call", "closed", "headers", "status")

    def __init__(self, pool: Pool, conn: Connection, read_limit: float | None) -> None:
        reader = conn.reader
        assert reader is not None and reader.headers is not None
        self._pool = pool
        self._conn = conn
        self._read_limit = read_limit
        self.status = reader.status
        self.headers: dict[str, str] = reader.headers  # names lower-cased
        self.closed = False
        self._ending = False
        pool.answers += 1
        self.call: Any = None  # the call this answer belongs to (set by the retry loop, see _call.py)

    async def aread(self) -> bytes:
        conn = self._conn
        reader = conn.reader
        assert reader is not None
        parts: list[bytes] = []
        try:
            while True:
                if conn.body:
                    parts.append(conn.take_body())
                if reader.done:
                    break
                if conn.error is not None:
                    raise conn.error
                await conn.wait(self._read_limit)
        except ReadTimeout:
            self.close_now()
            raise APITimeoutError(f"timed out reading the response body{limit_note('read', self._read_limit)}",
                                  retryable=False) from None
        except (OSError, HTTPError) as exc:
            self.close_now()
            raise APIConnectionError(f"connection broke while reading the response: {exc!r}",
                                     retryable=False) from exc
        except BaseException:  # cancellation...: never keep the slot
            self.close_now()
            raise
        self._released()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def expect_end(self) -> None:
        """The stream's last event arrived: wait only briefly for the end of the body (then
        the connection is reused; a body that does not end is closed, not an error)."""
        self._ending = True

    async def aiter_bytes(self, deadlines: StreamDeadlines | None = None,
                          read_timeout: float | None = None) -> AsyncIterator[bytes]:
        """Body bytes as they arrive, every complete piece of a read at once. With stream
        deadlines each wait ends at the nearest one (StreamTimeoutError); a silent
        connection for the read limit raises APITimeoutError, a break APIConnectionError
        after the bytes that arrived before it."""
        conn = self._conn
        reader = conn.reader
        assert reader is not None
        limit = self._read_limit
        timed = deadlines is not None and deadlines.active
        try:
            while True:
                if conn.body:
                    yield conn.take_body()
                    continue
                if reader.done:
                    break
                if self._ending:
                    if conn.error is not None or not await self._wait_end():
                        self.close_now()
                        return
                    continue
                if conn.error is not None:
                    raise _broken(conn.error)
                wait = limit
                by_deadline = False
                if timed and deadlines is not None:
                    now = time.monotonic()
                    rem = deadlines.remaining(now)
                    if rem is not None:
                        if rem <= 0:
                            raise StreamTimeoutError(f"stream {deadlines.expired(now) or 'timeout'} expired")
                        if wait is None or rem < wait:
                            wait, by_deadline = rem, True
                try:
                    await conn.wait(wait)
                except ReadTimeout:
                    what = deadlines.expired(time.monotonic()) if deadlines is not None else None
                    if what:
                        raise StreamTimeoutError(f"stream {what} expired") from None
                    if by_deadline:
                        continue  # the loop's timer fires up to its clock resolution early: look again
                    raise APITimeoutError(f"timed out reading the stream{limit_note('read', limit)}",
                                          retryable=False) from None
        except BaseException:
            self.close_now()
            raise
        self._released()

    async def _wait_end(self) -> bool:
        """After the last event: whether more of the body came within ``END_GRACE``."""
        try:
            await self._conn.wait(END_GRACE)
        except ReadTimeout:
            return False
        return True

    def _released(self) -> None:
        if not self.closed:
            self.closed = True
            conn = self._conn
            reader = conn.reader
            if reader is not None and reader.keep_alive and conn.usable and not conn.body:
                self._pool.give_back(conn)
            else:
                conn.abort()
            self._pool.answers -= 1
            self._pool.release()

    def close_now(self) -> None:
        """Close the connection at once (synchronous: safe from finalizers, cancellation and
        other tasks; a reader waiting on it wakes up and ends)."""
        if not self.closed:
            self.closed = True
            self._conn.abort()
            self._pool.answers -= 1
            self._pool.release()

    async def aclose(self) -> None:
        self.close_now()


def _broken(exc: BaseException) -> APIConnectionError:
    if isinstance(exc, ClosedHere):
        error = APIConnectionError(f"the stream's connection was closed ({exc})", retryable=False)
    else:
        what = "closed" if isinstance(exc, ServerClosed) else "broke"
        error = APIConnectionError(f"connection {what} mid-body: {exc!r}", retryable=False)
    error.__cause__ = exc
    return error




class AsyncTransport:
    """HTTP/1.1 keep-alive client shared by a client and its ``with_options`` copies."""

    def __init__(self, *, limits: Limits | None = None, verify: bool | str = True,
                 trust_env: bool = True) -> None:
        self._limits = limits or Limits()
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None
        self._proxies = proxies_from_env() if trust_env else {}
        self._pool: Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._guard: AsyncGenerator[None, None] | None = None
        self._routes: dict[str, _Route] = {}
        self._closed = False
        self._opened = 0
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, asyncio.Lock]] = (
            weakref.WeakKeyDictionary())

    # -- one pool per event loop ---------------------------------------------------------
    async def _open_pool(self, loop: asyncio.AbstractEventLoop) -> Pool:
        if self._closed:
            raise APIConnectionError("the client is closed")
        self._retire()
        pool = Pool(loop, self._limits)
        guard = close_at_loop_end(pool)
        await guard.__anext__()
        self._pool, self._loop, self._guard = pool, loop, guard
        return pool

    def _retire(self) -> None:
        """Let go of the previous loop's pool without leaking it or warning."""
        pool, loop, guard = self._pool, self._loop, self._guard
        self._pool = self._loop = self._guard = None
        if pool is None or loop is None:
            return
        if not pool.closed:
            if loop.is_running():  # still serving in another thread: close it there
                loop.call_soon_threadsafe(pool.close)
                return  # its guard finishes with that loop
            if not loop.is_closed():
                return  # stopped, not closed: its shutdown (the guard) will close the pool
            pool.forget()
        finish_guard(guard)

    # -- requests ------------------------------------------------------------------------
    def _route(self, url: str) -> _Route:
        route = self._routes.get(url)
        if route is not None:
            return route
        parts = urlsplit(url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        proxy = proxy_for(scheme, host, self._proxies) if self._proxies else None
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        host_header = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            host_header += f":{parts.port}"
        extra: dict[str, str] = {}
        if proxy is not None and scheme == "http":
            target = url.split("#", 1)[0]
            extra = proxy_auth(proxy)
        route = ((scheme, host, port, proxy), target, host_header, extra)
        if len(self._routes) >= 256:
            self._routes.clear()
        self._routes[url] = route
        return route

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                   timeout: Timeout) -> AsyncResponse:
        """Send a request; return once the status line and headers are in."""
        loop = asyncio.get_running_loop()
        pool = self._pool
        if pool is None or self._loop is not loop or pool.closed:
            pool = await self._open_pool(loop)
        key, target, host, extra = self._route(url)
        if extra:
            headers = {**headers, **extra}
        data = encode_request(method, target, host, headers, body)
        if pool.in_use < pool.max:
            pool.in_use += 1
        else:
            await pool.acquire(timeout.connect)
        try:
            return await self._exchange(pool, key, data, method, timeout, url)
        except BaseException:
            pool.release()
            raise

    async def _exchange(self, pool: Pool, key: _Key, data: bytes, method: str, timeout: Timeout,
                        url: str) -> AsyncResponse:
        read_timeout = timeout.read
        if timeout.total is not None:
            read_timeout = timeout.total if read_timeout is None else min(read_timeout, timeout.total)
        while True:
            conn = pool.take(key)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(pool, key, timeout, url)
            reader = conn.reader = ResponseReader(no_body=method == "HEAD")
            conn.transport.write(data)  # type: ignore[union-attr]
            try:
                while reader.headers is None:
                    if conn.error is not None:
                        raise conn.error
                    await conn.wait(read_timeout)
            except ReadTimeout:
                conn.abort()
                raise APITimeoutError(f"timed out waiting for the first byte from {redact_url(url)}"
                                      f"{limit_note('read', read_timeout)}") from None
            except (OSError, HTTPError) as exc:
                conn.abort()
                if reused:
                    raise APIConnectionError(f"the server closed the connection before answering "
                                             f"({redact_url(url)}): {exc!r}") from exc
                raise APIConnectionError(f"request to {redact_url(url)} failed: {exc!r}") from exc
            except BaseException:  # cancelled while waiting: close, so vLLM stops generating
                conn.abort()
                raise
            return AsyncResponse(pool, conn, read_timeout)

    async def _connect(self, pool: Pool, key: _Key, timeout: Timeout, url: str) -> Connection:
        try:
            if timeout.connect is None:
                conn = await self._open(pool, key, timeout)
            else:
                conn = await asyncio.wait_for(self._open(pool, key, timeout), timeout.connect)
        except VllmError:
            raise
        except (asyncio.TimeoutError, ReadTimeout) as exc:
            raise APITimeoutError(f"timed out connecting to {redact_url(url)}"
                                  f"{limit_note('connect', timeout.connect)}") from exc
        except (OSError, HTTPError) as exc:
            raise APIConnectionError(f"cannot connect to {redact_url(url)}: {exc!r}") from exc
        self._opened += 1
        return conn

    async def _open(self, pool: Pool, key: _Key, timeout: Timeout) -> Connection:
        scheme, host, port, proxy = key
        loop = pool.loop
        ctx = self._ssl_ctx() if scheme == "https" else None

        def factory() -> Connection:
            conn = Connection(loop, key, pool.lost)
            pool.conns.add(conn)
            return conn

        if proxy is None:
            _, conn = await loop.create_connection(factory, host, port, ssl=ctx,
                                                   server_hostname=host if ctx is not None else None)
            return conn
        p = urlsplit(proxy)
        _, conn = await loop.create_connection(factory, p.hostname or "", p.port or 80)
        if ctx is None:
            return conn  # http through the proxy: absolute-form targets on this connection
        try:
            await _tunnel(conn, host, port, proxy_auth(proxy), timeout.connect)
            assert conn.transport is not None
            tls = await loop.start_tls(conn.transport, conn, ctx, server_hostname=host)
        except BaseException:
            conn.abort()
            raise
        conn.transport = tls
        return conn

    def _ssl_ctx(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl_context(self._verify)
        return self._ssl

    def lock_for(self, key: Hashable) -> asyncio.Lock:
        """One lock per ``key`` and event loop (an asyncio lock belongs to one loop): makes
        a one-time lookup, such as the served model, single-flight across tasks."""
        loop = asyncio.get_running_loop()
        locks = self._locks.get(loop)
        if locks is None:
            locks = self._locks[loop] = {}
        lock = locks.get(key)
        if lock is None:
            lock = locks[key] = asyncio.Lock()
        return lock

    async def aclose(self) -> None:
        self._closed = True
        pool, loop = self._pool, self._loop
        if pool is not None and loop is asyncio.get_running_loop() and not pool.closed:
            pool.close()
            await asyncio.sleep(0)  # let the transports' connection_lost run
        self._retire()

    @property
    def closed(self) -> bool:
        return self._closed

    def pool_stats(self) -> dict[str, Any]:
        """Idle connections, open answers (headers in, body not done) and connections opened
        so far (this loop's pool)."""
        pool = self._pool
        idle, in_use = (pool.idle_count, pool.answers) if pool is not None else (0, 0)
        return {"idle": idle, "in_use": in_use, "opened": self._opened}


async def _tunnel(conn: Connection, host: str, port: int, auth: dict[str, str], timeout: float | None) -> None:
    """``CONNECT host:port`` through the proxy on ``conn``; returns once it answered 2xx."""
    reader = conn.reader = ResponseReader(no_body=True)
    conn.transport.write(encode_request("CONNECT", f"{host}:{port}", f"{host}:{port}", auth, None))  # type: ignore[union-attr]
    while reader.headers is None:
        if conn.error is not None:
            raise conn.error
        await conn.wait(timeout)
    conn.reader = None
    if not 200 <= reader.status < 300:
        raise APIConnectionError(f"the proxy refused the tunnel to {host}:{port}: HTTP {reader.status}")
