"""One keep-alive HTTP/1.1 connection on an ``asyncio.BufferedProtocol``: a response at a time.

``data_received`` parses whatever the socket read (``_protocol/http1.py``) and queues the
body payload, de-chunked, so a reader takes every event of a read in one piece and
waits (one future) only when nothing is queued. Read timeouts cost no timer per read:
each wait moves ``deadline`` and one lazy timer per connection fires at most once per
timeout span, re-arming itself while reads keep coming.

Reads go into one buffer per event loop (``BufferedProtocol``: ``recv_into``; the loop calls
``get_buffer`` and ``buffer_updated`` back to back, and the bytes read are copied out before
the next read, so the connections of a loop can share it), not into a fresh ``recv(256 KiB)``
bytes object per read as with a plain ``Protocol``. That 256 KiB
allocation is served by glibc from the top of the heap and, depending on what else sits
there (any import can change it), trimmed back after every read: a ``brk`` pair and page
faults per read. Measured on the shared bench, paced streams (workload e, one event per
read): 87-113 us/chunk with a plain ``Protocol`` in that heap layout, 58-62 with
``MALLOC_TRIM_THRESHOLD_`` raised, the same as with this buffer whatever the layout.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

from .._protocol.http1 import HTTPError, ResponseReader

__all__ = ["ClosedHere", "Connection", "ReadTimeout", "ServerClosed"]

_HIGH_WATER = 1 << 20  # queued body bytes above which the socket is paused until read
_READ_SIZE = 256 << 10  # the read buffer: asyncio's own read size
_BUFFERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, memoryview] = weakref.WeakKeyDictionary()


def _read_buffer(loop: asyncio.AbstractEventLoop) -> memoryview:
    """The read buffer shared by the connections of ``loop`` (one loop runs in one thread)."""
    try:
        buffer = _BUFFERS.get(loop)
        if buffer is None:
            buffer = _BUFFERS[loop] = memoryview(bytearray(_READ_SIZE))
    except TypeError:  # a loop type without weak references: a buffer of the connection's own
        return memoryview(bytearray(_READ_SIZE))
    return buffer


class ReadTimeout(Exception):
    """No bytes within the wait's limit (mapped by the transport to its own errors)."""


class ServerClosed(ConnectionResetError):
    """The server ended the connection cleanly (EOF) before the answer was complete."""


class ClosedHere(ConnectionAbortedError):
    """We closed the connection (``close_now``, the client's ``aclose``, the pool)."""


class Connection(asyncio.BufferedProtocol):
    __slots__ = ("_buffer", "_loop", "_on_lost", "_paused", "_timer", "_timer_at", "body", "deadline", "error",
                 "idle_since", "key", "reader", "transport", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop, key: Any, on_lost: Callable[[Connection], None]) -> None:
        self._loop = loop
        self._on_lost = on_lost
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.reader: ResponseReader | None = None  # None while idle in the pool
        self.body: list[bytes] = []
        self.error: BaseException | None = None  # why the connection ended (None while open)
        self.waiter: asyncio.Future[None] | None = None
        self.deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._paused = False
        self.idle_since = 0.0
        self._buffer = _read_buffer(loop)

    # -- asyncio.BufferedProtocol -------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._buffer[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        if reader is None or reader.done:  # bytes nobody asked for: not a connection to reuse
            self._fail(ConnectionError("unexpected bytes from the server"))
            return
        try:
            payload = reader.feed(data)
        except HTTPError as exc:
            self._fail(exc)
            return
        if payload:
            body = self.body
            body.append(payload)
            if len(body) > 8 and not self._paused and sum(map(len, body)) > _HIGH_WATER:
                self._paused = True
                self.transport.pause_reading()  # type: ignore[union-attr]
        waiter = self.waiter
        if waiter is not None and (payload or reader.headers is not None):
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def eof_received(self) -> bool:
        reader = self.reader
        if reader is not None and reader.eof():
            self._wake()
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        if self.error is None:
            self.error = exc or ServerClosed("the server closed the connection")
        self.transport = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake()
        self._on_lost(self)

    # -- used by the transport ----------------------------------------------------------
    @property
    def usable(self) -> bool:
        return self.error is None and self.transport is not None and not self.transport.is_closing()

    def take_body(self) -> bytes:
        body = self.body
        data = body[0] if len(body) == 1 else b"".join(body)
        body.clear()
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    async def wait(self, timeout: float | None) -> None:
        """Until more arrives or the connection ends; ReadTimeout after ``timeout`` seconds."""
        loop = self._loop
        waiter = self.waiter = loop.create_future()
        if timeout is not None:
            at = self.deadline = loop.time() + timeout
            if self._timer is None or self._timer_at > at:
                self._arm(at)
        else:
            self.deadline = None
        try:
            await waiter
        finally:
            self.waiter = None

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        deadline, waiter = self.deadline, self.waiter
        if waiter is None or deadline is None:
            return
        if self._loop.time() >= deadline - 0.001:
            self.waiter = None
            if not waiter.done():
                waiter.set_exception(ReadTimeout())
        else:
            self._arm(deadline)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.abort()
        self._wake()

    def abort(self) -> None:
        """Close now (no reuse); the reader, if any, wakes up and sees ``error``."""
        if self.error is None:
            self.error = ClosedHere("the connection was closed")
        transport = self.transport
        if transport is not None:
            transport.abort()
        self._wake()

    def close(self) -> None:
        """An idle connection leaves the pool (a polite FIN)."""
        if self.error is None:
            self.error = ClosedHere("the connection was closed")
        if self.transport is not None:
            self.transport.close()
