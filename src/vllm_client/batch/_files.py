"""The batch runner's file I/O: streamed input lines, the append-only output writer, and
the scan that repairs an output before a resume. ``.gz`` by extension, both ways.

Nothing here holds more than a chunk (1 MiB) or one gzip member at a time: memory does not
grow with the file. The output is appended with ``os.write`` on an ``O_APPEND`` descriptor
(no Python-level buffer that a ``kill -9`` would lose half of); a gzip output is a series
of complete gzip members, one per flush, which any gzip reader reads as one stream and
which a resume can cut at a member boundary.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from ._resume import OutputScan

__all__ = ["InputReader", "LineWriter", "TooLong", "is_gzip", "scan_output"]

CHUNK = 1 << 20
#: a gzip member is written once this much is buffered (or a second has passed)
GZ_MEMBER = 256 << 10
GZ_MEMBER_SECONDS = 1.0
FSYNC_SECONDS = 1.0


def is_gzip(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).endswith(".gz")


class TooLong:
    """Marker for a line longer than the reader's cap (its bytes were skipped)."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


class InputReader:
    """Lines of ``path`` from byte ``start`` to ``end`` (both at line starts; a shard), as
    ``(lineno, raw line without "\\n" or TooLong)``. ``position`` is the raw (compressed)
    bytes read so far, for progress."""

    def __init__(self, path: str | os.PathLike[str], *, start: int = 0, end: int | None = None,
                 first_lineno: int = 1, max_line: int = 64 << 20) -> None:
        self.path = os.fspath(path)
        self.gz = is_gzip(self.path)
        if self.gz and (start or end is not None):
            raise ValueError("a .gz input cannot be read from the middle; decompress it to shard it")
        self.start = start
        self.end = end
        self.first_lineno = first_lineno
        self.max_line = max_line
        self.position = 0

    def _chunks(self, f: BinaryIO) -> Iterator[bytes]:
        remaining = None if self.end is None else self.end - self.start
        d = zlib.decompressobj(zlib.MAX_WBITS | 16) if self.gz else None
        while True:
            size = CHUNK if remaining is None else min(CHUNK, remaining)
            raw = f.read(size) if size else b""
            if not raw:
                break
            self.position += len(raw)
            if remaining is not None:
                remaining -= len(raw)
            if d is None:
                yield raw
                continue
            while raw:
                yield d.decompress(raw)
                if not d.eof:
                    break
                raw = d.unused_data  # the next member of a multi-member file
                d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        if d is not None:
            tail = d.flush()  # what a truncated last member still held
            if tail:
                yield tail

    def __iter__(self) -> Iterator[tuple[int, bytes | TooLong]]:
        lineno = self.first_lineno
        with open(self.path, "rb") as f:
            f.seek(self.start)
            self.position = 0
            rest = b""
            skipping = 0  # > 0: inside a too-long line, bytes skipped so far
            for chunk in self._chunks(f):
                if skipping:
                    cut = chunk.find(b"\n")
                    if cut < 0:
                        skipping += len(chunk)
                        continue
                    yield lineno, TooLong(skipping + cut)
                    lineno += 1
                    skipping = 0
                    chunk = chunk[cut + 1:]
                lines = (rest + chunk).split(b"\n") if rest else chunk.split(b"\n")
                rest = lines.pop()
                for line in lines:
                    if len(line) > self.max_line:
                        yield lineno, TooLong(len(line))
                    else:
                        yield lineno, line
                    lineno += 1
                if len(rest) > self.max_line:
                    skipping, rest = len(rest), b""
            if skipping:
                yield lineno, TooLong(skipping)
            elif rest:
                yield lineno, rest  # a last line without its newline


class LineWriter:
    """Appends whole lines to ``path``. ``flush`` hands everything to the OS (a ``kill -9``
    then loses nothing); ``durable`` adds an ``fsync`` at most every second and at close."""

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = False, gz: bool | None = None) -> None:
        self.path = os.fspath(path)
        self.gz = is_gzip(self.path) if gz is None else gz
        self.durable = durable
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._buf: list[bytes] = []
        self._size = 0
        self._last_member = time.monotonic()
        self._last_sync = self._last_member
        self._dirty = False

    def write(self, line: bytes) -> None:
        self._buf.append(line)
        self._size += len(line)

    def flush(self, *, force: bool = False) -> None:
        if self._buf:
            now = time.monotonic()
            if not self.gz:
                _write_all(self._fd, b"".join(self._buf))
            elif force or self._size >= GZ_MEMBER or now - self._last_member >= GZ_MEMBER_SECONDS:
                _write_all(self._fd, _gzip_member(b"".join(self._buf)))
                self._last_member = now
            else:
                return
            self._buf.clear()
            self._size = 0
            self._dirty = True
        if self.durable and self._dirty and (force or time.monotonic() - self._last_sync >= FSYNC_SECONDS):
            os.fsync(self._fd)
            self._last_sync = time.monotonic()
            self._dirty = False

    def close(self) -> None:
        if self._fd >= 0:
            try:
                self.flush(force=True)
            finally:
                os.close(self._fd)
                self._fd = -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _gzip_member(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return c.compress(data) + c.flush()


def scan_output(path: str | os.PathLike[str], scan: OutputScan, *, durable: bool = False) -> int:
    """Feed the valid records of ``path`` to ``scan`` and cut the file after them (a torn
    last line, a torn gzip member, anything after the first invalid record). Returns the
    number of bytes cut."""
    path = os.fspath(path)
    if not os.path.exists(path):
        return 0
    scan.start_file()
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        valid = _scan_gz(f, scan) if is_gzip(path) else _scan_plain(f, scan)
        if valid < size:
            f.truncate(valid)
            if durable:
                os.fsync(f.fileno())
    return size - valid


def _scan_plain(f: BinaryIO, scan: OutputScan) -> int:
    valid = 0
    rest = b""
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            return valid  # ``rest``, if any, is a torn last line
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if not scan.feed([line]):
                return valid
            valid += len(line) + 1


def _scan_gz(f: BinaryIO, scan: OutputScan) -> int:
    valid = 0  # raw offset of the end of the last good member
    pending = b""  # raw bytes of the member being decoded, from ``valid`` on
    while True:
        d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        out: list[bytes] = []
        data = pending
        while True:
            if data:
                try:
                    out.append(d.decompress(data))
                except zlib.error:
                    return valid
                if d.eof:
                    break
            data = f.read(CHUNK)
            if not data:
                return valid  # a torn last member (or none)
        text = b"".join(out)
        pending = d.unused_data
        used = f.tell() - len(pending) - valid
        if not text.endswith(b"\n") or not scan.feed(text[:-1].split(b"\n")):
            return valid
        valid += used
        if not pending:
            pending = f.read(CHUNK)
            if not pending:
                return valid
