"""Micro-benchmark: the chat stream decode path (bytes -> events) against the floors, and
the per-chunk alternatives behind :mod:`vllm_client._protocol.plain_chunks`.

Why: the client's budget is a few microseconds per streamed chunk in total (HTTP, JSON,
events), so the sans-I/O decode path must stay a fraction of it. The floor is what
``../shared/bench/bench_clients.py`` does with no correctness at all: ``split(b"\\n\\n")``
+ ``json.loads`` + a dict walk collecting content; its orjson and msgspec variants are the
bench's faster contenders.

Part 1, end to end (ns per chunk, CPU time, best of ``--repeat``): ``ChatStreamDecoder``
as shipped (typed plain chunks first, orjson dicts for the rest), and the same decoder
with the typed path switched off (every chunk through orjson and the general path).

Part 2, the per-chunk alternatives for a plain content chunk, given its payload bytes:

* ``orjson dict + checks, dataclass event``: the design before msgspec: ``orjson.loads``,
  the fast-path checks in Python (5 keys, one choice, a one-key delta, null finish,
  logprobs and token ids), then a ``@dataclass(slots=True)`` event;
* ``msgspec typed decode + append, dataclass event``: the typed decode (shape checked in C),
  events still dataclasses;
* ``msgspec typed decode + append, Struct event``: what ships.

The stream is shaped like ``../shared/bench/fake_server.py``'s: a role chunk, N small
content chunks (some non-ASCII), the last with finish_reason, a usage chunk, ``[DONE]``;
fed in one read (``bulk``) and one event per read (``1/event``). Nothing is asserted
beyond the decoded text.

    .venv/bin/python benchmarks/stream_decode.py [--chunks 2000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from vllm_client._protocol.chat_stream import ChatStreamState
from vllm_client._protocol.events import Content
from vllm_client._protocol.plain_chunks import decode_plain_chat
from vllm_client._protocol.stream_decoder import ChatStreamDecoder

_WORDS = (" the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ",", " café", " naïve",
          " 東京", "\\n")
_HEAD = (
    '{"id":"chatcmpl-0123456789abcdef0123456789abcdef","object":"chat.completion.chunk",'
    '"created":1735689600,"model":"meta-llama/Llama-3.1-8B-Instruct",'
)


def make_events(n: int) -> list[bytes]:
    """The SSE events of an n-token stream, each ``data: ...\\n\\n``."""
    events = [_HEAD + '"choices":[{"index":0,"delta":{"role":"assistant","content":""},'
                      '"logprobs":null,"finish_reason":null}]}']
    for i in range(n):
        word = _WORDS[i % len(_WORDS)]
        finish = '"stop","stop_reason":null' if i == n - 1 else "null"
        events.append(_HEAD + f'"choices":[{{"index":0,"delta":{{"content":"{word}"}},'
                              f'"logprobs":null,"finish_reason":{finish}}}]}}')
    events.append(_HEAD + f'"choices":[],"usage":{{"prompt_tokens":17,"total_tokens":{17 + n},'
                          f'"completion_tokens":{n}}}}}')
    events.append("[DONE]")
    return [f"data: {e}\n\n".encode() for e in events]


def expected_text(n: int) -> str:
    return "".join(json.loads(f'"{_WORDS[i % len(_WORDS)]}"') for i in range(n))


# -- the floors (as in ../shared/bench/bench_clients.py) --------------------------------------


def split_sse(buf: bytes, chunk: bytes) -> tuple[list[bytes], bytes]:
    if buf:
        chunk = buf + chunk
    parts = chunk.split(b"\n\n")
    rest = parts.pop()
    return [p[6:] if p.startswith(b"data: ") else p[5:].lstrip() for p in parts if p.startswith(b"data:")], rest


def run_floor(reads: list[bytes], loads: Callable[[bytes], Any]) -> str:
    buf, parts = b"", []
    for data in reads:
        events, buf = split_sse(buf, data)
        for d in events:
            if d == b"[DONE]":
                return "".join(parts)
            obj = loads(d)
            ch = obj["choices"]
            if ch:
                c = ch[0]["delta"].get("content")
                if c:
                    parts.append(c)
    return "".join(parts)


class _Delta(msgspec.Struct):
    role: str | None = None
    content: str | None = None


class _Choice(msgspec.Struct):
    delta: _Delta
    index: int = 0
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    id: str
    choices: list[_Choice]
    model: str = ""
    created: int = 0
    usage: dict[str, Any] | None = None


_decode_bench_chunk = msgspec.json.Decoder(_Chunk).decode


def run_floor_msgspec(reads: list[bytes]) -> str:
    buf, parts = b"", []
    for data in reads:
        events, buf = split_sse(buf, data)
        for d in events:
            if d == b"[DONE]":
                return "".join(parts)
            c = _decode_bench_chunk(d)
            if c.choices:
                parts.append(c.choices[0].delta.content or "")
    return "".join(parts)


# -- ours ---------------------------------------------------------------------------------------


def run_ours(reads: list[bytes], typed: bool = True) -> str:
    """Like a user loop: feed each read, walk the events, collect the content."""
    dec = ChatStreamDecoder()
    if not typed:
        dec._decode_plain = None
    parts = []
    for data in reads:
        for ev in dec.feed(data):
            if ev.__class__ is Content:
                parts.append(ev.text)
    dec.close()
    return "".join(parts)


# -- part 2: one plain chunk, decode + apply + event ----------------------------------------


@dataclass(slots=True)
class _ContentDC:
    text: str
    choice_index: int = 0
    logprobs: Any = None
    token_ids: list[int] | None = None


def per_chunk_dict(payloads: list[bytes], acc: list[str]) -> None:
    """The pre-msgspec fast path: orjson dict, shape checks in Python, dataclass event."""
    out: list[Any] = []
    loads = orjson.loads
    for p in payloads:
        chunk = loads(p)
        if len(chunk) == 5:
            choices = chunk["choices"]
            if len(choices) == 1:
                c = choices[0]
                delta = c["delta"]
                if (len(delta) == 1 and c.get("finish_reason") is None and c.get("logprobs") is None
                        and c.get("token_ids") is None):
                    text = delta.get("content")
                    if text:
                        acc.append(text)
                        out.append(_ContentDC(text, c.get("index", 0)))


def per_chunk_typed(payloads: list[bytes], state: ChatStreamState, event: type) -> None:
    """The typed decode and the work feed_plain does, with ``event`` as the event class."""
    out: list[Any] = []
    choices_acc = state._choices
    for p in payloads:
        c = decode_plain_chat(p).choices[0]
        acc = choices_acc[c.index]
        text = c.delta.content
        if text:
            acc.content.append(text)
            out.append(event(text, c.index))


def best_ns(fn: Callable[[], object], units: int, repeat: int) -> float:
    """Best-of-``repeat`` CPU ns per unit (CPU time: a busy neighbour disturbs it less)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time_ns()
        fn()
        best = min(best, time.process_time_ns() - t0)
    return best / units


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    n = args.chunks
    events = make_events(n)
    total = len(events) - 1  # JSON chunks (not [DONE])
    want = expected_text(n)
    print(f"{n} content chunks ({total} JSON chunks, {sum(map(len, events))} bytes); CPU ns/chunk, "
          f"best of {args.repeat}")
    print(f"\n{'reads':<9}{'path':<52}{'ns/chunk':>9}{'vs floor':>10}")
    for label, reads in (("bulk", [b"".join(events)]), ("1/event", events)):
        paths: list[tuple[str, Callable[[], str]]] = [
            ("floor: split + json.loads + dict walk", lambda r=reads: run_floor(r, json.loads)),
            ("floor with orjson.loads", lambda r=reads: run_floor(r, orjson.loads)),
            ("floor with msgspec typed Structs", lambda r=reads: run_floor_msgspec(r)),
            ("ChatStreamDecoder (typed plain chunks, as shipped)", lambda r=reads: run_ours(r)),
            ("ChatStreamDecoder, typed path off (orjson dicts)", lambda r=reads: run_ours(r, typed=False)),
        ]
        floor = 0.0
        for name, fn in paths:
            assert fn() == want, name
            ns = best_ns(fn, total, args.repeat)
            floor = floor or ns
            print(f"{label:<9}{name:<52}{ns:>9.0f}{ns / floor:>9.2f}x")

    payloads = [e[6:-2] for e in events[1:-3]]  # the plain content chunks
    state = ChatStreamState()
    state.feed(orjson.loads(events[0][6:-2]))
    print(f"\nper plain chunk, decode + checks + event ({len(payloads)} chunks){'ns/chunk':>25}")
    for name, fn2 in (
        ("orjson dict + checks in Python, dataclass event (before)", lambda: per_chunk_dict(payloads, [])),
        ("msgspec typed decode + append, dataclass event", lambda: per_chunk_typed(payloads, state, _ContentDC)),
        ("msgspec typed decode + append, Struct event (shipped)", lambda: per_chunk_typed(payloads, state, Content)),
    ):
        print(f"  {name:<60}{best_ns(fn2, len(payloads), args.repeat):>8.0f}")
        state._choices[0].content.clear()


if __name__ == "__main__":
    main()
