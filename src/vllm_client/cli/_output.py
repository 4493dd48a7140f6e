"""Where and how the CLI prints.

Results go to stdout and everything about them (summaries, errors, notices) to stderr, so
``vllm-client chat ... > answer.txt`` keeps only the answer. Machine-readable output
(``--json``) is plain ``print``: no colours, no wrapping, whatever the terminal.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from .._stream_metrics import StreamMetrics

#: Width used when stdout is not a terminal: rich would otherwise fold tables to 80
#: columns, which breaks ``grep`` and ``cut`` on long metric names.
_PIPE_WIDTH = 4096


def console(*, stderr: bool = False) -> Console:
    """A console for this invocation. Built per command (not at import) so it follows
    whatever ``sys.stdout``/``sys.stderr`` are now: a test runner's, a pipe, a terminal.
    rich is imported here, on first use: commands that print plain text never load it."""
    from rich.console import Console

    con = Console(stderr=stderr, soft_wrap=True, highlight=False, emoji=False, markup=False)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con.width = _PIPE_WIDTH
    return con


def print_json(data: Any) -> None:
    """The JSON as received (non-ASCII kept), for ``jq`` and scripts."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def error_line(exc: BaseException) -> None:
    """One red line on stderr: what failed and why, without a traceback."""
    message = " ".join(str(exc).split())  # an error message spread over lines stays one line
    name = type(exc).__name__
    if not message:
        text = f"error: {name}"
    elif name in message:  # vLLM's error type is often the class name: say it once
        text = f"error: {message}"
    else:
        text = f"error: {name}: {message}"
    from rich.text import Text

    console(stderr=True).print(Text(text, style="red"))


def notice(message: str) -> None:
    """A dim status line on stderr (summaries, REPL notices)."""
    from rich.text import Text

    console(stderr=True).print(Text(message, style="dim"))


def number(value: float) -> str:
    """Counters as integers, everything else as Python writes floats (never 1.2e+06 for a count)."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def stream_summary(metrics: StreamMetrics) -> str:
    """``12 tokens, TTFT 35 ms, 410.2 tokens/s, 0.06 s``: what a user tuning a server wants to see."""
    parts = [f"{metrics.completion_tokens or 0} tokens"]
    if metrics.ttft_s is not None:
        parts.append(f"TTFT {metrics.ttft_s * 1000:.0f} ms")
    if metrics.tokens_per_s is not None:
        parts.append(f"{metrics.tokens_per_s:.1f} tokens/s")
    if metrics.total_s is not None:
        parts.append(f"{metrics.total_s:.2f} s")
    return ", ".join(parts)


def response_summary(tokens: int | None, total_s: float | None) -> str:
    """The summary of a non-streamed answer: no TTFT exists, only the count and the time."""
    parts = [f"{tokens or 0} tokens"]
    if total_s is not None:
        parts.append(f"{total_s:.2f} s")
    return ", ".join(parts)
