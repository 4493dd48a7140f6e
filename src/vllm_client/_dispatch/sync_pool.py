"""The running calls of a sync dispatch: a thread pool, outcomes collected as they end.

The twin of :mod:`.async_pool` with the same methods. A thread cannot be cancelled, so
``cancel`` only forgets a call: its thread finishes the request (bounded by the client's
own timeouts) and its outcome is dropped; new calls queue behind it, so no more than
``workers`` requests are ever in flight.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["Outcome", "ThreadPool"]

Outcome = tuple[int, Any, BaseException | None]


class ThreadPool:
    spin = 0.0
    """No spin window: a thread's timed wait is not rounded up to milliseconds."""

    def __init__(self, workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vllm-client-dispatch")
        self._futures: dict[int, Future[Any]] = {}
        self._done: queue.SimpleQueue[tuple[int, Future[Any]]] = queue.SimpleQueue()

    def __len__(self) -> int:
        return len(self._futures)

    def start(self, token: int, fn: Callable[..., Any], *args: Any) -> None:
        future = self._executor.submit(fn, *args)
        self._futures[token] = future
        future.add_done_callback(lambda f: self._done.put((token, f)))

    def wait(self, timeout: float | None) -> list[Outcome]:
        out: list[Outcome] = []
        block = timeout is None or timeout > 0
        while True:
            try:
                token, future = self._done.get(block, timeout) if block else self._done.get_nowait()
            except queue.Empty:
                return out
            block = False
            if self._futures.pop(token, None) is None:
                continue  # cancelled (forgotten) by us
            exc = future.exception()
            out.append((token, None if exc is not None else future.result(), exc))

    def yield_once(self) -> list[Outcome]:
        """The outcomes that arrived, without waiting (the async pool's zero-length yield)."""
        return self.wait(0.0)

    def cancel(self, token: int) -> None:
        future = self._futures.pop(token, None)
        if future is not None:
            future.cancel()

    def close(self) -> None:
        """Drop queued calls; running ones finish in their threads (bounded by their timeouts)."""
        self._futures.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
