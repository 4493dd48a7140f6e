"""The running calls of an async dispatch: one task each, outcomes collected as they end.

The loop's wait is O(1) per completion: each task's done-callback appends its outcome and
wakes one future (``asyncio.wait`` over N tasks would register N callbacks per wake-up).
The sync twin, :mod:`.sync_pool`, has the same methods over a thread pool.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["AsyncPool", "Outcome"]

Outcome = tuple[int, Any, BaseException | None]
"""(token, result, exception): exactly one of result and exception is meaningful."""


class AsyncPool:
    """Tasks by token. ``workers`` is the sync pool's thread count; tasks need no cap here
    (the scheduler keeps the count)."""

    spin = 0.0015
    """Seconds before a due start the loop stops sleeping on a timer and yields instead
    (asyncio rounds timer waits up to whole milliseconds; see ``schedule.wait_plan``)."""

    def __init__(self, workers: int) -> None:
        self._tasks: dict[int, asyncio.Task[Any]] = {}
        self._done: deque[Outcome] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._tasks)

    def start(self, token: int, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        task = asyncio.ensure_future(fn(*args))
        self._tasks[token] = task
        task.add_done_callback(lambda t: self._finished(token, t))

    def _finished(self, token: int, task: asyncio.Task[Any]) -> None:
        if self._tasks.pop(token, None) is None:
            return  # cancelled by us: its outcome was already reported
        if task.cancelled():
            self._done.append((token, None, asyncio.CancelledError()))
        else:
            exc = task.exception()
            self._done.append((token, None if exc is not None else task.result(), exc))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float | None) -> list[Outcome]:
        """The outcomes that arrived, waiting up to ``timeout`` seconds (None: until one)
        when there are none yet. With nothing running it just sleeps ``timeout``."""
        if not self._done and (timeout is None or timeout > 0):
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            handle = None if timeout is None else loop.call_later(timeout, _wake, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if handle is not None:
                    handle.cancel()
        out = list(self._done)
        self._done.clear()
        return out

    async def yield_once(self) -> list[Outcome]:
        """One zero-length yield to the event loop (it serves ready sockets and callbacks),
        then the outcomes that arrived."""
        await asyncio.sleep(0)
        out = list(self._done)
        self._done.clear()
        return out

    def cancel(self, token: int) -> None:
        """Stop a running call; its outcome is never reported."""
        task = self._tasks.pop(token, None)
        if task is not None:
            task.cancel()

    async def aclose(self) -> None:
        """Cancel whatever still runs and wait until it has unwound (connections released)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
