"""What an existing output already holds: the resume scan. Pure (fed line by line).

The output file is its own log: a record counts only if it is a complete line (ends in
``\\n``), parses, and carries an id of this run with a sequence number not seen before.
The first record that fails any of that ends the valid prefix, and the file is cut there
(a ``kill -9`` can only tear the last line, since lines are appended whole; power loss
without ``fsync`` may leave garbage or zeros at the tail, which the same rule removes).

What is kept is a bitmap of the sequence numbers done: one bit per line, so the scan and
the skip that follows cost O(lines / 8) bytes, and lines finished in any order (unordered
runs, a separate errors file, re-run failures) resume the same way. ``feed`` takes a unit
of lines that stands or falls together (one line of a plain file, one gzip member).
"""

from __future__ import annotations

from .._json import loads
from ._output import is_failure, parse_id

__all__ = ["Bitmap", "OutputScan", "torn_tail"]


class Bitmap:
    """A growable set of non-negative ints, one bit each."""

    __slots__ = ("_bits", "count")

    def __init__(self) -> None:
        self._bits = bytearray()
        self.count = 0

    def __contains__(self, n: int) -> bool:
        i = n >> 3
        return i < len(self._bits) and bool(self._bits[i] & (1 << (n & 7)))

    def add(self, n: int) -> None:
        i = n >> 3
        if i >= len(self._bits):
            self._bits.extend(bytes(max(i + 1 - len(self._bits), len(self._bits))))
        if not self._bits[i] & (1 << (n & 7)):
            self._bits[i] |= 1 << (n & 7)
            self.count += 1

    def discard(self, n: int) -> None:
        if n in self:
            self._bits[n >> 3] &= ~(1 << (n & 7)) & 0xFF
            self.count -= 1


def torn_tail(data: bytes) -> int:
    """How many trailing bytes of ``data`` are a torn (unterminated) last line."""
    return len(data) - (data.rfind(b"\n") + 1)


class OutputScan:
    """Accumulates the records of one run's output files (main and errors)."""

    __slots__ = ("done", "failed", "last_seq", "max_seq", "run_id", "sorted")

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.done = Bitmap()
        self.failed = 0
        self.last_seq = -1  # of the file being scanned
        self.max_seq = -1  # of the file being scanned
        self.sorted = True  # the file being scanned is in sequence order

    def start_file(self) -> None:
        self.last_seq = self.max_seq = -1
        self.sorted = True

    def check(self, line: bytes) -> tuple[int, bool] | None:
        """(seq, failed) for a valid record not yet seen, else None. Records nothing."""
        try:
            record = loads(line)
        except ValueError:
            return None
        if not isinstance(record, dict) or "custom_id" not in record or "response" not in record:
            return None
        seq = parse_id(record.get("id"), self.run_id)
        if seq is None or seq in self.done:
            return None
        return seq, is_failure(record)

    def feed(self, lines: list[bytes]) -> bool:
        """Take a unit of complete lines (without their ``\\n``); False, recording nothing
        of it, if any is not a valid new record (the file is then cut before the unit)."""
        checked: list[tuple[int, bool]] = []
        seen: set[int] = set()
        for line in lines:
            found = self.check(line)
            if found is None or found[0] in seen:
                return False
            seen.add(found[0])
            checked.append(found)
        for seq, failed in checked:
            self.done.add(seq)
            self.failed += failed
            if seq < self.last_seq:
                self.sorted = False
            self.last_seq = seq
            self.max_seq = max(self.max_seq, seq)
        return True
