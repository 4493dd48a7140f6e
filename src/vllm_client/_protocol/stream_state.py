"""What the chat and the completion stream states share: top-level fields, usage, and
the count of token-carrying chunks, gathered on the general (non-fast) path."""

from __future__ import annotations

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
    and a fast path for the common chunk in their ``feed``."""

    __slots__ = ("_top", "_usage", "token_chunks")

    def __init__(self) -> None:
        self._top: dict[str, Any] | None = None
        self._usage: dict[str, Any] | None = None
        self.token_chunks = 0

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
