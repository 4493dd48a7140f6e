"""``responses``, ``lora``, ``transcribe``: the endpoints beyond chat, one command each.

``responses`` streams the Responses API's text like ``chat`` does; ``lora`` loads, unloads
and lists adapters on a server started with runtime LoRA updating; ``transcribe`` sends an
audio file to a speech-to-text model (``--translate`` for the translations route).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ._app import Globals, client_command
from ._output import console, notice, print_json
from ._params import Extra, Json, Quiet, Seed, Temperature, parse_extra, read_text


@client_command("responses")
def responses(
    opts: Globals,
    text: Annotated[str, typer.Argument(help="The input; - reads it from stdin.")],
    instructions: Annotated[str | None, typer.Option("--instructions", "-s", help="System-style instructions.")]
    = None,
    max_output_tokens: Annotated[int | None, typer.Option("--max-output-tokens", min=1)] = None,
    temperature: Temperature = None,
    seed: Seed = None,
    extra: Extra = None,
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Ask through the Responses API (/v1/responses): the output text, streamed."""
    given = {"instructions": instructions, "max_output_tokens": max_output_tokens, "temperature": temperature,
             "seed": seed}
    params = {k: v for k, v in given.items() if v is not None} | opts.model_kwargs()
    body = parse_extra(extra or [])
    if body:
        params["extra_body"] = body
    prompt = read_text(text)
    with opts.client() as client:
        if json_output:
            print_json(client.responses.create(input=prompt, **params).raw)
            return
        with client.responses.create(input=prompt, stream=True, **params) as stream:
            out = console()
            for piece in stream.text_stream:
                out.print(piece, end="", markup=False, highlight=False, soft_wrap=True)
            out.print()
            final = stream.final()
    if not quiet:
        usage = final.usage
        notice(f"({final.status}; {usage.output_tokens if usage else '?'} output tokens)")


@client_command("lora")
def lora(
    opts: Globals,
    action: Annotated[Literal["load", "unload", "list"], typer.Argument(help="load NAME PATH, unload NAME, or list")],
    name: Annotated[str | None, typer.Argument(help="The adapter's name (load, unload).")] = None,
    path: Annotated[str | None, typer.Argument(help="The adapter's directory on the server (load).")] = None,
) -> None:
    """LoRA adapters at runtime (server: --enable-lora, VLLM_ALLOW_RUNTIME_LORA_UPDATING=True)."""
    with opts.client() as client:
        if action == "list":
            for model in client.lora.list():
                print(f"{model.id}\t{model.parent or ''}")
            return
        if name is None:
            raise typer.BadParameter(f"lora {action} needs the adapter's NAME", param_hint="NAME")
        if action == "load":
            if path is None:
                raise typer.BadParameter("lora load needs the adapter's PATH", param_hint="PATH")
            print(client.lora.load(name, path))
        else:
            print(client.lora.unload(name))


@client_command("transcribe")
def transcribe(
    opts: Globals,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The audio file (wav, mp3, flac...).")],
    language: Annotated[str | None, typer.Option("--language", "-l", help="The spoken language, e.g. en.")] = None,
    translate: Annotated[bool, typer.Option("--translate", help="Translate to English (/v1/audio/translations).")]
    = False,
    json_output: Json = False,
) -> None:
    """Speech to text with a Whisper-style model (/v1/audio/transcriptions)."""
    params: dict[str, Any] = {"language": language} if language else {}
    params |= opts.model_kwargs()
    with opts.client() as client:
        if translate:
            result: Any = client.audio.translations.create(file=str(file), **params)
        else:
            result = client.audio.transcriptions.create(file=str(file), **params)
    if json_output:
        print_json(result.raw)
    else:
        print(result.text)
