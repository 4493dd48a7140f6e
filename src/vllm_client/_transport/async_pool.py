"""The async keep-alive pool of one event loop, and how it ends with its loop.

Connections belong to the loop that made them, so a client used from several loops
(repeated ``asyncio.run``, notebooks) keeps one pool per loop at a time. Each pool is tied
to its loop's shutdown by a guard, an async generator the loop closes in
``shutdown_asyncgens`` (which ``asyncio.run`` calls), whose ``finally`` closes the pool in
that loop. A loop closed without that shutdown gets its sockets closed directly
(:meth:`Pool.forget`) when the client next moves on, with no ResourceWarning.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator
from typing import Any

from .._config import Limits
from .._errors import APIConnectionError, APITimeoutError
from .async_conn import Connection
from .idle import peer_closed

__all__ = ["Pool", "close_at_loop_end", "finish_guard"]


class Pool:
    """Idle connections per (scheme, host, port, proxy) and a cap on requests in flight
    (``max_connections``; idle ones do not count, as in the sync pool)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limits: Limits) -> None:
        self.loop = loop
        self.limits = limits
        self.max = limits.max_connections
        self.idle: dict[Any, list[Connection]] = {}
        self.conns: set[Connection] = set()
        self.in_use = 0  # slots: requests from connecting to the end of their answer
        self.answers = 0  # of those, answers whose headers are in (``pool_stats()["in_use"]``)
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.closed = False

    async def acquire(self, timeout: float | None) -> None:
        """Wait for a free slot (the caller found none; ``in_use`` counts this one on return)."""
        waiter = self.loop.create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            raise APITimeoutError("timed out waiting for a free connection in the pool") from None
        except APIConnectionError:
            raise
        except BaseException:
            # handed a slot as we were cancelled: pass it on
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()
            raise

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves to that waiter: in_use unchanged
                return
        self.in_use -= 1

    def take(self, key: Any) -> Connection | None:
        """An idle connection still open and not expired, or None."""
        idle = self.idle.get(key)
        if not idle:
            return None
        expiry = self.loop.time() - self.limits.keepalive_expiry
        while idle:
            conn = idle.pop()
            if conn.usable and conn.idle_since > expiry and not _dropped(conn):
                return conn
            conn.close()
        return None

    def give_back(self, conn: Connection) -> None:
        conn.reader = None
        idle = self.idle.get(conn.key)
        if idle is None:
            idle = self.idle[conn.key] = []
        if self.closed or len(idle) >= self.limits.max_keepalive:
            conn.close()
            return
        conn.idle_since = self.loop.time()
        idle.append(conn)

    def lost(self, conn: Connection) -> None:
        """``connection_lost``: forget the connection (idle or not)."""
        self.conns.discard(conn)
        idle = self.idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    @property
    def idle_count(self) -> int:
        return sum(len(v) for v in self.idle.values())

    def close(self) -> None:
        """Close every connection, busy ones included (their readers then fail)."""
        if self.closed:
            return
        self.closed = True
        self.idle.clear()
        if self.loop.is_closed():
            self.forget()
            return
        for conn in list(self.conns):
            conn.abort()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(APIConnectionError("the client is closed"))

    def forget(self) -> None:
        """The loop was closed without shutting down: nothing can run there, so close the
        sockets directly and mark the transports closed (what their finalizers would do,
        with a ResourceWarning each). Private attributes of asyncio, each guarded."""
        self.closed = True
        for conn in list(self.conns):
            transport: Any = conn.transport
            inner = getattr(getattr(transport, "_ssl_protocol", None), "_transport", None)
            for t in (transport, inner):
                if t is None:
                    continue
                sock = getattr(t, "_sock", None)
                if sock is not None:
                    sock.close()
                    t._sock = None
                if hasattr(t, "_closed"):
                    t._closed = True
        self.conns.clear()
        self.idle.clear()


def _dropped(conn: Connection) -> bool:
    """Whether the kernel holds an EOF, a reset or stray bytes for an idle connection the
    loop has not read yet (see idle.py): then another connection is used silently."""
    if conn.transport is None:
        return False
    sock = conn.transport.get_extra_info("socket")
    return sock is not None and peer_closed(sock.fileno())


async def close_at_loop_end(pool: Pool) -> AsyncGenerator[None, None]:
    """Suspended until its loop shuts down (``shutdown_asyncgens``), then closes ``pool``."""
    try:
        yield
    finally:
        pool.close()


def finish_guard(guard: AsyncGenerator[None, None] | None) -> None:
    """End a guard whose pool is closed, here and now (its ``finally`` awaits nothing), so
    no loop is asked to finalize it later."""
    if guard is None:
        return
    try:
        guard.aclose().send(None)
    except (StopIteration, RuntimeError):
        pass
