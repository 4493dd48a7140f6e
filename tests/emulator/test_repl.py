"""The chat REPL's pure parts: what an interrupted answer leaves in the history, Ctrl-C at
the prompt, and empty input refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_cli import cli

import vllm_client.cli._repl as repl
from vllm_client import ChatCompletion
from vllm_client.testing import MockVllmServer


def _answer(content: str) -> ChatCompletion:
    return ChatCompletion({"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": None}]})


def _script(monkeypatch: pytest.MonkeyPatch, lines: list[Any]) -> None:
    """Feed the REPL these lines (an exception instance is raised where it stands)."""
    feed: Iterator[Any] = iter(lines)

    def read(interactive: bool) -> str | None:
        return next(feed, None)

    monkeypatch.setattr(repl, "_read_line", read)
    monkeypatch.setattr(repl, "_enable_line_editing", lambda: None)


def test_an_interrupted_answer_stays_in_the_history(monkeypatch: pytest.MonkeyPatch) -> None:
    _script(monkeypatch, ["first question", "second question"])
    seen: list[list[dict[str, Any]]] = []

    def turn(messages: list[dict[str, Any]]) -> ChatCompletion:
        seen.append(messages)
        if len(seen) == 1:
            raise repl.AnswerInterrupted(_answer("half an ans"))
        return _answer("fine")

    assert repl.run_repl(turn, system=None, interactive=True)
    assert seen[1] == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "half an ans" + repl.INTERRUPTED},
        {"role": "user", "content": "second question"},
    ]


def test_an_interrupt_before_any_text_keeps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _script(monkeypatch, ["first", "second"])
    seen: list[list[dict[str, Any]]] = []

    def turn(messages: list[dict[str, Any]]) -> ChatCompletion:
        seen.append(messages)
        if len(seen) == 1:
            raise repl.AnswerInterrupted(_answer(""))
        return _answer("ok")

    repl.run_repl(turn, system="be brief", interactive=True)
    assert seen[1] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "second"}]


def test_ctrl_c_at_the_prompt_clears_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    typed: Iterator[Any] = iter([KeyboardInterrupt(), "/exit"])

    class Console:
        def input(self, prompt: Any) -> str:
            item = next(typed)
            if isinstance(item, BaseException):
                raise item
            return str(item)

        def print(self, *args: Any) -> None:
            pass

    monkeypatch.setattr(repl, "console", Console)
    assert repl._read_line(True) == "/exit"  # the interrupt cleared the line, the session goes on


def test_ctrl_d_at_the_prompt_ends_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    class Console:
        def input(self, prompt: Any) -> str:
            raise EOFError

    monkeypatch.setattr(repl, "console", Console)
    assert repl._read_line(True) is None


def test_empty_stdin_is_refused(vllm_mock: MockVllmServer) -> None:
    result = cli(vllm_mock, "chat", "-", input="\n")
    assert result.exit_code == 1
    assert "nothing to send: stdin is empty" in result.stderr
    assert vllm_mock.requests_to("/v1/chat/completions") == []
