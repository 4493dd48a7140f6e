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
from collections.abc import AsyncIterator, Mapping
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



def _import_aiohttp() -> None:
    """Bind the module global ``aiohttp`` on first use: its import (~90-150 ms here) is
    paid by the first async request, never by sync-only programs or ``import vllm_client``.
    Every other use of ``aiohttp`` in this module runs after a session exists."""
    global aiohttp
    import aiohttp


class AsyncResponse:
    """An answer whose body is read on demand. Reading to the end releases the connection
    to the pool; ``aclose()`` before the end closes it (vLLM then aborts the generation)."""

    __slots__ = ("_headers", "_resp", "_transport", "closed", "status")

    def __init__(self, transport: AsyncTransport, resp: aiohttp.ClientResponse) -> None:
        self._transport = transport
        self._resp = resp
        self.status = resp.status
        self._headers: dict[str, str] | None = None
        self.closed = False
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
            raise APITimeoutError("timed out reading the response body", retryable=False) from exc
        except aiohttp.ClientError as exc:
            self.close_now()
            raise APIConnectionError(f"connection broke while reading the response: {exc!r}",
                                     retryable=False) from exc
        self._released()
        return data

    async def aiter_bytes(self, deadlines: StreamDeadlines | None = None,
                          read_timeout: float | None = None) -> AsyncIterator[bytes]:
        """Body chunks as they arrive. With stream deadlines each read waits at most until
        the nearest one (StreamTimeoutError); aiohttp's ``sock_read`` covers ``read``."""
        readany = self._resp.content.readany
        timed = deadlines is not None and deadlines.active
        try:
            while True:
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
                    raise APITimeoutError("timed out reading the stream (read timeout)", retryable=False) from exc
                except aiohttp.ClientPayloadError as exc:
                    raise APIConnectionError(f"connection closed mid-body: {exc!r}", retryable=False) from exc
                except (aiohttp.ClientError, ConnectionError) as exc:
                    raise APIConnectionError(f"connection broke mid-body: {exc!r}", retryable=False) from exc
                if not data:
                    break
                yield data
        except BaseException:
            self.close_now()
            raise
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


class AsyncTransport:
    """aiohttp session wrapper shared by a client and its ``with_options`` copies."""

    def __init__(self, *, limits: Limits | None = None, verify: bool | str = True,
                 trust_env: bool = True) -> None:
        self._limits = limits or Limits()
        self._verify = verify
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies = proxies_from_env() if trust_env else {}
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        self._closed = False
        self.in_use = 0

    def _ssl(self) -> ssl.SSLContext | bool:
        if self._verify is False:
            return False
        if isinstance(self._verify, str):
            return ssl.create_default_context(cafile=self._verify)
        return True

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and self._loop is loop and not session.closed:
            return session
        if self._closed:
            raise APIConnectionError("the client is closed")
        _import_aiohttp()
        connector = aiohttp.TCPConnector(
            limit=self._limits.max_connections,
            limit_per_host=0,
            keepalive_timeout=self._limits.keepalive_expiry,
            ssl=self._ssl(),
        )
        # trust_env=False: aiohttp would then look up netrc and proxies in a thread on
        # every request (two thread hops, measured as the largest per-request cost). We
        # read the proxy environment once instead and pass ``proxy=`` ourselves.
        self._session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )
        self._loop = loop
        return self._session

    async def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                   timeout: Timeout) -> AsyncResponse:
        """Send a request; return once the status line and headers are in."""
        session = self._get_session()
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
            raise APITimeoutError(f"timed out waiting for {redact_url(url)} to answer") from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(f"cannot connect to {redact_url(url)}: {exc.os_error!r}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(f"request to {redact_url(url)} failed: {exc!r}") from exc
        return AsyncResponse(self, resp)

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def pool_stats(self) -> dict[str, Any]:
        return {"in_use": self.in_use}
