"""Workload data: the prompts a run sends, and the file formats they come from. Pure.

Synthetic prompts are built from token ids of the server's own tokenizer (the I/O half,
``_async/bench_data.py``, asks ``/tokenize`` and ``/detokenize``): :data:`SEED_TEXT` is
tokenized once and its distinct ids are the vocabulary random prompts draw from, so no
special token or partial byte sequence lands in a prompt. Everything random takes the
run's seeded ``random.Random``: the same seed, the same prompts.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..batch._lines import Invalid, is_blank, parse_line

__all__ = ["SEED_TEXT", "Prompt", "draw_lengths", "read_batch", "read_prompts", "read_sharegpt"]

SEED_TEXT = (
    "the quick brown fox jumps over the lazy dog while a curious cat watches from the old wooden fence "
    "people often say that time flies when you are having fun but nobody knows where it goes in the end "
    "science and art both begin with a question about the world and end with a new way of seeing it "
    "rivers carry water from mountains to the sea and cities grow along their banks over many centuries "
    "music numbers language history weather gardens kitchens markets trains bridges libraries windows "
    "simple small large bright quiet early late warm cold green blue red yellow happy careful strong "
    "one two three four five six seven eight nine ten hundred thousand first second third last next"
)
"""Ordinary words: tokenized by the server to get ids that decode to plain text."""


@dataclass(slots=True)
class Prompt:
    """One request's input: ``messages`` (chat) or ``text`` (completions), the tokens to
    ask for (``output_tokens``; None: the server's default) and, for a file line, the rest
    of its ``body``. ``input_tokens`` is the prompt length it was built for, when known."""

    messages: list[dict[str, Any]] | None = None
    text: str | None = None
    output_tokens: int | None = None
    input_tokens: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    endpoint: str = "chat"
    group: int | None = None  # shared-prefix: which prefix


def draw_lengths(rng: random.Random, n: int, length: int, ratio: float) -> list[int]:
    """``n`` lengths uniform in ``[L(1-r), L(1+r)]`` (integers, at least 1)."""
    if ratio <= 0:
        return [length] * n
    lo, hi = max(1, int(length * (1 - ratio))), max(1, int(length * (1 + ratio)))
    return [rng.randint(lo, hi) for _ in range(n)]


def read_sharegpt(path: str | Path) -> list[tuple[str, str]]:
    """The first (human, gpt) pair of each conversation of a ShareGPT JSON file (a list of
    ``{"conversations": [{"from": ..., "value": ...}, ...]}``); others are skipped."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: a ShareGPT file is a JSON list of conversations")
    out: list[tuple[str, str]] = []
    for item in data:
        turns = item.get("conversations") if isinstance(item, dict) else None
        if not isinstance(turns, list) or len(turns) < 2:
            continue
        first, second = turns[0], turns[1]
        if not (isinstance(first, dict) and isinstance(second, dict)):
            continue
        if first.get("from") not in ("human", "user") or second.get("from") not in ("gpt", "assistant", "chatgpt"):
            continue
        prompt, answer = first.get("value"), second.get("value")
        if isinstance(prompt, str) and isinstance(answer, str) and prompt.strip():
            out.append((prompt, answer))
    if not out:
        raise ValueError(f"{path}: no conversation with a human turn followed by a gpt turn")
    return out


def read_prompts(path: str | Path) -> list[Prompt]:
    """JSONL of ``{"prompt": str, "output_tokens": int?}`` (``output_len`` and
    ``max_tokens`` also accepted) or of plain JSON strings."""
    out: list[Prompt] = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if is_blank(raw):
                continue
            try:
                item = json.loads(raw)
            except ValueError as exc:
                raise ValueError(f"{path} line {lineno}: not JSON ({exc})") from None
            if isinstance(item, str):
                out.append(Prompt(messages=[{"role": "user", "content": item}], text=item))
                continue
            text = item.get("prompt") if isinstance(item, dict) else None
            if not isinstance(text, str):
                raise ValueError(f"{path} line {lineno}: expected a string or an object with a \"prompt\" string")
            n = item.get("output_tokens", item.get("output_len", item.get("max_tokens")))
            out.append(Prompt(messages=[{"role": "user", "content": text}], text=text,
                              output_tokens=int(n) if isinstance(n, int) and not isinstance(n, bool) else None))
    if not out:
        raise ValueError(f"{path}: no prompts")
    return out


_ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}
_NOT_PASSED = frozenset({"messages", "prompt", "stream", "stream_options", "max_tokens", "max_completion_tokens"})


def read_batch(path: str | Path) -> list[Prompt]:
    """The chat and completions lines of an OpenAI batch JSONL (parsed as the batch runner
    parses them); other routes and invalid lines raise, naming the line."""
    out: list[Prompt] = []
    with open(path, "rb") as f:
        seq = 0
        for lineno, raw in enumerate(f, 1):
            if is_blank(raw):
                continue
            req = parse_line(raw, seq, lineno)
            seq += 1
            if isinstance(req, Invalid):
                raise ValueError(f"{path}: {req.message}")
            endpoint = _ENDPOINTS.get(req.url)
            if endpoint is None:
                raise ValueError(f"{path} line {lineno}: bench streams chat and completions lines, not {req.url}")
            body = req.body
            n = body.get("max_completion_tokens", body.get("max_tokens"))
            rest = {k: v for k, v in body.items() if k not in _NOT_PASSED}
            if endpoint == "chat":
                if not isinstance(body.get("messages"), list):
                    raise ValueError(f"{path} line {lineno}: a chat line needs body.messages")
                out.append(Prompt(messages=body["messages"], output_tokens=n if isinstance(n, int) else None,
                                  body=rest, endpoint="chat"))
            else:
                if "prompt" not in body:
                    raise ValueError(f"{path} line {lineno}: a completions line needs body.prompt")
                out.append(Prompt(text=body["prompt"], output_tokens=n if isinstance(n, int) else None,
                                  body=rest, endpoint="completions"))
    if not out:
        raise ValueError(f"{path}: no lines")
    return out
