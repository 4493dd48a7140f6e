"""Request parameters: every OpenAI and vLLM 0.32 field, typed once.

``ChatParams`` and ``CompletionParams`` are the keyword arguments of
``chat.completions.create`` and ``completions.create`` (``**params: Unpack[...]``), so
editors complete them and mypy checks them, and the runtime checks unknown names
against the same source. Lists were read off vLLM 0.32's ``ChatCompletionRequest`` and
``CompletionRequest`` plus the OpenAI fields vLLM accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union

from typing_extensions import TypedDict

from .._config import TimeoutLike

__all__ = ["CHAT_FIELDS", "COMPLETION_FIELDS", "CallOptions", "ChatParams", "CompletionParams"]

Stop = Union[str, Sequence[str], None]
ToolChoice = Union[Literal["none", "auto", "required"], Mapping[str, Any], None]


class CallOptions(TypedDict, total=False):
    """Per-call transport options every method takes."""

    extra_headers: Mapping[str, str] | None
    extra_query: Mapping[str, Any] | None
    extra_body: Mapping[str, Any] | None
    extra: Mapping[str, Any] | None
    timeout: TimeoutLike


class _SamplingParams(TypedDict, total=False):
    """Fields shared by chat and completions (OpenAI + vLLM sampling extras)."""

    frequency_penalty: float | None
    presence_penalty: float | None
    logit_bias: Mapping[str | int, float] | None
    max_tokens: int | None
    n: int | None
    seed: int | None
    stop: Stop
    stream_options: Mapping[str, Any] | None
    temperature: float | None
    top_p: float | None
    user: str | None
    response_format: Any
    # vLLM extras
    use_beam_search: bool
    top_k: int | None
    min_p: float | None
    repetition_penalty: float | None
    length_penalty: float
    stop_token_ids: Sequence[int] | None
    include_stop_str_in_output: bool
    ignore_eos: bool
    min_tokens: int
    skip_special_tokens: bool
    spaces_between_special_tokens: bool
    truncate_prompt_tokens: int | None
    truncation_side: Literal["left", "right"] | None
    prompt_logprobs: int | None
    logprob_token_ids: Sequence[int] | None
    allowed_token_ids: Sequence[int] | None
    bad_words: Sequence[str]
    add_special_tokens: bool
    structured_outputs: Mapping[str, Any] | None
    priority: int
    request_id: str
    session_id: str | None
    return_tokens_as_token_ids: bool | None
    return_token_ids: bool | None
    return_token_offsets: bool | None
    cache_salt: str | None
    kv_transfer_params: Mapping[str, Any] | None
    ec_transfer_params: Mapping[str, Any] | None
    vllm_xargs: Mapping[str, Any] | None
    repetition_detection: Mapping[str, Any] | None
    thinking_token_budget: int | None
    stream_interval: int | None
    watermarking: bool | None
    routed_experts_prompt_start: int
    mm_payload: Literal["tensors", "none"]
    return_mm_kwargs: bool | None
    # removed from vLLM (>= 0.11 ignores them silently): translated to structured_outputs
    guided_json: Any
    guided_regex: str | None
    guided_choice: Sequence[str] | None
    guided_grammar: str | None
    guided_whitespace_pattern: str | None
    guided_decoding_backend: str | None


class ChatParams(_SamplingParams, total=False):
    """Keyword arguments of ``chat.completions.create`` besides ``messages``."""

    model: str | None
    logprobs: bool | None
    top_logprobs: int | None
    max_completion_tokens: int | None
    tools: Sequence[Any] | None
    tool_choice: ToolChoice
    parallel_tool_calls: bool | None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None
    include_reasoning: bool
    echo: bool
    add_generation_prompt: bool
    continue_final_message: bool
    documents: Sequence[Mapping[str, str]] | None
    chat_template: str | None
    chat_template_kwargs: Mapping[str, Any] | None
    media_io_kwargs: Mapping[str, Any] | None
    mm_processor_kwargs: Mapping[str, Any] | None
    return_prompt_text: bool | None
    # OpenAI fields vLLM accepts (and mostly ignores)
    metadata: Mapping[str, str] | None
    store: bool | None
    service_tier: str | None
    modalities: Sequence[str] | None
    audio: Mapping[str, Any] | None
    prediction: Mapping[str, Any] | None
    verbosity: str | None
    prompt_cache_key: str | None
    safety_identifier: str | None
    functions: Sequence[Any] | None
    function_call: Any


class CompletionParams(_SamplingParams, total=False):
    """Keyword arguments of ``completions.create`` besides ``prompt``."""

    model: str | None
    echo: bool | None
    logprobs: int | None
    suffix: str | None
    best_of: int | None
    prompt_embeds: Any


CHAT_FIELDS = frozenset(ChatParams.__annotations__)
COMPLETION_FIELDS = frozenset(CompletionParams.__annotations__)
OPTION_FIELDS = frozenset(CallOptions.__annotations__)
