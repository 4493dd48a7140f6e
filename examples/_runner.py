"""What every example shares: ``--mock`` (the default: the built-in emulator, with the
answers a real model would give scripted in) or ``--base-url`` (a real vLLM server)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from vllm_client import VllmClient, VllmError
from vllm_client.structured import StructuredOutputError
from vllm_client.testing import MockVllmServer


def run_example(doc: str | None, run: Callable[[VllmClient], None], *, server_hint: str,
                script: Callable[[MockVllmServer], None], **mock_options: Any) -> None:
    """Parse the command line, then call ``run(client)`` against the chosen server.
    ``script(server)`` queues the emulator's answers before the run."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mock", action="store_true", help="use the built-in vLLM emulator (the default)")
    parser.add_argument("--base-url", help=f"a real vLLM server {server_hint}")
    args = parser.parse_args()
    if args.base_url:
        with VllmClient(args.base_url, timeout=120) as client:
            try:
                run(client)
            except (VllmError, StructuredOutputError) as err:  # a real server can say no: say it plainly
                sys.exit(f"error: {err}")
        return
    with MockVllmServer(**mock_options) as server:
        script(server)
        with VllmClient(server.base_url) as client:
            run(client)
