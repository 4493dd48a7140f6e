"""The ``vllm-client`` command line (``python -m vllm_client`` too).

typer and rich are an optional extra, so nothing here imports them at module level:
``import vllm_client`` must work without them, and a CLI started without them should
say which extra to install rather than show an ImportError traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

__all__ = ["MISSING_EXTRA", "get_app", "main"]

MISSING_EXTRA = "vllm-client's CLI needs the cli extra: pip install 'vllm-client[cli]'"
_CLI_DEPENDENCIES = frozenset({"typer", "rich", "click"})


def get_app(argv: Sequence[str] | None = None) -> typer.Typer:
    """The typer application with the commands ``argv`` may run registered (every one
    when ``argv`` is None): a command imports only its own module's dependencies."""
    from ._commands import load

    return load(argv)


def main() -> None:
    """Console-script entry point: run the CLI, or explain how to install it (exit 2)."""
    try:
        app = get_app(sys.argv[1:])
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in _CLI_DEPENDENCIES:
            raise  # a bug of ours, not a missing extra: keep the traceback
        print(MISSING_EXTRA, file=sys.stderr)
        sys.exit(2)
    app(prog_name="vllm-client")
