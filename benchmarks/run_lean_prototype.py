"""Run ``../shared/bench`` with one extra contender, ``vllm-client-async-lean``: our async
client with the measurement prototype ``lean_async_transport.LeanTransport`` in place of
aiohttp (see that module for why). The shared bench directory is read-only, so this
copies it to a temporary directory and adds the contender to the copy; the bench itself
is unchanged. Reports, asserts nothing.

    .bench/venv/bin/python benchmarks/run_lean_prototype.py -c vllm-client-async,vllm-client-async-lean,raw-aiohttp \\
        -w a,b,c,d --rounds 3 [--md out.md]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CONTENDER = '''

# ---- added by vllm-client benchmarks/run_lean_prototype.py (a copy; the shared bench is unchanged)
@contender("vllm-client-async-lean", note="AsyncVllmClient on the lean asyncio prototype transport")
async def vllm_client_async_lean(base_url, max_conns, headers):
    import vllm_client
    sys.path.insert(0, {here!r})
    from lean_async_transport import LeanTransport
    client = vllm_client.AsyncVllmClient(base_url, headers=headers, max_retries=0, _transport=LeanTransport())
    return await _vllm_client_async_body(client)
'''


def main() -> None:
    sys.path.insert(0, HERE)
    from profile_shared_bench import default_bench_dir

    bench = os.environ.get("BENCH") or default_bench_dir()
    with tempfile.TemporaryDirectory(prefix="vllm-client-lean-bench-") as tmp:
        for name in ("bench_clients.py", "fake_server.py"):
            shutil.copy(os.path.join(bench, name), tmp)
        path = os.path.join(tmp, "bench_clients.py")
        with open(path, encoding="utf-8") as f:
            source = f.read()
        guard = 'if __name__ == "__main__":'
        head, tail = source.rsplit(guard, 1)
        # our own contender's body, reused with a client built elsewhere
        head = head.replace(
            '@contender("vllm-client-async", note="vllm_client.AsyncVllmClient (this project)")\n'
            "async def vllm_client_async(base_url, max_conns, headers):\n"
            "    import vllm_client\n"
            "    from vllm_client import StreamEvent\n"
            "    client = vllm_client.AsyncVllmClient(base_url, headers=headers, max_retries=0)\n",
            '@contender("vllm-client-async", note="vllm_client.AsyncVllmClient (this project)")\n'
            "async def vllm_client_async(base_url, max_conns, headers):\n"
            "    import vllm_client\n"
            "    return await _vllm_client_async_body(vllm_client.AsyncVllmClient(base_url, headers=headers,"
            " max_retries=0))\n\n\n"
            "async def _vllm_client_async_body(client):\n"
            "    from vllm_client import StreamEvent\n",
        )
        if "_vllm_client_async_body" not in head:
            raise SystemExit("the shared bench's vllm-client-async contender changed; update this script")
        head += CONTENDER.format(here=HERE)
        with open(path, "w", encoding="utf-8") as f:
            f.write(head + guard + tail)
        sys.exit(subprocess.call([sys.executable, path, *sys.argv[1:]], cwd=tmp))


if __name__ == "__main__":
    main()
