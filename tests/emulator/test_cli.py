"""The ``vllm-client`` command line against the emulator.

Most tests run the typer app in-process with CliRunner (stdout and stderr captured
apart); the ones about processes (``python -m vllm_client``, Ctrl-C, ``mock-server``
and its signals, the missing-extra message) run a real subprocess.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import IO, Any

import pytest
from typer.testing import CliRunner, Result

from vllm_client import VllmClient, __version__
from vllm_client.cli import MISSING_EXTRA, get_app
from vllm_client.testing import MockVllmServer, ToolCall

POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
#: Environment without the user's VLLM_* settings, so only what a test passes counts.
CLEAN_ENV: dict[str, str | None] = dict.fromkeys(("VLLM_BASE_URL", "VLLM_API_KEY", "VLLM_TIMEOUT",
                                                  "VLLM_MAX_RETRIES"))


def cli(server: MockVllmServer | None, command: str, *args: str, input: str | None = None,
        env: Mapping[str, str] | None = None) -> Result:
    """Run ``vllm-client <command> [--base-url <server>] <args>`` in-process."""
    argv = [command, *(["--base-url", server.url] if server is not None else []), *args]
    return CliRunner().invoke(get_app(), argv, input=input, env={**CLEAN_ENV, **(env or {})})


def body(server: MockVllmServer, path: str = "/v1/chat/completions") -> dict[str, Any]:
    requests = server.requests_to(path)
    assert len(requests) == 1, [r.path for r in server.requests]
    data: dict[str, Any] = requests[0].json
    return data


# --- chat --------------------------------------------------------------------------------------
def test_chat_streams_the_answer_and_a_summary(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("Paris is the capital.")
    result = cli(vllm_mock, "chat", "Capital of France?")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Paris is the capital.\n"
    summary = result.stderr.strip()
    assert "tokens" in summary and "TTFT" in summary and "\n" not in summary
    sent = body(vllm_mock)
    assert sent["stream"] is True
    assert sent["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert "max_tokens" not in sent and "temperature" not in sent  # only what the user gave


def test_chat_no_stream_and_quiet(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("Paris.", times=2)
    result = cli(vllm_mock, "chat", "--no-stream", "Capital?")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Paris.\n"
    assert "tokens" in result.stderr and "TTFT" not in result.stderr  # no first token without a stream
    assert not body(vllm_mock).get("stream")
    quiet = cli(vllm_mock, "chat", "-q", "Capital?")
    assert quiet.stdout == "Paris.\n" and quiet.stderr == ""


def test_chat_json_prints_the_server_response(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("Paris.", usage={"completion_tokens": 3})
    result = cli(vllm_mock, "chat", "--json", "Capital?")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"]["content"] == "Paris."
    assert data["usage"]["completion_tokens"] == 3
    assert result.stderr == ""


def test_chat_reads_the_question_from_stdin(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("42.")
    result = cli(vllm_mock, "chat", "-", "--system", "Be terse.", input="What is 6*7?\nReally?\n")
    assert result.exit_code == 0, result.output
    assert body(vllm_mock)["messages"] == [{"role": "system", "content": "Be terse."},
                                           {"role": "user", "content": "What is 6*7?\nReally?"}]


def test_chat_sampling_options_and_extra(vllm_mock: MockVllmServer) -> None:
    result = cli(vllm_mock, "chat", "hi", "--max-tokens", "7", "--temperature", "0.5", "--top-p", "0.9",
                 "--top-k", "20", "--seed", "3", "--extra", "ignore_eos=true", "-e", 'stop=["END"]',
                 "-e", "user=bob", "-e", "min_p=0.05")
    assert result.exit_code == 0, result.output
    sent = body(vllm_mock)
    assert (sent["max_tokens"], sent["temperature"], sent["top_p"], sent["top_k"], sent["seed"]) == (7, 0.5, 0.9, 20, 3)
    assert sent["ignore_eos"] is True and sent["stop"] == ["END"] and sent["user"] == "bob"
    assert sent["min_p"] == 0.05


def test_extra_without_equals_is_a_usage_error(vllm_mock: MockVllmServer) -> None:
    result = cli(vllm_mock, "chat", "hi", "--extra", "ignore_eos")
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output
    assert vllm_mock.requests == []  # nothing sent


def test_chat_shows_reasoning_and_tool_calls(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat(reasoning="Need the weather.", tool_calls=[ToolCall("get_weather", {"city": "Paris"})])
    result = cli(vllm_mock, "chat", "Weather in Paris?")
    assert result.exit_code == 0, result.output
    assert result.stdout == 'Need the weather.\n-> tool call get_weather({"city": "Paris"})\n'


def test_chat_think_tags_split_reasoning_from_the_answer(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("<think>6 times 7</think>42.", times=2)
    plain = cli(vllm_mock, "chat", "-q", "6*7?")
    assert plain.stdout == "<think>6 times 7</think>42.\n"
    split = cli(vllm_mock, "chat", "-q", "--think-tags", "6*7?")
    assert split.stdout == "6 times 7\n42.\n"  # reasoning, then the answer on its own line


def test_base_url_from_the_environment(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("from env")
    result = cli(None, "chat", "hi", env={"VLLM_BASE_URL": vllm_mock.base_url})
    assert result.exit_code == 0, result.output
    assert result.stdout == "from env\n"


def test_api_key_option_and_env_and_never_printed() -> None:
    with MockVllmServer(api_key="sk-secret-123") as server:
        denied = cli(server, "models", "--api-key", "sk-wrong-456")
        assert denied.exit_code == 1
        assert denied.stderr.startswith("error: AuthenticationError:")
        assert "sk-wrong-456" not in denied.output
        assert cli(server, "models", "--api-key", "sk-secret-123").exit_code == 0
        assert cli(server, "models", env={"VLLM_API_KEY": "sk-secret-123"}).exit_code == 0
        assert server.last_request.headers["authorization"] == "Bearer sk-secret-123"


# --- errors ------------------------------------------------------------------------------------
def test_library_error_is_one_red_line_and_exit_1(vllm_mock: MockVllmServer) -> None:
    result = cli(vllm_mock, "chat", "--model", "no-such-model", "hi")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ModelNotFoundError: ") and "no-such-model" in lines[0]
    assert "Traceback" not in result.output


def test_debug_keeps_the_exception(vllm_mock: MockVllmServer) -> None:
    result = cli(vllm_mock, "chat", "--model", "no-such-model", "--debug", "hi")
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "ModelNotFoundError"


def test_connection_error_is_reported(vllm_mock: MockVllmServer) -> None:
    url = vllm_mock.url
    vllm_mock.stop()
    result = CliRunner().invoke(get_app(), ["version", "--base-url", url], env={**CLEAN_ENV, "VLLM_MAX_RETRIES": "0"})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: APIConnectionError")


# --- the interactive chat ------------------------------------------------------------------------
def test_repl_keeps_history_resets_and_exits(vllm_mock: MockVllmServer) -> None:
    for answer in ("A1", "A2", "A3"):
        vllm_mock.queue_chat(answer)
    lines = "first\nsecond\n/reset\nthird\n/exit\nnever sent\n"
    result = cli(vllm_mock, "chat", "-q", "--system", "S", input=lines)
    assert result.exit_code == 0, result.output
    assert result.stdout == "A1\nA2\nA3\n"
    sent = [r.json["messages"] for r in vllm_mock.requests_to("/v1/chat/completions")]
    assert len(sent) == 3
    assert [m["content"] for m in sent[1]] == ["S", "first", "A1", "second"]
    assert [m["content"] for m in sent[2]] == ["S", "third"]  # /reset kept only the system prompt
    assert "(conversation reset)" in result.stderr


def test_repl_reports_a_failed_turn_and_goes_on(vllm_mock: MockVllmServer) -> None:
    vllm_mock.fail_next(400, message="bad turn")
    vllm_mock.queue_chat("fine")
    result = cli(vllm_mock, "chat", "-q", input="one\n/help\ntwo\n")
    assert result.exit_code == 1  # a piped session that had a failure says so
    assert result.stdout == "fine\n"
    assert "error: 400 BadRequestError: bad turn" in result.stderr  # the class named once
    assert "unknown command /help" in result.stderr
    second = vllm_mock.requests_to("/v1/chat/completions")[-1].json["messages"]
    assert second == [{"role": "user", "content": "two"}]  # the failed turn left no trace


# --- complete ------------------------------------------------------------------------------------
def test_complete_streams_text(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_completion(" upon a time")
    result = cli(vllm_mock, "complete", "Once", "--max-tokens", "5")
    assert result.exit_code == 0, result.output
    assert result.stdout == " upon a time\n"
    assert "TTFT" in result.stderr
    sent = body(vllm_mock, "/v1/completions")
    assert (sent["prompt"], sent["max_tokens"], sent["stream"]) == ("Once", 5, True)


def test_complete_no_stream_and_json(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_completion(" end", times=2)
    assert cli(vllm_mock, "complete", "The", "--no-stream", "-q").stdout == " end\n"
    data = json.loads(cli(vllm_mock, "complete", "The", "--json").stdout)
    assert data["object"] == "text_completion" and data["choices"][0]["text"] == " end"


# --- server info ---------------------------------------------------------------------------------
def test_models_table_and_json(vllm_mock: MockVllmServer) -> None:
    table = cli(vllm_mock, "models")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if "mock-model" in line)
    assert "2048" in row
    data = json.loads(cli(vllm_mock, "models", "--json").stdout)
    assert [m["id"] for m in data["data"]] == ["mock-model"]
    assert data["data"][0]["max_model_len"] == 2048


def test_health_exit_codes(vllm_mock: MockVllmServer) -> None:
    healthy = cli(vllm_mock, "health")
    assert (healthy.exit_code, healthy.stdout) == (0, "ok\n")
    vllm_mock.stop()
    down = cli(vllm_mock, "health")
    assert (down.exit_code, down.stdout) == (1, "unhealthy\n")


def test_version_is_the_servers(vllm_mock: MockVllmServer) -> None:
    result = cli(vllm_mock, "version")
    assert (result.exit_code, result.stdout) == (0, f"{vllm_mock.version}\n")
    client = CliRunner().invoke(get_app(), ["--version"])
    assert client.stdout == f"vllm-client {__version__}\n"


def test_metrics_filter(vllm_mock: MockVllmServer) -> None:
    with VllmClient(vllm_mock.base_url) as client:
        everything = client.server.metrics()
    wanted = {name for name in everything if "num_requests_running" in name}
    assert wanted and len(wanted) < len(everything)
    data = json.loads(cli(vllm_mock, "metrics", "--filter", "NUM_REQUESTS_RUNNING", "--json").stdout)
    assert set(data) == wanted
    table = cli(vllm_mock, "metrics", "-f", "num_requests_running")
    assert table.exit_code == 0, table.output
    for name in wanted:
        assert name in table.stdout  # whole, not folded into the 80 columns of a pipe
    assert "prompt_tokens" not in table.stdout


# --- tokenizer and pooling -----------------------------------------------------------------------
def test_tokenize(vllm_mock: MockVllmServer) -> None:
    result = cli(vllm_mock, "tokenize", "hello world", "--strs")
    assert result.exit_code == 0, result.output
    with VllmClient(vllm_mock.base_url) as client:
        expected = client.tokenize("hello world", return_token_strs=True)
    assert f"count: {expected.count}" in result.stdout
    assert str(expected.tokens) in result.stdout
    assert "'hello'" in result.stdout
    data = json.loads(cli(vllm_mock, "tokenize", "hello world", "--json").stdout)
    assert data["tokens"] == expected.tokens and data["count"] == expected.count == 2


def test_embed(vllm_mock: MockVllmServer) -> None:
    result = cli(vllm_mock, "embed", "a cat", "a dog")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["[0] dim 128", "[1] dim 128"]
    assert body(vllm_mock, "/v1/embeddings")["input"] == ["a cat", "a dog"]
    data = json.loads(cli(vllm_mock, "embed", "a cat", "--json").stdout)
    assert len(data["data"]) == 1 and len(data["data"][0]["embedding"]) == 128


def test_rerank(vllm_mock: MockVllmServer) -> None:
    docs = ["a dog", "a cat", "fish", "cats and dogs"]
    data = json.loads(cli(vllm_mock, "rerank", "cat", *docs, "--top-n", "2", "--json").stdout)
    assert len(data["results"]) == 2
    best = max(data["results"], key=lambda r: r["relevance_score"])
    table = cli(vllm_mock, "rerank", "cat", *docs, "--top-n", "2")
    assert table.exit_code == 0, table.output
    rows = [line for line in table.stdout.splitlines() if any(doc in line for doc in docs)]
    assert len(rows) == 2
    assert docs[best["index"]] in rows[0] and f"{best['relevance_score']:.4f}" in rows[0]  # best first
    assert vllm_mock.requests_to("/rerank")[-1].json["top_n"] == 2


# --- processes -----------------------------------------------------------------------------------
def _module(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "vllm_client", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"}, **kwargs)


def _lines(stream: IO[str]) -> queue.Queue[str]:
    """The lines of a pipe as they come, read by a thread so that waiting can have a deadline."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _first_char(stream: IO[str]) -> queue.Queue[str]:
    """The first character a pipe delivers (a streamed answer has no newline until its end)."""
    chars: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: chars.put(stream.read(1)), daemon=True).start()
    return chars


def _default_sigint() -> None:
    # A shell may start background jobs with SIGINT ignored; Python then never raises
    # KeyboardInterrupt. Ctrl-C is what is being tested, so restore the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_python_dash_m_runs_the_cli(vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("From a process.")
    proc = _module("chat", "--base-url", vllm_mock.base_url, "hi")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out == "From a process.\n"
    assert "tokens" in err


@POSIX_ONLY
def test_ctrl_c_closes_the_stream_and_exits_130(vllm_mock: MockVllmServer) -> None:
    vllm_mock.token_rate = 50.0  # 1000 tokens: 20 s, far longer than the test
    proc = _module("chat", "--base-url", vllm_mock.base_url, "--max-tokens", "1000", "hi",
                   preexec_fn=_default_sigint)
    try:
        assert proc.stdout is not None
        assert _first_char(proc.stdout).get(timeout=30)  # the answer is streaming
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert vllm_mock.wait_for_abort(timeout=10)  # closing the stream made the server abort


@pytest.fixture
def mock_process(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``vllm-client mock-server --port 0`` running, with the base URL it printed."""
    proc = _module("mock-server", "--port", "0", "--model", "proc-model", "--api-key", "k")
    try:
        assert proc.stdout is not None
        url = _lines(proc.stdout).get(timeout=30).strip()
        yield proc, url
    finally:
        proc.kill()
        proc.communicate(timeout=30)


@POSIX_ONLY
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_mock_server_serves_until_signalled(mock_process: tuple[subprocess.Popen[str], str],
                                            stop_signal: int) -> None:
    proc, url = mock_process
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    with VllmClient(url, api_key="k") as client:
        deadline = time.monotonic() + 30
        while not client.server.health():
            assert time.monotonic() < deadline, "mock-server never became healthy"
        assert client.models.list().ids == ["proc-model"]
    proc.send_signal(stop_signal)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err


def test_mock_server_port_in_use_is_an_error(vllm_mock: MockVllmServer) -> None:
    result = CliRunner().invoke(get_app(), ["mock-server", "--port", str(vllm_mock.port)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: OSError")
    assert result.stdout == ""


def test_missing_cli_extra_is_one_clear_line() -> None:
    code = "import sys; sys.modules['typer'] = None; from vllm_client.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == MISSING_EXTRA
    assert "Traceback" not in result.stderr


def test_the_library_does_not_import_the_cli_dependencies() -> None:
    code = "import sys, vllm_client, vllm_client.cli; print(sorted({'typer', 'rich'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_the_command_table_names_every_registered_command() -> None:
    from vllm_client.cli._commands import COMMAND_MODULES

    app = get_app()
    registered = {command.name for command in app.registered_commands}
    registered |= {group.name for group in app.registered_groups}  # bench serve/sweep/...
    assert registered == set(COMMAND_MODULES)


def test_a_command_imports_only_its_own_module(vllm_mock: MockVllmServer) -> None:
    """``vllm-client version`` needs neither rich, the other commands nor the emulator:
    startup time is most of what a one-shot command costs (benchmarks/import_time.py)."""
    code = ("import sys\nfrom vllm_client.cli import main\n"
            f"sys.argv = ['vllm-client', 'version', '--base-url', {vllm_mock.base_url!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('rich', 'vllm_client.cli._', 'vllm_client.testing'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    version, loaded = result.stdout.strip().splitlines()
    assert version == vllm_mock.version
    assert loaded == str(["vllm_client.cli._app", "vllm_client.cli._commands", "vllm_client.cli._info",
                          "vllm_client.cli._output", "vllm_client.cli._params"])


def test_version_flag_registers_no_command() -> None:
    code = ("import sys\nfrom vllm_client.cli import main\nsys.argv = ['vllm-client', '--version']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('rich', 'vllm_client.cli._'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.splitlines() == [f"vllm-client {__version__}",
                                          str(["vllm_client.cli._app", "vllm_client.cli._commands",
                                               "vllm_client.cli._output"])]
