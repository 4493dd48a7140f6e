"""Approximate prefix tracking with no server help: what ``prefix_affinity`` routes on.

vLLM caches KV blocks keyed by a chain of hashes over the prompt's tokens, so two requests
share cache exactly as far as their prompts share a leading run of whole blocks. A client
has no tokenizer, so (like production-stack and llm-d's approximate index, research
``routing-anchors.md`` §1, §3, §12) it works on the text instead:

- canonical text: the model and ``cache_salt`` first (they separate caches), then for chat
  the tools (JSON) and each message as ``role`` + its text parts, in order: the whole
  history, not the first message only (sgl#26263 keyed on the system prompt alone);
  for completions the prompt; for responses the instructions and the input;
- cut into 256-byte blocks (about 64 tokens at ~4 bytes a token; vLLM's CPU block is 128
  tokens, a GPU's 16: finer than the server is fine, only the ratio matters), whole blocks
  only (a partial block never hits in vLLM either), at most 512 blocks (128 KiB);
- chained: ``h_i = blake2b(h_{i-1} || block_i)``, 64 bits, so a block's hash names its
  whole prefix and a match is "how many leading hashes a server holds".

:class:`PrefixIndex` keeps per server an LRU of the hashes routed to it, bounded by
``capacity`` blocks (default 16384 = 4 MiB of text, about a million tokens: a GPU server's
KV cache order of magnitude), so it forgets what the server likely evicted too.

Cost: one blake2b per 256 bytes plus one join, only when the policy is ``prefix_affinity``.
Measured (timeit, best of 3) for a pick with a 12 KiB prompt: 340-450 µs, but on this 2-core
machine while two vLLM servers were starting (a call-lifecycle round trip with no observers
took 3-5 µs in the same runs, ~10x its quiet figure): to be measured again on a quiet machine.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["BLOCK_BYTES", "MAX_BLOCKS", "PrefixIndex", "block_hashes", "canonical_text"]

BLOCK_BYTES = 256
MAX_BLOCKS = 512


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, Mapping):
                if isinstance(part.get("text"), str):
                    parts.append(part["text"])
                else:  # an image, audio...: a stable digest of its description
                    parts.append(json.dumps(part, sort_keys=True, default=str)[:512])
            else:
                parts.append(str(part))
        return "\n".join(parts)
    return str(content)


def canonical_text(body: Mapping[str, Any] | None) -> str:
    """The text a request's prompt starts with, as the prefix index sees it ("" if none)."""
    if not body:
        return ""
    head = f"{body.get('model') or ''}\0{body.get('cache_salt') or ''}\0"
    pieces = [head]
    tools = body.get("tools")
    if tools:
        pieces.append(json.dumps(tools, sort_keys=True, default=str))
    messages = body.get("messages")
    if isinstance(messages, Sequence) and not isinstance(messages, str):
        for message in messages:
            if isinstance(message, Mapping):
                pieces.append(f"\n{message.get('role', '')}\n{_text_of(message.get('content'))}")
        return "".join(pieces)
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        pieces.append(instructions)
    for key in ("prompt", "input"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, str):
                pieces.append(value)
            elif isinstance(value, Sequence) and value and isinstance(value[0], Mapping):
                for item in value:  # responses input items
                    pieces.append(f"\n{item.get('role', '')}\n{_text_of(item.get('content'))}")
            else:
                pieces.append(json.dumps(value, default=str))
            break
    return "".join(pieces)


def block_hashes(text: str, block: int = BLOCK_BYTES, limit: int = MAX_BLOCKS) -> tuple[int, ...]:
    """Chained 64-bit hashes of the whole ``block``-byte blocks of ``text``."""
    data = text.encode("utf-8", "surrogatepass")
    count = min(len(data) // block, limit)
    out = []
    prev = b""
    blake = hashlib.blake2b
    for i in range(count):
        prev = blake(prev + data[i * block:(i + 1) * block], digest_size=8).digest()
        out.append(int.from_bytes(prev, "big"))
    return tuple(out)


class PrefixIndex:
    """Per server, an LRU set of the block hashes routed to it."""

    def __init__(self, servers: int, capacity: int = 16384) -> None:
        if capacity < 1:
            raise ValueError(f"prefix index capacity must be >= 1 block, got {capacity}")
        self.capacity = capacity
        self._lru: list[OrderedDict[int, None]] = [OrderedDict() for _ in range(servers)]

    def match(self, server: int, blocks: Sequence[int]) -> int:
        """How many leading ``blocks`` the server holds."""
        held = self._lru[server]
        n = 0
        for h in blocks:
            if h not in held:
                break
            n += 1
        return n

    def insert(self, server: int, blocks: Sequence[int]) -> None:
        """Record that ``server`` now holds ``blocks`` (most recent), evicting the oldest."""
        held = self._lru[server]
        for h in blocks:
            if h in held:
                held.move_to_end(h)
            else:
                held[h] = None
        while len(held) > self.capacity:
            held.popitem(last=False)

    def clear(self, server: int) -> None:
        self._lru[server].clear()

    def size(self, server: int) -> int:
        return len(self._lru[server])
