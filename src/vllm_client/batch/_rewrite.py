"""Rewriting a finished output: drop its failed lines (to re-run them), or put it back in
input order (after failed lines were re-run, or an errors file was written out of step).

Both stream into ``<path>.rewrite`` and ``os.replace`` it over the output, so a crash in the
middle leaves the old file whole (a leftover temporary is removed by the next run). Sorting
keeps one 8-byte offset per sequence number (8 MiB per million lines), never the lines.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterable

from ._files import InputReader, LineWriter, is_gzip

__all__ = ["TMP_SUFFIX", "drop_lines", "sort_by_seq"]

TMP_SUFFIX = ".rewrite"


def _lines(path: str) -> Iterable[bytes]:
    for _, line in InputReader(path):
        if isinstance(line, bytes):
            yield line


def _replace(path: str, lines: Iterable[bytes], durable: bool) -> None:
    tmp = path + TMP_SUFFIX
    if os.path.exists(tmp):
        os.unlink(tmp)
    writer = LineWriter(tmp, durable=durable, gz=is_gzip(path))
    try:
        for n, line in enumerate(lines, 1):
            writer.write(line + b"\n")
            if n % 4096 == 0:
                writer.flush()
    finally:
        writer.close()
    if durable:
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if durable:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def drop_lines(path: str, drop: Callable[[bytes], bool], *, durable: bool = False) -> int:
    """Rewrite ``path`` without the lines ``drop`` selects; returns how many were dropped."""
    dropped = 0

    def kept() -> Iterable[bytes]:
        nonlocal dropped
        for line in _lines(path):
            if drop(line):
                dropped += 1
            else:
                yield line

    if os.path.exists(path) and os.path.getsize(path):
        _replace(path, kept(), durable)
    return dropped


def sort_by_seq(path: str, seq_of: Callable[[bytes], int], *, durable: bool = False) -> None:
    """Rewrite ``path`` (valid records, unique sequence numbers) in sequence order."""
    source = path
    if is_gzip(path):  # random access needs the plain text: decompress beside it first
        source = path + ".plain" + TMP_SUFFIX
        with open(source, "wb") as out:
            for line in _lines(path):
                out.write(line + b"\n")
    try:
        offsets = array("q")
        with open(source, "rb") as f:
            offset = 0
            for line in f:
                seq = seq_of(line.rstrip(b"\n"))
                if seq >= len(offsets):
                    offsets.extend([-1] * (seq + 1 - len(offsets)))
                offsets[seq] = offset
                offset += len(line)

        def ordered() -> Iterable[bytes]:
            with open(source, "rb") as f:
                for at in offsets:
                    if at >= 0:
                        f.seek(at)
                        yield f.readline().rstrip(b"\n")

        _replace(path, ordered(), durable)
    finally:
        if source != path:
            os.unlink(source)
