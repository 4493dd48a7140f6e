#!/usr/bin/env python3
"""A multi-turn chat with ``client.conversation()``: the history is kept for you.

    python examples/multi_turn_chat.py                 # against the built-in emulator (--mock)
    python examples/multi_turn_chat.py --base-url http://localhost:8000/v1

Each ``send`` sends the whole history (vLLM's prefix cache makes that cheap) and adds the
question and the answer to it once the answer has arrived. ``fork()`` branches off an
independent copy; ``reset()`` starts over with the same system message.
"""

from __future__ import annotations

from _runner import run_example

from vllm_client import VllmClient
from vllm_client.testing import MockVllmServer


def run(client: VllmClient) -> None:
    conv = client.conversation(system="You are a terse geography tutor.", max_tokens=48, temperature=0)
    for question in ("What is the capital of France?", "And its population?"):
        print(f"user: {question}")
        print(f"assistant: {conv.send(question)}")

    branch = conv.fork()  # an independent copy: the original does not see this turn
    question = "And the same for Germany?"
    print(f"branch user: {question}")
    print(f"branch assistant: {branch.send(question)}")

    print(f"history: {len(conv.history)} messages (branch: {len(branch.history)})")
    for msg in conv.history:
        print(f"  {msg['role']:>9}: {msg['content']}")
    conv.reset()
    print(f"after reset: {len(conv.history)} message(s)")


def script(server: MockVllmServer) -> None:
    for answer in ("Paris.", "About 2.1 million in the city proper.", "Berlin, about 3.7 million."):
        server.queue_chat(answer)


def main() -> None:
    run_example(__doc__, run, server_hint="e.g. http://localhost:8000/v1", script=script)


if __name__ == "__main__":
    main()
