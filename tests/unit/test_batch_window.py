"""The reorder window: any completion order comes out in input order, within its bounds (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vllm_client.batch._window import ReorderWindow


@st.composite
def runs(draw: st.DrawFn) -> tuple[list[int], list[int], int]:
    """Increasing sequence numbers (with gaps, as after a resume), a completion order, a window size."""
    gaps = draw(st.lists(st.integers(1, 3), min_size=1, max_size=60))
    seqs = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    return seqs, draw(st.permutations(range(len(seqs)))), draw(st.integers(1, 8))


def drive(window: ReorderWindow[int], seqs: list[int], order: list[int]) -> list[int]:
    """Admit while there is room, complete in ``order`` (as far as admitted), collect the output."""
    out: list[int] = []
    admitted = 0
    pending = list(order)
    while len(out) < len(seqs):
        while admitted < len(seqs) and window.has_room():
            window.admit(seqs[admitted])
            admitted += 1
        assert len(window) <= window.max_lines
        i = next(i for i in pending if i < admitted)  # the next completion among those in flight
        pending.remove(i)
        window.put(seqs[i], seqs[i], 1)
        out += window.pop()
    return out


@given(runs())
def test_ordered_output_is_the_input_order_whatever_the_completion_order(run: tuple[list[int], list[int], int]) -> None:
    seqs, order, size = run
    assert drive(ReorderWindow(max_lines=size), seqs, order) == seqs


@given(runs())
def test_unordered_output_is_the_completion_order_and_loses_nothing(run: tuple[list[int], list[int], int]) -> None:
    seqs, order, size = run
    out = drive(ReorderWindow(ordered=False, max_lines=size), seqs, order)
    assert sorted(out) == seqs


def test_the_byte_bound_closes_admission_until_the_head_is_written() -> None:
    w: ReorderWindow[str] = ReorderWindow(max_lines=10, max_bytes=100)
    for s in range(3):
        w.admit(s)
    w.put(1, "b", 60)
    w.put(2, "c", 60)
    assert not w.has_room() and w.pop() == []  # the head (0) is still out
    w.put(0, "a", 1)
    assert w.pop() == ["a", "b", "c"] and w.has_room() and w.buffered_bytes == 0


def test_misuse_is_an_error() -> None:
    w: ReorderWindow[str] = ReorderWindow()
    w.admit(5)
    with pytest.raises(ValueError):
        w.admit(5)
    with pytest.raises(KeyError):
        w.put(6, "x", 1)
    w.put(5, "x", 1)
    with pytest.raises(KeyError):
        w.put(5, "x", 1)
