"""``vllm-client metrics watch`` against the emulator's /metrics (vLLM 0.32's series)."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from vllm_client import VllmClient
from vllm_client.cli import get_app
from vllm_client.cli._watch import watch
from vllm_client.testing import MockVllmServer

MSGS = [{"role": "user", "content": "hi " * 40}]  # > 16 tokens: a repeat hits the prefix cache


def fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


def test_plain_lines_for_two_servers() -> None:
    with MockVllmServer() as one, MockVllmServer() as two:
        with VllmClient(one.base_url) as client:
            client.chat.completions.create(messages=MSGS, max_tokens=5)
        argv = ["metrics", "watch", one.url, two.url, "--count", "2", "--interval", "0"]
        result = CliRunner().invoke(get_app(), argv, env={"VLLM_BASE_URL": None})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4  # two refreshes of two servers (CliRunner is a pipe: plain lines)
    first_one, first_two = fields(lines[0]), fields(lines[1])
    assert one.url in lines[0] and two.url in lines[1]
    assert first_one["running"] == "0" and first_one["kv_cache"] == "0.0%"
    assert first_one["e2e_p50/p90/p99"].startswith("≈")  # one request since start
    assert first_two["e2e_p50/p90/p99"] == "-/-/-"  # none
    assert "(since start)" in lines[0] and "(since start)" not in lines[2]


def test_window_rates_and_prefix_hits(vllm_mock: MockVllmServer, capsys: Any) -> None:
    scrapes = 0
    with VllmClient(vllm_mock.base_url) as client:

        def between(_seconds: float) -> None:  # the traffic of the window, instead of a sleep
            nonlocal scrapes
            scrapes += 1
            client.chat.completions.create(messages=MSGS, max_tokens=5)
            client.chat.completions.create(messages=MSGS, max_tokens=5)

        watch([client], interval=1.0, count=2, plain=True, sleep=between)
    lines = capsys.readouterr().out.splitlines()
    assert scrapes == 1 and len(lines) == 2
    window = fields(lines[1])
    assert float(window["gen_tok/s"]) > 0 and float(window["req/s"]) > 0
    assert window["prefix_hit"] not in ("-", "0.0%")  # the second identical prompt hit whole blocks
    assert window["ttft_p50/p90/p99"].startswith("≈") and window["e2e_p50/p90/p99"].startswith("≈")


def test_a_server_that_does_not_answer(capsys: Any) -> None:
    server = MockVllmServer().start()
    url = server.base_url
    server.stop()
    with VllmClient(url, max_retries=0) as client:
        watch([client], interval=0, count=1, plain=True, sleep=lambda s: None)
    assert "error=" in capsys.readouterr().out


def test_terminal_table(vllm_mock: MockVllmServer) -> None:
    from rich.console import Console

    from vllm_client.cli._watch import _Scraper, _table

    with VllmClient(vllm_mock.base_url) as client:
        client.chat.completions.create(messages=MSGS, max_tokens=5)
        scraper = _Scraper(client)
        view, error = scraper.scrape()
    console = Console(record=True, width=250)
    console.print(_table([(scraper.url, view, error), ("http://down:1/v1", None, "refused")], 2.0))
    text = console.export_text()
    assert "TTFT p50/p90/p99" in text and "(since start)" in text and "error: refused" in text
