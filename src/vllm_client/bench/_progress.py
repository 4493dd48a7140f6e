"""Live progress of a bench run: a rich view with running percentiles on a terminal, a plain
line every few seconds in a pipe, or nothing.

The dispatch loop calls :meth:`tick` before each wait, so ``tick`` returns at once unless
the refresh period has passed; the running percentiles are computed only then, over the
last :data:`_WINDOW` completed requests, so the view costs the loop a clock read per wake-up
and a sort of a few thousand numbers a couple of times a second.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, Union

from ._config import BenchConfig
from ._records import RequestRecord
from ._stats import percentile

if TYPE_CHECKING:
    from ._result import BenchResult

__all__ = ["ProgressSetting", "make_progress"]

ProgressSetting = Union[None, bool, str, Callable[[dict[str, Any]], Any]]
"""None: rich on a terminal, plain lines otherwise; False: nothing; "rich"/"plain"; or a
function called with each snapshot dict."""

_WINDOW = 2000


class Progress:
    """Collects records; every ``period`` seconds hands a snapshot to ``show``."""

    def __init__(self, config: BenchConfig, show: Callable[[dict[str, Any]], Any] | None, period: float,
                 close: Callable[[], None] | None = None) -> None:
        self._show = show
        self._period = period
        self._close = close
        self._total = config.load.num_requests
        self._duration = config.load.duration
        self._recent: deque[RequestRecord] = deque(maxlen=_WINDOW)
        self._done = 0
        self._failed = 0
        self._tokens = 0
        self._origin = 0.0
        self._clock: Callable[[], float] | None = None
        self._next = 0.0

    def begin(self, origin: float, clock: Callable[[], float]) -> None:
        self._origin, self._clock = origin, clock
        self._next = origin + self._period

    def record(self, rec: RequestRecord) -> None:
        self._done += 1
        if rec.ok:
            self._tokens += rec.output_tokens or 0
            self._recent.append(rec)
        else:
            self._failed += 1

    def snapshot(self, now: float) -> dict[str, Any]:
        elapsed = now - self._origin
        ttft = sorted(r.ttft_s for r in self._recent if r.ttft_s is not None)
        tpot = sorted(r.tpot_s for r in self._recent if r.tpot_s is not None)

        def pct(xs: list[float], q: float) -> float | None:
            return percentile(xs, q, presorted=True) * 1000.0 if xs else None

        return {
            "elapsed_s": elapsed, "done": self._done, "failed": self._failed, "total": self._total,
            "duration": self._duration, "output_tokens": self._tokens,
            "request_rate": self._done / elapsed if elapsed > 0 else 0.0,
            "output_throughput": self._tokens / elapsed if elapsed > 0 else 0.0,
            "p50_ttft_ms": pct(ttft, 50), "p99_ttft_ms": pct(ttft, 99),
            "p50_tpot_ms": pct(tpot, 50), "p99_tpot_ms": pct(tpot, 99),
        }

    def tick(self) -> None:
        clock = self._clock
        if clock is None or self._show is None:
            return
        now = clock()
        if now < self._next:
            return
        self._next = now + self._period
        self._show(self.snapshot(now))

    def finish(self, result: BenchResult | None) -> None:
        if self._close is not None:
            self._close()


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def line(s: dict[str, Any]) -> str:
    total = f"/{s['total']}" if s["total"] else ""
    return (f"bench {s['elapsed_s']:.0f}s: {s['done']}{total} done ({s['failed']} failed), "
            f"{s['request_rate']:.2f} req/s, {s['output_throughput']:.0f} tok/s, "
            f"TTFT p50/p99 {_fmt(s['p50_ttft_ms'])}/{_fmt(s['p99_ttft_ms'])} ms, "
            f"TPOT p50/p99 {_fmt(s['p50_tpot_ms'])}/{_fmt(s['p99_tpot_ms'])} ms")


def _plain(stream: IO[str]) -> Callable[[dict[str, Any]], None]:
    def show(s: dict[str, Any]) -> None:
        stream.write(line(s) + "\n")
        stream.flush()

    return show


def _rich(config: BenchConfig) -> Progress:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    live = Live(console=Console(stderr=True), auto_refresh=False, transient=False)
    live.start()

    def show(s: dict[str, Any]) -> None:
        table = Table(title="vllm-client bench", show_header=True, expand=False)
        for col in ("elapsed", "done", "failed", "req/s", "tok/s", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99"):
            table.add_column(col, justify="right")
        total = f"/{s['total']}" if s["total"] else ""
        table.add_row(f"{s['elapsed_s']:.0f}s", f"{s['done']}{total}", str(s["failed"]), f"{s['request_rate']:.2f}",
                      f"{s['output_throughput']:.0f}", _fmt(s["p50_ttft_ms"]), _fmt(s["p99_ttft_ms"]),
                      _fmt(s["p50_tpot_ms"]), _fmt(s["p99_tpot_ms"]))
        live.update(table, refresh=True)

    return Progress(config, show, 0.5, close=live.stop)


def make_progress(setting: ProgressSetting, config: BenchConfig) -> Progress:
    if setting is False:
        return Progress(config, None, 1.0)
    if callable(setting):
        return Progress(config, setting, 1.0)
    err = sys.stderr
    if setting == "rich" or (setting is None and err.isatty()):
        try:
            return _rich(config)
        except ImportError:  # rich is the cli extra
            pass
    return Progress(config, _plain(err), 5.0)
