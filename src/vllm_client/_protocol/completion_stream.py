"""Legacy completion stream state: ``text_completion`` chunks -> events -> final answer.

The ``/v1/completions`` twin of :mod:`.chat_stream`, much simpler: a choice streams only
``text`` (plus ``logprobs``/``token_ids`` when asked). With a list of prompts and ``n``
samples, vLLM numbers choices ``prompt_index * n + sample`` and interleaves them; the
final answer lists them by index, like the non-streamed one.

Legacy ``logprobs`` arrive per chunk as parallel lists (``tokens``, ``token_logprobs``,
``top_logprobs``, ``text_offset``, with offsets already counted from the choice start),
so assembling them is list concatenation per key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .events import CompletionStreamEventType, Done, Finish, Text
from .stream_state import StreamStateBase
from .types import Completion

if TYPE_CHECKING:
    from .plain_chunks import PlainCompletionChunk

__all__ = ["CompletionStreamState"]

_TOP_DEFAULTS: dict[str, Any] = {
    "service_tier": None,
    "system_fingerprint": None,
    "kv_transfer_params": None,
    "ec_transfer_params": None,
    "metrics": None,
}


class _ChoiceAcc:
    __slots__ = ("finish_reason", "finished", "index", "logprobs", "prompt_token_ids", "stop_reason",
                 "text", "token_ids")

    def __init__(self, index: int) -> None:
        self.index = index
        self.text: list[str] = []
        self.logprobs: dict[str, Any] | None = None
        self.token_ids: list[int] | None = None
        self.prompt_token_ids: list[int] | None = None
        self.finish_reason: str | None = None
        self.stop_reason: str | int | None = None
        self.finished = False

    def add_logprobs(self, logprobs: dict[str, Any]) -> None:
        acc = self.logprobs
        if acc is None:
            self.logprobs = {k: list(v) if isinstance(v, list) else v for k, v in logprobs.items()}
            return
        for key, value in logprobs.items():
            have = acc.get(key)
            if isinstance(value, list) and isinstance(have, list):
                have.extend(value)
            elif value is not None:
                acc[key] = list(value) if isinstance(value, list) else value

    def raw(self) -> dict[str, Any]:
        logprobs = self.logprobs
        return {
            "index": self.index,
            "text": "".join(self.text),
            "logprobs": {k: list(v) if isinstance(v, list) else v for k, v in logprobs.items()}
            if logprobs is not None else None,
            "finish_reason": self.finish_reason,
            "stop_reason": self.stop_reason,
            "token_ids": list(self.token_ids) if self.token_ids is not None else None,
            "prompt_logprobs": None,
            "prompt_token_ids": self.prompt_token_ids,
            "routed_experts": None,
        }


class CompletionStreamState(StreamStateBase[CompletionStreamEventType]):
    """Turns decoded ``text_completion`` chunks into ``Text``/``Finish``/``Usage`` events.

    Same contract as :class:`.chat_stream.ChatStreamState`: ``feed`` per chunk dict,
    ``feed_plain`` per typed plain chunk, ``end`` at ``[DONE]``, ``final`` at any time,
    ``token_chunks`` for latency metrics.
    """

    __slots__ = ("_choices",)

    def __init__(self) -> None:
        super().__init__()
        self._choices: dict[int, _ChoiceAcc] = {}
        from .plain_chunks import decode_plain_completion  # on first use: msgspec is not startup cost

        self.decode_plain = decode_plain_completion

    def feed(self, chunk: dict[str, Any]) -> list[CompletionStreamEventType]:
        """The events of one chunk: text, then finish; usage for the usage-only chunk."""
        return self._feed_general(chunk)

    def feed_plain(self, chunk: PlainCompletionChunk, out: list[CompletionStreamEventType]) -> bool:
        """Apply a plain (text-only) chunk from :mod:`.plain_chunks`: the events and state
        :meth:`feed` would produce; False, changing nothing, for the first chunk, a choice
        not seen yet or several choices in one chunk (the general path takes those)."""
        choices = chunk.choices
        if len(choices) != 1 or self._top is None:
            return False
        c = choices[0]
        index = c.index
        acc = self._choices.get(index)
        if acc is None:
            return False
        usage = chunk.usage
        if usage is not None:
            self._usage = usage
        text = c.text
        if text:
            acc.text.append(text)
            self.token_chunks += 1
            out.append(Text(text, index))
        return True

    def _feed_choice(self, c: dict[str, Any], out: list[CompletionStreamEventType]) -> bool:
        index = c.get("index") or 0
        acc = self._choices.get(index)
        if acc is None:
            acc = self._choices[index] = _ChoiceAcc(index)
        text = c.get("text") or ""
        logprobs = c.get("logprobs")
        token_ids = c.get("token_ids")
        prompt_ids = c.get("prompt_token_ids")
        if prompt_ids is not None and acc.prompt_token_ids is None:
            acc.prompt_token_ids = prompt_ids
        if isinstance(logprobs, dict):
            acc.add_logprobs(logprobs)
        if token_ids is not None:
            if acc.token_ids is None:
                acc.token_ids = []
            acc.token_ids.extend(token_ids)
        carried = False
        if text or logprobs is not None or token_ids is not None:
            acc.text.append(text)
            out.append(Text(text, index, logprobs, token_ids))
            carried = True
        finish = c.get("finish_reason")
        if finish is not None and not acc.finished:
            acc.finished = True
            acc.finish_reason = finish
            acc.stop_reason = c.get("stop_reason")
            out.append(Finish(finish, acc.stop_reason, index))
        return carried

    def end(self) -> list[CompletionStreamEventType]:
        """``[DONE]``: nothing is left open in a completion stream, so just ``Done``."""
        return [Done()]

    def final(self) -> Completion:
        """The answer received so far, shaped like vLLM's non-streamed answer."""
        choices = [self._choices[i].raw() for i in sorted(self._choices)]
        return Completion(self._final_raw("text_completion", choices, _TOP_DEFAULTS))
