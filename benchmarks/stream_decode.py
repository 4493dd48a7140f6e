"""Micro-benchmark: the full chat stream decode path vs the trivial floor.

Why: the client's budget is ~4 us per streamed chunk in total (HTTP, JSON, events), so
the sans-I/O decode path (SSE framing + orjson + ChatStreamState) must stay a fraction
of it. The floor is what /work/shared/bench/bench_clients.py does with no correctness
at all: ``bytes.split(b"\\n\\n")`` + ``json.loads`` + a dict walk collecting content.
Target: our path at <= ~0.6x the floor for bulk reads (orjson pays for the rest).

The stream is shaped like /work/shared/bench/fake_server.py's: a role chunk, N small
content chunks (a few with non-ASCII text), the last with finish_reason, a usage chunk,
``[DONE]``; fed in one read (``bulk``) and one event per read (``1/event``, what a
client keeping up with a real server sees).

Run::

    PYTHONPATH=src .venv/bin/python benchmarks/stream_decode.py [--chunks 2000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import orjson

from vllm_client._protocol.events import Content
from vllm_client._protocol.stream_decoder import ChatStreamDecoder

_WORDS = (
    " the",
    " quick",
    " brown",
    " fox",
    " jumps",
    " over",
    " a",
    " lazy",
    " dog",
    ",",
    " café",
    " naïve",
    " 東京",
    "\\n",
)
_HEAD = (
    '{"id":"chatcmpl-0123456789abcdef0123456789abcdef","object":"chat.completion.chunk",'
    '"created":1735689600,"model":"meta-llama/Llama-3.1-8B-Instruct",'
)


def make_events(n: int) -> list[bytes]:
    """The SSE events of an n-token stream, each ``data: ...\\n\\n``."""
    events = [
        _HEAD + '"choices":[{"index":0,"delta":{"role":"assistant","content":""},'
        '"logprobs":null,"finish_reason":null}]}'
    ]
    for i in range(n):
        word = _WORDS[i % len(_WORDS)]
        finish = '"stop","stop_reason":null' if i == n - 1 else "null"
        events.append(
            _HEAD + f'"choices":[{{"index":0,"delta":{{"content":"{word}"}},'
            f'"logprobs":null,"finish_reason":{finish}}}]}}'
        )
    events.append(
        _HEAD + f'"choices":[],"usage":{{"prompt_tokens":17,"total_tokens":{17 + n},'
        f'"completion_tokens":{n}}}}}'
    )
    events.append("[DONE]")
    return [f"data: {e}\n\n".encode() for e in events]


def expected_text(n: int) -> str:
    return "".join(json.loads(f'"{_WORDS[i % len(_WORDS)]}"') for i in range(n))


# -- the floor (as in /work/shared/bench/bench_clients.py) ---------------------------------


def split_sse(buf: bytes, chunk: bytes) -> tuple[list[bytes], bytes]:
    if buf:
        chunk = buf + chunk
    parts = chunk.split(b"\n\n")
    rest = parts.pop()
    return [
        p[6:] if p.startswith(b"data: ") else p[5:].lstrip() for p in parts if p.startswith(b"data:")
    ], rest


def consume_dict_events(events: list[bytes], loads: Callable[[bytes], object], acc: list[object]) -> bool:
    for d in events:
        if d == b"[DONE]":
            return True
        obj: dict[str, object] = loads(d)  # type: ignore[assignment]
        acc[0] += 1  # type: ignore[operator]
        ch = obj["choices"]
        if ch:
            c = ch[0]["delta"].get("content")  # type: ignore[index]
            if c:
                acc[1].append(c)  # type: ignore[attr-defined]
        u = obj.get("usage")
        if u:
            acc[2] = u["completion_tokens"]  # type: ignore[index]
    return False


def run_floor(reads: list[bytes], loads: Callable[[bytes], object]) -> str:
    buf = b""
    acc: list[object] = [0, [], None]
    for data in reads:
        events, buf = split_sse(buf, data)
        if consume_dict_events(events, loads, acc):
            break
    return "".join(acc[1])  # type: ignore[arg-type]


def run_ours(reads: list[bytes]) -> str:
    dec = ChatStreamDecoder()
    feed = dec.feed
    for data in reads:
        feed(data)
    dec.close()
    return dec.final().content or ""


def run_ours_events(reads: list[bytes]) -> str:
    """Like run_ours, but also walks the events the way a user loop would."""
    dec = ChatStreamDecoder()
    parts = []
    for data in reads:
        for ev in dec.feed(data):
            if type(ev) is Content:
                parts.append(ev.text)
    dec.close()
    return "".join(parts)


def bench(fn: Callable[[], object], chunks: int, repeat: int) -> float:
    """Best-of-``repeat`` ns per chunk."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - t0)
    return best / chunks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    n = args.chunks
    events = make_events(n)
    total = len(events)
    want = expected_text(n)
    print(f"{n} content chunks ({total} events, {sum(map(len, events))} bytes); best of {args.repeat}")
    print(f"{'reads':<10}{'path':<44}{'ns/chunk':>10}{'vs floor':>10}")
    for label, reads in (("bulk", [b"".join(events)]), ("1/event", events)):
        report(label, reads, want, total, args.repeat)


def report(label: str, reads: list[bytes], want: str, total: int, repeat: int) -> None:
    """Check every path decodes the same text, then print its ns per chunk."""
    paths: list[tuple[str, Callable[[], str]]] = [
        ("floor: split + json.loads + dict walk", lambda: run_floor(reads, json.loads)),
        ("floor with orjson.loads", lambda: run_floor(reads, orjson.loads)),
        ("ChatStreamDecoder.feed + final()", lambda: run_ours(reads)),
        ("  + iterating the events", lambda: run_ours_events(reads)),
    ]
    floor = 0.0
    for name, fn in paths:
        assert fn() == want, name
        ns = bench(fn, total, repeat)
        floor = floor or ns
        print(f"{label:<10}{name:<44}{ns:>10.0f}{ns / floor:>9.2f}x")

if __name__ == "__main__":
    main()
