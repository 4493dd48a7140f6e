"""``bench``: the command group (``bench serve`` here; ``sweep``, ``compare``, ``calibrate``
are registered by the modules of :data:`SUBCOMMAND_MODULES`, imported with this one)."""

from __future__ import annotations

from importlib import import_module

import typer

from ._app import app

bench_app = typer.Typer(name="bench", no_args_is_help=True, add_completion=False,
                        help="Benchmark a vLLM deployment: load generation that measures the server, not itself.")
app.add_typer(bench_app, name="bench")

#: Modules (in this package) that register ``bench`` subcommands on :data:`bench_app`.
SUBCOMMAND_MODULES = ("._bench_serve", "._bench_tools")

for _module in SUBCOMMAND_MODULES:
    import_module(_module, __package__)
