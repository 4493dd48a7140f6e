"""The async bench loop (the sync one is generated from this file): prepare the workload,
run the warm-up, then the measured phase through the shared dispatcher, with the audit and
the ``/metrics`` scraper running beside it; build the :class:`~vllm_client.bench.BenchResult`.

Per request the loop does what a user's code would (``create(stream=True)``, read to the
end) with the client's retries off; the record is filled from the stream's own per-read
timestamps (:class:`~vllm_client.bench._run.TokenTrace`), never per event.
"""

from __future__ import annotations

import gc
import math
import random
from collections.abc import Callable
from typing import Any

from .._config import Timeout
from .._dispatch.schedule import Timing
from .._transport.async_http import sleep
from ..bench._audit import Audit
from ..bench._config import BenchConfig
from ..bench._progress import ProgressSetting, make_progress
from ..bench._records import RequestRecord
from ..bench._result import BenchResult, build_result
from ..bench._run import Run, TokenTrace, attach_trace, request_params
from ..bench._schedule import arrival_offsets
from ..bench._server_metrics import Scraper
from ..bench._source import Job, Source
from .bench_data import Prepared, prepare
from .client import AsyncVllmClient
from .dispatch import Dispatch

__all__ = ["arun_bench"]

_UNCAPPED = 100_000


async def arun_bench(client: AsyncVllmClient, config: BenchConfig, *, progress: ProgressSetting = None) -> BenchResult:
    """See :func:`vllm_client.bench.arun_bench`."""
    config.check()
    bench_client = client.with_options(max_retries=0)
    model = config.workload.model or await _served_model(bench_client)
    prepared = await prepare_workload(bench_client, config)
    reporter = make_progress(progress, config)
    scrapers = [Scraper(_metrics_fetch(url, client), interval=config.scrape_interval)
                for url in client.base_urls] if config.scrape_metrics else []
    try:
        records, audit, server_metrics = await run_phases(bench_client, config, prepared, model, reporter=reporter,
                                                          scrapers=scrapers)
    finally:
        reporter.finish(None)  # the live view ends, whatever happened
    return build_result(config, records, audit=audit, server_metrics=server_metrics,
                        base_urls=list(client._core.shown_urls), model=model, routing=client.routing,
                        pool_limit=client._core.config.limits.max_connections)


async def prepare_workload(client: AsyncVllmClient, config: BenchConfig) -> Prepared:
    """The prompts of a run (seeded by ``config.seed``), before any clock starts."""
    load = config.load
    pool = (load.num_requests or 256) + load.warmup
    return await prepare(client, config.workload, pool, random.Random(config.seed))


async def run_phases(client: AsyncVllmClient, config: BenchConfig, prepared: Prepared, model: str | None, *,
                     reporter: Any = None, scrapers: list[Scraper] | None = None, start_at: float | None = None,
                     ) -> tuple[list[RequestRecord], Audit, list[dict[str, Any] | None]]:
    """The warm-up, then the measured phase with the audit (and the scrapers) beside it.
    ``start_at``: the measured phase's zero on ``perf_counter`` (the workers of one run
    share it); default: when it starts. Returns (records, audit, server metrics)."""
    rng = random.Random(config.seed + 1)
    scrapers = scrapers or []
    server = client._core.shown_urls[0] if len(client.base_urls) == 1 else None  # (credentials redacted)
    warm_records: list[RequestRecord] = []
    if config.load.warmup:
        warm = Run(config, server=server)
        await _phase(client, config, prepared, warm, model, "warmup", rng, reporter=None)
        warm_records = warm.records
    for s in scrapers:
        s.first()
    _preload_stream_modules()
    audit = Audit()
    run = Run(config, server=server)
    if reporter is not None:
        run.on_record = reporter.record

    def started(origin: float) -> None:
        for s in scrapers:
            s.start(origin)
        audit.start(origin)
        if reporter is not None:
            reporter.begin(origin, run.clock)

    # What exists now (the prompts, the client, the warm-up's records) is frozen out of the
    # cyclic GC for the measured phase: a full collection walks every tracked object and
    # would stall the loop (and every send due meanwhile) by milliseconds as the records
    # grow. (In the 5 s capacity runs no gen-2 pass fell inside the measured phase either
    # way; gen-0/1 passes took up to 2-5 ms on this loaded box, with or without the freeze.)
    # Before the wait for a shared zero (workers), so the collection delays no send; and
    # not when something else in the process froze objects already (unfreeze would undo it).
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.collect()
        gc.freeze()
    if start_at is not None:
        await sleep(max(0.0, start_at - run.clock()))
    try:
        await _phase(client, config, prepared, run, model, "measured", rng, reporter=reporter, on_start=started,
                     origin=start_at)
    finally:
        if freeze:
            gc.unfreeze()
        audit.stop()
        server_metrics = [s.stop() for s in scrapers]
    return [*warm_records, *run.records], audit, server_metrics


def _preload_stream_modules() -> None:
    """Import what the first stream would import on first use (msgspec, the decoders), so
    the first measured request does not pay for it."""
    from .._protocol import plain_chunks, stream_decoder

    del plain_chunks, stream_decoder


async def _served_model(client: AsyncVllmClient) -> str | None:
    listing = await client.models.list()
    ids = listing.ids
    return ids[0] if ids else None


def _metrics_fetch(url: str, client: AsyncVllmClient) -> Any:
    from .._sync.client import VllmClient

    sync = VllmClient(url, api_key=client.api_key, timeout=5.0, max_retries=0)

    def fetch() -> dict[str, float]:
        return sync.server.metrics()

    return fetch


def _source(config: BenchConfig, prepared: Prepared, kind: str, rng: random.Random, clock: Any) -> Source:
    wl, load = config.workload, config.load
    multi = wl.kind == "multi-turn"
    if kind == "warmup":
        limit: int | None = load.warmup
        duration = None
    else:
        limit, duration = load.num_requests, load.duration
    closed = load.users is not None
    arrivals = None
    if not closed:
        rate = load.rate if kind == "measured" else math.inf
        arrivals = arrival_offsets(rate, load.burstiness, rng, ramp=load.ramp_up if kind == "measured" else 0.0,
                                   start_rate=load.ramp_up_from)
    prompts = prepared.prompts
    if kind == "measured" and load.warmup and len(prompts) > load.warmup:
        prompts = prompts[load.warmup:] + prompts[:load.warmup]  # warm-up prompts last: not reused first
    return Source(prompts, kind=kind, limit=limit, duration=duration, arrivals=arrivals,
                  users=load.users if closed else None, turns=wl.turns if multi else None,
                  turn_texts=prepared.turn_texts if multi else None,
                  ramp_up=load.ramp_up if closed and kind == "measured" else 0.0, think_time=wl.think_time,
                  think_exponential=wl.think_time_dist == "exponential", rng=rng, clock=clock)


def _timeout(config: BenchConfig) -> Timeout:
    lim = config.limits
    return Timeout(connect=lim.connect, read=lim.idle or lim.total or 600.0, first_token=lim.first_token,
                   idle=lim.idle, total=lim.total)


async def _phase(client: AsyncVllmClient, config: BenchConfig, prepared: Prepared, run: Run, model: str | None,
                 kind: str, rng: random.Random, *, reporter: Any,
                 on_start: Callable[[float], None] | None = None, origin: float | None = None) -> None:
    load = config.load
    clock = run.clock
    timeout = _timeout(config)
    cap = load.max_concurrency or load.users or _UNCAPPED
    if kind == "warmup":
        cap = min(cap, max(1, load.warmup))
    source = _source(config, prepared, kind, rng, lambda: clock() - run.origin)
    chat = client.chat.completions
    completions = client.completions

    several = len(client.base_urls) > 1

    async def send(job: Job, timing: Timing) -> tuple[RequestRecord, str | None]:
        rec = run.begin(job, timing.scheduled, timing.ready)
        endpoint, params = request_params(config, job, model, session_ids=several)
        trace: TokenTrace | None = None
        streaming = False
        answer: str | None = None
        try:
            if endpoint == "chat":
                stream: Any = await chat.create(stream=True, timeout=timeout, **params)
            elif endpoint == "responses":
                stream = await client.responses.create(stream=True, timeout=timeout, **params)
            else:
                stream = await completions.create(stream=True, timeout=timeout, **params)
            streaming = True
            if several:
                rec.server = stream.server  # which one the routing picked
            trace = attach_trace(stream)
            async with stream:
                async for _ in stream:
                    pass
            end = clock()
            answer = run.succeeded(rec, trace, await stream.final(), end)
        except Exception as exc:
            if several and rec.server is None:
                rec.server = getattr(exc, "server", None)
            run.failed(rec, exc, trace, streaming, clock())
        return rec, answer

    def done(job: Job, result: Any, error: BaseException | None, timing: Timing) -> None:
        # Here, not in ``send``: the sync twin runs ``send`` on pool threads, ``done`` on the loop's.
        if result is not None:
            rec, answer = result
            source.answered(job, rec.end_s if rec.end_s is not None else 0.0, answer, rec.ok)
            run.add(rec)
            return
        rec = run.begin(job, timing.scheduled, timing.ready)
        rec.start_s = timing.start - run.origin
        run.failed(rec, error or RuntimeError("no outcome"), None, True, timing.end or clock())
        source.answered(job, rec.end_s or 0.0, None, False)
        run.add(rec)

    backstop = None if config.limits.total is None else config.limits.total * 1.5 + 5.0
    idle = reporter.tick if reporter is not None else None
    dispatch = Dispatch(source, send, done, concurrency=cap, timeout=backstop, gate=source.gate,
                        send_at=lambda j: j.send_at, requeue=source.requeue, idle=idle, clock=clock)
    if origin is not None:
        dispatch.scheduler.origin = origin  # a shared zero (workers): send times relative to it
    run.origin = dispatch.scheduler.origin
    if on_start is not None:
        on_start(run.origin)
    await dispatch.run()

