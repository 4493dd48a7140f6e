"""Token log-probabilities as typed views (``choices[0].logprobs.content[0].token``).

Two shapes, as vLLM sends them: chat choices carry OpenAI's ``{"content": [{token,
logprob, bytes, top_logprobs}]}``, legacy completions the parallel lists ``tokens``,
``token_logprobs``, ``top_logprobs`` (dicts token -> logprob) and ``text_offset``. The
views read the raw dict on access, and ``view["content"]`` still works for code written
against the dict these properties used to return.
"""

from __future__ import annotations

from typing import Any

from .types import _RawView

__all__ = ["ChatLogprobs", "CompletionLogprobs", "TokenLogprob", "TopLogprob"]


class _Indexable(_RawView):
    """Dict-compatible: indexing, ``get`` and ``==`` against the plain dict."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):
            return bool(self.raw == other)
        return super().__eq__(other)

    __hash__ = None

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


class TopLogprob(_Indexable):
    """One alternative at a position: its token text, logprob and UTF-8 bytes."""

    __slots__ = ()

    @property
    def token(self) -> str:
        return str(self.raw.get("token") or "")

    @property
    def logprob(self) -> float:
        return float(self.raw.get("logprob") or 0.0)

    @property
    def bytes(self) -> list[int] | None:
        return self.raw.get("bytes")


class TokenLogprob(TopLogprob):
    """A generated token with its logprob and the ``top_logprobs`` alternatives."""

    __slots__ = ()

    @property
    def top_logprobs(self) -> list[TopLogprob]:
        return [TopLogprob(t) for t in self.raw.get("top_logprobs") or () if isinstance(t, dict)]


class ChatLogprobs(_Indexable):
    """A chat choice's logprobs: ``content`` (one entry per generated token)."""

    __slots__ = ()

    @property
    def content(self) -> list[TokenLogprob] | None:
        items = self.raw.get("content")
        return None if items is None else [TokenLogprob(t) for t in items if isinstance(t, dict)]

    @property
    def refusal(self) -> list[TokenLogprob] | None:
        items = self.raw.get("refusal")
        return None if items is None else [TokenLogprob(t) for t in items if isinstance(t, dict)]


class CompletionLogprobs(_Indexable):
    """A legacy completion choice's logprobs: parallel lists, one entry per token."""

    __slots__ = ()

    @property
    def tokens(self) -> list[str]:
        return list(self.raw.get("tokens") or ())

    @property
    def token_logprobs(self) -> list[float | None]:
        return list(self.raw.get("token_logprobs") or ())

    @property
    def top_logprobs(self) -> list[dict[str, float] | None]:
        return list(self.raw.get("top_logprobs") or ())

    @property
    def text_offset(self) -> list[int]:
        return list(self.raw.get("text_offset") or ())
