"""``tokenize``, ``embed``, ``rerank``: the tokenizer and pooling endpoints.

Human output is a glance (counts, dimensions, the first values); ``--json`` prints the
server's answer whole, for piping into other tools.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import Globals, client_command
from ._output import console, print_json
from ._params import Json, read_text

#: Values of a vector shown without --json: enough to tell vectors apart.
_PREVIEW = 5


@client_command("tokenize")
def tokenize(
    opts: Globals,
    text: Annotated[str, typer.Argument(help="The text; - reads it from stdin.")],
    strs: Annotated[bool, typer.Option("--strs", help="Also show the token strings.")] = False,
    json_output: Json = False,
) -> None:
    """Tokenize text with the server's tokenizer: count, ids (and strings)."""
    with opts.client() as client:
        result = client.tokenize(read_text(text), return_token_strs=strs or None, **opts.model_kwargs())
    if json_output:
        print_json(result.raw)
        return
    out = console()
    limit = f" (max_model_len {result.max_model_len})" if result.max_model_len else ""
    out.print(f"count: {result.count}{limit}")
    out.print(f"ids:   {result.tokens}")
    if strs:
        out.print(f"strs:  {result.token_strs}")


@client_command("embed")
def embed(
    opts: Globals,
    texts: Annotated[list[str], typer.Argument(help="One or more texts; - reads one from stdin.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the server's JSON (the full vectors).")] = False,
) -> None:
    """Embed texts (a pooling server: vllm serve ... --runner pooling)."""
    with opts.client() as client:
        resp = client.embeddings.create(input=[read_text(t) for t in texts], **opts.model_kwargs())
    if json_output:
        print_json(resp.raw)
        return
    out = console()
    for item in resp.data:
        vector = item.embedding
        head = ", ".join(f"{v:.4f}" for v in vector[:_PREVIEW])
        more = ", ..." if len(vector) > _PREVIEW else ""
        out.print(f"[{item.index}] dim {len(vector)}: [{head}{more}]")


@client_command("rerank")
def rerank(
    opts: Globals,
    query: Annotated[str, typer.Argument(help="What the documents should be relevant to.")],
    documents: Annotated[list[str], typer.Argument(help="The documents to rank.")],
    top_n: Annotated[int | None, typer.Option("--top-n", min=1, help="Keep only the best N.")] = None,
    json_output: Json = False,
) -> None:
    """Rank documents by relevance to a query, best first (embedding or cross-encoder models)."""
    with opts.client() as client:
        ranked = client.rerank(query, documents, top_n=top_n, **opts.model_kwargs())
    if json_output:
        print_json(ranked.raw)
        return
    from rich.table import Table  # (on use: other commands skip rich)

    table = Table("index", "score", "document")
    for item in ranked:
        table.add_row(str(item.index), f"{item.relevance_score:.4f}", item.document or "")
    console().print(table)
