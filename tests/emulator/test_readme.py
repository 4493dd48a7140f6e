"""The README's Python snippets run as written, in order, against the emulator (the URL
``http://localhost:8000`` they use is pointed at it). A ``<!-- readme-test: CODE -->``
comment right before a snippet scripts the emulator's answers for it (``server`` is the
emulator), for answers a real model gives and the emulator would not."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from vllm_client.testing import MockVllmServer, ToolCall

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"(?:<!-- readme-test: (?P<setup>.*?) -->\n)?```python\n(?P<code>.*?)```", re.DOTALL)


def snippets() -> list[tuple[str, str]]:
    return [(m["setup"] or "", m["code"]) for m in BLOCK.finditer(README.read_text())]


def test_the_readme_has_snippets() -> None:
    assert len(snippets()) >= 6


def test_every_readme_snippet_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                   tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # snippets that write files (the batch one) write them here
    with MockVllmServer() as server:
        monkeypatch.setenv("VLLM_BASE_URL", server.base_url)
        namespace: dict[str, Any] = {"__name__": "readme"}
        for index, (setup, code) in enumerate(snippets()):
            if setup:
                exec(setup, {"server": server, "ToolCall": ToolCall})
            source = code.replace("http://localhost:8000", server.url)
            try:
                exec(compile(source, f"README.md snippet {index + 1}", "exec"), namespace)
            except Exception as exc:  # pragma: no cover - the failure message is the point
                pytest.fail(f"README snippet {index + 1} failed: {exc!r}\n{code}")
    out = capsys.readouterr().out
    assert "get_weather {'location': 'Paris'}" in out  # the scripted tool call went through
    assert "21 C in Paris." in out
    assert "queued" in out and "after " in out  # the Responses snippets: a background job, a stream's end
