"""Split ``<think>...</think>`` reasoning out of streamed model text.

When a vLLM server runs without ``--reasoning-parser``, a reasoning model's
chain of thought arrives inside the ordinary ``content`` text, wrapped in
``<think>...</think>``.  :class:`ThinkTagSplitter` separates it again, chunk by
chunk, so callers get the same ``reasoning`` / ``content`` split they would get
from a server-side parser.

Rules (chosen to match how reasoning models emit text and how vLLM's own
``deepseek_r1`` / ``qwen3`` parsers treat it):

* Only a think block at the very start counts.  The open tag may follow
  leading whitespace; that whitespace is dropped (it is formatting, and vLLM's
  parsers drop text before the open tag too).  Models emit one think block, so
  a ``<think>`` later in the content is just content.
* Inside the block, everything up to the first close tag is reasoning; a
  nested ``<think>`` is reasoning text.  Everything after the close tag is
  content, verbatim (the usual ``"\\n\\n"`` after ``</think>`` is kept, as vLLM
  keeps it).
* ``assume_open=True`` is for DeepSeek-R1-style chat templates that put the
  open tag into the prompt, so the output starts inside the block and only
  ``</think>`` appears.  Text is then reasoning until the close tag (a leading
  ``<think>``, if the model emits one anyway, is still stripped).
* Streaming stays live: a feed emits everything except the shortest suffix
  that could still become a tag (e.g. a trailing ``"</thi"``), which is held
  back until the next feed or :meth:`~ThinkTagSplitter.flush` decides.

Output pieces are ``(kind, text)`` with kind ``"reasoning"`` or ``"content"``;
no piece is empty and adjacent pieces of one call never share a kind.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["PieceKind", "ThinkTagSplitter", "split_think"]

PieceKind = Literal["reasoning", "content"]

_START, _REASONING, _CONTENT = 0, 1, 2


class ThinkTagSplitter:
    """Incremental ``<think>`` splitter; see the module docstring for the rules."""

    __slots__ = ("_close", "_default", "_held", "_open", "_state")

    def __init__(self, open_tag: str = "<think>", close_tag: str = "</think>", *, assume_open: bool = False) -> None:
        if not open_tag or not close_tag:
            raise ValueError("think tags must be non-empty")
        self._open = open_tag
        self._close = close_tag
        # Where text goes if the output does not start with the open tag.
        self._default = _REASONING if assume_open else _CONTENT
        self._state = _START
        self._held = ""  # text not yet emitted because a tag may be starting

    @property
    def in_reasoning(self) -> bool:
        """True while the splitter is inside the think block."""
        return self._state == _REASONING

    def feed(self, text: str) -> list[tuple[PieceKind, str]]:
        """Consume the next piece of model text; return what can be emitted now."""
        out: list[tuple[PieceKind, str]] = []
        if text:
            if self._held:
                text = self._held + text
                self._held = ""
            self._run(text, out)
        return out

    def flush(self) -> list[tuple[PieceKind, str]]:
        """End of text: emit held-back text as the kind it would have been.

        An unterminated think block simply ends; its text was already emitted
        as reasoning.  A held partial tag (e.g. ``"<thi"`` at the start, or
        ``"</th"`` inside the block) turned out not to be a tag.
        """
        out: list[tuple[PieceKind, str]] = []
        held, self._held = self._held, ""
        if held:
            state = self._default if self._state == _START else self._state
            _emit(out, "reasoning" if state == _REASONING else "content", held)
        return out

    def _run(self, text: str, out: list[tuple[PieceKind, str]]) -> None:
        if self._state == _START:
            stripped = text.lstrip()
            if stripped.startswith(self._open):
                text = stripped[len(self._open) :]
                self._state = _REASONING
            elif self._open.startswith(stripped):  # only whitespace / a tag prefix so far
                self._held = text
                return
            else:
                self._state = self._default
        if self._state == _REASONING:
            close = self._close
            i = text.find(close)
            if i < 0:
                keep = _partial_tag_len(text, close)
                _emit(out, "reasoning", text[: len(text) - keep])
                if keep:
                    self._held = text[len(text) - keep :]
                return
            _emit(out, "reasoning", text[:i])
            text = text[i + len(close) :]
            self._state = _CONTENT
        _emit(out, "content", text)


def _partial_tag_len(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``.

    That is the least we must hold back: any shorter hold could emit the first
    characters of a tag that completes in the next feed.
    """
    n = len(text)
    i = text.find(tag[0], max(0, n - len(tag) + 1))
    while i >= 0:
        if tag.startswith(text[i:]):
            return n - i
        i = text.find(tag[0], i + 1)
    return 0


def _emit(out: list[tuple[PieceKind, str]], kind: PieceKind, text: str) -> None:
    if not text:
        return
    if out and out[-1][0] == kind:
        out[-1] = (kind, out[-1][1] + text)
    else:
        out.append((kind, text))


def split_think(
    text: str, *, assume_open: bool = False, open_tag: str = "<think>", close_tag: str = "</think>"
) -> tuple[str | None, str | None]:
    """Split a whole (non-streamed) text into ``(reasoning, content)``.

    Either part is ``None`` when empty, mirroring the ``reasoning`` /
    ``content`` fields of a vLLM response.
    """
    splitter = ThinkTagSplitter(open_tag, close_tag, assume_open=assume_open)
    reasoning: list[str] = []
    content: list[str] = []
    for kind, piece in splitter.feed(text) + splitter.flush():
        (reasoning if kind == "reasoning" else content).append(piece)
    return ("".join(reasoning) or None), ("".join(content) or None)


def split_think_in_chat(raw: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed chat answer with ``<think>`` text moved from each message's content
    to its ``reasoning`` (messages that already carry reasoning are left alone). Returns a
    copy: the copy is what the result wraps, so ``.raw`` shows the split answer."""
    choices = raw.get("choices")
    if not isinstance(choices, list):
        return raw
    out = dict(raw)
    new_choices = []
    for choice in choices:
        msg = choice.get("message") if isinstance(choice, dict) else None
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(msg, dict) and isinstance(content, str) and msg.get("reasoning") is None \
                and msg.get("reasoning_content") is None:
            reasoning, rest = split_think(content)
            choice = {**choice, "message": {**msg, "content": rest, "reasoning": reasoning}}
        new_choices.append(choice)
    out["choices"] = new_choices
    return out
