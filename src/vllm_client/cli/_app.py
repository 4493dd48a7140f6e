"""The typer app, the options every client command shares, and how errors end a command.

Click only accepts an option after the command it belongs to, and users type
``vllm-client chat --model x "hi"``, so the connection options cannot live on the app's
callback. Instead :func:`client_command` appends them to each command's signature and
hands the command a ready :class:`Globals`; the same wrapper turns library errors into
one red line (exit 1) and Ctrl-C into exit 130, so no command repeats that logic.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from .._errors import VllmError
from .._sync.client import VllmClient
from .._version import __version__
from ._output import error_line

app = typer.Typer(
    name="vllm-client",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # --debug tracebacks must never print the API key
)

#: Exit status after Ctrl-C, as shells report a SIGINT death (128 + 2).
EXIT_INTERRUPTED = 130
#: Errors a user can cause: the server's answers, the connection, arguments the library rejects.
USER_ERRORS: tuple[type[Exception], ...] = (VllmError, ValueError)

_PANEL = "Connection"


@dataclass(frozen=True)
class Globals:
    """The connection options of one invocation; None means "the library's default"
    (which reads VLLM_BASE_URL, VLLM_API_KEY, VLLM_TIMEOUT, VLLM_MAX_RETRIES)."""

    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    timeout: float | None = None
    debug: bool = False

    def client(self, base_url: str | None = None) -> VllmClient:
        options: dict[str, Any] = {}
        if self.timeout is not None:
            options["timeout"] = self.timeout
        return VllmClient(base_url or self.base_url, api_key=self.api_key, **options)

    def model_kwargs(self) -> dict[str, Any]:
        """``{"model": ...}`` only when given: None lets the library ask the server for its model."""
        return {"model": self.model} if self.model else {}


def _option(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


_GLOBAL_PARAMETERS = [
    _option("base_url", Annotated[str | None, typer.Option(
        "--base-url", envvar="VLLM_BASE_URL", rich_help_panel=_PANEL,
        help="Server URL, e.g. http://localhost:8000 (/v1 is added). Default: http://localhost:8000/v1.")]),
    _option("api_key", Annotated[str | None, typer.Option(
        "--api-key", envvar="VLLM_API_KEY", rich_help_panel=_PANEL, show_envvar=True,
        help="Bearer token, when the server was started with --api-key.")]),
    _option("model", Annotated[str | None, typer.Option(
        "--model", "-m", rich_help_panel=_PANEL, help="Model name. Default: the server's only model.")]),
    _option("timeout", Annotated[float | None, typer.Option(
        "--timeout", rich_help_panel=_PANEL, help="Seconds per request (env VLLM_TIMEOUT). Default: the library's.")]),
    _option("debug", Annotated[bool, typer.Option(
        "--debug", rich_help_panel=_PANEL, help="Show the full traceback of an error.")], default=False),
]
_GLOBAL_NAMES = [p.name for p in _GLOBAL_PARAMETERS]


def run_guarded(debug: bool, body: Callable[[], None]) -> None:
    """Run a command body: library errors -> one red line and exit 1 (the traceback
    only with --debug); Ctrl-C -> exit 130 (the ``with`` blocks have closed any stream,
    which makes vLLM abort the generation)."""
    try:
        body()
    except USER_ERRORS as exc:
        if debug:
            raise
        error_line(exc)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        if debug:
            raise
        sys.stderr.write("\n")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def client_command(name: str, *,
                   group: typer.Typer | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``fn(opts: Globals, ...)`` as the command ``name`` (of ``group``, a sub-app
    such as ``bench``; default the root) with the connection options added to its own.
    typer reads a command's options from its signature, so the wrapper publishes the
    command's parameters (minus ``opts``) plus the shared ones."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(fn, eval_str=True)  # real annotations even under `from __future__`
        params = [p for p in own.parameters.values() if p.name != "opts"] + _GLOBAL_PARAMETERS

        @functools.wraps(fn)
        def command(**kwargs: Any) -> None:
            opts = Globals(**{key: kwargs.pop(key) for key in _GLOBAL_NAMES})
            run_guarded(opts.debug, lambda: fn(opts, **kwargs))

        command.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        (group or app).command(name)(command)
        return fn

    return register


LOOP_HELP = "Event loop: asyncio, uvloop, or auto (uvloop when installed)."


def _usage_checked(check: Callable[[str], object], value: str | None) -> str | None:
    """``value`` when the library's ``check`` accepts it (or it is None), else its ValueError
    as a usage error (exit 2) before anything starts."""
    if value is not None:
        try:
            check(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


def checked_loop(value: str) -> str:
    """``--loop``'s callback: a loop name :mod:`vllm_client._event_loop` knows and can run here."""
    from .._event_loop import resolve

    _usage_checked(resolve, value)
    return value


ROUTING_HELP = ("How requests are spread over several --base-url servers (comma-separated): least_outstanding, "
                "round_robin, session_affinity or prefix_affinity.")


def checked_routing(value: str | None) -> str | None:
    """``--routing``'s callback: a policy name of :mod:`vllm_client._routing`."""
    from .._routing import check_routing

    return _usage_checked(check_routing, value)


def _print_version(value: bool) -> None:
    if value:
        print(f"vllm-client {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the client's version and exit.")] = False,
) -> None:
    """Talk to a vLLM server: chat, complete, inspect, tokenize, embed, rerank; or run an emulator.

    Every command but mock-server takes --base-url, --api-key, --model, --timeout (env: VLLM_BASE_URL, ...).
    """
