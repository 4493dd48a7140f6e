"""One ``vllm_client.bench`` run in its own process (what ``vllm-client bench serve`` does),
for bench_agreement.py and bench_capacity.py: ``python _ours_run.py CONFIG.json``, where the
JSON holds ``base_url``, ``dataset``, ``num_requests``, ``rate``, ``max_concurrency``, ``seed``,
``result`` and ``requests`` (the output paths)."""

from __future__ import annotations

import asyncio
import json
import math
import sys

from vllm_client import AsyncVllmClient, Limits
from vllm_client.bench import BenchConfig, Load, Workload, arun_bench


async def main(spec: dict) -> None:
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
        asyncio.run(main(json.load(f)))
