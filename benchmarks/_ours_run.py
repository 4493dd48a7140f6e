"""One ``vllm_client.bench`` run in its own process (what ``vllm-client bench serve`` does),
for bench_agreement.py and bench_capacity.py: ``python _ours_run.py CONFIG.json``, where the
JSON holds ``base_url``, ``dataset``, ``num_requests``, ``rate``, ``max_concurrency``, ``seed``,
``result`` and ``requests`` (the output paths), and ``event_loop`` (auto, asyncio or uvloop;
default asyncio, as ``vllm-client bench serve``); ``continuous_usage: false`` asks for
``include_usage`` only, as ``vllm bench serve`` does (an experiment: how much the running
usage on every chunk costs the server; tokens per read are then counted from the chunks)."""

from __future__ import annotations

import json
import math
import sys

from vllm_client import AsyncVllmClient, Limits
from vllm_client._event_loop import run
from vllm_client.bench import BenchConfig, Load, Workload, arun_bench


async def main(spec: dict) -> None:
    if spec.get("continuous_usage") is False:
        from vllm_client.bench import _run

        _run.STREAM_OPTIONS = {"include_usage": True}
    rate = float(spec["rate"])
    config = BenchConfig(
        workload=Workload(f"prompts:{spec['dataset']}", ignore_eos=True),
        load=Load(rate=rate, burstiness=math.inf, num_requests=int(spec["num_requests"]),
                  max_concurrency=spec.get("max_concurrency")),
        seed=int(spec.get("seed", 0)), scrape_metrics=bool(spec.get("scrape", True)),
        bootstrap=int(spec.get("bootstrap", 1000)),
    )
    async with AsyncVllmClient(spec["base_url"], limits=Limits(max_connections=1024, max_keepalive=1024)) as client:
        result = await arun_bench(client, config, progress=False)
    result.write_json(spec["result"])
    result.write_records(spec["requests"])


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    run(main(spec), spec.get("event_loop", "asyncio"))
