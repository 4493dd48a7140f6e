"""Zero cost when unused: a program that never set OpenTelemetry up imports none of it and
installs no call observer besides the fleet's own accounting, whatever it calls (fresh interpreters; the CPU side is measured
with ../shared/bench, see the branch's note)."""

from __future__ import annotations

import json
import subprocess
import sys

from vllm_client.testing import MockVllmServer

_PROGRAM = """
import json, sys, asyncio
import vllm_client
msgs = [{"role": "user", "content": "hi"}]
sync = vllm_client.VllmClient(URL, max_retries=0)
sync.chat.completions.create(messages=msgs, max_tokens=2)
with sync.chat.completions.create(messages=msgs, max_tokens=2, stream=True) as s:
    s.until_done()
sync.embeddings.create(input="x", model=sync.models.list().ids[0])
async def go():
    async with vllm_client.AsyncVllmClient(URL, max_retries=0) as c:
        await c.chat.completions.create(messages=msgs, max_tokens=2)
        return c._core.observers
observers = [(len(sync._core.observers) - 1), len(asyncio.run(go())) - 1]
print(json.dumps({"otel": sorted(m for m in sys.modules if m.startswith("opentelemetry")), "observers": observers}))
"""


def test_no_opentelemetry_import_and_no_observer(vllm_mock: MockVllmServer) -> None:
    code = f"URL = {vllm_mock.url!r}\n{_PROGRAM}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(out.stdout)
    assert report == {"otel": [], "observers": [0, 0]}


def test_telemetry_true_needs_no_sdk_setup(vllm_mock: MockVllmServer) -> None:
    """``telemetry=True`` imports the API and installs the observer even before any SDK exists."""
    code = (f"URL = {vllm_mock.url!r}\nimport sys, vllm_client\n"
            "c = vllm_client.VllmClient(URL, telemetry=True)\n"
            "c.chat.completions.create(messages=[{'role': 'user', 'content': 'hi'}], max_tokens=2)\n"
            "print((len(c._core.observers) - 1), 'opentelemetry.trace' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["1", "True"]


def test_default_follows_a_global_sdk(vllm_mock: MockVllmServer) -> None:
    """``telemetry=None``: a client built after the app installed a global SDK traces through it."""
    code = f"""URL = {vllm_mock.url!r}
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import vllm_client
before = vllm_client.VllmClient(URL)
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
after = vllm_client.VllmClient(URL)
for client in (before, after):
    client.chat.completions.create(messages=[{{"role": "user", "content": "hi"}}], max_tokens=2)
print((len(before._core.observers) - 1), (len(after._core.observers) - 1), [s.name for s in exporter.get_finished_spans()])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip().split(maxsplit=2) == ["0", "1", f"['chat {vllm_mock.model}']"]
