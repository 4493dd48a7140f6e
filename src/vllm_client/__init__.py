"""vllm-client: the Python client for vLLM servers.

Sync :class:`VllmClient` and async :class:`AsyncVllmClient` share one surface (the sync
one is generated from the async source): chat and completions with every vLLM field as a
keyword argument, typed results that keep the raw JSON, typed stream events, retries and
timeouts made for LLM serving. :mod:`vllm_client.testing` has a vLLM emulator for tests.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

# Where each public name lives. Nothing is imported until a name is first used
# (PEP 562 ``__getattr__``): ``import vllm_client`` stays a few milliseconds, a sync-only
# program never loads asyncio, and the CLI pays only for what its command
# uses (measured: benchmarks/import_time.py). tests/unit/test_lazy_imports.py checks that
# this table, the ``TYPE_CHECKING`` imports below and ``__all__`` agree.
_LAZY: dict[str, tuple[str, ...]] = {
    "._async.anthropic": ("AsyncMessagesStream",),
    "._async.audio": ("AsyncTranscriptionStream",),
    "._async.client": ("AsyncVllmClient",),
    "._async.conversation": ("AsyncConversation",),
    "._async.generate": ("AsyncGenerateStream",),
    "._async.responses": ("AsyncResponseStream",),
    "._async.streaming": ("AsyncChatStream", "AsyncCompletionStream", "AsyncStream"),
    "._config": ("Limits", "Timeout"),
    "._errors": (
        "APIConnectionError", "APIError", "APITimeoutError", "AuthenticationError", "BadRequestError", "ConflictError",
        "InternalServerError", "ModelNotFoundError", "NotFoundError", "PermissionDeniedError", "RateLimitError",
        "ResponseParseError", "ServiceUnavailableError", "StreamError", "StreamTimeoutError", "ToolArgumentsError",
        "UnprocessableEntityError", "VllmError",
    ),
    "._protocol.anthropic": ("AnthropicMessage", "AnthropicUsage", "MessageStreamEvent"),
    "._protocol.audio_types": ("AudioUsage", "Transcription", "TranscriptionSegment", "Translation"),
    "._protocol.chat_batch": ("ChatCompletionBatch",),
    "._protocol.cohere": ("EmbedV2Result",),
    "._protocol.events": ("ChatStreamEvent", "CompletionStreamEvent", "CompletionStreamEventType", "StreamEvent"),
    "._protocol.generate": ("GenerateChoice", "GenerateResult", "GenerateStreamEvent"),
    "._protocol.pooling_types": (
        "ClassificationData", "ClassificationResult", "EmbeddingData", "EmbeddingResponse", "PoolingData",
        "PoolingResult", "RerankItem", "RerankResult", "ScoreData", "ScoreResult", "TokenizeResult",
    ),
    "._protocol.responses_events": ("ResponseEvent", "ResponseStreamEvent"),
    "._protocol.responses_types": (
        "Response", "ResponseFunctionCall", "ResponseItem", "ResponseMessage", "ResponseReasoning",
    ),
    "._protocol.types": (
        "ChatCompletion", "Choice", "Completion", "CompletionChoice", "Function", "Message", "Model", "ModelList",
        "RequestTiming", "ToolCall", "Usage",
    ),
    "._stream_metrics": ("StreamMetrics",),
    "._sync.anthropic": ("MessagesStream",),
    "._sync.audio": ("TranscriptionStream",),
    "._sync.client": ("VllmClient",),
    "._sync.conversation": ("Conversation",),
    "._sync.generate": ("GenerateStream",),
    "._sync.responses": ("ResponseStream",),
    "._sync.streaming": ("ChatStream", "CompletionStream", "Stream"),
    ".structured": ("ParsedChatCompletion", "ParsedCompletion", "StructuredOutputError"),
    ".tools": ("ToolLoopError",),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}

if TYPE_CHECKING:  # the same names, eagerly, for type checkers and IDEs
    from ._async.anthropic import AsyncMessagesStream
    from ._async.audio import AsyncTranscriptionStream
    from ._async.client import AsyncVllmClient
    from ._async.conversation import AsyncConversation
    from ._async.generate import AsyncGenerateStream
    from ._async.responses import AsyncResponseStream
    from ._async.streaming import AsyncChatStream, AsyncCompletionStream, AsyncStream
    from ._config import Limits, Timeout
    from ._errors import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        InternalServerError,
        ModelNotFoundError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ResponseParseError,
        ServiceUnavailableError,
        StreamError,
        StreamTimeoutError,
        ToolArgumentsError,
        UnprocessableEntityError,
        VllmError,
    )
    from ._protocol.anthropic import AnthropicMessage, AnthropicUsage, MessageStreamEvent
    from ._protocol.audio_types import AudioUsage, Transcription, TranscriptionSegment, Translation
    from ._protocol.chat_batch import ChatCompletionBatch
    from ._protocol.cohere import EmbedV2Result
    from ._protocol.events import ChatStreamEvent, CompletionStreamEvent, CompletionStreamEventType, StreamEvent
    from ._protocol.generate import GenerateChoice, GenerateResult, GenerateStreamEvent
    from ._protocol.pooling_types import (
        ClassificationData,
        ClassificationResult,
        EmbeddingData,
        EmbeddingResponse,
        PoolingData,
        PoolingResult,
        RerankItem,
        RerankResult,
        ScoreData,
        ScoreResult,
        TokenizeResult,
    )
    from ._protocol.responses_events import ResponseEvent, ResponseStreamEvent
    from ._protocol.responses_types import (
        Response,
        ResponseFunctionCall,
        ResponseItem,
        ResponseMessage,
        ResponseReasoning,
    )
    from ._protocol.types import (
        ChatCompletion,
        Choice,
        Completion,
        CompletionChoice,
        Function,
        Message,
        Model,
        ModelList,
        RequestTiming,
        ToolCall,
        Usage,
    )
    from ._stream_metrics import StreamMetrics
    from ._sync.anthropic import MessagesStream
    from ._sync.audio import TranscriptionStream
    from ._sync.client import VllmClient
    from ._sync.conversation import Conversation
    from ._sync.generate import GenerateStream
    from ._sync.responses import ResponseStream
    from ._sync.streaming import ChatStream, CompletionStream, Stream
    from .structured import ParsedChatCompletion, ParsedCompletion, StructuredOutputError
    from .tools import ToolLoopError

__all__ = [
    "APIConnectionError", "APIError", "APITimeoutError", "AnthropicMessage", "AnthropicUsage", "AsyncChatStream",
    "AsyncCompletionStream", "AsyncConversation", "AsyncGenerateStream", "AsyncMessagesStream",
    "AsyncResponseStream", "AsyncStream", "AsyncTranscriptionStream", "AsyncVllmClient", "AudioUsage",
    "AuthenticationError", "BadRequestError", "ChatCompletion", "ChatCompletionBatch", "ChatStream",
    "ChatStreamEvent", "Choice", "ClassificationData", "ClassificationResult", "Completion", "CompletionChoice",
    "CompletionStream", "CompletionStreamEvent", "CompletionStreamEventType", "ConflictError", "Conversation",
    "EmbedV2Result", "EmbeddingData", "EmbeddingResponse", "Function", "GenerateChoice", "GenerateResult",
    "GenerateStream", "GenerateStreamEvent", "InternalServerError", "Limits", "Message", "MessageStreamEvent",
    "MessagesStream", "Model", "ModelList", "ModelNotFoundError", "NotFoundError", "ParsedChatCompletion",
    "ParsedCompletion", "PermissionDeniedError", "PoolingData", "PoolingResult", "RateLimitError", "RequestTiming",
    "RerankItem", "RerankResult", "Response", "ResponseEvent", "ResponseFunctionCall", "ResponseItem",
    "ResponseMessage", "ResponseParseError", "ResponseReasoning", "ResponseStream", "ResponseStreamEvent",
    "ScoreData", "ScoreResult", "ServiceUnavailableError", "Stream", "StreamError", "StreamEvent", "StreamMetrics",
    "StreamTimeoutError", "StructuredOutputError", "Timeout", "TokenizeResult", "ToolArgumentsError", "ToolCall",
    "ToolLoopError", "Transcription", "TranscriptionSegment", "TranscriptionStream", "Translation",
    "UnprocessableEntityError", "Usage", "VllmClient", "VllmError", "__version__",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
