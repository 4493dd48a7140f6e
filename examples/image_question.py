#!/usr/bin/env python3
"""Ask a question about an image with ``messages.user(..., images=[...])``.

    python examples/image_question.py                 # against the built-in emulator (--mock)
    python examples/image_question.py --base-url http://localhost:8000/v1   # a vision model

The picture is a small PNG drawn here from raw bytes (no PIL needed). Local images go
inline as base64 ``data:`` URLs with the type read from their magic bytes; a file path,
bytes, an http(s) URL or a PIL image all work the same way.
"""

from __future__ import annotations

import struct
import zlib

from _runner import run_example

from vllm_client import BadRequestError, VllmClient
from vllm_client.messages import user
from vllm_client.testing import MockVllmServer


def red_square_png(size: int = 16) -> bytes:
    """A size x size red PNG: signature, IHDR, one IDAT of filter-0 rows, IEND."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * size for _ in range(size))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def run(client: VllmClient) -> None:
    message = user("What colour is this square? Answer in one word.", images=[red_square_png()])
    part = message["content"][1]
    print(f"sent: {part['type']} {part['image_url']['url'][:30]}...")
    try:
        resp = client.chat.completions.create(messages=[message], max_tokens=16)
    except BadRequestError as err:  # a text-only model refuses images
        print(f"the server refused the image (is it a vision model?): {err.message}")
        return
    print(f"answer: {resp.content}")


def script(server: MockVllmServer) -> None:
    server.queue_chat("Red.")  # the emulator does not look at images: script the answer


def main() -> None:
    run_example(__doc__, run, server_hint="serving a vision model", script=script)


if __name__ == "__main__":
    main()
