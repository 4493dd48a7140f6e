"""What the chat and the completion stream states share: top-level fields, usage, and
the count of token-carrying chunks, gathered on the general (non-fast) path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .events import Usage as UsageEvent
from .types import Usage

__all__ = ["NOT_TOP", "PLAIN_CHUNK_KEYS", "StreamStateBase"]

E = TypeVar("E")

# Keys of a bare chunk: id, object, created, model, choices. A chunk with more keys
# (usage, system_fingerprint, prompt_token_ids, ...) takes the general path.
PLAIN_CHUNK_KEYS = 5
NOT_TOP = frozenset({"object", "choices", "usage"})


class StreamStateBase(Generic[E]):
    """Base of the stream states: subclasses add the per-choice handling (``_feed_choice``)
    and, for the common chunk, a typed fast path: ``decode_plain`` (bytes -> a struct of
    :mod:`.plain_chunks`, raising ``msgspec.DecodeError`` for any other chunk) and
    ``feed_plain`` to apply what it decoded."""

    __slots__ = ("_top", "_usage", "decode_plain", "token_chunks")

    def __init__(self) -> None:
        self._top: dict[str, Any] | None = None
        self._usage: dict[str, Any] | None = None
        self.token_chunks = 0
        self.decode_plain: Callable[[bytes], Any] | None = None

    def feed_plain(self, chunk: Any, out: list[E]) -> bool:
        """Apply a chunk ``decode_plain`` returned, appending its events to ``out``; False
        (nothing changed) when it needs the general path after all."""
        return False

    @property
    def usage(self) -> Usage | None:
        """The final usage (or, mid-stream with continuous usage stats, the latest)."""
        return Usage(self._usage) if self._usage is not None else None

    def _final_raw(self, obj: str, choices: list[dict[str, Any]], top_defaults: dict[str, Any]) -> dict[str, Any]:
        """The non-streamed answer's top level around ``choices``: the fields the chunks
        carried, ``top_defaults`` for those a stream never sends, and the usage."""
        top = self._top or {}
        raw: dict[str, Any] = {
            "id": top.get("id"),
            "object": obj,
            "created": top.get("created"),
            "model": top.get("model"),
            "choices": choices,
        }
        raw.update(top_defaults)
        raw["usage"] = self._usage
        for key, value in top.items():
            if key not in raw or value is not None:
                raw[key] = value
        return raw

    def _feed_choice(self, c: dict[str, Any], out: list[E]) -> bool:
        """Handle one choice delta, appending events; True if it carried a token."""
        raise NotImplementedError

    def _feed_general(self, chunk: dict[str, Any]) -> list[E]:
        out: list[E] = []
        top = self._top
        if top is None:
            top = self._top = {}
        if len(chunk) != PLAIN_CHUNK_KEYS or not top:
            # First chunk, or one with extra fields (prompt_token_ids, system_fingerprint...).
            for key, value in chunk.items():
                if key not in NOT_TOP and (value is not None or key not in top):
                    top[key] = value
        choices = chunk.get("choices") or ()
        carried = False
        for c in choices:
            carried = self._feed_choice(c, out) or carried
        if carried:
            self.token_chunks += 1
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = usage
            if not choices:
                out.append(UsageEvent(Usage(usage)))  # type: ignore[arg-type]
        return out
