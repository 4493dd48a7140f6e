"""Typed decoding of the one chunk shape that is almost every streamed chunk (msgspec).

A streamed answer is, apart from its first and last chunks, a run of identical-looking
chunks that each carry one piece of text::

    {"id": ..., "object": ..., "created": ..., "model": ...,
     "choices": [{"index": 0, "delta": {"content": " fox"}, "logprobs": null,
                  "finish_reason": null, "token_ids": null}]}

The structs below describe exactly that shape and nothing else: every field that may
appear is declared, unknown fields are *forbidden* and the fields that must be null are
typed ``None``. So a successful decode proves the chunk is plain and its text can be
appended without looking further (a running ``usage`` beside it is kept: see below);
anything else (the role chunk, a finish, the final usage-only chunk, logprobs, token
ids, tool calls, an error frame, a field a newer vLLM adds, invalid JSON)
raises ``msgspec.DecodeError`` and the stream decoder decodes the payload again
with orjson into a dict for the general path, which keeps every field (``.raw``).
The top-level fields are :class:`msgspec.Raw` (skipped, not decoded): the stream state
takes them from the first chunk, which always goes the general way.

Why msgspec, measured (benchmarks/stream_decode.py, a bench-shaped 2000-chunk stream,
CPU ns per chunk): decoding a plain chunk into these structs and appending its text and
event costs ~970 ns against ~1520 ns for ``orjson.loads`` into a dict plus the same
checks in Python, because no dict and no strings for ``id``/``object``/``model`` are
built and the shape checks run in C; the whole decoder (SSE, JSON, state, events) runs
at the speed of the shared bench's aiohttp+msgspec contender's decoding (0.28x against
0.26x of the json.loads floor, bulk reads), against 0.60x with this path switched off.
In ``../shared/bench`` it took the async client from 0.84x to ~0.5-0.6x of the floor per
chunk (benchmarks/results-2026-12-01.md). A chunk that is not plain pays one failed
typed decode first, which is why the decoder stops trying after a few misses in a row
(a logprobs stream is never plain).

``usage`` (a dict, or absent/null) is allowed beside one text choice: with
``stream_options.continuous_usage_stats`` (bench asks for it, for exact tokens per chunk)
*every* chunk carries the running usage, which used to send every chunk down the general
path. Measured (one chunk per feed, this loaded 2-core box, best of 7 x 4000 chunks): 20.0 us
per chunk on the general path against 9.0 us for the same chunk without usage on this one;
with usage accepted here, see benchmarks/bench-results-2026-12-02.md (capacity section).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["DecodeError", "PlainChatChunk", "PlainCompletionChunk", "decode_plain_chat", "decode_plain_completion"]

DecodeError = msgspec.DecodeError


class PlainDelta(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A delta with text only: content, or reasoning (``reasoning_content`` on older vLLM)."""

    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None


class PlainChatChoice(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    delta: PlainDelta
    index: int = 0
    logprobs: None = None
    finish_reason: None = None
    token_ids: None = None


class _Envelope(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The four top-level fields every chunk carries (all required, as in a plain chunk)."""

    id: msgspec.Raw
    object: msgspec.Raw
    created: msgspec.Raw
    model: msgspec.Raw


class PlainChatChunk(_Envelope, forbid_unknown_fields=True, gc=False):
    choices: list[PlainChatChoice]
    usage: dict[str, Any] | None = None  # continuous usage stats: the running usage


class PlainCompletionChoice(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    text: str
    index: int = 0
    logprobs: None = None
    finish_reason: None = None
    stop_reason: None = None
    token_ids: None = None
    prompt_token_ids: None = None


class PlainCompletionChunk(_Envelope, forbid_unknown_fields=True, gc=False):
    choices: list[PlainCompletionChoice]
    usage: dict[str, Any] | None = None  # continuous usage stats: the running usage


decode_plain_chat = msgspec.json.Decoder(PlainChatChunk).decode
decode_plain_completion = msgspec.json.Decoder(PlainCompletionChunk).decode
