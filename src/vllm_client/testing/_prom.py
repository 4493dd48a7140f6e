"""The emulator's ``/metrics``: vLLM 0.32's engine series, counted from what it served.

Names, labels, help texts and bucket bounds are vLLM 0.32's (``vllm/v1/metrics/loggers.py``,
``buckets.py``; checked against a real scrape, ``tests/fixtures/real-vllm-0.32/metrics_full.json``),
written as prometheus_client writes them: counters with ``_total`` and a ``_created`` gauge,
histograms as ``_bucket{le}`` / ``_count`` / ``_sum`` with labels sorted by name, ``le`` last
but one. Values come from the emulator's own work: tokens and finish reasons from each
answer, end-to-end latency measured, time to first token from the pacing (``ttft``,
``token_rate``) capped by the measured latency, prefix-cache hits for a prompt seen before
(whole 16-token blocks, as vLLM's block hashing counts them), KV-cache usage from the
running requests. So ``vllm-client metrics watch`` and the bench's server correlation have
realistic input without a GPU.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

__all__ = ["EngineMetrics"]

REQUEST_LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
                           240.0, 480.0, 960.0, 1920.0, 7680.0)
TIME_TO_FIRST_TOKEN_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                               10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
INTER_TOKEN_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                               20.0, 40.0, 80.0)
BLOCK_SIZE = 16
REASONS = ("stop", "length", "abort", "error", "repetition")  # vLLM's order

_COUNTERS = {
    "prefix_cache_queries": "Prefix cache queries, in terms of number of queried tokens.",
    "prefix_cache_hits": "Prefix cache hits, in terms of number of cached tokens.",
    "num_preemptions": "Cumulative number of preemption from the engine.",
    "prompt_tokens": "Number of prefill tokens processed.",
    "generation_tokens": "Number of generation tokens processed.",
}
_HISTOGRAMS = {
    "time_to_first_token_seconds": ("Histogram of time to first token in seconds.", TIME_TO_FIRST_TOKEN_BUCKETS),
    "inter_token_latency_seconds": ("Histogram of inter-token latency in seconds.", INTER_TOKEN_LATENCY_BUCKETS),
    "e2e_request_latency_seconds": ("Histogram of e2e request latency in seconds.", REQUEST_LATENCY_BUCKETS),
    "request_queue_time_seconds": ("Histogram of time spent in WAITING phase for request.", REQUEST_LATENCY_BUCKETS),
}


class _Histogram:
    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * len(self.bounds)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float, times: int = 1) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += times
                break
        self.count += times
        self.sum += value * times


class EngineMetrics:
    """Counters, gauges and histograms of one emulated engine (event-loop thread only)."""

    def __init__(self, max_num_seqs: int) -> None:
        self.max_num_seqs = max_num_seqs
        self.created = time.time()
        self.counters: dict[tuple[str, str], float] = {}
        self.success: dict[tuple[str, str], float] = {}
        self.histograms: dict[tuple[str, str], _Histogram] = {}
        self._seen_prompts: set[int] = set()

    def _add(self, name: str, model: str, value: float) -> None:
        self.counters[name, model] = self.counters.get((name, model), 0.0) + value

    def _observe(self, name: str, model: str, value: float, times: int = 1) -> None:
        hist = self.histograms.get((name, model))
        if hist is None:
            hist = self.histograms[name, model] = _Histogram(_HISTOGRAMS[name][1])
        hist.observe(value, times)

    def finished(self, model: str, *, prompt: object, prompt_tokens: int, generation_tokens: int,
                 reasons: Sequence[str], e2e_s: float, ttft_s: float) -> None:
        """A request answered to its end."""
        key = hash(repr(prompt))
        hits = (prompt_tokens // BLOCK_SIZE) * BLOCK_SIZE if key in self._seen_prompts else 0
        self._seen_prompts.add(key)
        self._add("prefix_cache_queries", model, prompt_tokens)
        self._add("prefix_cache_hits", model, hits)
        self._add("prompt_tokens", model, prompt_tokens)
        self._add("generation_tokens", model, generation_tokens)
        for reason in reasons:
            self.success[model, reason] = self.success.get((model, reason), 0.0) + 1
        ttft = min(ttft_s, e2e_s)
        self._observe("time_to_first_token_seconds", model, ttft)
        self._observe("e2e_request_latency_seconds", model, e2e_s)
        self._observe("request_queue_time_seconds", model, 0.0)
        if generation_tokens > 1:
            self._observe("inter_token_latency_seconds", model, (e2e_s - ttft) / (generation_tokens - 1),
                          generation_tokens - 1)

    def aborted(self, model: str) -> None:
        self.success[model, "abort"] = self.success.get((model, "abort"), 0.0) + 1

    def render(self, models: Sequence[str], running: int, waiting: int = 0) -> bytes:
        rows: list[str] = []
        created = repr(self.created)

        def head(name: str, kind: str, text: str) -> None:
            rows.append(f"# HELP vllm:{name} {text}")
            rows.append(f"# TYPE vllm:{name} {kind}")

        def labels(model: str, **more: str) -> str:
            pairs = {"engine": "0", "model_name": model, **more}
            return ",".join(f'{k}="{v}"' for k, v in sorted(pairs.items()))

        usage = min(1.0, running / self.max_num_seqs) if self.max_num_seqs else 0.0
        gauges = (("num_requests_running", "Number of requests in model execution batches.", float(running)),
                  ("num_requests_waiting", "Number of requests waiting to be processed.", float(waiting)),
                  ("kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", usage))
        for name, text, value in gauges:
            head(name, "gauge", text)
            rows.extend(f"vllm:{name}{{{labels(m)}}} {value!r}" for m in models)
        for name, text in _COUNTERS.items():
            head(f"{name}_total", "counter", text)
            rows.extend(f"vllm:{name}_total{{{labels(m)}}} {self.counters.get((name, m), 0.0)!r}" for m in models)
            head(f"{name}_created", "gauge", text)
            rows.extend(f"vllm:{name}_created{{{labels(m)}}} {created}" for m in models)
        head("request_success_total", "counter", "Count of successfully processed requests.")
        for m in models:
            rows.extend(f"vllm:request_success_total{{{labels(m, finished_reason=r)}}} "
                        f"{self.success.get((m, r), 0.0)!r}" for r in REASONS)
        head("request_success_created", "gauge", "Count of successfully processed requests.")
        for m in models:
            rows.extend(f"vllm:request_success_created{{{labels(m, finished_reason=r)}}} {created}" for r in REASONS)
        for name, (text, bounds) in _HISTOGRAMS.items():
            head(name, "histogram", text)
            for m in models:
                hist = self.histograms.get((name, m)) or _Histogram(bounds)
                total = 0
                for bound, count in zip(hist.bounds, hist.counts, strict=True):
                    total += count
                    rows.append(f"vllm:{name}_bucket{{{labels(m, le=repr(float(bound)))}}} {float(total)!r}")
                rows.append(f"vllm:{name}_bucket{{{labels(m, le='+Inf')}}} {float(hist.count)!r}")
                rows.append(f"vllm:{name}_count{{{labels(m)}}} {float(hist.count)!r}")
                rows.append(f"vllm:{name}_sum{{{labels(m)}}} {hist.sum!r}")
            head(f"{name}_created", "gauge", text)
            rows.extend(f"vllm:{name}_created{{{labels(m)}}} {created}" for m in models)
        return ("\n".join(rows) + "\n").encode()
