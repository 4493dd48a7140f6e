"""Async transport: aiohttp.

Chosen by measurement (``../shared/bench``): aiohttp's C HTTP parser (llhttp) costs a
third of the h11-based clients per streamed event and the least per request of the
async clients measured. The session is created lazily inside the running loop (a
session is bound to its loop) and re-created if the client is used from a new loop.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Hashable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._config import Limits, Timeout, redact_url
from .._errors import APIConnectionError, APITimeoutError, StreamTimeoutError
from .._protocol.deadlines import StreamDeadlines
from .proxies import proxies_from_env, proxy_for

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AsyncResponse", "AsyncTransport", "sleep"]

#: how the retry loop waits (a module attribute so the generated sync client gets time.sleep)
sleep = asyncio.sleep

#: seconds to wait, after a stream's last event, for the end of its body (see the sync transport)
END_GRACE = 1.0



def _import_aiohttp() -> None:
    """Bind the module global ``aiohttp`` on first use: its import (~90-150 ms here) is
    paid by the first async request, never by sync-only programs or ``import vllm_client``.
    Every other use of ``aiohttp`` in this module runs after a session exists."""
    global aiohttp
    import aiohttp


class AsyncResponse:
    """An answer whose body is read on demand. Reading to the end releases the connection
    to the pool; ``aclose()`` before the end closes it (vLLM then aborts the generation)."""

    __slots__ = ("_ending", "_headers", "_read_limit", "_resp", "_transport", "closed", "status")

    def __init__(self, transport: AsyncTransport, resp: aiohttp.ClientResponse,
                 read_limit: float | None = None) -> None:
        self._read_limit = read_limit
        self._transport = transport
        self._resp = resp
        self.status = resp.status
        self._headers: dict[str, str] | None = None
        self.closed = False
        self._ending = False
        transport.in_use += 1

    @property
    def headers(self) -> dict[str, str]:
        """Response headers, names lower-cased (built on first use: most calls never look)."""
        if self._headers is None:
            self._headers = {k.lower(): v for k, v in self._resp.headers.items()}
        return self._headers

    async def aread(self) -> bytes:
        try:
            data = await self._resp.read()
        except asyncio.TimeoutError as exc:
            self.close_now()
            raise APITimeoutError(f"timed out reading the response body{_limit('read', self._read_limit)}",
                                  retryable=False) from exc
        except aiohttp.ClientError as exc:
            self.close_now()
            raise APIConnectionError(f"connection broke while reading the response: {exc!r}",
                                     retryable=False) from exc
        except BaseException:  # cancellation, a closed session...: never keep the slot
            self.close_now()
            raise
        self._released()
        return data

    def expect_end(self) -> None:
        """The stream's last event arrived: wait only briefly for the end of the body (then
        the connection is reused; a body that does not end is closed, not an error)."""
        self._ending = True

    async def aiter_bytes(self, deadlines: StreamDeadlines | None = None,
                          read_timeout: float | None = None) -> AsyncIterator[bytes]:
        """Body chunks as they arrive. With stream deadlines each read waits at most until
        the nearest one (StreamTimeoutError); aiohttp's ``sock_read`` covers ``read``."""
        readany = self._resp.content.readany
        timed = deadlines is not None and deadlines.active
        try:
            while True:
                if self._ending:
                    async for data in self._read_end(readany):
                        yield data
                    return
                try:
                    if timed and deadlines is not None:
                        now = time.monotonic()
                        rem = deadlines.remaining(now)
                        if rem is not None and rem <= 0:
                            raise StreamTimeoutError(f"stream {deadlines.expired(now) or 'timeout'} expired")
                        data = await asyncio.wait_for(readany(), rem)
                    else:
                        data = await readany()
                except StreamTimeoutError:
                    raise
                except asyncio.TimeoutError as exc:
                    what = deadlines.expired(time.monotonic()) if deadlines is not None else None
                    if what:
                        raise StreamTimeoutError(f"stream {what} expired") from exc
                    limit = _limit("read", self._read_limit)
                    raise APITimeoutError(f"timed out reading the stream{limit}", retryable=False) from exc
                except (aiohttp.ClientError, ConnectionError) as exc:
                    what = "closed" if isinstance(exc, aiohttp.ClientPayloadError) else "broke"
                    error = APIConnectionError(f"connection {what} mid-body: {exc!r}", retryable=False)
                    error.__cause__ = exc
                    rest = _buffered(self._resp.content)
                    if rest:
                        yield rest  # bytes that arrived before the break: no received event is lost
                    raise error from exc
                except RuntimeError as exc:  # aiohttp once its session was closed
                    raise APIConnectionError(f"the stream's connection was closed ({exc})", retryable=False) from exc
                if not data:
                    break
                yield data
        except BaseException:
            self.close_now()
            raise
        self._released()

    async def _read_end(self, readany: Any) -> AsyncIterator[bytes]:
        """After the last event: the rest of the body within ``END_GRACE``, then back to the
        pool; a body that does not end in time (or breaks) only costs the connection."""
        try:
            while True:
                data = await asyncio.wait_for(readany(), END_GRACE)
                if not data:
                    break
                yield data
        except (asyncio.TimeoutError, aiohttp.ClientError, ConnectionError, RuntimeError):
            self.close_now()
            return
        self._released()

    def _released(self) -> None:
        if not self.closed:
            self.closed = True
            self._resp.release()
            self._transport.in_use -= 1

    def close_now(self) -> None:
        """Close the connection at once (synchronous: safe from finalizers and cancellation)."""
        if not self.closed:
            self.closed = True
            self._resp.close()
            self._transport.in_use -= 1

    async def aclose(self) -> None:
        self.close_now()


async def _close_at_loop_end(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """Suspended until its loop shuts down (``shutdown_asyncgens``), then closes ``session``."""
    try:
        yield
    finally:
        if not session.closed:
            await session.close()


def _finish(guard: AsyncGenerator[None, None] | None) -> None:
    """End a guard whose session is closed, here and now (its ``finally`` then awaits
    nothing), so no loop is asked to finalize it later."""
    if guard is None:
        return
    try:
        guard.aclose().send(None)
    except (StopIteration, RuntimeError):
        pass


def _forget_connections(session: aiohttp.ClientSession) -> None:
    """A session whose loop was closed without shutting down (``loop.close()`` after
    ``run_until_complete``): nothing can run on that loop, so close its sockets directly
    and mark the connector closed, which is what the transports' finalizers would do (with
    a ResourceWarning each). Private attributes of aiohttp and asyncio, each guarded: on a
    version without them this only costs those warnings."""
    connector = session.connector
    idle = getattr(connector, "_conns", None) or {}
    protocols = [proto for conns in idle.values() for proto, _ in conns]
    protocols += list(getattr(connector, "_acquired", ()))
    for proto in protocols:
        transport = getattr(proto, "transport", None)
        sock = getattr(transport, "_sock", None)
        if sock is not None:
            sock.close()
            transport._sock = None  # type: ignore[union-attr]
    close = getattr(connector, "_close", None)
    if close is not None:
        try:
            close()
        except Exception:
            pass


def _limit(name: str, seconds: float | None) -> str:
    """`` (read timeout 5s)``: which limit expired, for the error message."""
    return f" ({name} timeout {seconds:g}s)" if seconds is not None else ""


def _buffered(content: aiohttp.StreamReader) -> bytes:
    """Body bytes aiohttp received before the connection broke: its ``readany`` raises the
    error before returning what is buffered, so a cut right after some events would lose
    them. ``_read_nowait`` is private (aiohttp 3.8 to 3.14 at least); without it, nothing."""
    try:
        data: bytes = content._read_nowait(-1)
    except Exception:
        return b""
    return data


class AsyncTransport:
    """aiohttp session wrapper shared by a client and its ``with_options`` copies."""

    def __init__(self, *, limits: Limits | None = None, verify: bool | str = True,
                 trust_env: bool = True) -> None:
        self._limits = limits or Limits()
        self._verify = verify
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._guard: AsyncGenerator[None, None] | None = None
        self._proxies = proxies_from_env() if trust_env else {}
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        self._closed = False
        self.in_use = 0
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, asyncio.Lock]] = (
            weakref.WeakKeyDictionary())

    def _ssl(self) -> ssl.SSLContext | bool:
        if self._verify is False:
            return False
        if isinstance(self._verify, str):
            return ssl.create_default_context(cafile=self._verify)
        return True

    def _session_for(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession | None:
        """This loop's open session, if any (the per-request fast path: three compares)."""
        session = self._session
        if session is not None and self._loop is loop and not session.closed:
            return session
        return None

    async def _open_session(self, loop: asyncio.AbstractEventLoop) -> aiohttp.ClientSession:
        """A session for ``loop`` (a session belongs to the loop it was made in).

        A client used from several loops (repeated ``asyncio.run``, notebooks) must not
        leak the earlier loops' sessions: each session is tied to its loop's shutdown by a
        guard, an async generator the loop closes in ``shutdown_asyncgens`` (which
        ``asyncio.run`` calls), whose ``finally`` closes the session in that loop.
        """
        if self._closed:
            raise APIConnectionError("the client is closed")
        _import_aiohttp()
        self._retire()
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections,
            limit_per_host=0,
            keepalive_timeout=self._limits.keepalive_expiry,
            ssl=self._ssl(),
        )
        # trust_env=False: aiohttp would then look up netrc and proxies in a thread on
        # every request (two thread hops, measured as the largest per-request cost). We
        # read the proxy environment once instead and pass ``proxy=`` ourselves.
        session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )
        guard = _close_at_loop_end(session)
        await guard.__anext__()
        self._session, self._loop, self._guard = session, loop, guard
        return session

    def _retire(self) -> None:
        """Let go of the previous loop's session without leaking it or warning."""
        session, loop, guard = self._session, self._loop, self._guard
        self._session = self._loop = self._guard = None
        if session is None or loop is None:
            return
        if not session.closed:
            if loop.is_running():  # still serving in another thread: close it there
                asyncio.run_coroutine_threadsafe(session.close(), loop)
                return  # its guard finishes with that loop
            if not loop.is_closed():
                return  # stopped, not closed: its shutdown (the guard) will close the session
            _forget_connections(session)  # closed without shutdown_asyncgens: nothing can run there
        _finish(guard)

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                   timeout: Timeout) -> AsyncResponse:
        """Send a request; return once the status line and headers are in."""
        loop = asyncio.get_running_loop()
        session = self._session_for(loop) or await self._open_session(loop)
        ct = self._timeouts.get(timeout)
        if ct is None:
            ct = aiohttp.ClientTimeout(total=timeout.total, sock_connect=timeout.connect, sock_read=timeout.read,
                                       connect=None)
            if len(self._timeouts) < 64:
                self._timeouts[timeout] = ct
        proxy = None
        if self._proxies:
            parts = urlsplit(url)
            proxy = proxy_for(parts.scheme, parts.hostname or "", self._proxies)
        try:
            resp = await session._request(method, url, data=body, headers=headers, timeout=ct,
                                          allow_redirects=False, proxy=proxy)
        except asyncio.TimeoutError as exc:
            if isinstance(exc, getattr(aiohttp, "ConnectionTimeoutError", aiohttp.ServerTimeoutError)):
                what = f"timed out connecting to {redact_url(url)}{_limit('connect', timeout.connect)}"
            else:
                what = f"timed out waiting for the first byte from {redact_url(url)}{_limit('read', timeout.read)}"
            raise APITimeoutError(what) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(f"cannot connect to {redact_url(url)}: {exc.os_error!r}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(f"request to {redact_url(url)} failed: {exc!r}") from exc
        return AsyncResponse(self, resp, timeout.read)

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
        session, loop = self._session, self._loop
        if session is not None and loop is asyncio.get_running_loop() and not session.closed:
            await session.close()
        self._retire()

    @property
    def closed(self) -> bool:
        return self._closed

    def pool_stats(self) -> dict[str, Any]:
        return {"in_use": self.in_use}
