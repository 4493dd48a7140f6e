#!/usr/bin/env python3
"""Extract structured data from text with a pydantic model and ``chat.completions.parse``.

    python examples/extract_json.py                 # against the built-in emulator (--mock)
    python examples/extract_json.py --base-url http://localhost:8000/v1

The JSON schema of ``Person`` is sent as a ``json_schema`` response_format, which vLLM
enforces with its grammar backend, so the answer is JSON of that shape; ``resp.parsed``
is a ``Person``. An answer cut off by ``max_tokens`` raises ``StructuredOutputError``
with the raw text, shown at the end.
"""

from __future__ import annotations

from _runner import run_example
from pydantic import BaseModel, Field

from vllm_client import VllmClient
from vllm_client.messages import system, user
from vllm_client.structured import StructuredOutputError
from vllm_client.testing import MockVllmServer

TEXT = "Ada Lovelace, born 1815 in London, wrote the first published algorithm for a machine."


class Person(BaseModel):
    name: str = Field(max_length=40)
    born: int
    city: str = Field(max_length=40)


def run(client: VllmClient) -> None:
    messages = [system("Extract the person described by the user as JSON."), user(TEXT)]
    try:
        resp = client.chat.completions.parse(messages=messages, response_format=Person, max_tokens=96, seed=1,
                                             temperature=0)
    except StructuredOutputError as err:  # a small or random-weight model may not finish the object
        print(f"the model did not produce a whole Person in 96 tokens ({err.finish_reason=}): {err.content!r}")
        return
    person = resp.parsed
    print(f"parsed: {person!r}")
    print(f"born is an int: {isinstance(person.born, int)}")

    try:  # too few tokens for the whole object: the JSON is cut off
        client.chat.completions.parse(messages=messages, response_format=Person, max_tokens=4)
    except StructuredOutputError as err:
        print(f"truncated: {err.finish_reason=} content={err.content!r}")


def script(server: MockVllmServer) -> None:
    # The emulator answers json_schema requests with a schema-shaped object of filler
    # words; script the answers a model would give instead.
    server.queue_chat('{"name": "Ada Lovelace", "born": 1815, "city": "London"}')
    server.queue_chat('{"name": "Ada', finish_reason="length")


def main() -> None:
    run_example(__doc__, run, server_hint="e.g. http://localhost:8000/v1", script=script)


if __name__ == "__main__":
    main()
