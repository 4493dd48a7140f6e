"""Client-side stream timing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

__all__ = ["StreamMetrics"]


@dataclass(slots=True)
class StreamMetrics:
    """Timing of one stream, measured by the client (``perf_counter`` seconds).

    ``ttft_s`` counts from sending the request to the first content, reasoning or tool
    token (the role-only first chunk does not count); ``itl_s`` holds the gaps between
    successive token events; ``chunks`` the SSE chunks decoded; ``completion_tokens``
    the server's count from the usage chunk when it arrived, else the token events seen.
    """

    started: float
    ttft_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    total_s: float | None = None
    chunks: int = 0
    completion_tokens: int | None = None
    _last: float = field(default=0.0, repr=False)
    _tokens: int = field(default=0, repr=False)
    #: told once, at the first token (the call lifecycle's ``first_token``; None: nobody)
    on_first_token: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    #: whether the stream should also report reads that carried no token event (count 0):
    #: the bench's trace does, to see tokens whose text is "" in the running usage
    every_read: ClassVar[bool] = False

    def tokens(self, now: float, count: int = 1) -> None:
        """``count`` token chunks arrived together at ``now`` (one socket read): the first
        gets the gap since the previous read (or sets TTFT), the others a gap of 0."""
        if count <= 0:
            return
        self._tokens += count
        if self.ttft_s is None:
            self.ttft_s = now - self.started
            if self.on_first_token is not None:
                self.on_first_token()
        else:
            self.itl_s.append(now - self._last)
        if count > 1:
            self.itl_s.extend([0.0] * (count - 1))
        self._last = now

    def finish(self, now: float, chunks: int, usage_tokens: int | None = None) -> None:
        if self.total_s is None:
            self.total_s = now - self.started
        self.chunks = chunks
        if usage_tokens is not None:
            self.completion_tokens = usage_tokens
        elif self.completion_tokens is None:
            self.completion_tokens = self._tokens

    @property
    def tokens_per_s(self) -> float | None:
        """Decode speed after the first token."""
        if self.ttft_s is None or self.total_s is None or self.total_s <= self.ttft_s or self._tokens < 2:
            return None
        return (self._tokens - 1) / (self.total_s - self.ttft_s)
