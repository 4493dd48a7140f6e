"""``vllm-client metrics watch``: a live view of one or more vLLM servers.

Every ``--interval`` seconds each server's ``/metrics`` is scraped and the window since the
previous scrape is shown (:mod:`vllm_client._server_view`): a table redrawn in place on a
terminal (rich ``Live``), one plain ``key=value`` line per server and refresh in a pipe or
with ``--plain``, so ``| grep`` and logs work. Percentiles are marked ``≈`` (bucket
interpolation), ``>`` when they fall in the ``+Inf`` bucket, ``-`` when the window saw no
request. A server that does not answer shows its error and is scraped again next time.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from .._config import redact_url
from .._errors import VllmError
from .._protocol.metrics_text import Sample, parse_samples
from .._protocol.requests import build_simple
from .._server_view import QUANTILES, Percentiles, ServerView, server_view
from .._sync.client import VllmClient

__all__ = ["format_line", "watch"]

DASH = "-"


def _fraction(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def _rate(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


def _count(value: float | None) -> str:
    return DASH if value is None else f"{value:g}"


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


def _quantiles(p: Percentiles) -> str:
    out = []
    for value, overflow in zip(p.values, p.overflow, strict=True):
        if math.isnan(value):
            out.append(DASH)
        else:
            out.append((">" if overflow else "≈") + _seconds(value))
    return "/".join(out)


def _labels() -> str:
    return "/".join(f"p{round(q * 100)}" for q in QUANTILES)


def format_line(url: str, view: ServerView | None, error: str | None = None) -> str:
    """The plain (pipe) form: one line per server and refresh."""
    stamp = time.strftime("%H:%M:%S")
    if view is None:
        return f"{stamp} {url} error={error}"
    parts = [
        f"{stamp} {url}",
        f"running={_count(view.running)}",
        f"waiting={_count(view.waiting)}",
        f"kv_cache={_fraction(view.kv_usage)}",
        f"prefix_hit={_fraction(view.prefix_hit_rate)}",
        f"gen_tok/s={_rate(view.generation_tps)}",
        f"prompt_tok/s={_rate(view.prompt_tps)}",
        f"req/s={_rate(view.requests_per_s)}",
        f"preempt/s={_rate(view.preemptions_per_s)}",
        f"ttft_{_labels()}={_quantiles(view.ttft)}",
        f"e2e_{_labels()}={_quantiles(view.e2e)}",
    ]
    if view.since_start:
        parts.append("(since start)")
    if view.restarted:
        parts.append("(restarted)")
    return " ".join(parts)


def _table(rows: Sequence[tuple[str, ServerView | None, str | None]], interval: float) -> Any:
    from rich.table import Table

    table = Table(title=f"vLLM servers (every {interval:g}s; Ctrl-C to stop)", title_justify="left")
    for name in ("server", "run", "wait", "KV", "prefix hit", "gen tok/s", "prompt tok/s", "req/s", "preempt/s",
                 f"TTFT {_labels()}", f"E2E {_labels()}"):
        table.add_column(name, justify="left" if name == "server" else "right", no_wrap=True)
    for url, view, error in rows:
        if view is None:
            table.add_row(url, f"error: {error}", *[""] * 9)
            continue
        note = " (since start)" if view.since_start else " (restarted)" if view.restarted else ""
        table.add_row(url + note, _count(view.running), _count(view.waiting), _fraction(view.kv_usage),
                      _fraction(view.prefix_hit_rate), _rate(view.generation_tps), _rate(view.prompt_tps),
                      _rate(view.requests_per_s), _rate(view.preemptions_per_s), _quantiles(view.ttft),
                      _quantiles(view.e2e))
    return table


class _Scraper:
    """One server: its client and the previous scrape."""

    def __init__(self, client: VllmClient) -> None:
        self.client = client
        self.url = redact_url(client.base_url)
        self.before: list[Sample] | None = None
        self.at = 0.0

    def scrape(self) -> tuple[ServerView | None, str | None]:
        try:
            body, _, _ = self.client._request_bytes(build_simple("GET", "/metrics", root=True))
        except VllmError as exc:
            return None, " ".join(str(exc).split())
        now = time.monotonic()
        samples = parse_samples(body.decode("utf-8", "replace"))
        view = server_view(self.before, samples, now - self.at)
        self.before, self.at = samples, now
        return view, None


def watch(clients: Sequence[VllmClient], *, interval: float, count: int, plain: bool,
          sleep: Callable[[float], None] = time.sleep) -> None:
    """Scrape and show every ``interval`` seconds, ``count`` times (0: until Ctrl-C)."""
    scrapers = [_Scraper(c) for c in clients]
    live = None
    if not plain and sys.stdout.isatty():
        from rich.live import Live

        from ._output import console

        live = Live(console=console(), auto_refresh=False)
        live.start()
    try:
        done = 0
        while True:
            rows = [(s.url, *s.scrape()) for s in scrapers]
            if live is not None:
                live.update(_table(rows, interval), refresh=True)
            else:
                for url, view, error in rows:
                    sys.stdout.write(format_line(url, view, error) + "\n")
                sys.stdout.flush()
            done += 1
            if count and done >= count:
                return
            sleep(interval)
    finally:
        if live is not None:
            live.stop()
