#!/usr/bin/env python3
"""Batch inference from a JSONL file with ``run_batch``: one output line per input line, a
bad line and a rejected request reported in place, and a resume that sends only what is left.

    python examples/batch_file.py                  # the built-in emulator
    python examples/batch_file.py --base-url http://localhost:8000/v1
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from _runner import run_example

from vllm_client import VllmClient
from vllm_client.batch import run_batch
from vllm_client.testing import HttpError, MockVllmServer

QUESTIONS = ["What is 2+2?", "Name a colour.", "Capital of Italy?", "A word that rhymes with cat?"]


def write_requests(path: Path) -> None:
    with open(path, "w") as f:
        for i, question in enumerate(QUESTIONS):
            body = {"messages": [{"role": "user", "content": question}], "max_tokens": 16}
            f.write(json.dumps({"custom_id": f"q{i}", "method": "POST", "url": "/v1/chat/completions",
                                "body": body}) + "\n")
        f.write("this line is not JSON\n")  # reported as invalid_request; the run goes on


def run(client: VllmClient) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        requests, results = Path(tmp) / "requests.jsonl", Path(tmp) / "results.jsonl"
        write_requests(requests)
        summary = run_batch(client, requests, results, concurrency=8, progress=False)
        print(f"first run: {summary}")
        for line in results.read_text().splitlines():
            record = json.loads(line)
            if record["error"] is not None:
                print(f"  {record['custom_id']}: error {record['error']['code']}: {record['error']['message']}")
            elif record["response"]["status_code"] >= 400:
                print(f"  {record['custom_id']}: HTTP {record['response']['status_code']}")
            else:
                answer = record["response"]["body"]["choices"][0]["message"]["content"]
                print(f"  {record['custom_id']}: {answer!r}")
        # As if the run had been killed after two lines: cut the file and run the same call again.
        lines = results.read_bytes().splitlines(keepends=True)
        results.write_bytes(b"".join(lines[:2]) + lines[2][:30])
        summary = run_batch(client, requests, results, concurrency=8, progress=False)
        print(f"resumed: {summary.skipped} skipped, {summary.succeeded + summary.failed + summary.invalid} written")
        print(f"lines: {len(results.read_text().splitlines())}")


def script(server: MockVllmServer) -> None:
    server.add_fault(HttpError(400, "This model's maximum context length is 2048 tokens"),
                     path="/v1/chat/completions")


if __name__ == "__main__":
    run_example(__doc__, run, server_hint="(any chat model)", script=script)
