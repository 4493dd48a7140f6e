"""The reorder window: lines finish in any order and are written in input order. Pure.

A line is admitted (given its place) before it is sent and put when its output is ready;
``pop`` releases the longest ready run from the head. The window holds at most
``max_lines`` admitted lines and ``max_bytes`` of ready ones, and admission stops while it is
full, so memory is bounded by the window, never by the file: a slow head line (a straggler)
stalls new admissions rather than buffering without end. ``ordered=False`` releases each line
as soon as it is put (completion order); the bound on admitted lines still holds.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

__all__ = ["ReorderWindow"]

T = TypeVar("T")


class ReorderWindow(Generic[T]):
    __slots__ = ("_bytes", "_order", "_out", "_ready", "_waiting", "max_bytes", "max_lines", "ordered")

    def __init__(self, *, ordered: bool = True, max_lines: int = 1024, max_bytes: int = 64 << 20) -> None:
        if max_lines < 1 or max_bytes < 1:
            raise ValueError("the window needs room for at least one line")
        self.ordered = ordered
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._waiting: set[int] = set()  # admitted, not yet put
        self._order: deque[int] = deque()  # ordered: admitted and not released, increasing
        self._ready: dict[int, tuple[T, int]] = {}  # ordered: put, waiting for the head
        self._out: list[T] = []  # unordered: put, waiting for pop
        self._bytes = 0

    def __len__(self) -> int:
        """Lines admitted and not yet released."""
        return len(self._order) if self.ordered else len(self._waiting) + len(self._out)

    @property
    def buffered_bytes(self) -> int:
        return self._bytes

    def has_room(self) -> bool:
        return len(self) < self.max_lines and self._bytes < self.max_bytes

    def admit(self, seq: int) -> None:
        """Give ``seq`` its place (sequence numbers increase; gaps are fine)."""
        if self.ordered and self._order and seq <= self._order[-1]:
            raise ValueError(f"admitted out of order: {seq} after {self._order[-1]}")
        if seq in self._waiting:
            raise ValueError(f"{seq} admitted twice")
        self._waiting.add(seq)
        if self.ordered:
            self._order.append(seq)

    def put(self, seq: int, item: T, size: int) -> None:
        """``seq``'s output is ready (``size`` bytes, counted against ``max_bytes``)."""
        try:
            self._waiting.remove(seq)
        except KeyError:
            raise KeyError(f"{seq} was not admitted, or was put twice") from None
        if self.ordered:
            self._ready[seq] = (item, size)
            self._bytes += size
        else:
            self._out.append(item)

    def pop(self) -> list[T]:
        """Everything releasable now, in the order to write it."""
        if not self.ordered:
            released, self._out = self._out, []
            return released
        out: list[T] = []
        order, ready = self._order, self._ready
        while order and order[0] in ready:
            item, size = ready.pop(order.popleft())
            self._bytes -= size
            out.append(item)
        return out
