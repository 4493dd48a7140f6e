"""Per-call cost of the telemetry observer, without the network: one call's lifecycle
(start, attempt, first token, end with a chat answer) replayed N times.

    .venv/bin/python benchmarks/telemetry_overhead.py

Rows: no observer (telemetry off: what every user without OpenTelemetry runs, and the
default while no SDK is installed), the observer on the API's no-op providers
(``telemetry=True`` without an SDK), and the observer on an SDK tracer + meter
(spans dropped by a no-op processor; metrics aggregated in memory).
Reports microseconds per call; asserts nothing. A call through the shared bench costs
~160-400 us of client CPU, so these are fractions of that.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))

from vllm_client._call import Call
from vllm_client._protocol.requests import RequestSpec

ANSWER = {"id": "chatcmpl-1", "model": "tiny", "choices": [{"finish_reason": "stop", "message": {"content": "2"}}],
          "usage": {"prompt_tokens": 12, "completion_tokens": 3}}
BODY = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, "temperature": 0.2}


def per_call(observers: tuple[object, ...], n: int = 20000) -> float:
    urls = ("http://127.0.0.1:8000/v1",)
    t0 = time.perf_counter()
    for _ in range(n):
        spec = RequestSpec("POST", "/chat/completions", body=BODY, stream=True)
        call = Call(observers, spec, "rid", urls, {"Content-Type": "application/json"})  # type: ignore[arg-type]
        call.attempt(0)
        call.first_token()
        call.result = ANSWER
        call.end()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    print(f"no observer (telemetry off):          {per_call(()):6.2f} us/call")
    from vllm_client._telemetry.observer import OtelObserver

    print(f"observer, API without an SDK (no-op): {per_call((OtelObserver(),)):6.2f} us/call")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    sdk = OtelObserver(TracerProvider(), MeterProvider(metric_readers=[InMemoryMetricReader()]))
    print(f"observer on an SDK tracer and meter:  {per_call((sdk,)):6.2f} us/call")


if __name__ == "__main__":
    main()
