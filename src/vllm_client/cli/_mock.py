"""``mock-server``: the built-in vLLM emulator as a process, for demos, other languages'
clients and tests that want a server without a GPU.

The base URL is the first line on stdout (and only that), so a script can start it on
``--port 0`` and read where it listens. SIGINT and SIGTERM both stop it cleanly
(connections closed, exit 0): a supervisor's ``terminate()`` is a normal shutdown.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from ._app import LOOP_HELP, app, checked_loop
from ._output import error_line, notice

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@app.command("mock-server")
def mock_server(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")] = 8000,
    model: Annotated[str, typer.Option("--model", "-m", help="The model name it serves.")] = "mock-model",
    api_key: Annotated[str | None, typer.Option(
        "--api-key", help="Require this bearer token, like vllm serve --api-key.")] = None,
    token_rate: Annotated[float | None, typer.Option(
        "--token-rate", min=0.0, help="Streamed tokens per second. Default: as fast as possible.")] = None,
    reasoning: Annotated[bool, typer.Option(
        "--reasoning", help="Answer with reasoning, like a server started with a reasoning parser.")] = False,
    loop: Annotated[str, typer.Option("--loop", callback=checked_loop, help=LOOP_HELP)] = "asyncio",
) -> None:
    """Run the built-in vLLM emulator until Ctrl-C (prints its base URL first)."""
    from ..testing import MockVllmServer  # (on use: the emulator is not part of `vllm-client --help`)

    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    server = MockVllmServer(model=model, host=host, port=port, api_key=api_key, token_rate=token_rate,
                            reasoning=reasoning, event_loop=loop)
    # Handlers before the start: a supervisor may signal as soon as the URL is printed.
    previous = {sig: signal.signal(sig, request_stop) for sig in _STOP_SIGNALS}
    try:
        try:
            server.start()
        except OSError as exc:  # port in use, unknown host...
            error_line(exc)
            raise typer.Exit(1) from None
        print(server.base_url, flush=True)
        notice(f"mock vLLM serving {model!r} at {server.base_url} (Ctrl-C stops it)")
        stop.wait()
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    notice("stopped")
