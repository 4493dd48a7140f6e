"""``chat`` and ``complete``: ask for an answer and show it as it streams.

Streaming is the default because that is how a user judges a model and a server:
the first token's latency and the decode speed (the summary line on stderr) matter as
much as the text. ``--no-stream`` and ``--json`` wait for the whole answer.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from .._protocol.types import ChatCompletion
from .._sync.client import VllmClient
from ._app import Globals, client_command
from ._output import console, notice, print_json, response_summary, stream_summary
from ._params import (
    Extra,
    Generation,
    Json,
    MaxTokens,
    NoStream,
    Quiet,
    Seed,
    Temperature,
    TopK,
    TopP,
    generation,
    read_text,
)
from ._render import AnswerPrinter
from ._repl import AnswerInterrupted, run_repl


def ask_chat(client: VllmClient, messages: list[dict[str, Any]], gen: Generation, *,
             think_tags: bool = False) -> ChatCompletion:
    """Send ``messages``, print the answer (streamed, whole, or as JSON), return it."""
    chat = client.chat.completions
    if not gen.stream:
        resp: ChatCompletion = chat.create(messages=messages, parse_think_tags=think_tags, **gen.params)
        if gen.json:
            print_json(resp.raw)
            return resp
        printer = AnswerPrinter(console())
        printer.response(resp)
        printer.end()
        if not gen.quiet:
            tokens = resp.usage.completion_tokens if resp.usage else None
            notice(response_summary(tokens, resp.timing.total_s if resp.timing else None))
        return resp
    printer = AnswerPrinter(console())
    with chat.stream(messages=messages, parse_think_tags=think_tags, **gen.params) as stream:
        try:
            for event in stream:
                printer.event(event)
        except KeyboardInterrupt as exc:
            raise AnswerInterrupted(stream.partial()) from exc
        finally:
            printer.end()  # Ctrl-C mid-answer still leaves the terminal on a fresh line
        final: ChatCompletion = stream.final()
    if not gen.quiet:
        notice(stream_summary(stream.metrics))
    return final


def ask_completion(client: VllmClient, prompt: str, gen: Generation) -> None:
    """The legacy completion of ``prompt``: only the generated text is printed."""
    completions = client.completions
    printer = AnswerPrinter(console())
    if not gen.stream:
        resp = completions.create(prompt=prompt, **gen.params)
        if gen.json:
            print_json(resp.raw)
            return
        printer.write("content", resp.text or "")
        printer.end()
        if not gen.quiet:
            tokens = resp.usage.completion_tokens if resp.usage else None
            notice(response_summary(tokens, resp.timing.total_s if resp.timing else None))
        return
    with completions.create(prompt=prompt, stream=True, **gen.params) as stream:
        try:
            for event in stream:
                printer.event(event)
        finally:
            printer.end()
    if not gen.quiet:
        notice(stream_summary(stream.metrics))


@client_command("chat")
def chat(
    opts: Globals,
    message: Annotated[str | None, typer.Argument(
        help="The question; - reads it from stdin. Without it: an interactive chat "
             "(one turn per line of stdin when stdin is not a terminal).")] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    max_tokens: MaxTokens = None,
    temperature: Temperature = None,
    top_p: TopP = None,
    top_k: TopK = None,
    seed: Seed = None,
    extra: Extra = None,
    think_tags: Annotated[bool, typer.Option(
        "--think-tags", help="Split <think>...</think> out of the content: for servers without a reasoning parser.")
    ] = False,
    no_stream: NoStream = False,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Chat with the model: one question, or a conversation (/reset, /exit)."""
    gen = generation(max_tokens=max_tokens, temperature=temperature, top_p=top_p, top_k=top_k, seed=seed,
                     extra=extra, no_stream=no_stream, json_output=json_output, quiet=quiet,
                     model=opts.model_kwargs())
    with opts.client() as client:
        if message is None:
            ok = run_repl(lambda messages: ask_chat(client, messages, gen, think_tags=think_tags),
                          system=system, interactive=sys.stdin.isatty(), debug=opts.debug)
            if not ok:
                raise typer.Exit(1)
            return
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": read_text(message)})
        ask_chat(client, messages, gen, think_tags=think_tags)


@client_command("complete")
def complete(
    opts: Globals,
    prompt: Annotated[str, typer.Argument(help="The text to continue; - reads it from stdin.")],
    max_tokens: MaxTokens = None,
    temperature: Temperature = None,
    top_p: TopP = None,
    top_k: TopK = None,
    seed: Seed = None,
    extra: Extra = None,
    no_stream: NoStream = False,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Continue a prompt (the legacy /v1/completions endpoint, no chat template)."""
    gen = generation(max_tokens=max_tokens, temperature=temperature, top_p=top_p, top_k=top_k, seed=seed,
                     extra=extra, no_stream=no_stream, json_output=json_output, quiet=quiet,
                     model=opts.model_kwargs())
    with opts.client() as client:
        ask_completion(client, read_text(prompt), gen)
