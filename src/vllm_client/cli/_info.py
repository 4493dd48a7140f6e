"""``models``, ``health``, ``version``, ``metrics``: what is this server and how is it doing.

``health`` answers through its exit status (0 healthy, 1 not) so it can gate scripts
and container probes: ``vllm-client health && run-benchmark``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import Globals, client_command
from ._output import console, number, print_json
from ._params import Json


@client_command("models")
def models(opts: Globals, json_output: Json = False) -> None:
    """The models the server serves (id, context length, the weights they come from)."""
    with opts.client() as client:
        listed = client.models.list()
    if json_output:
        print_json(listed.raw)
        return
    from rich.table import Table  # (on use: other commands skip rich)

    table = Table("id", "max_model_len", "root")
    for model in listed:
        table.add_row(model.id, str(model.max_model_len or ""), model.root or "")
    console().print(table)


@client_command("health")
def health(opts: Globals) -> None:
    """Whether the server answers /health: prints ok (exit 0) or unhealthy (exit 1)."""
    with opts.client() as client:
        healthy = client.server.health()  # a refused connection is "unhealthy", not an error
    print("ok" if healthy else "unhealthy")
    if not healthy:
        raise typer.Exit(1)


@client_command("version")
def version(opts: Globals) -> None:
    """The server's vLLM version (vllm-client --version prints the client's)."""
    with opts.client() as client:
        print(client.server.version())


@client_command("metrics")
def metrics(
    opts: Globals,
    action: Annotated[str | None, typer.Argument(
        help="watch: a live view (load, KV cache, prefix hits, tokens/s, TTFT and E2E percentiles).",
        show_default=False)] = None,
    servers: Annotated[list[str] | None, typer.Argument(
        help="watch: the servers' URLs (default: --base-url).", show_default=False)] = None,
    filter_: Annotated[str | None, typer.Option(
        "--filter", "-f", help="Only metrics whose name or labels contain this (case-insensitive).")] = None,
    interval: Annotated[float, typer.Option("--interval", "-n", help="watch: seconds between refreshes.")] = 2.0,
    count: Annotated[int, typer.Option("--count", help="watch: stop after this many refreshes (0: never).")] = 0,
    plain: Annotated[bool, typer.Option(
        "--plain", help="watch: one line per server and refresh, even on a terminal.")] = False,
    json_output: Json = False,
) -> None:
    """The server's Prometheus metrics (/metrics), one per line of a table; `metrics watch`: a live view."""
    if action is not None:
        if action != "watch":
            raise typer.BadParameter(f"expected 'watch', got {action!r}", param_hint="ACTION")
        from ._watch import watch

        clients = [opts.client(url) for url in servers] if servers else [opts.client()]
        try:
            watch(clients, interval=interval, count=count, plain=plain)
        finally:
            for c in clients:
                c.close()
        return
    with opts.client() as client:
        values = client.server.metrics()
    if filter_:
        needle = filter_.lower()
        values = {name: value for name, value in values.items() if needle in name.lower()}
    if json_output:
        print_json(values)
        return
    from rich.table import Table  # (on use: other commands skip rich)

    table = Table("metric", "value")
    for name in sorted(values):
        table.add_row(name, number(values[name]))
    console().print(table)
