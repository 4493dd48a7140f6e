"""The exception hierarchy, and the pure mapping from an HTTP answer to an exception.

Every error the library raises is a :class:`VllmError`. HTTP error answers become an
:class:`APIError` subclass chosen by status code (and, for 404, by whether the server
said the *model* is unknown). The mapping reads every error shape vLLM 0.32 and the
proxies in front of it produce:

- ``{"error": {"message", "type", "param", "code"}}``   vLLM's OpenAI-style errors
- ``{"error": "Unauthorized"}``                          vLLM's API-key middleware
- ``{"detail": "Not Found"}`` / ``{"detail": [...]}``     FastAPI routing and validation
- ``{"object": "error", "message": ..., ...}``            older vLLM releases
- HTML or empty bodies                                     load balancers and proxies

Exceptions pickle (they cross process pools in batch jobs) and never carry the API key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from typing_extensions import Self

from ._config import redact_url
from ._json import loads

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "ModelNotFoundError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseParseError",
    "ServiceUnavailableError",
    "StreamError",
    "StreamTimeoutError",
    "ToolArgumentsError",
    "UnprocessableEntityError",
    "VllmError",
    "error_from_response",
]


class VllmError(Exception):
    server: str | None = None
    """Base URL of the server the failed attempt went to (None when no server was involved)."""

    """Base class of every error raised by vllm-client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def is_retryable(self) -> bool:
        """Whether sending the same request again may succeed."""
        return False

    def with_context(self, prefix: str = "", suffix: str = "") -> Self:
        """This error, its message framed by where it happened (the call, the phase)."""
        self.message = f"{prefix}{self.message}{suffix}"
        self.args = (self.message, *self.args[1:])
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default BaseException pickling
        # (which replays ``self.args``); rebuild from the instance dict instead.
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[VllmError], message: str, state: dict[str, Any]) -> VllmError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class APIError(VllmError):
    """The server answered with an error status (or an error frame inside a stream)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_type: str | None = None,
        param: str | None = None,
        code: Any = None,
        body: Any = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.error_type = error_type
        self.param = param
        self.code = code
        self.body = body
        self.request_id = request_id
        self.headers: dict[str, str] = dict(headers or {})
        self.hint: str | None = None
        """What to do about it, when the client can tell (shown after the server's message)."""
        self.raw_body: bytes | None = None
        """The answer's body exactly as received, when it came as an HTTP answer (the batch
        runner writes a server's error body unchanged)."""
        super().__init__(message)

    def __str__(self) -> str:
        kind = f" {self.error_type}" if self.error_type else ""
        hint = f" -- {self.hint}" if self.hint else ""
        rid = f" (request_id={self.request_id})" if self.request_id else ""
        return f"{self.status_code}{kind}: {self.message}{hint}{rid}"

    @property
    def is_retryable(self) -> bool:
        """408, 429, 500, 502, 503 and 504 may succeed when sent again."""
        return self.status_code in RETRYABLE_STATUSES


class BadRequestError(APIError):
    """400: the server rejected the request (validation, context length, grammar...)."""


class AuthenticationError(APIError):
    """401: missing or wrong API key."""


class PermissionDeniedError(APIError):
    """403."""


class NotFoundError(APIError):
    """404: unknown route (endpoint not served by this server) or resource."""


class ModelNotFoundError(NotFoundError):
    """404 because the ``model`` named in the request is not served."""


class ConflictError(APIError):
    """409."""


class UnprocessableEntityError(APIError):
    """422."""


class RateLimitError(APIError):
    """429: the server or a gateway asks to slow down."""


class InternalServerError(APIError):
    """5xx."""


class ServiceUnavailableError(InternalServerError):
    """503: the server is overloaded, starting or draining."""


class APIConnectionError(VllmError, ConnectionError):
    """The request could not reach the server, or the connection broke before an answer.

    ``retryable`` is False when the failure came after the server began to answer (a retry
    could then run the generation twice for a caller that already saw part of it).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)

    @property
    def is_retryable(self) -> bool:
        """True unless the failure came after the server began to answer."""
        return self.retryable


class APITimeoutError(APIConnectionError, TimeoutError):
    """A timeout expired (connect, read or total)."""


class StreamError(VllmError):
    """A stream was malformed, ended early (no ``[DONE]``) or its connection broke after the
    response headers: never a silently short answer.

    ``partial`` is what arrived before the failure, assembled like the final answer (a
    ``ChatCompletion`` or ``Completion`` whose ``finish_reason`` is None), so a caller can
    show it or continue from it. ``is_retryable`` says whether sending the whole call again
    may succeed: yes for a broken or truncated connection, no for a malformed payload. The
    client itself never repeats a stream that has delivered events.
    """

    def __init__(self, message: str, *, partial: Any = None, retryable: bool = False) -> None:
        self.partial = partial
        self.retryable = retryable
        super().__init__(message)

    @property
    def is_retryable(self) -> bool:
        """True when the connection broke or the stream was cut short (a new call may succeed)."""
        return self.retryable


class StreamTimeoutError(APITimeoutError):
    """A stream's first-token, idle or total timeout expired."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message, retryable=retryable)


class ResponseParseError(VllmError):
    """A body that is not the JSON it should be."""


class ToolArgumentsError(VllmError, ValueError):
    """Tool-call arguments that are not valid JSON or do not fit the requested type."""

    def __init__(self, message: str, *, arguments: str = "", reason: str = "") -> None:
        self.arguments = arguments
        self.reason = reason
        super().__init__(message)


RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}

_MODEL_MISSING = re.compile(r"model\b.*\b(does not exist|not found)", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def error_class(status: int) -> type[APIError]:
    """The APIError subclass for an HTTP status code (or an in-stream error ``code``)."""
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls
    if status >= 500:
        return InternalServerError
    return APIError


def _refine(cls: type[APIError], message: str, param: Any) -> type[APIError]:
    """A 404 about the requested model is a ModelNotFoundError."""
    if cls is NotFoundError and (param == "model" or _MODEL_MISSING.search(message)):
        return ModelNotFoundError
    return cls


def _fields_of(payload: Any) -> tuple[str | None, str | None, str | None, Any]:
    """(message, type, param, code) from any known JSON error shape."""
    if not isinstance(payload, dict):
        return None, None, None, None
    err = payload.get("error")
    if isinstance(err, dict):
        msg = err.get("message")
        return (
            msg if isinstance(msg, str) else None if msg is None else str(msg),
            err.get("type"),
            err.get("param"),
            err.get("code"),
        )
    if isinstance(err, str):
        return err, None, None, None
    if payload.get("object") == "error" or "message" in payload:
        msg = payload.get("message")
        return (str(msg) if msg is not None else None, payload.get("type"), payload.get("param"),
                payload.get("code"))
    detail = payload.get("detail")
    if isinstance(detail, str):
        return detail, None, None, None
    if isinstance(detail, list) and detail:
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(x) for x in item.get("loc", ()))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            else:
                parts.append(str(item))
        return "; ".join(parts), None, None, None
    return None, None, None, None


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    request_id: str | None = None,
) -> APIError:
    """Build the exception for an error answer. Pure: ``headers`` keys are lower-case."""
    payload: Any = None
    if body:
        try:
            payload = loads(body)
        except ValueError:
            payload = None
    message, etype, param, code = _fields_of(payload)
    if message is None:
        text = body.decode("utf-8", "replace").strip() if body else ""
        if text:
            text = " ".join(_TAGS.sub(" ", text).split())[:300]
        message = text or _reason(status)
    cls = _refine(error_class(status), message, param)
    rid = headers.get("x-request-id") or request_id
    error = cls(
        message,
        status_code=status,
        error_type=etype if isinstance(etype, str) else None,
        param=param if isinstance(param, str) else None,
        code=code,
        body=payload if payload is not None else body.decode("utf-8", "replace"),
        request_id=rid,
        headers=headers,
    )
    error.raw_body = body
    return error


#: routes only a pooling model serves (``vllm serve ... --runner pooling``)
POOLING_PATHS = frozenset({
    "/v1/embeddings", "/pooling", "/classify", "/score", "/rerank", "/v1/score", "/v1/rerank", "/v2/rerank",
    "/v2/embed", "/v1/classify",
})
#: routes only a generate model serves
GENERATE_PATHS = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/chat/completions/batch"})


#: routes a server has only when started for them: what it takes
NEEDS: dict[str, str] = {
    "/v1/load_lora_adapter": "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True in the server's environment and --enable-lora",
    "/v1/unload_lora_adapter": "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True in the server's environment and --enable-lora",
    "/tokenizer_info": "vllm serve ... --enable-tokenizer-info-endpoint",
    "/v1/audio/transcriptions": "a speech-to-text model (e.g. Whisper); such a server has no chat or completions",
    "/v1/audio/translations": "a speech-to-text model that translates (e.g. Whisper)",
}


def hint_for(error: APIError, method: str, url: str, *, sent_api_key: bool) -> str | None:
    """What a caller can do about an error answer to ``method url``. Pure."""
    if error.status_code == 401:
        if sent_api_key:
            return "the server rejected the API key: check api_key= / VLLM_API_KEY / --api-key"
        return "the server requires an API key: api_key= / VLLM_API_KEY / --api-key"
    if error.param == "response_id":
        return _stored_response_hint(error)
    if error.status_code != 404 or isinstance(error, ModelNotFoundError):
        return None
    where = f"{method} {redact_url(url)}"
    path = urlsplit(url).path
    for route, needs in NEEDS.items():
        if path.endswith(route):
            return f"{where} is not served here; it needs {needs}"
    for route in POOLING_PATHS:
        if path.endswith(route):
            return f"{where} is not served here; it needs a pooling model (vllm serve MODEL --runner pooling)"
    for route in GENERATE_PATHS:
        if path.endswith(route):
            name = route.rsplit("/", 1)[-1]
            return f"{where} is not served here; a server started with --runner pooling has no {name}"
    return f"{where} is not served by this server"


def _stored_response_hint(error: APIError) -> str | None:
    """vLLM's answers about a stored response id say less than the caller needs to know."""
    if error.status_code == 404:
        return ("vLLM keeps responses only when started with VLLM_ENABLE_RESPONSES_API_STORE=1 (without it every "
                "id is unknown; a restart forgets them all)")
    if error.status_code == 400 and "cannot cancel" in error.message.lower():
        return "only a background=True response that is still queued or in progress can be cancelled"
    return None


def error_from_stream_frame(payload: dict[str, Any], *, request_id: str | None = None) -> APIError:
    """An ``{"error": {...}}`` frame received inside a 200 stream, as the exception its code maps to."""
    message, etype, param, code = _fields_of(payload)
    try:
        status = int(code) if code is not None else 500
    except (TypeError, ValueError):
        status = 500
    if status < 400:
        status = 500
    cls = _refine(error_class(status), message or "", param if isinstance(param, str) else None)
    return cls(
        message or "error in stream",
        status_code=status,
        error_type=etype if isinstance(etype, str) else None,
        param=param if isinstance(param, str) else None,
        code=code,
        body=payload,
        request_id=request_id,
    )
