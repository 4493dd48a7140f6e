"""The async batch runner: :class:`~vllm_client.batch._runner.BatchRun` driven by the
dispatcher over an :class:`AsyncVllmClient` (the sync runner is generated from this file)."""

from __future__ import annotations

import os
from typing import Any

from .._dispatch.schedule import Timing
from ..batch._lines import Request
from ..batch._progress import ProgressSetting
from ..batch._runner import BatchRun, Options
from ..batch._summary import BatchSummary
from .client import AsyncVllmClient
from .dispatch import Dispatch

__all__ = ["drive", "run_batch"]


async def run_batch(client: AsyncVllmClient, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str],
                    *, progress: ProgressSetting = None, **options: Any) -> BatchSummary:
    """See :func:`vllm_client.batch.run_batch`."""
    run = BatchRun(input_path, output_path, Options(**options), progress)
    run.open()
    return await drive(run, client)


async def drive(run: BatchRun, client: AsyncVllmClient) -> BatchSummary:
    """Send the lines of an opened run and close it (on failure too: what is done stays)."""
    opts = run.options
    timeout = opts.call_timeout(client.timeout)

    async def send(job: Request, timing: Timing) -> tuple[int, str, bytes]:
        return await client._request_raw(job.url, job.body, timeout, model=job.fill_model)

    dispatch = Dispatch(run.jobs(), send, run.finished, concurrency=opts.concurrency, max_rate=opts.max_rate,
                        timeout=opts.backstop(), gate=run.has_room, idle=run.idle)
    try:
        await dispatch.run()
    except BaseException:
        run.close(aborted=True)
        raise
    return run.close()
