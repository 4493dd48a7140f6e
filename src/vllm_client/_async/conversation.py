"""``AsyncConversation``: a chat that keeps its own history.

Each turn sends the whole history (vLLM is stateless; its prefix cache makes the repeat
cheap) and appends the user message and the answer only once the answer has arrived, so
a failed or abandoned turn leaves the history as it was and can simply be retried.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._protocol.events import ChatStreamEvent
from .._protocol.params import CHAT_FIELDS
from .._protocol.requests import new_request_id, split_kwargs
from .._protocol.types import ChatCompletion
from ..messages import MediaSource, user

if TYPE_CHECKING:
    from .client import AsyncVllmClient

__all__ = ["AsyncConversation"]

Media = MediaSource | Sequence[MediaSource] | None


class AsyncConversation:
    """A multi-turn chat over one client: ``await conv.send(text)`` returns the answer's
    text; ``conv.stream(text)`` yields ``StreamEvent`` events.

    ``defaults`` are keyword arguments of ``chat.completions.create`` used on every turn
    (``temperature=0.2``, ``max_tokens=512``, ...); a turn's own keywords override them.
    Reasoning of earlier answers is not sent back (chat templates of reasoning models
    expect it dropped) unless ``keep_reasoning=True`` (named so as not to clash with
    vLLM's ``include_reasoning`` request field, which can go in the defaults).
    """

    def __init__(self, client: AsyncVllmClient, *, system: str | None = None, model: str | None = None,
                 keep_reasoning: bool = False, **defaults: Any) -> None:
        split_kwargs("conversation", defaults, CHAT_FIELDS)  # a misspelt default fails now, not on turn one
        for name in ("messages", "stream"):
            if name in defaults:
                raise TypeError(f"conversation() does not take {name!r}: the conversation sets it")
        self.client = client
        #: sent as ``session_id`` on every turn: sticky server (session_affinity), X-Session-ID
        self.session_id: str = str(defaults.pop("session_id", None) or f"conv-{new_request_id()}")
        self.system = system
        self.model = model
        self.keep_reasoning = keep_reasoning
        self.defaults: dict[str, Any] = defaults
        self.last_response: ChatCompletion | None = None
        self._messages: list[dict[str, Any]] = [] if system is None else [{"role": "system", "content": system}]

    # -- history ---------------------------------------------------------------------------
    @property
    def history(self) -> list[dict[str, Any]]:
        """The messages so far (system message first), as a copy: editing it does not
        change the conversation (use :meth:`add` for that)."""
        return copy.deepcopy(self._messages)

    messages = history

    def add(self, *messages: Mapping[str, Any]) -> None:
        """Append messages as they are, e.g. ``tool`` results answering the last reply's tool calls."""
        for msg in messages:
            if "role" not in msg:
                raise ValueError(f"a message needs a 'role': {msg!r}")
            self._messages.append(dict(msg))

    def reset(self) -> None:
        """Forget every turn; the system message stays."""
        self._messages = self._messages[:1] if self.system is not None else []
        self.last_response = None

    def fork(self) -> AsyncConversation:
        """An independent copy (same client, same defaults) to explore another branch."""
        other = AsyncConversation(self.client, system=self.system, model=self.model,
                                  keep_reasoning=self.keep_reasoning, session_id=self.session_id, **self.defaults)
        other._messages = copy.deepcopy(self._messages)
        other.last_response = self.last_response
        return other

    def __len__(self) -> int:
        return len(self._messages)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(messages={len(self._messages)}, model={self.model!r})"

    # -- turns -----------------------------------------------------------------------------
    def _turn(self, text: str, images: Media, audio: Media, video: Media,
              overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        message = user(text, images=images, audio=audio, video=video)
        params = {**self.defaults, **overrides}
        if self.model is not None:
            params.setdefault("model", self.model)
        params.setdefault("session_id", self.session_id)
        return message, params

    def _record(self, message: dict[str, Any], response: ChatCompletion) -> None:
        self._messages.append(message)
        self._messages.append(response.assistant_message(include_reasoning=self.keep_reasoning))
        self.last_response = response

    async def send(
        self, text: str, *, images: Media = None, audio: Media = None, video: Media = None, **overrides: Any
    ) -> str:
        """Send one user turn (with optional media, see :func:`vllm_client.messages.user`)
        and return the answer's text ("" when the model only called tools; see
        ``last_response``)."""
        message, params = self._turn(text, images, audio, video, overrides)
        response = await self.client.chat.completions.create(messages=[*self._messages, message], **params)
        self._record(message, response)
        return response.content or ""

    async def stream(
        self, text: str, *, images: Media = None, audio: Media = None, video: Media = None, **overrides: Any
    ) -> AsyncIterator[ChatStreamEvent]:
        """Send one user turn and yield its ``StreamEvent`` events as they arrive. The turn
        joins the history when the stream has ended; leaving the loop early discards it
        (and closes the connection, which aborts the generation)."""
        message, params = self._turn(text, images, audio, video, overrides)
        stream = await self.client.chat.completions.stream(messages=[*self._messages, message], **params)
        async with stream:
            async for event in stream:
                yield event
            final = await stream.final()
        self._record(message, final)
