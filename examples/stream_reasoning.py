#!/usr/bin/env python3
"""Stream a reasoning model's answer: reasoning and content arrive as separate events.

    python examples/stream_reasoning.py                 # against the built-in emulator (--mock)
    python examples/stream_reasoning.py --base-url http://localhost:8000/v1

vLLM started with ``--reasoning-parser`` sends the thinking as ``reasoning`` deltas; the
client yields them as ``StreamEvent.Reasoning``. For a server without a parser, pass
``parse_think_tags=True`` to split ``<think>...</think>`` out of the content client-side.
"""

from __future__ import annotations

import argparse
import sys

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mock", action="store_true", help="use the built-in vLLM emulator (the default)")
    parser.add_argument("--base-url", help="a real vLLM server started with --reasoning-parser")
    args = parser.parse_args()
    if args.base_url:
        with VllmClient(args.base_url, timeout=120) as client:
            run(client)
        return
    with MockVllmServer(reasoning=True) as server:  # answers like vLLM with a reasoning parser
        server.queue_chat("6 times 7 is 42.", reasoning="Six sevens: 7, 14, 21, 28, 35, 42. So 42.")
        with VllmClient(server.base_url) as client:
            run(client)


if __name__ == "__main__":
    main()
