"""What ``vllm-client metrics watch`` shows for one server, from two scrapes. Pure.

One :class:`ServerView` per server and refresh: load (running / waiting requests, KV-cache
usage), prefix-cache hit rate, prompt and generation tokens/s, preemptions/s, successful
requests/s, and TTFT / end-to-end latency percentiles over the window, from the histograms'
bucket deltas (:mod:`vllm_client._prom_math`). The first scrape has no window: its rates
are unknown and its percentiles are since the server started (``since_start``).

Series (vLLM 0.32, ``vllm/v1/metrics/loggers.py``): gauges ``vllm:num_requests_running``,
``vllm:num_requests_waiting``, ``vllm:kv_cache_usage_perc`` (a 0..1 fraction despite its
name); counters ``vllm:prefix_cache_queries_total`` / ``_hits_total`` (tokens),
``vllm:prompt_tokens_total``, ``vllm:generation_tokens_total``, ``vllm:num_preemptions_total``,
``vllm:request_success_total``; histograms ``vllm:time_to_first_token_seconds`` and
``vllm:e2e_request_latency_seconds``. Series of several engines or models are summed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ._prom_math import bucket_delta, bucket_quantile, counter_delta, histogram_buckets, quantile_overflows, sum_series
from ._protocol.metrics_text import Sample

__all__ = ["QUANTILES", "Percentiles", "ServerView", "server_view"]

QUANTILES = (0.5, 0.9, 0.99)

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_USAGE = "vllm:kv_cache_usage_perc"
PREFIX_QUERIES = "vllm:prefix_cache_queries_total"
PREFIX_HITS = "vllm:prefix_cache_hits_total"
PROMPT_TOKENS = "vllm:prompt_tokens_total"
GENERATION_TOKENS = "vllm:generation_tokens_total"
PREEMPTIONS = "vllm:num_preemptions_total"
SUCCESS = "vllm:request_success_total"
TTFT = "vllm:time_to_first_token_seconds"
E2E = "vllm:e2e_request_latency_seconds"


@dataclass(frozen=True)
class Percentiles:
    """``values[i]`` is the ``QUANTILES[i]`` quantile in seconds (NaN: no observation in the
    window); ``overflow[i]``: it fell in the ``+Inf`` bucket, so the value is a lower bound."""

    values: tuple[float, ...]
    overflow: tuple[bool, ...]
    count: float

    @classmethod
    def of(cls, buckets: dict[float, float]) -> Percentiles:
        total = buckets.get(math.inf, 0.0)
        return cls(tuple(bucket_quantile(q, buckets) for q in QUANTILES),
                   tuple(quantile_overflows(q, buckets) for q in QUANTILES), total)


@dataclass(frozen=True)
class ServerView:
    running: float | None = None
    waiting: float | None = None
    kv_usage: float | None = None  # fraction 0..1
    prefix_hit_rate: float | None = None  # fraction 0..1 of queried tokens
    prompt_tps: float | None = None
    generation_tps: float | None = None
    preemptions_per_s: float | None = None
    requests_per_s: float | None = None
    ttft: Percentiles = field(default_factory=lambda: Percentiles.of({}))
    e2e: Percentiles = field(default_factory=lambda: Percentiles.of({}))
    since_start: bool = True  # no earlier scrape: percentiles and hit rate cover the server's life
    restarted: bool = False  # a counter went down between the scrapes


def _per_second(before: list[Sample] | None, after: list[Sample], name: str, seconds: float) -> float | None:
    if before is None or seconds <= 0:
        return None
    delta = counter_delta(sum_series(before, name), sum_series(after, name))
    return None if delta is None else delta / seconds


def _mean(samples: list[Sample], name: str) -> float | None:
    """A gauge averaged over its series (KV usage of several engines is not their sum)."""
    values = [value for sample_name, _, value in samples if sample_name == name]
    return sum(values) / len(values) if values else None


def server_view(before: list[Sample] | None, after: list[Sample], seconds: float) -> ServerView:
    """The view of the window between scrape ``before`` (None: none yet) and ``after``,
    taken ``seconds`` apart."""
    window = before is not None and seconds > 0
    restarted = False
    if window:
        assert before is not None
        for name in (PROMPT_TOKENS, GENERATION_TOKENS, SUCCESS):
            old, new = sum_series(before, name), sum_series(after, name)
            if old is not None and new is not None and new < old:
                restarted = True
    queries = sum_series(after, PREFIX_QUERIES)
    hits = sum_series(after, PREFIX_HITS)
    if window:
        queries = counter_delta(sum_series(before, PREFIX_QUERIES), queries)  # type: ignore[arg-type]
        hits = counter_delta(sum_series(before, PREFIX_HITS), hits)  # type: ignore[arg-type]
    hit_rate = hits / queries if queries and hits is not None else None

    def percentiles(name: str) -> Percentiles:
        now = histogram_buckets(after, name)
        return Percentiles.of(bucket_delta(histogram_buckets(before, name), now) if window and before else now)

    return ServerView(
        running=sum_series(after, RUNNING),
        waiting=sum_series(after, WAITING),
        kv_usage=_mean(after, KV_USAGE),
        prefix_hit_rate=hit_rate,
        prompt_tps=_per_second(before, after, PROMPT_TOKENS, seconds),
        generation_tps=_per_second(before, after, GENERATION_TOKENS, seconds),
        preemptions_per_s=_per_second(before, after, PREEMPTIONS, seconds),
        requests_per_s=_per_second(before, after, SUCCESS, seconds),
        ttft=percentiles(TTFT),
        e2e=percentiles(E2E),
        since_start=not window,
        restarted=restarted,
    )
