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
    filter_: Annotated[str | None, typer.Option(
        "--filter", "-f", help="Only metrics whose name or labels contain this (case-insensitive).")] = None,
    json_output: Json = False,
) -> None:
    """The server's Prometheus metrics (/metrics), one per line of a table."""
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
