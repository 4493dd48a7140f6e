"""Chat stream state: ``chat.completion.chunk`` dicts -> events, and -> the final answer.

Sans-I/O and clock-free: :class:`ChatStreamState` is fed decoded chunk dicts (by
:mod:`.stream_decoder`) and returns the events each one produces; :meth:`final` builds
the dict a non-streamed request would have returned, so a streamed answer and a plain
one are the same :class:`ChatCompletion`.

Why it looks the way it does: this runs once per streamed token (10^4-10^5 chunks/s
per process), and the whole client budget is a few microseconds per chunk. The common
chunk (one choice, a delta holding only ``content`` or ``reasoning``, no finish, logprobs
or token ids; a running ``usage`` beside it allowed) arrives already decoded into a
typed struct (:mod:`.plain_chunks`) and takes :meth:`ChatStreamState.feed_plain`: a few
attribute reads, one list append and one
event. Everything else (the first chunk, tool calls, finish, the usage-only chunk, logprobs,
think-tag splitting) comes as a dict to :meth:`~ChatStreamState.feed`, the general path, which
keeps every field. Text is kept as lists of pieces and joined only in :meth:`final`.

What vLLM 0.32 sends (see the captures in ``shared/fixtures/real-vllm-0.32``):

* a role-only first chunk per choice (``{"role": "assistant", "content": ""}``);
* ``delta.reasoning`` (older servers: ``reasoning_content``) with a reasoning parser;
* tool calls as ``delta.tool_calls[*]``: a first piece with ``id``/``type``/
  ``function.name`` and then ``function.arguments`` fragments, one call after the other
  (other servers may interleave the calls' pieces; a call is complete once a later call
  has started *and* its arguments are a whole JSON object, or when the choice finishes);
* ``finish_reason`` on a chunk that may also carry the last content or be an empty delta;
* with ``include_usage`` a last chunk with ``choices: []`` and ``usage``; with
  ``continuous_usage_stats`` every chunk carries the running usage as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._json import JSONDecodeError, loads
from .events import (
    ChatStreamEvent,
    Content,
    Done,
    Finish,
    Reasoning,
    ToolCallComplete,
    ToolCallDelta,
)
from .stream_state import StreamStateBase
from .think import PieceKind, ThinkTagSplitter
from .types import ChatCompletion, ToolCall

if TYPE_CHECKING:
    from .plain_chunks import PlainChatChunk

__all__ = ["ChatStreamState"]


# Top-level fields of vLLM 0.32's non-streamed chat answer that a stream never sends:
# filled with their null defaults so both answers have the same shape.
_TOP_DEFAULTS: dict[str, Any] = {
    "service_tier": None,
    "system_fingerprint": None,
    "prompt_logprobs": None,
    "prompt_token_ids": None,
    "prompt_text": None,
    "kv_transfer_params": None,
    "ec_transfer_params": None,
    "metrics": None,
}


class _ToolAcc:
    """One tool call being streamed; ``arguments`` is a list of fragments."""

    __slots__ = ("arguments", "complete", "id", "index", "name", "type")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id: str | None = None
        self.type = "function"
        self.name: str | None = None
        self.arguments: list[str] = []
        self.complete = False

    def arguments_text(self) -> str:
        if len(self.arguments) > 1:
            self.arguments = ["".join(self.arguments)]  # joined once, not at every check
        return self.arguments[0] if self.arguments else ""

    def has_whole_arguments(self) -> bool:
        """Whether the arguments so far are a whole JSON object (no fragment can follow)."""
        text = self.arguments_text()
        if not text.rstrip().endswith("}"):
            return False  # the cheap test first: most checks happen mid-object
        try:
            return isinstance(loads(text), dict)
        except JSONDecodeError:
            return False

    def raw(self) -> dict[str, Any]:
        """The call as it appears in a non-streamed ``message.tool_calls``."""
        return {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": self.arguments_text()},
        }


class _ChoiceAcc:
    """What one choice (``index``) has received so far."""

    __slots__ = (
        "content",
        "finish_reason",
        "finished",
        "index",
        "logprobs",
        "reasoning",
        "role",
        "splitter",
        "stop_reason",
        "token_ids",
        "tools",
    )

    def __init__(self, index: int, splitter: ThinkTagSplitter | None) -> None:
        self.index = index
        self.role = "assistant"
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.tools: dict[int, _ToolAcc] = {}
        self.logprobs: list[Any] | None = None
        self.token_ids: list[int] | None = None
        self.finish_reason: str | None = None
        self.stop_reason: str | int | None = None
        self.finished = False
        self.splitter = splitter

    def message(self) -> dict[str, Any]:
        content = "".join(self.content)
        reasoning = "".join(self.reasoning) if self.reasoning else None
        tools = [t.raw() for t in sorted(self.tools.values(), key=_tool_index)]
        if not content and (reasoning is not None or tools):
            # vLLM answers ``content: null`` when the model produced only reasoning or calls.
            content_value: str | None = None
        else:
            content_value = content
        msg: dict[str, Any] = {
            "role": self.role,
            "content": content_value,
            "refusal": None,
            "annotations": None,
            "audio": None,
            "function_call": None,
        }
        if tools:
            msg["tool_calls"] = tools
        msg["reasoning"] = reasoning
        return msg

    def raw(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "message": self.message(),
            "logprobs": {"content": list(self.logprobs)} if self.logprobs is not None else None,
            "finish_reason": self.finish_reason,
            "stop_reason": self.stop_reason,
            "token_ids": list(self.token_ids) if self.token_ids is not None else None,
            "routed_experts": None,
        }


def _tool_index(tool: _ToolAcc) -> int:
    return tool.index


class ChatStreamState(StreamStateBase[ChatStreamEvent]):
    """Turns decoded ``chat.completion.chunk`` dicts into :mod:`events <.events>`.

    ``feed`` returns the events of one chunk (``feed_plain`` applies a typed plain one);
    ``end`` (at ``[DONE]``) completes what is still open and returns ``Done``; ``final``
    assembles the answer received so far. ``token_chunks`` counts chunks that carried a
    token (content, reasoning or a tool-call piece), which the I/O layer turns into
    time-to-first-token and inter-token latency.
    """

    __slots__ = ("_choices", "_parse_think")

    def __init__(self, *, parse_think_tags: bool = False) -> None:
        super().__init__()
        self._parse_think = parse_think_tags
        self._choices: dict[int, _ChoiceAcc] = {}
        if not parse_think_tags:  # (the splitter needs every piece: no plain path then)
            from .plain_chunks import decode_plain_chat  # on first use: msgspec is not startup cost

            self.decode_plain = decode_plain_chat

    # -- feeding ----------------------------------------------------------------------

    def feed(self, chunk: dict[str, Any]) -> list[ChatStreamEvent]:
        """The events of one chunk, in order: reasoning, content, tool-call pieces,
        completed tool calls, finish; then usage for the final usage-only chunk."""
        return self._feed_general(chunk)

    def feed_plain(self, chunk: PlainChatChunk, out: list[ChatStreamEvent]) -> bool:
        """Apply a chunk :mod:`.plain_chunks` decoded (text only, nothing else), appending
        its events to ``out``: the same events and state :meth:`feed` would produce.
        Returns False, having changed nothing, when the chunk needs the general path: the
        first chunk (top-level fields), a choice not seen yet, several choices in one
        chunk, or think-tag splitting."""
        choices = chunk.choices
        if len(choices) != 1 or self._top is None or self._parse_think:
            return False
        c = choices[0]
        index = c.index
        acc = self._choices.get(index)
        if acc is None:
            return False
        usage = chunk.usage
        if usage is not None:
            self._usage = usage
        delta = c.delta
        text = delta.content
        reasoning = delta.reasoning
        if reasoning is None:
            reasoning = delta.reasoning_content
        if reasoning:
            acc.reasoning.append(reasoning)
            out.append(Reasoning(reasoning, index))
            if text:
                acc.content.append(text)
                out.append(Content(text, index))
        elif text:
            acc.content.append(text)
            out.append(Content(text, index))
        else:
            return True  # an empty piece: nothing to report
        self.token_chunks += 1
        return True

    def _choice(self, index: int) -> _ChoiceAcc:
        acc = self._choices.get(index)
        if acc is None:
            acc = self._choices[index] = _ChoiceAcc(index, ThinkTagSplitter() if self._parse_think else None)
        return acc

    def _feed_choice(self, c: dict[str, Any], out: list[ChatStreamEvent]) -> bool:
        """Apply one ``choices[i]`` entry; return whether it carried a token."""
        index = c.get("index") or 0
        acc = self._choice(index)
        delta = c.get("delta") or {}
        carried = False
        role = delta.get("role")
        if role:
            acc.role = role
        logprobs = c.get("logprobs")
        lp_content = logprobs.get("content") if isinstance(logprobs, dict) else None
        if lp_content is not None:
            if acc.logprobs is None:
                acc.logprobs = []
            acc.logprobs.extend(lp_content)
        token_ids = c.get("token_ids")
        if token_ids is not None:
            if acc.token_ids is None:
                acc.token_ids = []
            acc.token_ids.extend(token_ids)

        reasoning = delta.get("reasoning")
        if reasoning is None:
            reasoning = delta.get("reasoning_content")
        if reasoning:
            acc.reasoning.append(reasoning)
            out.append(Reasoning(reasoning, index))
            carried = True

        text = delta.get("content")
        if acc.splitter is not None:
            if text:
                carried = self._split(acc, acc.splitter.feed(text), logprobs, token_ids, out) or carried
            elif logprobs is not None or token_ids is not None:
                carried = True
        elif text or logprobs is not None or token_ids is not None:
            # An empty piece is still reported when it carries a token's logprobs/ids
            # (vLLM sends e.g. a "" token with its logprobs), so events lose nothing.
            if text:
                acc.content.append(text)
            out.append(Content(text or "", index, logprobs, token_ids))
            carried = True

        tool_calls = delta.get("tool_calls")
        if tool_calls:
            for piece in tool_calls:
                self._tool_piece(acc, piece, out)
            carried = True

        finish = c.get("finish_reason")
        if finish is not None and not acc.finished:
            self._close_choice(acc, out)
            acc.finished = True
            acc.finish_reason = finish
            acc.stop_reason = c.get("stop_reason")
            out.append(Finish(finish, acc.stop_reason, index))
        return carried

    def _split(
        self,
        acc: _ChoiceAcc,
        pieces: list[tuple[PieceKind, str]],
        logprobs: Any,
        token_ids: list[int] | None,
        out: list[ChatStreamEvent],
    ) -> bool:
        """Emit think-splitter pieces; the chunk's logprobs/ids ride on its first Content."""
        for kind, piece in pieces:
            if not piece:
                continue
            if kind == "reasoning":
                acc.reasoning.append(piece)
                out.append(Reasoning(piece, acc.index))
            else:
                acc.content.append(piece)
                out.append(Content(piece, acc.index, logprobs, token_ids))
                logprobs = token_ids = None
        return True

    def _tool_piece(self, acc: _ChoiceAcc, piece: dict[str, Any], out: list[ChatStreamEvent]) -> None:
        tindex = piece.get("index")
        if tindex is None:
            tindex = max(acc.tools) if acc.tools else 0
        tool = acc.tools.get(tindex)
        if tool is None:
            tool = acc.tools[tindex] = _ToolAcc(tindex)
            # A later call starts: the earlier ones whose arguments are whole are done
            # (vLLM streams calls in turn; an interleaving server keeps the others open).
            for other in sorted(acc.tools.values(), key=_tool_index):
                if other.index < tindex and not other.complete and other.has_whole_arguments():
                    self._complete(acc, other, out)
        call_id = piece.get("id")
        if call_id:
            tool.id = call_id
        kind = piece.get("type")
        if kind:
            tool.type = kind
        fn = piece.get("function") or {}
        name = fn.get("name")
        if name and not tool.name:
            tool.name = name
        args = fn.get("arguments")
        if args:
            tool.arguments.append(args)
        out.append(ToolCallDelta(tindex, call_id, name, args or "", acc.index))
        if args and not tool.complete and tindex < max(acc.tools) and tool.has_whole_arguments():
            self._complete(acc, tool, out)  # its last piece, after a later call had started

    def _complete(self, acc: _ChoiceAcc, tool: _ToolAcc, out: list[ChatStreamEvent]) -> None:
        tool.complete = True
        out.append(ToolCallComplete(ToolCall(tool.raw()), acc.index))

    def _close_choice(self, acc: _ChoiceAcc, out: list[ChatStreamEvent]) -> None:
        """A choice ends: flush the think splitter, complete its open tool calls."""
        if acc.splitter is not None:
            self._split(acc, acc.splitter.flush(), None, None, out)
        for tool in sorted(acc.tools.values(), key=_tool_index):
            if not tool.complete:
                self._complete(acc, tool, out)

    def end(self) -> list[ChatStreamEvent]:
        """``[DONE]``: complete what a choice without finish_reason left open, then Done."""
        out: list[ChatStreamEvent] = []
        for index in sorted(self._choices):
            acc = self._choices[index]
            if not acc.finished:
                self._close_choice(acc, out)
        out.append(Done())
        return out

    # -- assembly ---------------------------------------------------------------------

    def final(self) -> ChatCompletion:
        """The answer received so far, shaped exactly like vLLM's non-streamed answer.

        Text the think splitter still holds back (a possible partial tag) is not
        included until the choice ends.
        """
        choices = [self._choices[i].raw() for i in sorted(self._choices)]
        return ChatCompletion(self._final_raw("chat.completion", choices, _TOP_DEFAULTS))
