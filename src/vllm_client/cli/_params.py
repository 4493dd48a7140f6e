"""Options shared by ``chat`` and ``complete``: sampling, ``--extra``, output mode.

Only the options a user actually gave are sent, so the server's (and the model's
generation_config) defaults stay in charge of everything else.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

_SAMPLING = "Sampling"
_OUTPUT = "Output"

MaxTokens = Annotated[int | None, typer.Option("--max-tokens", min=1, rich_help_panel=_SAMPLING,
                                                  help="Most tokens to generate.")]
Temperature = Annotated[float | None, typer.Option("--temperature", "-t", min=0.0, rich_help_panel=_SAMPLING)]
TopP = Annotated[float | None, typer.Option("--top-p", rich_help_panel=_SAMPLING)]
TopK = Annotated[int | None, typer.Option("--top-k", rich_help_panel=_SAMPLING)]
Seed = Annotated[int | None, typer.Option("--seed", rich_help_panel=_SAMPLING,
                                          help="Seed for reproducible sampling.")]
Extra = Annotated[list[str] | None, typer.Option(
    "--extra", "-e", metavar="KEY=VALUE", rich_help_panel=_SAMPLING,
    help="Any other request field, repeatable; VALUE is JSON when it parses (5, true, {...}), else a string.")]
NoStream = Annotated[bool, typer.Option("--no-stream", rich_help_panel=_OUTPUT,
                                        help="Wait for the whole answer instead of streaming it.")]
Json = Annotated[bool, typer.Option("--json", rich_help_panel=_OUTPUT,
                                    help="Print the server's JSON response (not streamed).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", rich_help_panel=_OUTPUT,
                                     help="No summary line (tokens, TTFT, tokens/s) on stderr.")]


@dataclass(frozen=True)
class Generation:
    """How to ask for an answer and how to show it."""

    params: dict[str, Any] = field(default_factory=dict)
    stream: bool = True
    json: bool = False
    quiet: bool = False


def generation(
    *, max_tokens: int | None, temperature: float | None, top_p: float | None, top_k: int | None,
    seed: int | None, extra: list[str] | None, no_stream: bool, json_output: bool, quiet: bool,
    model: dict[str, Any],
) -> Generation:
    """Collect the given options into request keyword arguments (``--extra`` as ``extra_body``)."""
    given = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "top_k": top_k, "seed": seed}
    params: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    params.update(model)
    body = parse_extra(extra or [])
    if body:
        params["extra_body"] = body
    return Generation(params, stream=not (no_stream or json_output), json=json_output, quiet=quiet)


def parse_extra(pairs: list[str]) -> dict[str, Any]:
    """``ignore_eos=true stop='["END"]' user=bob`` -> ``{"ignore_eos": True, "stop": ["END"], "user": "bob"}``.

    JSON first, so numbers, booleans, lists and objects arrive typed; anything that is not
    JSON is the plain string, which spares users quoting ``"\\"bob\\""`` in their shell.
    """
    body: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--extra")
        try:
            body[key.strip()] = json.loads(raw)
        except ValueError:
            body[key.strip()] = raw
    return body


def read_text(argument: str) -> str:
    """The argument itself, or all of stdin for ``-`` (one trailing newline dropped: the
    one ``echo`` adds is not part of the question)."""
    text = sys.stdin.read() if argument == "-" else argument
    text = text[:-1] if text.endswith("\n") else text
    if not text.strip():
        where = "stdin" if argument == "-" else "the argument"
        raise ValueError(f"nothing to send: {where} is empty")
    return text
