#!/usr/bin/env python3
"""Stream a reasoning model's answer: reasoning and content arrive as separate events.

    python examples/stream_reasoning.py                 # against the built-in emulator (--mock)
    python examples/stream_reasoning.py --base-url http://localhost:8000/v1

vLLM started with ``--reasoning-parser`` sends the thinking as ``reasoning`` deltas; the
client yields them as ``StreamEvent.Reasoning``. For a server without a parser, pass
``parse_think_tags=True`` to split ``<think>...</think>`` out of the content client-side.
"""

from __future__ import annotations

import sys

from _runner import run_example

from vllm_client import StreamEvent, VllmClient
from vllm_client.testing import MockVllmServer


def run(client: VllmClient) -> None:
    dim, plain = ("\x1b[2m", "\x1b[0m") if sys.stdout.isatty() else ("", "")
    messages = [{"role": "user", "content": "What is 6 times 7?"}]
    reasoning: list[str] = []
    content: list[str] = []
    with client.chat.completions.stream(messages=messages, max_tokens=256) as stream:
        for event in stream:
            match event:
                case StreamEvent.Reasoning(text=text):
                    reasoning.append(text)
                    print(f"{dim}{text}{plain}", end="", flush=True)
                case StreamEvent.Content(text=text):
                    if not content:
                        print()
                    content.append(text)
                    print(text, end="", flush=True)
                case StreamEvent.Finish(reason=reason):
                    print(f"\n(finish: {reason})")
    final = stream.final()
    print(f"reasoning: {''.join(reasoning).strip()!r}")
    print(f"answer: {(final.content or '').strip()!r}")
    print(f"ttft: {stream.metrics.ttft_s:.4f}s, {stream.metrics.chunks} chunks")


def script(server: MockVllmServer) -> None:
    server.queue_chat("6 times 7 is 42.", reasoning="Six sevens: 7, 14, 21, 28, 35, 42. So 42.")


def main() -> None:
    run_example(__doc__, run, server_hint="started with --reasoning-parser", script=script, reasoning=True)


if __name__ == "__main__":
    main()
