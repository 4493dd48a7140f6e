"""The emulator in a process of its own, for the batch crash test (a ``kill -9`` of the
runner must not touch the server): prints its base URL, answers after ``TTFT`` seconds,
and on SIGTERM writes how many chat requests each prompt got to ``COUNTS`` (JSON).

    python mock_process.py COUNTS TTFT
"""

from __future__ import annotations

import collections
import json
import signal
import sys
import threading

from vllm_client.testing import MockVllmServer


def main() -> None:
    counts_path, ttft = sys.argv[1], float(sys.argv[2])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = MockVllmServer(ttft=ttft).start()
    print(server.base_url, flush=True)
    stop.wait()
    counts = collections.Counter(r.json["messages"][0]["content"] for r in server.requests_to("/v1/chat/completions"))
    server.stop()
    with open(counts_path, "w") as f:
        json.dump(counts, f)


if __name__ == "__main__":
    main()
