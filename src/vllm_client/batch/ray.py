"""Batch beyond one machine, on Ray (extra ``vllm-client[ray]``).

    from vllm_client.batch.ray import run_batch_ray
    run_batch_ray(["http://a:8000/v1", "http://b:8000/v1"], "in.jsonl", "out.jsonl", shards=16)

The driver cuts the input into line-aligned byte ranges (one pass, which also finds
repeated custom_ids across shards, so the result equals a one-machine run's), and Ray runs
one task per shard: the single-machine runner over that range with our async client over
every server given, writing ``OUT.parts/part-NNNNN.jsonl``. Ray schedules the tasks and
re-runs the ones it loses; resume stays ours, per shard and per line: a re-run task (or a
re-submitted job) continues its part file, so a killed worker or driver costs only the
lines in flight. When every shard is done the parts are concatenated in order into OUT,
whose manifest then records the job as complete (a re-run returns at once). Lines are
numbered as in the whole file, so OUT is an ordinary output: a later one-machine run on
it (``retry_failed=True``, say) resumes it like any other.

The parts directory must be visible to every worker (one machine, or a shared filesystem).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Sequence
from typing import Any

from .._async.batch import drive
from .._async.client import AsyncVllmClient
from ._files import InputReader, TooLong
from ._lines import custom_id_of, is_blank
from ._progress import ProgressSetting
from ._runner import BatchRun, Options, Shard
from ._seen import SeenIds
from ._state import fingerprint, open_output
from ._summary import BatchSummary, Tally

__all__ = ["plan_shards", "run_batch_ray"]

_SHARD_BYTES = 32 << 20
PARTS_SUFFIX = ".parts"


def plan_shards(input_path: str | os.PathLike[str], shards: int) -> list[Shard]:
    """``shards`` line-aligned byte ranges of about equal size (fewer for a short file),
    each numbered as in the whole file, with the lines whose custom_id came earlier."""
    path = os.fspath(input_path)
    size = os.path.getsize(path)
    bounds = [size * k // shards for k in range(1, shards)]
    seen = SeenIds()
    plans: list[dict[str, Any]] = [{"start": 0, "first_seq": 0, "first_lineno": 1, "duplicates": []}]
    offset = seq = 0
    for lineno, raw in InputReader(path):
        if bounds and offset >= bounds[0] and offset > plans[-1]["start"]:
            while bounds and offset >= bounds[0]:
                bounds.pop(0)
            plans[-1]["end"] = offset
            plans.append({"start": offset, "first_seq": seq, "first_lineno": lineno, "duplicates": []})
        length = raw.size if isinstance(raw, TooLong) else len(raw)
        offset += length + 1
        if isinstance(raw, bytes) and is_blank(raw):
            continue
        cid = custom_id_of(raw) if isinstance(raw, bytes) else None
        if cid is not None and not seen.add(cid):
            plans[-1]["duplicates"].append(seq)
        seq += 1
    plans[-1]["end"] = None
    return [Shard(start=p["start"], end=p["end"], first_seq=p["first_seq"], first_lineno=p["first_lineno"],
                  duplicates=frozenset(p["duplicates"])) for p in plans]


def _part(output: str, n: int, errors: bool = False) -> str:
    ext = ".jsonl.gz" if output.endswith(".gz") else ".jsonl"
    return os.path.join(output + PARTS_SUFFIX, f"part-{n:05d}{'.errors' if errors else ''}{ext}")


def run_shard(base_urls: Sequence[str] | None, api_key: str | None, input_path: str, part: str,
              part_errors: str | None, shard: Shard, options: dict[str, Any]) -> Tally:
    """One shard, in a Ray worker (or anywhere): the one-machine runner over its range."""
    import asyncio

    async def go() -> Tally:
        run = BatchRun(input_path, part, Options(**{**options, "errors_path": part_errors}), False, shard)
        run.open()
        async with AsyncVllmClient(list(base_urls) if base_urls else None, api_key=api_key) as client:
            await drive(run, client)
        return run.tally

    return asyncio.run(go())


def run_batch_ray(base_urls: Sequence[str] | str | None, input_path: str | os.PathLike[str],
                  output_path: str | os.PathLike[str], *, shards: int | None = None, address: str | None = None,
                  api_key: str | None = None, progress: ProgressSetting = None, max_task_retries: int = 3,
                  **options: Any) -> BatchSummary:
    """Run a batch file as Ray tasks, one per shard (see the module docstring). ``address``:
    a Ray cluster (``auto``: the one this machine belongs to); None or ``local`` starts
    Ray here if it is not running. Other keywords are :func:`~vllm_client.batch.run_batch`'s
    and apply per shard (``concurrency`` is per shard)."""
    import ray  # type: ignore[import-not-found, unused-ignore]  # the ray extra

    opts = Options(**options)
    if opts.retry_failed:
        raise ValueError("retry_failed runs on one machine: run_batch(client, INPUT, OUTPUT, retry_failed=True) "
                         "resumes the merged output")
    urls = [base_urls] if isinstance(base_urls, str) else list(base_urls) if base_urls else None
    input_path, output = os.fspath(input_path), os.fspath(output_path)
    started = time.monotonic()
    size = os.path.getsize(input_path)
    count = shards or max(1, min(256, size // _SHARD_BYTES + 1))
    state = open_output(output, opts.errors_path, fingerprint(input_path), resume=opts.resume,
                        overwrite=opts.overwrite, durable=opts.fsync)
    parts_dir = output + PARTS_SUFFIX
    try:
        before = state.manifest.get("shards")
        if state.resumed and before is not None and before != count and os.path.isdir(parts_dir):
            raise ValueError(f"{output!r} was started with shards={before}: pass the same to resume it")
        state.update(shards=count)
        done = state.manifest.get("complete")
        if state.resumed and isinstance(done, dict):
            shutil.rmtree(parts_dir, ignore_errors=True)
            tally = Tally(total=int(done.get("total", 0)), skipped=int(done.get("total", 0)))
            return tally.summary(time.monotonic() - started, output, opts.errors_path)
        if not state.resumed:
            shutil.rmtree(parts_dir, ignore_errors=True)
        os.makedirs(parts_dir, exist_ok=True)
        if not ray.is_initialized():
            ray.init(address=None if address in (None, "local") else address, log_to_driver=False,
                     include_dashboard=False)
        plan = [Shard(start=s.start, end=s.end, first_seq=s.first_seq, first_lineno=s.first_lineno,
                      duplicates=s.duplicates, run_id=state.run_id) for s in plan_shards(input_path, count)]
        task = ray.remote(max_retries=max_task_retries, num_cpus=1)(run_shard)
        per_shard = {k: v for k, v in options.items() if k != "errors_path"}
        refs = [task.remote(urls, api_key, input_path, _part(output, n), _part(output, n, True)
                            if opts.errors_path else None, shard, per_shard) for n, shard in enumerate(plan)]
        tally = Tally()
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            tally.merge(ray.get(ready[0]))
            if progress is not False:
                sys.stderr.write(f"batch: {len(plan) - len(pending)}/{len(plan)} shards done, {tally.done} lines "
                                 f"written, {tally.skipped} skipped\n")
        _merge(output, [_part(output, n) for n in range(len(plan))], opts.fsync)
        if opts.errors_path:
            _merge(opts.errors_path, [_part(output, n, True) for n in range(len(plan))], opts.fsync)
        state.update(complete={"total": tally.total, "shards": len(plan)})
        shutil.rmtree(parts_dir, ignore_errors=True)
        return tally.summary(time.monotonic() - started, output, opts.errors_path)
    finally:
        state.close()


def _merge(target: str, parts: list[str], durable: bool) -> None:
    """Concatenate the parts (each in order, numbered as the whole file) into ``target``;
    a gzip part is a series of members, so bytes concatenate too."""
    tmp = target + ".merge"
    with open(tmp, "wb") as out:
        for part in parts:
            if os.path.exists(part):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        if durable:
            out.flush()
            os.fsync(out.fileno())
    os.replace(tmp, target)
