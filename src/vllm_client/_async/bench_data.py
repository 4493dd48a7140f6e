"""Materialise a bench workload before the run: prompts of exact token lengths through the
server's ``/tokenize`` and ``/detokenize`` (the sync twin is generated from this file).

Nothing here is timed: it runs before the clock starts. Exact lengths: random ids from the
vocabulary of :data:`~vllm_client.bench._workloads.SEED_TEXT` are detokenized, the text is
tokenized again (a decode/encode round trip may merge or split tokens), cut or topped up to
the length, and tried again, at most :data:`_ROUNDS` times (vLLM's ``bench serve`` re-aligns
the same way). For chat the template's own tokens (counted once with an empty user message)
are subtracted, so the *prompt* the server counts has the asked length.
"""

from __future__ import annotations

import random
from typing import Any

from ..bench._config import Workload
from ..bench._workloads import SEED_TEXT, Prompt, draw_lengths, read_batch, read_prompts, read_sharegpt
from .client import AsyncVllmClient

__all__ = ["Prepared", "prepare"]

_ROUNDS = 6


class Prepared:
    """What a run sends: single-turn ``prompts`` (cycled when the run outlasts them) or,
    for multi-turn, ``turn_texts`` (user messages, taken in order)."""

    def __init__(self, prompts: list[Prompt], turn_texts: list[Prompt] | None = None) -> None:
        self.prompts = prompts
        self.turn_texts = turn_texts or []


class _Tokens:
    def __init__(self, client: AsyncVllmClient, model: str | None, rng: random.Random) -> None:
        self._client = client
        self._model: dict[str, Any] = {"model": model} if model else {}
        self._rng = rng
        self._vocab: list[int] = []

    async def vocab(self) -> list[int]:
        if not self._vocab:
            ids = (await self._client.tokenize(SEED_TEXT, add_special_tokens=False, **self._model)).tokens
            self._vocab = sorted(set(ids))
            if not self._vocab:
                raise ValueError("the server's /tokenize returned no tokens for plain English text")
        return self._vocab

    async def count(self, text: str) -> int:
        return (await self._client.tokenize(text, add_special_tokens=False, **self._model)).count

    async def chat_overhead(self) -> int:
        result = await self._client.tokenize(messages=[{"role": "user", "content": ""}], add_generation_prompt=True,
                                             **self._model)
        return result.count

    async def text(self, n: int) -> str:
        """Text of exactly ``n`` tokens (best effort after :data:`_ROUNDS` round trips)."""
        vocab = await self.vocab()
        choice = self._rng.choice
        ids = [choice(vocab) for _ in range(n)]
        text = ""
        for _ in range(_ROUNDS):
            text = await self._client.detokenize(ids, **self._model)
            got = (await self._client.tokenize(text, add_special_tokens=False, **self._model)).tokens
            if len(got) == n:
                return text
            ids = got[:n] if len(got) > n else got + [choice(vocab) for _ in range(n - len(got))]
        return text


def _chat(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def prepare(client: AsyncVllmClient, workload: Workload, count: int, rng: random.Random) -> Prepared:
    """``count`` prompts (or multi-turn user messages) for ``workload``."""
    kind, path = workload.kind, workload.path
    out_len = workload.asked_output_len()
    chat = workload.endpoint in ("chat", "responses")  # both apply the chat template
    if kind == "prompts":
        return Prepared(_resize(read_prompts(str(path)), out_len, workload.endpoint))
    if kind == "batch":
        return Prepared(read_batch(str(path)))
    tokens = _Tokens(client, workload.model, rng)
    if kind == "sharegpt":
        pairs = read_sharegpt(str(path))
        rng.shuffle(pairs)
        prompts = []
        for text, answer in pairs[:count]:
            n = out_len if out_len is not None else max(1, await tokens.count(answer))
            prompts.append(Prompt(messages=_chat(text), text=text, output_tokens=n, endpoint=workload.endpoint))
        return Prepared(prompts)
    overhead = await tokens.chat_overhead() if chat else 0
    in_lens = draw_lengths(rng, count, workload.input_len, workload.range_ratio)
    out_lens = draw_lengths(rng, count, out_len or 128, workload.range_ratio)
    if kind == "multi-turn":
        texts = [Prompt(text=await tokens.text(n), input_tokens=n, output_tokens=o, endpoint=workload.endpoint)
                 for n, o in zip(in_lens, out_lens, strict=True)]
        return Prepared([], texts)
    prompts = []
    if kind == "shared-prefix":
        prefixes = [await tokens.text(workload.prefix_len) for _ in range(workload.num_prefixes)]
        for i, (n, o) in enumerate(zip(in_lens, out_lens, strict=True)):
            group = i % len(prefixes)
            text = prefixes[group] + " " + await tokens.text(n)
            prompts.append(Prompt(messages=_chat(text), text=text, output_tokens=o,
                                  input_tokens=overhead + workload.prefix_len + n, endpoint=workload.endpoint,
                                  group=group))
        return Prepared(prompts)
    for n, o in zip(in_lens, out_lens, strict=True):
        text = await tokens.text(max(1, n - overhead))
        prompts.append(Prompt(messages=_chat(text), text=text, output_tokens=o, input_tokens=max(n, overhead + 1),
                              endpoint=workload.endpoint))
    return Prepared(prompts)


def _resize(prompts: list[Prompt], out_len: int | None, endpoint: str) -> list[Prompt]:
    for p in prompts:
        p.endpoint = endpoint
        if out_len is not None:
            p.output_tokens = out_len
    return prompts
