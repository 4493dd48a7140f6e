"""Every example in ``examples/`` runs against the emulator (``--mock``) and prints what it should."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: script -> lines its --mock run must print
EXPECTED = {
    "weather_agent.py": ["tool schema name: get_weather", "[tool] get_weather('Paris'", "answer: Paris is warmer",
                         "transcript: system -> user -> assistant -> tool -> tool -> assistant"],
    "extract_json.py": ["parsed: Person(name='Ada Lovelace', born=1815, city='London')", "born is an int: True",
                        "truncated: err.finish_reason='length'"],
    "image_question.py": ["sent: image_url data:image/png;base64,", "answer: Red."],
    "multi_turn_chat.py": ["assistant: Paris.", "branch assistant: Berlin", "history: 5 messages (branch: 7)",
                           "after reset: 1 message(s)"],
    "stream_reasoning.py": ["(finish: stop)", "reasoning: 'Six sevens", "answer: '6 times 7 is 42.'"],
    "batch_file.py": ["first run: 5 lines: 3 succeeded, 1 failed (http_400 1), 1 invalid", ": HTTP 400",
                      "error invalid_request: line 5 is not valid JSON", "resumed: 2 skipped, 3 written", "lines: 5"],
}


def test_every_example_is_covered() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")} - {"demo.py"}
    assert scripts == set(EXPECTED)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs_on_the_emulator(script: str) -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / script), "--mock"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    for line in EXPECTED[script]:
        assert line in result.stdout, f"{script}: {line!r} not in output:\n{result.stdout}"


def test_the_demo_accepts_mock() -> None:
    result = subprocess.run([sys.executable, str(EXAMPLES / "demo.py"), "--mock"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "demo finished" in result.stdout


def test_an_example_against_a_server_that_fails_ends_with_one_line() -> None:
    from vllm_client.testing import MockVllmServer

    with MockVllmServer() as server:
        server.queue_chat('{"name": "Ada', finish_reason="length")  # the model did not finish the object
        done = subprocess.run([sys.executable, str(EXAMPLES / "extract_json.py"), "--base-url", server.base_url],
                              capture_output=True, text=True, timeout=120, check=False)
        server.fail_next(400, message="grammar backend unavailable", times=None)
        failed = subprocess.run([sys.executable, str(EXAMPLES / "extract_json.py"), "--base-url", server.base_url],
                                capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "did not produce a whole Person" in done.stdout, done.stderr
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith("error: 400") and "grammar backend unavailable" in failed.stderr
