"""Per-request records -> the run's numbers (throughputs, latency statistics, goodput, CIs,
the steady-state window). Pure.

Keys shared with ``vllm bench serve`` keep its meaning (see docs/bench.md):
``duration`` (the measured phase: first measured send time to last measured end, drain
included, as vLLM's), ``completed``/``failed``, ``total_input_tokens``/``total_output_tokens``
(completed requests, server-counted), ``request_throughput`` = completed / duration,
``output_throughput`` = output tokens / duration, ``total_token_throughput`` = (input +
output) / duration, ``request_goodput`` = requests meeting every SLO / duration, and
``{mean,median,std,p50,p90,p99}_{ttft,tpot,itl,e2el}_ms`` over completed requests (ITL
pooled over all tokens of all requests, as vLLM pools; ours is per token, vLLM's per chunk:
``chunk_itl`` here).

Goodput follows DistServe (as vLLM): a request is good when it completed and each SLO holds
(``value <= SLO``; TPOT of a one-token answer is 0; ``itl`` bounds the request's p99 token
gap). Unlike vLLM, ``goodput_fraction`` = good / (completed + failed) makes failures count
against it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from ._records import RequestRecord
from ._stats import bootstrap_ci, percentile, summary

__all__ = ["LATENCY_METRICS", "compute", "good", "latency_keys"]

LATENCY_METRICS = ("ttft", "tpot", "itl", "e2el")
_CI_STATS = ("mean", "p50", "p90", "p99")
_CI_MAX_SAMPLES = 200_000


def latency_keys() -> list[str]:
    """The ``vllm bench serve`` latency keys, e.g. ``p99_ttft_ms``."""
    return [f"{s}_{m}_ms" for m in LATENCY_METRICS for s in ("mean", "median", "std", "p50", "p90", "p99")]


def good(r: RequestRecord, slos: dict[str, float]) -> bool:
    """Whether a request counts for goodput: completed and within every SLO."""
    if not r.ok:
        return False
    for name, bound in slos.items():
        if name == "ttft":
            value = r.ttft_s
        elif name == "tpot":
            value = r.tpot_s if r.tpot_s is not None else 0.0
        elif name == "e2el":
            value = r.e2el_s
        else:  # itl: the request's p99 token gap
            gaps = r.itl_s
            value = percentile(gaps, 99.0) if gaps else 0.0
        if value is None or value > bound:
            return False
    return True


def _ms(stats: dict[str, float | None]) -> dict[str, float | None]:
    return {k: (None if v is None else v * 1000.0) for k, v in stats.items()}


def _flat(prefix: str, stats: dict[str, float | None]) -> dict[str, float | None]:
    return {f"{k}_{prefix}_ms": v for k, v in _ms(stats).items()}


def _values(records: Sequence[RequestRecord], get: Callable[[RequestRecord], float | None]) -> list[float]:
    out = []
    for r in records:
        v = get(r)
        if v is not None:
            out.append(v)
    return out


def _samples(ok: Sequence[RequestRecord]) -> dict[str, list[float]]:
    itl: list[float] = []
    chunk_itl: list[float] = []
    for r in ok:
        itl.extend(r.itl_s)
        chunk_itl.extend(r.chunk_itl_s)
    return {
        "ttft": _values(ok, lambda r: r.ttft_s),
        "tpot": _values(ok, lambda r: r.tpot_s),
        "itl": itl,
        "e2el": _values(ok, lambda r: r.e2el_s),
        "chunk_itl": chunk_itl,
        "ttft_from_scheduled": _values(ok, lambda r: r.ttft_from_scheduled_s),
        "e2el_from_scheduled": _values(ok, lambda r: r.e2el_from_scheduled_s),
    }


def _ci(samples: dict[str, list[float]], resamples: int, rng: random.Random) -> dict[str, Any]:
    """Bootstrap 95% intervals (ms) of mean/p50/p90/p99 for each latency metric."""
    out: dict[str, Any] = {"level": 0.95, "resamples": resamples, "method": "percentile bootstrap"}
    for name in (*LATENCY_METRICS, "ttft_from_scheduled"):
        xs = samples[name]
        if not xs:
            continue
        if len(xs) > _CI_MAX_SAMPLES:  # the pooled ITL of a long run: a seeded subsample keeps it fast
            xs = rng.sample(xs, _CI_MAX_SAMPLES)
        out[f"{name}_ms"] = {stat: [v * 1000.0 for v in bootstrap_ci(xs, stat, rng=rng, resamples=resamples)]
                             for stat in _CI_STATS}
    return out


def peak_in_flight(records: Sequence[RequestRecord]) -> int:
    """The most requests in flight at once (start to end), over the records."""
    events: list[tuple[float, int]] = []
    for r in records:
        if r.start_s is not None and r.end_s is not None:
            events.append((r.start_s, 1))
            events.append((r.end_s, -1))
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    peak = now = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def _window(records: Sequence[RequestRecord], start: float, end: float) -> dict[str, Any]:
    """Throughput and latency inside [start, end]: requests that started there, tokens that
    arrived there (ramp-up before ``start`` and drain after ``end`` excluded)."""
    span = end - start
    inside = [r for r in records if r.start_s is not None and start <= r.start_s <= end]
    ok = [r for r in inside if r.ok]
    tokens = 0
    done = 0
    for r in records:
        if r.ok and r.end_s is not None and start <= r.end_s <= end:
            done += 1
        for t, k in zip(r.chunk_times_s, r.chunk_tokens, strict=False):
            if start <= t <= end:
                tokens += k
    out: dict[str, Any] = {"start_s": start, "end_s": end, "duration": span, "started": len(inside),
                           "completed": done, "failed": sum(1 for r in inside if not r.ok)}
    out["request_throughput"] = done / span if span > 0 else None
    out["output_throughput"] = tokens / span if span > 0 else None
    s = _samples(ok)
    for name in LATENCY_METRICS:
        out.update(_flat(name, summary(s[name])))
    return out


def compute(records: Sequence[RequestRecord], *, slos: dict[str, float], bootstrap: int = 1000, seed: int = 0,
            steady: tuple[float, float] | None = None) -> dict[str, Any]:
    """The result's numbers over the measured records (warm-up records are ignored).
    ``steady``: the steady-state window (seconds since the run's start), or None."""
    measured = [r for r in records if r.kind == "measured"]
    ok = [r for r in measured if r.ok]
    failed = [r for r in measured if not r.ok]
    begin = min((r.scheduled_s for r in measured), default=0.0)
    end = max((r.end_s for r in measured if r.end_s is not None), default=begin)
    duration = end - begin
    total_in = sum(r.input_tokens or 0 for r in ok)
    total_out = sum(r.output_tokens or 0 for r in ok)
    n_good = sum(1 for r in measured if good(r, slos))

    def per_s(x: float) -> float | None:
        return x / duration if duration > 0 else None

    out: dict[str, Any] = {
        "duration": duration,
        "completed": len(ok),
        "failed": len(failed),
        "total_input_tokens": total_in,
        "total_output_tokens": total_out,
        "request_throughput": per_s(len(ok)),
        "output_throughput": per_s(total_out),
        "total_token_throughput": per_s(total_in + total_out),
        "request_goodput": per_s(n_good) if slos else None,
        "goodput_fraction": (n_good / len(measured) if measured else None) if slos else None,
        "slos": dict(slos),
        "max_concurrent_requests": peak_in_flight(measured),
    }
    samples = _samples(ok)
    for name in LATENCY_METRICS:
        out.update(_flat(name, summary(samples[name])))
    for name in ("chunk_itl", "ttft_from_scheduled", "e2el_from_scheduled"):
        out[f"{name}_ms"] = _ms(summary(samples[name]))
    out["dispatch_lag_ms"] = _ms(summary(_values(measured, lambda r: r.dispatch_lag_s)))
    out["queue_ms"] = _ms(summary(_values(measured, lambda r: r.queue_s)))
    out["send_delay_ms"] = _ms(summary(_values(  # actual send - scheduled send = queue + dispatch lag
        measured, lambda r: None if r.start_s is None else r.start_s - r.scheduled_s)))
    turns = [r for r in ok if r.turn is not None]
    if turns:
        out["ttft_cold_ms"] = _ms(summary(_values([r for r in turns if r.turn == 0], lambda r: r.ttft_s)))
        out["ttft_warm_ms"] = _ms(summary(_values([r for r in turns if r.turn], lambda r: r.ttft_s)))
    cached = [r.cached_tokens for r in ok if r.cached_tokens is not None]
    if cached:
        out["cached_tokens"] = sum(cached)
    errors: dict[str, int] = {}
    examples: dict[str, str] = {}
    for r in failed:
        kind = r.error_kind or "other"
        errors[kind] = errors.get(kind, 0) + 1
        if kind not in examples and r.error:
            examples[kind] = r.error
    out["errors"] = dict(sorted(errors.items()))
    out["error_examples"] = examples
    out["ci"] = _ci(samples, bootstrap, random.Random(seed)) if bootstrap > 0 else None
    out["steady_state"] = _window(measured, *steady) if steady is not None and steady[1] > steady[0] else None
    return out
