"""``vllm-client responses``, ``lora``, ``transcribe`` against the emulator (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

from test_audio_client import wav
from test_cli import cli
from test_lora_client import adapter_dir

from vllm_client.testing import MockVllmServer


def test_responses_streams_the_output_text(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("Paris is the capital.")
    result = cli(vllm_mock, "responses", "Capital of France?", "--max-output-tokens", "16", "-s", "Be brief.")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "Paris is the capital."
    sent = vllm_mock.requests_to("/v1/responses")[-1].json
    assert sent["input"] == "Capital of France?" and sent["instructions"] == "Be brief."
    assert sent["max_output_tokens"] == 16 and sent["stream"] is True
    assert "output tokens" in result.stderr


def test_responses_json(vllm_mock: MockVllmServer) -> None:
    result = cli(vllm_mock, "responses", "hi", "--json", "--max-output-tokens", "4")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["object"] == "response"


def test_lora_load_list_unload(vllm_mock: MockVllmServer, tmp_path: Path) -> None:
    path = adapter_dir(tmp_path)
    loaded = cli(vllm_mock, "lora", "load", "sql", str(path))
    assert loaded.exit_code == 0, loaded.stderr
    listed = cli(vllm_mock, "lora", "list")
    assert listed.exit_code == 0 and listed.stdout.splitlines() == [f"sql\t{vllm_mock.model}"]
    again = cli(vllm_mock, "lora", "load", "sql", str(path))
    assert again.exit_code == 1 and "has already been loaded" in again.stderr
    unloaded = cli(vllm_mock, "lora", "unload", "sql")
    assert unloaded.exit_code == 0, unloaded.stderr
    assert cli(vllm_mock, "lora", "list").stdout == ""


def test_lora_load_without_a_path_is_a_usage_error(vllm_mock: MockVllmServer) -> None:
    result = cli(vllm_mock, "lora", "load", "sql")
    assert result.exit_code == 2 and vllm_mock.requests_to("/v1/load_lora_adapter") == []


def test_transcribe_a_file(tmp_path: Path) -> None:
    audio = tmp_path / "talk.wav"
    audio.write_bytes(wav())
    with MockVllmServer(task="transcription") as server:
        result = cli(server, "transcribe", str(audio), "--language", "en")
        assert result.exit_code == 0, result.stderr
        assert result.stdout.strip()
        assert server.requests_to("/v1/audio/transcriptions")
        translated = cli(server, "transcribe", str(audio), "--translate", "--json")
        assert translated.exit_code == 0, translated.stderr
        assert "text" in json.loads(translated.stdout)
        assert server.requests_to("/v1/audio/translations")
