"""Testing helpers: `MockVllmServer`, a vLLM 0.32 emulator on 127.0.0.1, and the
types that script its answers and faults. The pytest fixture `vllm_mock` lives in
`vllm_client.testing.pytest_plugin`.
"""

from ._faults import (
    ChatReply,
    CompletionReply,
    Delay,
    DropConnection,
    EmptyBody,
    Fault,
    HtmlError,
    HttpError,
    RawResponse,
    Reply,
    StreamDrop,
    StreamErrorFrame,
    StreamFault,
    StreamKeepAlive,
    StreamMalformed,
    StreamNoDone,
    StreamStall,
    ToolCall,
)
from ._http import RecordedRequest
from ._server import MockVllmServer

__all__ = [
    "ChatReply",
    "CompletionReply",
    "Delay",
    "DropConnection",
    "EmptyBody",
    "Fault",
    "HtmlError",
    "HttpError",
    "MockVllmServer",
    "RawResponse",
    "RecordedRequest",
    "Reply",
    "StreamDrop",
    "StreamErrorFrame",
    "StreamFault",
    "StreamKeepAlive",
    "StreamMalformed",
    "StreamNoDone",
    "StreamStall",
    "ToolCall",
]
