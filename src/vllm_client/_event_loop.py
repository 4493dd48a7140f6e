"""Which event loop runs the processes the library starts itself: ``bench`` runs and their
workers, ``bench calibrate``, and the emulator behind ``vllm-client mock-server``.

A user's own program keeps whatever loop it runs (``AsyncVllmClient`` works on both); this
only decides for the loops we create. ``"asyncio"`` (the default) is the standard loop;
``"uvloop"`` insists on uvloop (the ``bench`` extra installs it) and says how to get it;
``"auto"`` takes uvloop when it imports. A bench result records the loop it ran on
(``event_loop``), because its capacity could depend on it.

Measured (``benchmarks/bench_capacity.py``, emulator and client pinned to a core each, 128
one-token chunks per stream; ``benchmarks/bench-results-2026-12-02.md``, "Event loop"):

- the **emulator** on uvloop used ~25% less CPU per chunk (54% against 72% of a core at
  160 req/s), so benchmarks of the client run it there: it must be the faster side;
- the **bench client** on uvloop was no cheaper: 32 us per chunk against 34 us on asyncio
  (within noise), the same 4.5 s of CPU at 240 req/s; its per-chunk cost is our own Python
  (HTTP chunk and SSE parsing, the stream's async generator), not the loop. So bench stays
  on asyncio unless asked.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

__all__ = ["LOOPS", "EventLoopName", "describe", "loop_factory", "resolve", "run"]

T = TypeVar("T")
EventLoopName = Literal["auto", "asyncio", "uvloop"]
LOOPS: tuple[str, ...] = ("auto", "asyncio", "uvloop")


def _uvloop() -> Any | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


def resolve(name: str) -> Literal["asyncio", "uvloop"]:
    """The loop ``name`` means here: ``"auto"`` is uvloop when it is installed."""
    if name not in LOOPS:
        raise ValueError(f"event loop must be one of {', '.join(LOOPS)}, got {name!r}")
    if name == "asyncio":
        return "asyncio"
    if _uvloop() is None:
        if name == "uvloop":
            raise ValueError("event loop 'uvloop' is not installed: pip install 'vllm-client[bench]' (or uvloop)")
        return "asyncio"
    return "uvloop"


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A function making a new loop of the kind ``name`` resolves to."""
    if resolve(name) == "uvloop":
        factory: Callable[[], asyncio.AbstractEventLoop] = _uvloop().new_event_loop  # type: ignore[union-attr]
        return factory
    return asyncio.new_event_loop


def run(main: Coroutine[Any, Any, T], name: str = "asyncio") -> T:
    """``asyncio.run(main)`` on a loop of the kind ``name`` resolves to (Python 3.11+:
    ``asyncio.Runner``, so Ctrl-C cancels ``main`` and its cleanup runs, as with
    ``asyncio.run``)."""
    try:
        factory = loop_factory(name)
    except BaseException:
        main.close()  # never awaited: say nothing of it
        raise
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main)
    loop = factory()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    """What ``asyncio.run`` does with tasks still pending when ``main`` returns."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def describe(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """``"asyncio"`` or ``"uvloop 0.23.0"``: the running loop (or ``loop``), for results."""
    loop = loop if loop is not None else asyncio.get_running_loop()
    module = type(loop).__module__.split(".")[0]
    if module == "uvloop":
        uv = _uvloop()
        return f"uvloop {getattr(uv, '__version__', '?')}"
    return "asyncio"
