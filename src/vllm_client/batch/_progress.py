"""Progress people can read: a rich bar on a terminal, a plain line every few seconds on a
pipe or in CI, or nothing. The runner calls ``update`` at most a few times a second; the
reporters only format (rich is the ``cli`` extra, so without it a terminal gets plain lines).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol, Union

from ._summary import BatchSummary

__all__ = ["Progress", "Snapshot", "make_progress"]


@dataclass(frozen=True)
class Snapshot:
    done: int  # lines written by this run
    total: int | None  # lines to write in this run, when known
    failed: int
    invalid: int
    skipped: int
    tokens: int
    elapsed: float

    @property
    def lines_per_s(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        rate = self.lines_per_s
        if self.total is None or rate <= 0:
            return None
        return max(0.0, self.total - self.done) / rate


class Progress(Protocol):
    def update(self, snap: Snapshot) -> None: ...

    def finish(self, summary: BatchSummary | None) -> None: ...


ProgressSetting = Union[None, bool, str, Progress, Callable[[Snapshot], Any]]


class Quiet:
    def update(self, snap: Snapshot) -> None:
        pass

    def finish(self, summary: BatchSummary | None) -> None:
        pass


class Callback:
    """A user's function, called with each snapshot."""

    def __init__(self, fn: Callable[[Snapshot], Any]) -> None:
        self._fn = fn

    def update(self, snap: Snapshot) -> None:
        self._fn(snap)

    def finish(self, summary: BatchSummary | None) -> None:
        pass


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def plain_line(snap: Snapshot) -> str:
    total = "?" if snap.total is None else str(snap.total)
    pct = f" ({100 * snap.done / snap.total:.1f}%)" if snap.total else ""
    return (f"batch: {snap.done}/{total} lines{pct}, {snap.lines_per_s:.1f} lines/s, "
            f"{snap.tokens_per_s:.0f} tokens/s, {snap.failed} failed, {snap.invalid} invalid, "
            f"{snap.skipped} skipped, ETA {_eta(snap.eta_s)}")


class Plain:
    """A line every ``every`` seconds (and a summary at the end) on ``stream``."""

    def __init__(self, stream: IO[str] | None = None, every: float = 5.0) -> None:
        self._stream = stream
        self._every = every
        self._last = time.monotonic()

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(text + "\n")
        stream.flush()

    def update(self, snap: Snapshot) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._write(plain_line(snap))

    def finish(self, summary: BatchSummary | None) -> None:
        if summary is not None:
            self._write(f"batch done: {summary}")


class Bar:
    """rich's progress bar on stderr: done/total, lines/s, tokens/s, failures, ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rates]}"),
            TimeRemainingColumn(), console=Console(stderr=True), transient=False,
        )
        self._task = self._progress.add_task("batch", total=None, rates="")
        self._progress.start()

    def update(self, snap: Snapshot) -> None:
        rates = (f"{snap.lines_per_s:.1f} lines/s {snap.tokens_per_s:.0f} tok/s "
                 f"{snap.failed} failed {snap.invalid} invalid")
        self._progress.update(self._task, completed=snap.done, total=snap.total, rates=rates)

    def finish(self, summary: BatchSummary | None) -> None:
        if summary is not None:  # the exact final count (the total was counted roughly, blank lines too)
            done = summary.succeeded + summary.failed + summary.invalid
            self._progress.update(self._task, completed=done, total=done)
        self._progress.stop()
        if summary is not None:
            sys.stderr.write(f"batch done: {summary}\n")


def make_progress(setting: ProgressSetting) -> Progress:
    """None/True: a bar on a terminal (with rich), plain lines otherwise; False: nothing;
    "bar" / "plain" to choose; a reporter object or a function of a :class:`Snapshot`."""
    if setting is False:
        return Quiet()
    if setting is None or setting is True or setting == "bar":
        if setting == "bar" or sys.stderr.isatty():
            try:
                return Bar()
            except ImportError:
                pass
        return Plain()
    if setting == "plain":
        return Plain()
    if hasattr(setting, "update") and hasattr(setting, "finish"):
        return setting
    if callable(setting):
        return Callback(setting)
    raise ValueError(f"progress must be None, a bool, 'bar', 'plain', a reporter or a function, got {setting!r}")
