"""Floats -> the packed bytes vLLM 0.32 sends for ``base64`` / ``bytes`` / ``bytes_only``.

``tensor2binary`` (``vllm/utils/serial_utils.py``): cast to ``embed_dtype`` (torch rounds to
nearest, ties to even), flatten, swap bytes only for an ``endianness`` other than the host's
(``native`` = little-endian here). fp8 values are picked from the 256-value table the client
decodes with (the nearest finite one), so what the emulator packs is exactly what a client
of the real server would read back.
"""

from __future__ import annotations

import bisect
import functools
import math
import struct
from collections.abc import Sequence

from .._protocol.vectors import fp8_value

__all__ = ["pack"]


@functools.cache
def _fp8_grid(exp_bits: int) -> tuple[list[float], list[int]]:
    """The finite values of an fp8 format, sorted, and the byte of each."""
    pairs = sorted({fp8_value(b, exp_bits): b for b in range(256) if math.isfinite(fp8_value(b, exp_bits))}.items())
    return [v for v, _ in pairs], [b for _, b in pairs]


def _fp8(x: float, exp_bits: int) -> int:
    values, codes = _fp8_grid(exp_bits)
    i = bisect.bisect_left(values, x)
    if i == 0:
        return codes[0]
    if i == len(values):
        return codes[-1]
    below, above = values[i - 1], values[i]
    return codes[i] if above - x < x - below else codes[i - 1]


def _bf16(words: Sequence[int]) -> list[int]:
    """float32 bit patterns -> bfloat16 ones, rounded to nearest even."""
    return [((w + 0x7FFF + ((w >> 16) & 1)) >> 16) & 0xFFFF for w in words]


def pack(vector: Sequence[float], dtype: str = "float32", endianness: str = "native") -> bytes:
    order = ">" if endianness == "big" else "<"
    n = len(vector)
    if dtype == "float32":
        return struct.pack(f"{order}{n}f", *vector)
    if dtype == "float16":
        return struct.pack(f"{order}{n}e", *vector)
    if dtype == "bfloat16":
        return struct.pack(f"{order}{n}H", *_bf16(struct.unpack(f"<{n}I", struct.pack(f"<{n}f", *vector))))
    if dtype in ("fp8_e4m3", "fp8_e5m2"):
        exp_bits = 4 if dtype == "fp8_e4m3" else 5
        return bytes(_fp8(x, exp_bits) for x in vector)
    raise ValueError(f"unknown embed_dtype {dtype!r}")
