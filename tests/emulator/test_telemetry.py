"""OpenTelemetry spans and metrics of every call type and every way a stream ends, sync and
async, with the SDK's in-memory exporters (local providers: the global ones are left alone)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import vllm_client as vc
from vllm_client._telemetry import semconv as sc
from vllm_client.testing import MockVllmServer, StreamDrop, StreamErrorFrame

MSGS = [{"role": "user", "content": "Name a prime number."}]


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def kwargs(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def finished(self) -> list[Any]:
        return list(self.spans.get_finished_spans())

    def one(self) -> Any:
        spans = self.finished()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        out.extend(metric.data.data_points)
        return out


@pytest.fixture
def otel() -> Otel:
    return Otel()


@pytest.fixture
def tapi(make_api: Any, vllm_mock: MockVllmServer, otel: Otel) -> Any:
    a = make_api(vllm_mock.base_url, timeout=30, **otel.kwargs())
    a.fake_sleep()
    return a


def traceparent_of(vllm_mock: MockVllmServer) -> str:
    return vllm_mock.last_request.headers["traceparent"]


def test_chat_span_metrics_and_traceparent(tapi: Any, otel: Otel, vllm_mock: MockVllmServer) -> None:
    resp = tapi(tapi.client.chat.completions.create(messages=MSGS, max_tokens=5, temperature=0.5, seed=3))
    span = otel.one()
    model = vllm_mock.model
    assert span.name == f"chat {model}" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET  # success: left unset
    attrs = dict(span.attributes)
    assert attrs == {
        sc.OPERATION_NAME: "chat", sc.PROVIDER_NAME: "vllm", sc.REQUEST_MODEL: model, sc.REQUEST_MAX_TOKENS: 5,
        sc.REQUEST_TEMPERATURE: 0.5, sc.REQUEST_SEED: 3, sc.SERVER_ADDRESS: "127.0.0.1",
        sc.SERVER_PORT: vllm_mock.port, sc.RESPONSE_ID: resp.id, sc.RESPONSE_MODEL: model,
        sc.RESPONSE_FINISH_REASONS: (resp.finish_reason,), sc.USAGE_INPUT_TOKENS: resp.usage.prompt_tokens,
        sc.USAGE_OUTPUT_TOKENS: resp.usage.completion_tokens, sc.REQUEST_ID: resp.raw["id"].split("-", 1)[1],
    }
    ctx = span.context
    assert traceparent_of(vllm_mock) == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
    (duration,) = otel.points(sc.OPERATION_DURATION)
    assert duration.count == 1 and list(duration.explicit_bounds) == list(sc.DURATION_BUCKETS)
    assert dict(duration.attributes) == {sc.OPERATION_NAME: "chat", sc.PROVIDER_NAME: "vllm", sc.REQUEST_MODEL: model,
                                         sc.RESPONSE_MODEL: model, sc.SERVER_ADDRESS: "127.0.0.1",
                                         sc.SERVER_PORT: vllm_mock.port}
    tokens = {p.attributes[sc.TOKEN_TYPE]: p for p in otel.points(sc.TOKEN_USAGE)}
    assert tokens["input"].sum == resp.usage.prompt_tokens and tokens["input"].count == 1
    assert tokens["output"].sum == resp.usage.completion_tokens and tokens["output"].count == 1
    assert list(tokens["input"].explicit_bounds) == list(sc.TOKEN_BUCKETS)
    assert otel.points(sc.TIME_TO_FIRST_CHUNK) == []  # streams only


def test_completion_and_embedding_spans(tapi: Any, otel: Otel, vllm_mock: MockVllmServer) -> None:
    tapi(tapi.client.completions.create(prompt="Once", max_tokens=3, stop=["x", "y"]))
    tapi(tapi.client.embeddings.create(input="a cat", model=vllm_mock.model))
    completion, embedding = otel.finished()
    assert completion.name == f"text_completion {vllm_mock.model}"
    assert completion.attributes[sc.REQUEST_STOP_SEQUENCES] == ("x", "y")
    assert embedding.name == f"embeddings {vllm_mock.model}"
    assert embedding.attributes[sc.OPERATION_NAME] == "embeddings"
    assert embedding.attributes[sc.USAGE_INPUT_TOKENS] > 0


def test_other_calls_get_no_span_but_propagate_the_callers(tapi: Any, otel: Otel, vllm_mock: MockVllmServer) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("app work") as parent:
        tapi(tapi.client.models.list())
    assert [s.name for s in otel.finished()] == ["app work"]
    ctx = parent.get_span_context()
    assert traceparent_of(vllm_mock) == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def test_chat_span_is_a_child_of_the_current_span(tapi: Any, otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("app work") as parent:
        tapi(tapi.client.chat.completions.create(messages=MSGS, max_tokens=2))
    chat, app = otel.finished()
    assert chat.parent.span_id == parent.get_span_context().span_id
    assert chat.context.trace_id == app.context.trace_id


def test_a_callers_traceparent_is_kept(tapi: Any, otel: Otel, vllm_mock: MockVllmServer) -> None:
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    tapi(tapi.client.chat.completions.create(messages=MSGS, max_tokens=2, extra_headers={"traceparent": mine}))
    assert traceparent_of(vllm_mock) == mine
    assert len(otel.finished()) == 1


def test_model_none_names_the_span_after_discovery(make_api: Any, vllm_mock: MockVllmServer, otel: Otel) -> None:
    a = make_api(vllm_mock.base_url, **otel.kwargs())
    a(a.client.chat.completions.create(messages=MSGS, max_tokens=2))  # model=None: asked from the server
    span = otel.one()
    assert span.name == f"chat {vllm_mock.model}" and span.attributes[sc.REQUEST_MODEL] == vllm_mock.model


def test_retry_is_an_event_not_an_error(tapi: Any, otel: Otel, vllm_mock: MockVllmServer) -> None:
    vllm_mock.fail_next(503, path="/v1/chat/completions")
    tapi(tapi.client.chat.completions.create(messages=MSGS, max_tokens=2))
    span = otel.one()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[sc.RETRY_COUNT] == 1
    (event,) = span.events
    assert event.name == sc.RETRY_EVENT and event.attributes["vllm_client.retry.attempt"] == 2
    assert event.attributes[sc.ERROR_TYPE] == "ServiceUnavailableError"
    assert event.attributes[sc.HTTP_STATUS_CODE] == 503


def test_failure_is_error_with_type(tapi: Any, otel: Otel, vllm_mock: MockVllmServer) -> None:
    with pytest.raises(vc.BadRequestError):
        tapi(tapi.client.chat.completions.create(messages=MSGS, max_tokens=10**7))
    span = otel.one()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == "BadRequestError" and span.attributes[sc.HTTP_STATUS_CODE] == 400
    (duration,) = otel.points(sc.OPERATION_DURATION)
    assert duration.attributes[sc.ERROR_TYPE] == "BadRequestError"
    assert otel.points(sc.TOKEN_USAGE) == []  # no usage known: nothing reported


# -- streams: every way one ends ------------------------------------------------------------------
def _stream(tapi: Any, **kw: Any) -> Any:
    return tapi(tapi.client.chat.completions.create(messages=MSGS, max_tokens=6, stream=True, **kw))


def test_stream_read_to_the_end(tapi: Any, otel: Otel) -> None:
    stream = _stream(tapi, stream_options={"include_usage": True})
    tapi.events(stream)
    span = otel.one()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes[sc.REQUEST_STREAM] is True
    assert span.attributes[sc.USAGE_OUTPUT_TOKENS] == stream.metrics.completion_tokens
    assert span.attributes[sc.RESPONSE_FINISH_REASONS] == ("length",)
    assert 0 < span.attributes[sc.RESPONSE_TIME_TO_FIRST_CHUNK] <= (span.end_time - span.start_time) / 1e9
    assert sc.STREAM_CLOSED_EARLY not in span.attributes
    (ttfc,) = otel.points(sc.TIME_TO_FIRST_CHUNK)
    assert ttfc.count == 1
    assert len(otel.points(sc.TOKEN_USAGE)) == 2


def _first_then(tapi: Any, stream: Any, leave: str) -> None:
    """Read one event, then leave the stream by ``leave``."""
    if tapi.kind == "async":
        async def go() -> None:
            if leave == "with":
                async with stream:
                    async for _ in stream:
                        break
                return
            async for _ in stream:
                break
            await stream.aclose()
        tapi(go())
        return
    if leave == "with":
        with stream:
            for _ in stream:
                break
        return
    for _ in stream:
        break
    stream.close()


@pytest.mark.parametrize("leave", ["close", "with"])
def test_stream_left_early(tapi: Any, otel: Otel, vllm_mock: MockVllmServer, leave: str) -> None:
    vllm_mock.token_rate = 200.0  # still generating when we leave
    stream = _stream(tapi)
    _first_then(tapi, stream, leave)
    span = otel.one()
    assert span.status.status_code is StatusCode.UNSET  # leaving early is not an error
    assert span.attributes[sc.STREAM_CLOSED_EARLY] is True


def test_stream_closed_before_iterating(tapi: Any, otel: Otel) -> None:
    stream = _stream(tapi)
    tapi(stream.close())
    assert otel.one().attributes[sc.STREAM_CLOSED_EARLY] is True


def test_stream_garbage_collected(tapi: Any, otel: Otel, vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 200.0
    stream = _stream(tapi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del stream
        gc.collect()
    span = otel.one()
    assert span.attributes[sc.STREAM_CLOSED_EARLY] is True


@pytest.mark.parametrize("fault", [StreamErrorFrame(after_chunks=2), StreamDrop(after_chunks=2)],
                         ids=["error-frame", "drop"])
def test_stream_broken(tapi: Any, otel: Otel, vllm_mock: MockVllmServer, fault: Any) -> None:
    vllm_mock.add_fault(fault)
    with pytest.raises(vc.VllmError) as info:
        tapi.events(_stream(tapi))
    span = otel.one()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(info.value).__qualname__  # InternalServerError / StreamError
    (duration,) = otel.points(sc.OPERATION_DURATION)
    assert duration.attributes[sc.ERROR_TYPE] == span.attributes[sc.ERROR_TYPE]


def test_async_stream_cancelled(vllm_mock: MockVllmServer, otel: Otel) -> None:
    vllm_mock.token_rate = 50.0
    started = asyncio.Event()

    async def consume(client: vc.AsyncVllmClient) -> None:
        stream = await client.chat.completions.create(messages=MSGS, max_tokens=200, stream=True)
        async with stream:
            async for _ in stream:
                started.set()

    async def main() -> None:
        async with vc.AsyncVllmClient(vllm_mock.base_url, **otel.kwargs()) as client:
            task = asyncio.create_task(consume(client))
            await asyncio.wait_for(started.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    span = otel.one()
    assert span.status.status_code is StatusCode.ERROR and span.attributes[sc.ERROR_TYPE] == "CancelledError"


# -- switches --------------------------------------------------------------------------------------
def test_content_only_on_request(make_api: Any, vllm_mock: MockVllmServer, otel: Otel,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    plain = make_api(vllm_mock.base_url, **otel.kwargs())
    plain(plain.client.chat.completions.create(messages=MSGS, max_tokens=2))
    assert sc.INPUT_MESSAGES not in otel.one().attributes
    otel.spans.clear()
    monkeypatch.setenv(sc.CAPTURE_CONTENT_ENV, "span_only")
    captured = make_api(vllm_mock.base_url, **otel.kwargs())
    resp = captured(captured.client.chat.completions.create(messages=MSGS, max_tokens=2))
    attrs = otel.one().attributes
    assert MSGS[0]["content"] in attrs[sc.INPUT_MESSAGES]
    assert resp.content in attrs[sc.OUTPUT_MESSAGES]


def test_telemetry_false_wins(make_api: Any, vllm_mock: MockVllmServer, otel: Otel) -> None:
    a = make_api(vllm_mock.base_url, telemetry=False, **otel.kwargs())
    a(a.client.chat.completions.create(messages=MSGS, max_tokens=2))
    assert otel.finished() == [] and "traceparent" not in vllm_mock.last_request.headers


def test_auto_mode_follows_the_global_sdk(make_api: Any, vllm_mock: MockVllmServer) -> None:
    # opentelemetry is imported (by this module), but no global SDK is installed: no span, no header
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    a = make_api(vllm_mock.base_url)
    a(a.client.chat.completions.create(messages=MSGS, max_tokens=2))
    assert "traceparent" not in vllm_mock.last_request.headers
