"""One trace across client and server: vLLM's ``llm_request`` span is a child of our span.

The ``otel`` variant starts vLLM with ``--otlp-traces-endpoint`` pointed at the OTLP/HTTP
receiver below (``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf``: vLLM's default is
gRPC). The client sends W3C ``traceparent`` from its own ``chat tiny`` span; vLLM extracts it
when the request finishes and parents its span on it. Aborted requests leave no server span,
so both calls here run to their end. Also: ``metrics watch`` against the real ``/metrics``.
"""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.proto")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from .harness.variants import OTLP_PORT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .conftest import RealServer

MSGS = [{"role": "user", "content": "Say hi."}]


class Receiver:
    """An OTLP/HTTP trace receiver on loopback: every span it was sent, decoded."""

    def __init__(self, port: int) -> None:
        self.spans: list[Any] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    data = gzip.decompress(data)
                request = ExportTraceServiceRequest.FromString(data)
                with receiver.lock:
                    for resource_spans in request.resource_spans:
                        for scope_spans in resource_spans.scope_spans:
                            receiver.spans.extend(scope_spans.spans)
                body = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, match: Callable[[Any], bool], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for span in self.spans:
                    if match(span):
                        return span
            time.sleep(0.05)
        with self.lock:
            names = [s.name for s in self.spans]
        raise AssertionError(f"no matching span within {timeout} s; received: {names}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver(OTLP_PORT)
    yield r
    r.close()


@pytest.fixture
def otel_server(receiver: Receiver, vllm_otel: RealServer) -> RealServer:
    return vllm_otel


def _local_tracing() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _server_span_of(receiver: Receiver, client_span: Any) -> Any:
    ctx = client_span.context
    trace_id = ctx.trace_id.to_bytes(16, "big")
    return receiver.wait_for(lambda s: s.name == "llm_request" and s.trace_id == trace_id)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_vllm_span_is_a_child_of_ours(otel_server: RealServer, receiver: Receiver, stream: bool) -> None:
    provider, exporter = _local_tracing()
    tracer = provider.get_tracer("test")
    with otel_server.client(tracer_provider=provider) as client, tracer.start_as_current_span("user operation"):
        if stream:
            with client.chat.completions.create(messages=MSGS, max_tokens=4, stream=True) as s:
                answer_id = s.final().id
        else:
            answer_id = client.chat.completions.create(messages=MSGS, max_tokens=4).id
    ours = [s for s in exporter.get_finished_spans() if s.name == "chat tiny"]
    assert len(ours) == 1
    span = ours[0]
    assert span.kind is SpanKind.CLIENT and span.attributes["gen_ai.response.id"] == answer_id
    server_span = _server_span_of(receiver, span)
    assert server_span.parent_span_id == span.context.span_id.to_bytes(8, "big")  # our span is its parent
    assert server_span.kind == server_span.SPAN_KIND_SERVER
    attrs = {a.key: a.value for a in server_span.attributes}
    assert attrs["gen_ai.request.id"].string_value == answer_id  # the join key without tracing, too


def test_metrics_watch_on_the_real_server(otel_server: RealServer, capsys: pytest.CaptureFixture[str]) -> None:
    from vllm_client.cli._watch import watch

    with otel_server.client() as client:
        client.chat.completions.create(messages=MSGS, max_tokens=4)
        watch([client], interval=0.0, count=2, plain=True, sleep=lambda s: None)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first = dict(part.split("=", 1) for part in lines[0].split() if "=" in part)
    assert first["running"] == "0" and first["kv_cache"].endswith("%")
    assert first["e2e_p50/p90/p99"].startswith(("≈", ">"))  # since start: at least the request above
    assert "gen_tok/s=" in lines[1] and "(since start)" not in lines[1]
