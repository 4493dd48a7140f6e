"""``POST /v1/chat/completions/batch``: several conversations in one request. Pure.

vLLM 0.32's ``BatchChatCompletionRequest`` takes ``messages`` as a list of conversations and
answers one ``chat.completion`` whose ``choices[i]`` is conversation ``i`` (usage summed). It
is the single-conversation request minus streaming, tools and beam search, with ``n`` = 1 --
but it does not refuse them: the model allows extra fields and copies them into each
conversation's request, so ``"stream": true`` switches the engine to delta output and the
answer keeps only the last chunk's text, and ``tools`` pass through unchecked. Those are
refused here, before sending, with what to use instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from typing_extensions import TypedDict

from .params import CallOptions, Stop
from .requests import RequestSpec, _check_messages, _check_sampling, _options, body_fields, split_kwargs
from .types import ChatCompletion, Message

__all__ = ["ChatBatchCall", "ChatCompletionBatch", "build_chat_batch"]


class ChatBatchParams(TypedDict, total=False):
    """Keyword arguments of ``chat.completions.batch`` besides ``conversations`` (vLLM 0.32's
    ``BatchChatCompletionRequest`` fields)."""

    model: str | None
    frequency_penalty: float | None
    presence_penalty: float | None
    logit_bias: Mapping[str | int, float] | None
    logprobs: bool | None
    top_logprobs: int | None
    logprob_token_ids: Sequence[int] | None
    max_tokens: int | None
    max_completion_tokens: int | None
    n: int | None
    response_format: Any
    seed: int | None
    stop: Stop
    temperature: float | None
    top_p: float | None
    user: str | None
    tool_choice: Literal["none"] | None
    include_reasoning: bool
    best_of: int | None
    top_k: int | None
    min_p: float | None
    repetition_penalty: float | None
    watermarking: bool | None
    length_penalty: float | None
    early_stopping: bool
    structured_outputs: Mapping[str, Any] | None
    request_id: str | None
    add_generation_prompt: bool
    continue_final_message: bool
    chat_template: str | None
    chat_template_kwargs: Mapping[str, Any] | None
    media_io_kwargs: Mapping[str, Any] | None
    mm_processor_kwargs: Mapping[str, Any] | None
    priority: int
    cache_salt: str | None
    include_stop_str_in_output: bool
    echo: bool
    return_tokens_as_token_ids: bool | None
    return_token_ids: bool


class ChatBatchCall(ChatBatchParams, CallOptions, total=False):
    """Every keyword of ``chat.completions.batch``."""


_FIELDS = frozenset(ChatBatchParams.__annotations__)
# Fields vLLM's batch route takes without complaint but cannot honour (see the module docstring).
_REFUSED = {
    "stream": "the batch endpoint does not stream (vLLM would answer with the last chunk only); "
              "stream each conversation with chat.completions.create(stream=True)",
    "stream_options": "the batch endpoint does not stream",
    "tools": "the batch endpoint does not run tools (vLLM would pass them through unchecked); "
             "use chat.completions.create(tools=...) per conversation",
    "functions": "the batch endpoint does not run tools",
    "parallel_tool_calls": "the batch endpoint does not run tools",
    "use_beam_search": "the batch endpoint does not do beam search",
}


def build_chat_batch(conversations: Any, kwargs: Mapping[str, Any]) -> RequestSpec:
    """``chat.completions.batch(...)`` -> ``POST /chat/completions/batch``."""
    for name, why in _REFUSED.items():
        if name in kwargs:
            raise TypeError(f"batch() takes no {name}: {why}")
    params, options = split_kwargs("batch", kwargs, _FIELDS)
    _check_sampling(params)
    if params.get("n") not in (None, 1):
        raise ValueError(f"batch() answers one choice per conversation: n must be 1, got {params['n']}")
    if params.get("tool_choice") not in (None, "none"):
        raise ValueError("batch() does not run tools: tool_choice must be 'none'")
    if params.get("logprob_token_ids") and not params.get("logprobs"):
        raise ValueError("logprob_token_ids needs logprobs=True")
    if isinstance(conversations, (str, bytes, Mapping)) or not isinstance(conversations, (list, tuple)):
        raise TypeError("conversations must be a list of conversations (each a list of message dicts)")
    if not conversations:
        raise ValueError("conversations must not be empty")
    body = body_fields(params)
    body["messages"] = [_check_messages(c) for c in conversations]
    spec = _options(options, RequestSpec("POST", "/chat/completions/batch", body=body))
    for name, why in _REFUSED.items():  # extra_body must not sneak them in either
        if spec.body is not None and name in spec.body:
            raise TypeError(f"batch() takes no {name} (in extra_body): {why}")
    spec.needs_model = "model" not in body
    return spec


class ChatCompletionBatch(ChatCompletion):
    """The answer to ``chat.completions.batch``: ``choices[i]`` answers conversation ``i``;
    ``contents`` and ``answers`` list them in order (``usage`` is the sum)."""

    __slots__ = ()

    @property
    def contents(self) -> list[str | None]:
        """Each conversation's answer text, in conversation order."""
        return [c.message.content for c in sorted(self.choices, key=lambda c: c.index)]

    @property
    def answers(self) -> list[Message]:
        """Each conversation's answer message, in conversation order."""
        return [c.message for c in sorted(self.choices, key=lambda c: c.index)]
