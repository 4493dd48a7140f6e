"""Which custom_ids have been seen, in 16 bytes per id instead of a Python set's ~70.

Duplicate detection needs every earlier id, so its memory grows with the file; this keeps
it small: an open-addressing table of 64-bit hashes in an ``array('Q')`` at most half
full (1M ids: 16 MiB; a ``set`` of the strings: ~100 MiB). Two different ids share a
64-bit hash with probability about n^2 / 2^65 (1e-8 at a million lines); such a line would
be reported as a duplicate, never silently dropped.
"""

from __future__ import annotations

from array import array

__all__ = ["SeenIds"]

_EMPTY = 0
_START_BITS = 10


class SeenIds:
    __slots__ = ("_count", "_mask", "_table")

    def __init__(self) -> None:
        self._table = array("Q", bytes(8 << _START_BITS))
        self._mask = (1 << _START_BITS) - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, custom_id: str) -> bool:
        """Record ``custom_id``; False if it was already there (a duplicate)."""
        key = hash(custom_id) & 0xFFFF_FFFF_FFFF_FFFF or 1
        if not self._insert(key):
            return False
        self._count += 1
        if self._count * 2 > self._mask:
            self._grow()
        return True

    def _insert(self, key: int) -> bool:
        table, mask = self._table, self._mask
        i = (key ^ (key >> 29)) & mask
        while True:
            found = table[i]
            if found == _EMPTY:
                table[i] = key
                return True
            if found == key:
                return False
            i = (i + 1) & mask

    def _grow(self) -> None:
        old = self._table
        self._table = array("Q", bytes(16 * len(old)))
        self._mask = len(self._table) - 1
        for key in old:
            if key != _EMPTY:
                self._insert(key)
