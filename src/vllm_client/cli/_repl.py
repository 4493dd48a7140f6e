"""The interactive chat: one turn per line, the history kept across turns.

It reads lines from any stream: a terminal (with a prompt and line editing) or a pipe
(``printf 'hi\\nand?\\n' | vllm-client chat`` is a scripted multi-turn conversation).
A failed turn is reported and leaves the history as it was, so the user can simply
retry; on a terminal Ctrl-C abandons the answer being streamed, not the session.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.text import Text

from .._protocol.types import ChatCompletion
from ._app import USER_ERRORS
from ._output import console, error_line, notice

Turn = Callable[[list[dict[str, Any]]], ChatCompletion]

HELP = "/reset forgets the conversation, /exit (or Ctrl-D) ends it"
_PROMPT = Text(">>> ", style="bold green")


#: appended to an answer cut short by Ctrl-C, so the model (and the user) can tell later
INTERRUPTED = " [interrupted]"


class AnswerInterrupted(KeyboardInterrupt):
    """Ctrl-C while an answer streamed, with what had arrived (``partial``)."""

    def __init__(self, partial: ChatCompletion) -> None:
        super().__init__()
        self.partial = partial


def _read_line(interactive: bool) -> str | None:
    """The next line, or None at the end of input. On a terminal Ctrl-C clears the line
    being typed (as in a shell); Ctrl-D, or /exit, ends the session."""
    if interactive:
        while True:
            try:
                return console().input(_PROMPT)
            except EOFError:
                return None
            except KeyboardInterrupt:
                console().print()  # a fresh prompt on a fresh line
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None


def run_repl(turn: Turn, *, system: str | None, interactive: bool, debug: bool = False) -> bool:
    """Chat until /exit or the end of input; ``turn(messages)`` shows one answer and
    returns it. Returns whether every turn succeeded (the exit status of a piped session)."""
    if interactive:
        _enable_line_editing()
        notice(HELP)
    start: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    history = list(start)
    ok = True
    while (line := _read_line(interactive)) is not None:
        command = line.strip()
        if not command:
            continue
        if command in ("/exit", "/quit"):
            break
        if command == "/reset":
            history = list(start)
            notice("(conversation reset)")
            continue
        if command.startswith("/") and " " not in command:
            notice(f"unknown command {command}: {HELP}")
            continue
        messages = [*history, {"role": "user", "content": line}]
        try:
            answer = turn(messages)
        except USER_ERRORS as exc:
            if debug:
                raise
            error_line(exc)
            ok = False
            continue
        except KeyboardInterrupt as exc:
            if not interactive:
                raise
            partial = exc.partial if isinstance(exc, AnswerInterrupted) else None
            if partial is not None and (partial.content or partial.reasoning):
                # keep the question and what was said: the next turn can refer to it
                history = [*messages, _interrupted_message(partial)]
                notice("(answer interrupted; kept in the conversation)")
            else:
                notice("(answer interrupted)")  # the printer has already ended the line
            continue
        history = [*messages, answer.assistant_message()]
    return ok


def _enable_line_editing() -> None:
    """Arrow keys and history for ``input()`` where the platform has readline."""
    try:
        import readline  # noqa: F401  (importing it is what enables it)
    except ImportError:
        pass


def _interrupted_message(partial: ChatCompletion) -> dict[str, Any]:
    message = partial.assistant_message()
    message["content"] = (message.get("content") or "") + INTERRUPTED
    return message
