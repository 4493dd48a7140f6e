"""Printing an answer as it streams: reasoning dimmed, content plain, tool calls in cyan.

Each kind of output starts on its own line, so reasoning that runs into the answer (or
an answer followed by a tool call) stays readable; piped output loses the styles but
keeps that layout.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from .._protocol.events import Content, Reasoning, ToolCallComplete
from .._protocol.events import Text as CompletionText
from .._protocol.types import ChatCompletion, ToolCall

_STYLES = {"reasoning": "dim", "content": "", "tool": "cyan"}


class AnswerPrinter:
    """Writes the pieces of one answer (streamed events or a whole response) to a console."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._kind: str | None = None
        self._at_line_start = True

    def write(self, kind: str, text: str) -> None:
        """Append ``text`` of ``kind`` ("reasoning", "content", "tool"); a new kind starts a line."""
        if not text:
            return
        if self._kind not in (None, kind) and not self._at_line_start:
            self.console.print()
        self._kind = kind
        self.console.print(Text(text, style=_STYLES[kind]), end="")
        self._at_line_start = text.endswith("\n")

    def tool_call(self, call: ToolCall) -> None:
        self.write("tool", f"-> tool call {call.name}({call.arguments})\n")

    def event(self, event: Any) -> None:
        """One chat or completion stream event; usage, finish and done events print nothing
        (the summary line reports them)."""
        cls = event.__class__
        if getattr(event, "choice_index", 0) != 0:
            return  # the CLI asks for one choice; a server that sends more shows the first
        if cls is Content or cls is CompletionText:
            self.write("content", event.text)
        elif cls is Reasoning:
            self.write("reasoning", event.text)
        elif cls is ToolCallComplete:
            self.tool_call(event.tool_call)

    def response(self, resp: ChatCompletion) -> None:
        """A whole (non-streamed) answer, laid out as its stream would have been."""
        self.write("reasoning", resp.reasoning or "")
        self.write("content", resp.content or "")
        for call in resp.tool_calls:
            self.tool_call(call)

    def end(self) -> None:
        """Finish the answer's last line (the shell prompt should not follow it)."""
        if not self._at_line_start:
            self.console.print()
            self._at_line_start = True
        self._kind = None
