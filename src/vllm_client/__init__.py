"""vllm-client: the Python client for vLLM servers.

Sync :class:`VllmClient` and async :class:`AsyncVllmClient` share one surface (the sync
one is generated from the async source): chat and completions with every vLLM field as a
keyword argument, typed results that keep the raw JSON, typed stream events, retries and
timeouts made for LLM serving. :mod:`vllm_client.testing` has a vLLM emulator for tests.
"""

from ._async.audio import AsyncTranscriptionStream
from ._async.client import AsyncVllmClient
from ._async.conversation import AsyncConversation
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
from ._protocol.audio_types import AudioUsage, Transcription, TranscriptionSegment, Translation
from ._protocol.events import ChatStreamEvent, CompletionStreamEvent, CompletionStreamEventType, StreamEvent
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
from ._sync.audio import TranscriptionStream
from ._sync.client import VllmClient
from ._sync.conversation import Conversation
from ._sync.streaming import ChatStream, CompletionStream, Stream
from ._version import __version__
from .structured import ParsedChatCompletion, ParsedCompletion, StructuredOutputError
from .tools import ToolLoopError

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncChatStream",
    "AsyncCompletionStream",
    "AsyncConversation",
    "AsyncStream",
    "AsyncTranscriptionStream",
    "AsyncVllmClient",
    "AudioUsage",
    "AuthenticationError",
    "BadRequestError",
    "ChatCompletion",
    "ChatStream",
    "ChatStreamEvent",
    "Choice",
    "ClassificationData",
    "ClassificationResult",
    "Completion",
    "CompletionChoice",
    "CompletionStream",
    "CompletionStreamEvent",
    "CompletionStreamEventType",
    "ConflictError",
    "Conversation",
    "EmbeddingData",
    "EmbeddingResponse",
    "Function",
    "InternalServerError",
    "Limits",
    "Message",
    "Model",
    "ModelList",
    "ModelNotFoundError",
    "NotFoundError",
    "ParsedChatCompletion",
    "ParsedCompletion",
    "PermissionDeniedError",
    "PoolingData",
    "PoolingResult",
    "RateLimitError",
    "RequestTiming",
    "RerankItem",
    "RerankResult",
    "ResponseParseError",
    "ScoreData",
    "ScoreResult",
    "ServiceUnavailableError",
    "Stream",
    "StreamError",
    "StreamEvent",
    "StreamMetrics",
    "StreamTimeoutError",
    "StructuredOutputError",
    "Timeout",
    "TokenizeResult",
    "ToolArgumentsError",
    "ToolCall",
    "ToolLoopError",
    "Transcription",
    "TranscriptionSegment",
    "TranscriptionStream",
    "Translation",
    "UnprocessableEntityError",
    "Usage",
    "VllmClient",
    "VllmError",
    "__version__",
]
