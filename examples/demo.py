#!/usr/bin/env python3
"""vllm-client in one minute, against the built-in vLLM emulator (no GPU, no server).

    python3 dev.py demo

Starts ``MockVllmServer`` on 127.0.0.1, then: a chat, a request with vLLM-only sampling
parameters, a stream with its metrics, an async call, a retried 503, and a handled error.
Pass ``--base-url http://host:8000/v1`` to run the same calls against a real vLLM server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from vllm_client import AsyncVllmClient, BadRequestError, ModelNotFoundError, StreamEvent, VllmClient
from vllm_client.testing import MockVllmServer


def show(title: str, value: object) -> None:
    print(f"\n== {title}\n{value}")


def demo(base_url: str, server: MockVllmServer | None) -> None:
    client = VllmClient(base_url, timeout=60, on_retry=lambda n, err, delay: print(
        f"   (retry {n} after {type(err).__name__}: waiting {delay:.2f}s)"))
    with client:
        models = client.models.list()
        show("models.list()", models)

        resp = client.chat.completions.create(messages=[{"role": "user", "content": "Say hello."}], max_tokens=12)
        show("chat: resp.content / finish_reason / usage",
             f"{resp.content!r}\n{resp.finish_reason} {resp.usage}\ntiming: {resp.timing}")

        resp = client.chat.completions.create(
            messages=[{"role": "user", "content": "Pick one."}],
            max_tokens=16, seed=7, top_k=20, min_p=0.05, repetition_penalty=1.1,
            structured_outputs={"choice": ["positive", "negative", "neutral"]},
        )
        show("vLLM extras: top_k, min_p, repetition_penalty, structured_outputs choice", repr(resp.content))

        with client.chat.completions.create(messages=[{"role": "user", "content": "Count."}],
                                            max_tokens=10, stream=True) as stream:
            pieces = []
            for event in stream:
                match event:
                    case StreamEvent.Content(text=text):
                        pieces.append(text)
                    case StreamEvent.Finish(reason=reason):
                        pieces.append(f" [finish: {reason}]")
                    case StreamEvent.Usage(usage=usage):
                        pieces.append(f" [{usage.completion_tokens} tokens]")
        m = stream.metrics
        show("stream: events and metrics", "".join(pieces) +
             f"\nttft={m.ttft_s:.4f}s total={m.total_s:.4f}s chunks={m.chunks}")

        if server is not None:
            server.fail_next(503, retry_after=0.2)
            resp = client.chat.completions.create(messages=[{"role": "user", "content": "Again?"}], max_tokens=4)
            show("a 503 with Retry-After, retried transparently", repr(resp.content))

        try:
            client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], model="no-such-model")
        except ModelNotFoundError as err:
            show("handled error: unknown model", f"{type(err).__name__}: {err}")
        try:
            client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], max_tokens=100_000)
        except BadRequestError as err:
            show("handled error: server-side validation", f"{type(err).__name__} (param={err.param}): {err.message}")
        try:
            client.chat.completions.create(messages=[], max_tokens=4)
        except ValueError as err:
            show("handled error: caught before sending", f"ValueError: {err}")

    async def async_part() -> str:
        async with AsyncVllmClient(base_url) as aclient:
            answers = await asyncio.gather(*(
                aclient.chat.completions.create(messages=[{"role": "user", "content": f"Question {i}"}], max_tokens=5)
                for i in range(8)))
            return "\n".join(repr(a.content) for a in answers)

    show("async: 8 concurrent requests", asyncio.run(async_part()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mock", action="store_true", help="use the built-in vLLM emulator (the default)")
    ap.add_argument("--base-url", help="a real vLLM server instead of the emulator")
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        server = None
        base_url = args.base_url
        if base_url is None:
            server = stack.enter_context(MockVllmServer(model="demo-model"))
            base_url = server.base_url
            print(f"emulator running at {base_url}")
        demo(base_url, server)
    print("\ndemo finished")


if __name__ == "__main__":
    main()
