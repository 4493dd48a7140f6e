"""Batch inference from an OpenAI batch JSONL file: resumable, exactly once per line.

    from vllm_client.batch import run_batch
    summary = run_batch(client, "requests.jsonl", "results.jsonl", concurrency=64)
    summary = await run_batch(async_client, "requests.jsonl", "results.jsonl")   # the same, async

One output line per input line, the OpenAI batch output format (the server's JSON body
spliced in unchanged); re-running the same call after a crash (even ``kill -9``) completes
the output with every ``custom_id`` exactly once. See :func:`run_batch`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, overload

from ._progress import Snapshot
from ._state import BatchLockedError
from ._summary import BatchSummary

if TYPE_CHECKING:
    from .._async.client import AsyncVllmClient
    from .._sync.client import VllmClient
    from ._progress import ProgressSetting

__all__ = ["BatchLockedError", "BatchSummary", "Snapshot", "run_batch"]


@overload
def run_batch(client: VllmClient, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], *,
              concurrency: int = ..., ordered: bool = ..., resume: bool = ..., overwrite: bool = ...,
              errors_path: str | os.PathLike[str] | None = ..., timeout: float | None = ...,
              max_rate: float | None = ..., fsync: bool = ..., progress: ProgressSetting = ...,
              retry_failed: bool = ..., model: str | None = ..., window: int | None = ...) -> BatchSummary: ...


@overload
def run_batch(client: AsyncVllmClient, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], *,
              concurrency: int = ..., ordered: bool = ..., resume: bool = ..., overwrite: bool = ...,
              errors_path: str | os.PathLike[str] | None = ..., timeout: float | None = ...,
              max_rate: float | None = ..., fsync: bool = ..., progress: ProgressSetting = ...,
              retry_failed: bool = ..., model: str | None = ...,
              window: int | None = ...) -> Awaitable[BatchSummary]: ...


def run_batch(client: Any, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str],
              **options: Any) -> Any:
    """Send every line of ``input_path`` (OpenAI batch JSONL, ``.gz`` by extension) and write
    one output line per input line to ``output_path``. With an :class:`AsyncVllmClient` it
    returns a coroutine (``await run_batch(...)``); with a :class:`VllmClient` it runs.

    Keywords (all optional):

    - ``concurrency`` (64): requests in flight. ``max_rate``: requests per second, at most.
    - ``timeout``: seconds per line, retries included (a line past it gets ``error.code
      "timeout"``); None: the client's own timeouts. Retries follow the client's policy
      (``max_retries``; 408/429/5xx and connection errors, honouring Retry-After).
    - ``ordered`` (True): output in input order (a bounded reorder window of ``window``
      lines, default max(256, 4 x concurrency)); False: in completion order.
    - ``errors_path``: write failed lines there instead (OpenAI style); None keeps them in
      the output. A failure is an error status (its body kept) or a line with no answer.
    - ``resume`` (True): continue an output this input started, skipping lines done.
      ``overwrite`` (False): allow replacing an output of another input (or not ours).
      ``retry_failed``: re-send the lines that failed, keeping the good ones.
    - ``fsync`` (False): also survive power loss (an fsync every second and at the end).
    - ``model``: for lines whose body names none (default: the server's only model).
    - ``progress``: None: a bar on a terminal, plain lines on a pipe; False: nothing;
      "bar"/"plain"; or a function called with a :class:`Snapshot`.

    Returns a :class:`BatchSummary`. Before anything is sent it raises for an input that is
    not JSONL, an output that cannot be written, one another run holds
    (:class:`BatchLockedError`), or one of another input without ``overwrite``.
    """
    from .._async.client import AsyncVllmClient

    if isinstance(client, AsyncVllmClient):
        from .._async.batch import run_batch as run_async

        return run_async(client, input_path, output_path, **options)
    from .._sync.batch import run_batch as run_sync

    return run_sync(client, input_path, output_path, **options)
