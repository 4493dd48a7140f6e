"""``batch INPUT OUTPUT``: an OpenAI batch JSONL file through the server, resumable.

Runs the async client (the cheapest per request) on one machine, or with ``--ray ADDRESS``
shards on a Ray cluster. The library does everything; this only maps options, prints the
summary, and turns the runner's up-front refusals (locked, different input, unwritable)
into one red line and exit 1.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ._app import Globals, client_command
from ._output import error_line, notice


@client_command("batch")
def batch(
    opts: Globals,
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="OpenAI batch JSONL (.gz read as gzip).")],
    output_path: Annotated[Path, typer.Argument(metavar="OUTPUT", help="Results JSONL (.gz written as gzip).")],
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Requests in flight.")] = 64,
    max_rate: Annotated[float | None, typer.Option("--max-rate", min=0.001, help="Requests per second cap.")] = None,
    unordered: Annotated[bool, typer.Option("--unordered", help="Write lines as they finish, not in order.")] = False,
    errors: Annotated[Path | None, typer.Option("--errors", help="Write failed lines to this file instead.")] = None,
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Continue what this input started.")] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an output of another input.")] = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Re-send the lines that failed.")] = False,
    fsync: Annotated[bool, typer.Option("--fsync", help="Survive power loss too (fsync every second).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")] = False,
    ray: Annotated[str | None, typer.Option("--ray", metavar="ADDRESS",
                                            help="Run shards on Ray: a cluster address, auto, or local.")] = None,
    shards: Annotated[int | None, typer.Option("--shards", min=1, help="With --ray: number of shards.")] = None,
) -> None:
    """Run every line of a batch file (--timeout is per line); re-run the same command to resume."""
    from ..batch import BatchLockedError

    options: dict[str, Any] = {
        "concurrency": concurrency, "max_rate": max_rate, "ordered": not unordered, "errors_path": errors,
        "resume": resume, "overwrite": overwrite, "retry_failed": retry_failed, "fsync": fsync,
        "timeout": opts.timeout, "model": opts.model,
    }
    urls = [u for u in (opts.base_url or "").split(",") if u] or None
    try:
        if ray is not None:
            from ..batch.ray import run_batch_ray

            summary = run_batch_ray(urls, input_path, output_path, address=ray, shards=shards, api_key=opts.api_key,
                                    progress=False if quiet else None, **options)
        else:
            summary = asyncio.run(_run(urls, opts, input_path, output_path, quiet, options))
    except (BatchLockedError, OSError) as exc:
        if opts.debug:
            raise
        error_line(exc)
        raise typer.Exit(1) from None
    if not quiet and ray is not None:
        notice(f"batch done: {summary}")
    if not summary.complete:
        sys.exit(1)


async def _run(urls: list[str] | None, opts: Globals, input_path: Path, output_path: Path, quiet: bool,
               options: dict[str, Any]) -> Any:
    from .._async.client import AsyncVllmClient
    from ..batch import run_batch

    client_options: dict[str, Any] = {} if opts.timeout is None else {"timeout": opts.timeout}
    async with AsyncVllmClient(urls, api_key=opts.api_key, **client_options) as client:
        return await run_batch(client, input_path, output_path, progress=False if quiet else None, **options)
