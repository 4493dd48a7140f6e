"""The OpenTelemetry call observer: one CLIENT span and the GenAI client metrics per call.

Imported only when telemetry is on (see ``__init__``): this is the one module of the
package that imports ``opentelemetry``. It is a call observer (``_call.py``), so it sees
a call's start, each attempt, the first token and the end, which the lifecycle guarantees
to happen exactly once however the call or stream ends (read to the end, error, ``break``
then ``close()``, leaving ``with``, garbage collection, cancellation). Nothing runs per
stream chunk: the first token is told once.

Span rules (semantic conventions v1.41.1, research ``observability-anchors.md`` §7):

- started before the first attempt with the sampling-relevant attributes; never made the
  current span (a context attached across a stream's ``yield`` would be detached on another
  task): it is only injected into the request's headers as W3C ``traceparent``, so vLLM's
  ``llm_request`` span becomes its child. A caller's own ``traceparent`` header is kept.
- retries stay inside the span as ``vllm_client.retry`` events (attempt, the failed
  attempt's error, the wait); a call that succeeds after retries is not an error.
- status ERROR with ``error.type`` only when the call failed (cancellation included);
  a stream closed or collected early keeps status unset and says
  ``vllm_client.stream.closed_early``, with whatever usage arrived.
- usage and metrics are recorded once, at the end, whether the span is sampled or not.

Non-GenAI calls (models, tokenize, health, ...) get no span; the caller's current context,
if any, is still propagated.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import propagate
from opentelemetry import trace as otel_trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._version import __version__
from . import semconv as sc
from .attributes import (
    capture_content,
    error_attributes,
    input_content,
    operation_of,
    output_content,
    request_attributes,
    response_attributes,
    server_attributes,
)

__all__ = ["OtelObserver"]

_perf = time.perf_counter


class _State:
    __slots__ = ("attrs", "failed_at", "last_error", "span", "start")

    def __init__(self, span: Any, attrs: dict[str, Any], start: float) -> None:
        self.span = span
        self.attrs = attrs
        self.start = start
        self.failed_at = 0.0
        self.last_error: BaseException | None = None


class OtelObserver:
    """Spans and metrics for every call of a client (``tracer_provider`` / ``meter_provider``
    default to the global ones, through the API's proxies: an SDK set up later is used)."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None, *,
                 capture: bool | None = None) -> None:
        self._capture = capture_content() if capture is None else capture
        tracer_source = tracer_provider if tracer_provider is not None else otel_trace.get_tracer_provider()
        meter_source = meter_provider if meter_provider is not None else otel_metrics.get_meter_provider()
        self._tracer = tracer_source.get_tracer(sc.INSTRUMENTATION_NAME, __version__, schema_url=sc.SCHEMA_URL)
        meter = meter_source.get_meter(sc.INSTRUMENTATION_NAME, __version__, schema_url=sc.SCHEMA_URL)
        self._duration = meter.create_histogram(
            sc.OPERATION_DURATION, unit="s", description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=list(sc.DURATION_BUCKETS))
        self._tokens = meter.create_histogram(
            sc.TOKEN_USAGE, unit="{token}", description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=list(sc.TOKEN_BUCKETS))
        self._ttfc = meter.create_histogram(
            sc.TIME_TO_FIRST_CHUNK, unit="s", description="Time to receive the first chunk of a streamed answer",
            explicit_bucket_boundaries_advisory=list(sc.DURATION_BUCKETS))

    # -- the observer protocol -----------------------------------------------------------------
    def call_started(self, call: Any) -> None:
        spec = call.spec
        headers = getattr(call, "headers", None)
        operation = operation_of(spec.path)
        if operation is None:
            if headers is not None and not _has_traceparent(headers):
                propagate.inject(headers)  # the caller's span, if any, is the server span's parent
            return
        attrs = request_attributes(operation, spec.body, stream=spec.stream)
        if call.base_urls:
            attrs.update(server_attributes(call.base_urls[0]))
        span = self._tracer.start_span(_span_name(attrs), kind=SpanKind.CLIENT, attributes=attrs)
        call.local[self] = _State(span, attrs, _perf())
        if headers is not None and not _has_traceparent(headers):
            propagate.inject(headers, context=otel_trace.set_span_in_context(span))  # the global propagator, now

    def attempt_started(self, call: Any, server: int) -> None:
        state: _State | None = call.local.get(self)
        if state is None:
            return
        if call.attempts > 1:
            event: dict[str, Any] = {"vllm_client.retry.attempt": call.attempts}
            if state.last_error is not None:
                event.update(error_attributes(state.last_error))
                event["vllm_client.retry.delay"] = round(_perf() - state.failed_at, 6)
            state.span.add_event(sc.RETRY_EVENT, event)
        if server > 0 or call.attempts > 1:  # attempt 1 on server 0 was set at the start
            where = server_attributes(call.base_urls[server])
            state.attrs.update(where)
            state.span.set_attributes(where)

    def attempt_ended(self, call: Any, server: int, error: BaseException | None) -> None:
        state: _State | None = call.local.get(self)
        if state is not None and error is not None:
            state.last_error = error
            state.failed_at = _perf()

    def first_token(self, call: Any) -> None:
        state: _State | None = call.local.get(self)
        if state is None:
            return
        ttft = _perf() - state.start
        state.span.set_attribute(sc.RESPONSE_TIME_TO_FIRST_CHUNK, ttft)
        state.span.set_attribute(sc.TIME_TO_FIRST_TOKEN, ttft)
        self._ttfc.record(ttft, _metric_attributes(state.attrs, call))

    def call_ended(self, call: Any, error: BaseException | None) -> None:
        state: _State | None = call.local.pop(self, None)
        if state is None:
            return
        duration = _perf() - state.start
        span = state.span
        attrs = state.attrs
        body = call.spec.body
        if sc.REQUEST_MODEL not in attrs and body and isinstance(body.get("model"), str):
            attrs[sc.REQUEST_MODEL] = body["model"]  # model=None: resolved after the start
            span.set_attribute(sc.REQUEST_MODEL, body["model"])
            span.update_name(_span_name(attrs))
        result = getattr(call, "result", None)
        data = getattr(result, "raw", result)
        answer = response_attributes(data)
        if call.request_id:
            answer[sc.REQUEST_ID] = call.request_id
        if call.attempts > 1:
            answer[sc.RETRY_COUNT] = call.attempts - 1
        if call.outcome in ("closed", "abandoned"):
            answer[sc.STREAM_CLOSED_EARLY] = True
        if self._capture:
            answer.update(input_content(body))
            answer.update(output_content(data))
        span.set_attributes(answer)
        attrs.update(answer)
        metric_attrs = _metric_attributes(attrs, call)
        if error is not None:
            failure = error_attributes(error)
            span.set_attributes(failure)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{failure[sc.ERROR_TYPE]}: {error}"[:512]))
            duration_attrs = dict(metric_attrs, **{sc.ERROR_TYPE: failure[sc.ERROR_TYPE]})
        else:
            duration_attrs = metric_attrs
        span.end()
        self._duration.record(duration, duration_attrs)
        tokens_in = attrs.get(sc.USAGE_INPUT_TOKENS)
        if tokens_in is not None:
            self._tokens.record(tokens_in, dict(metric_attrs, **{sc.TOKEN_TYPE: sc.TOKEN_INPUT}))
        tokens_out = attrs.get(sc.USAGE_OUTPUT_TOKENS)
        if tokens_out is not None:
            self._tokens.record(tokens_out, dict(metric_attrs, **{sc.TOKEN_TYPE: sc.TOKEN_OUTPUT}))


def _span_name(attrs: dict[str, Any]) -> str:
    model = attrs.get(sc.REQUEST_MODEL)
    operation = attrs[sc.OPERATION_NAME]
    return f"{operation} {model}" if model else str(operation)


def _metric_attributes(attrs: dict[str, Any], call: Any) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k in sc.METRIC_ATTRIBUTES}


def _has_traceparent(headers: dict[str, str]) -> bool:
    return any(name.lower() == "traceparent" for name in headers)
