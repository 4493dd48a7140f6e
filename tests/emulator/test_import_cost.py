"""What using the package loads, in a fresh interpreter: asyncio only once an async client
sends its first request, never aiohttp (the async transport is our own), and neither for
a sync-only program. The costs themselves are measured by benchmarks/import_time.py."""

from __future__ import annotations

import json
import subprocess
import sys

from vllm_client.testing import MockVllmServer

_PROGRAM = """
import json, sys
def loaded():
    return sorted({"aiohttp", "asyncio"} & set(sys.modules))
steps = {}
import vllm_client
steps["import"] = loaded()
sync = vllm_client.VllmClient(URL, max_retries=0)
steps["sync client"] = loaded()
models = sync.models.list().ids
sync.close()
steps["sync request"] = loaded()
client = vllm_client.AsyncVllmClient(URL, max_retries=0)
steps["async client"] = loaded()
import asyncio
async def ask():
    async with client:
        return (await client.models.list()).ids
steps["async models"] = asyncio.run(ask())
steps["async request"] = loaded()
print(json.dumps({"models": models, "steps": steps}))
"""


def test_asyncio_is_imported_only_by_the_first_async_request(vllm_mock: MockVllmServer) -> None:
    code = f"URL = {vllm_mock.url!r}\n{_PROGRAM}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(out.stdout)
    steps = report["steps"]
    assert report["models"] == steps["async models"] == [vllm_mock.model]
    assert steps["import"] == []
    assert steps["sync client"] == []
    assert steps["sync request"] == []  # a sync-only program never loads asyncio or aiohttp
    assert "aiohttp" not in steps["async client"]
    assert steps["async request"] == ["asyncio"]  # no aiohttp: the async transport is ours
