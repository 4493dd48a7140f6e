"""The assembled app: which module registers which command, and importing only those a
command line needs.

Importing a command module registers its commands on ``app`` (kept out of ``_app`` so
the command modules can import it without a cycle). typer cannot register commands
lazily, so :func:`load` reads the command name from the arguments first: ``vllm-client
version`` imports only ``_info`` (no rich, no emulator), ``--version`` none at all, and
only a bare ``--help`` (or an unknown name, for typer's "did you mean") loads every one.
benchmarks/import_time.py measures the difference; tests/emulator/test_cli.py checks
that this table names every registered command.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module

import typer

from ._app import app

__all__ = ["COMMAND_MODULES", "app", "load"]

#: Command name -> the module (in this package) that registers it.
COMMAND_MODULES: dict[str, str] = {
    "chat": "._chat",
    "complete": "._chat",
    "models": "._info",
    "health": "._info",
    "version": "._info",
    "metrics": "._info",
    "tokenize": "._pooling",
    "embed": "._pooling",
    "rerank": "._pooling",
    "mock-server": "._mock",
    "batch": "._batch",
    "bench": "._bench",
    "responses": "._endpoints",
    "lora": "._endpoints",
    "transcribe": "._endpoints",
}
_HELP = frozenset({"--help", "-h"})


def load(argv: Sequence[str] | None = None) -> typer.Typer:
    """``app`` with the commands ``argv`` may run registered (all of them for ``None``).

    The root takes only flags (``--version``, ``--help``), so the first other argument
    is the command's name.
    """
    if argv is None:
        modules = set(COMMAND_MODULES.values())
    else:
        name = next((arg for arg in argv if not arg.startswith("-")), None)
        if name in COMMAND_MODULES:
            modules = {COMMAND_MODULES[name]}
        elif name is None and argv and not _HELP & set(argv):
            modules = set()  # --version: answered by the root's eager callback
        else:
            modules = set(COMMAND_MODULES.values())  # help lists every command
    for module in sorted(modules):
        import_module(module, __package__)
    return app
