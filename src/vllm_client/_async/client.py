"""``AsyncVllmClient``: configuration, the retry loop, and the endpoint groups."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._client_base import ClientCore
from .._config import UNSET, ClientConfig, Limits, OnRetry, Timeout, TimeoutLike, check_max_retries, check_seconds
from .._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ResponseParseError,
    VllmError,
    error_from_response,
    hint_for,
)
from .._json import loads
from .._logging import DEBUG, http_log, log_attempt, log_retry
from .._protocol.deadlines import attempt_timeout
from .._protocol.requests import RequestSpec, build_simple
from .._protocol.types import RequestTiming
from .._routing import Policy, ServerStatus, check_routing
from .._telemetry import telemetry_observer
from .._transport.async_http import AsyncResponse, AsyncTransport, sleep, spawn
from .anthropic import AsyncMessages
from .audio import AsyncAudio
from .chat import AsyncChat
from .completions import AsyncCompletions
from .conversation import AsyncConversation
from .generate import AsyncGenerateMixin
from .invocations import AsyncInvocationsMixin
from .lora import AsyncLora
from .models import AsyncModels
from .pooling import AsyncEmbeddings, AsyncPoolingMixin
from .server import AsyncServer

if TYPE_CHECKING:
    from .responses import AsyncResponses

__all__ = ["AsyncVllmClient"]

_DISCOVERY = "while discovering the served model (pass model=... to skip): "


class AsyncVllmClient(AsyncPoolingMixin, AsyncGenerateMixin, AsyncInvocationsMixin):
    """Client for one vLLM server (or several: pass a list of base URLs).

    ``base_url`` defaults to ``VLLM_BASE_URL`` or ``http://localhost:8000/v1``; a bare
    ``http://host:port`` gets ``/v1``. ``api_key`` defaults to ``VLLM_API_KEY``, ``timeout``
    (seconds or :class:`Timeout`) to ``VLLM_TIMEOUT``, ``max_retries`` to ``VLLM_MAX_RETRIES``
    or 2. ``on_retry(attempt, error, delay)`` is called before each retry's wait.
    OpenTelemetry (the ``otel`` extra): ``tracer_provider`` / ``meter_provider`` (default: the
    global ones); ``telemetry`` True / False forces it on / off, None (default) is on when an
    SDK was set up before the client was built (one span and the GenAI metrics per call).
    Safe to share across threads (sync) or tasks (async); close it (``with`` / ``close()``,
    async: ``async with`` / ``aclose()``) to free connections.
    """

    def __init__(
        self,
        base_url: str | list[str] | tuple[str, ...] | None = None,
        *,
        api_key: str | None = None,
        timeout: TimeoutLike = UNSET,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
        on_retry: OnRetry | None = None,
        verify: bool | str = True,
        limits: Limits | None = None,
        trust_env: bool = True,
        routing: str | Policy | None = None,
        health_check_interval: float | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        telemetry: bool | None = None,
        _transport: AsyncTransport | None = None,
        _core: ClientCore | None = None,
    ) -> None:
        if _core is None:
            config = ClientConfig.build(
                base_url, api_key=api_key, timeout=timeout, max_retries=max_retries, headers=headers,
                on_retry=on_retry, verify=verify, limits=limits, trust_env=trust_env,
            )
            if routing is not None or health_check_interval is not None:
                check_seconds("health_check_interval", health_check_interval, allow_none=True)
                config = config.copy_with(routing=routing, health_check_interval=health_check_interval)
            _core = ClientCore(config)
            observer = telemetry_observer(telemetry, tracer_provider, meter_provider)
            if observer is not None:
                _core.add_observer(observer)
        self._core = _core
        config = _core.config
        self._transport = _transport or AsyncTransport(limits=config.limits, verify=config.verify,
                                                       trust_env=config.trust_env)
        self._sleep = sleep
        self._rand = random.random
        self.chat = AsyncChat(self)
        self.completions = AsyncCompletions(self)
        self.models = AsyncModels(self)
        self.embeddings = AsyncEmbeddings(self)
        self.server = AsyncServer(self)
        self.lora = AsyncLora(self)
        self.audio = AsyncAudio(self)
        self.messages = AsyncMessages(self)

    @functools.cached_property
    def responses(self) -> AsyncResponses:
        """``/v1/responses`` (imported on first use: most programs never touch it)."""
        from .responses import AsyncResponses

        return AsyncResponses(self)

    # -- configuration ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The (first) server's base URL, e.g. ``http://localhost:8000/v1``."""
        return self._core.config.base_url

    @property
    def base_urls(self) -> tuple[str, ...]:
        """Every server this client talks to."""
        return self._core.config.base_urls

    @property
    def routing(self) -> str:
        """The name of the routing policy over :attr:`base_urls` ("least_outstanding" unless
        ``routing=`` said otherwise, here or in :meth:`with_options`; with one server it
        decides nothing)."""
        return self._core.policy.name

    @property
    def servers(self) -> list[ServerStatus]:
        """Per server: URL, breaker state ("closed" / "open" / "half_open"), this client's
        requests in flight, requests sent, failed attempts, and the last error's text."""
        return self._core.servers()

    @property
    def api_key(self) -> str | None:
        """The API key sent as ``Authorization: Bearer``, or None."""
        return self._core.config.api_key

    @property
    def timeout(self) -> Any:
        """The default :class:`Timeout` of every call."""
        return self._core.config.timeout

    @property
    def max_retries(self) -> int:
        """Retries after a retryable failure (0 disables)."""
        return self._core.config.max_retries

    def with_options(
        self,
        *,
        timeout: TimeoutLike = UNSET,
        api_key: str | None = UNSET,
        headers: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        on_retry: OnRetry | None = UNSET,
        routing: str | Policy | None = None,
    ) -> AsyncVllmClient:
        """A client with some options changed that shares this one's connection pool and
        model cache. ``headers`` are merged over the current ones. ``routing`` gives the copy
        its own policy over the same servers, in-flight counts and circuit breakers (a copy
        for chats with ``"session_affinity"`` beside one for batch work, say)."""
        config = self._core.config
        changes: dict[str, Any] = {}
        if timeout is not UNSET:
            changes["timeout"] = Timeout.coerce(timeout)
        if api_key is not UNSET:
            changes["api_key"] = api_key
        if headers is not None:
            changes["headers"] = {**config.headers, **headers}
        if max_retries is not None:
            changes["max_retries"] = check_max_retries(max_retries)
        if on_retry is not UNSET:
            changes["on_retry"] = on_retry
        if routing is not None:
            check_routing(routing)  # before anything is sent
            changes["routing"] = routing
        core = ClientCore(config.copy_with(**changes), self._core.shared)
        return type(self)(_transport=self._transport, _core=core)

    def __repr__(self) -> str:
        return self._core.describe(type(self).__name__)

    def conversation(self, system: str | None = None, *, model: str | None = None,
                     keep_reasoning: bool = False, **defaults: Any) -> AsyncConversation:
        """A multi-turn chat that keeps its history: ``.send(text)`` -> the answer's text,
        ``.stream(text)`` -> events, ``.history``, ``.reset()``, ``.fork()``. ``defaults``
        are ``chat.completions.create`` keywords used on every turn; earlier reasoning is
        sent back only with ``keep_reasoning=True``."""
        return AsyncConversation(self, system=system, model=model, keep_reasoning=keep_reasoning, **defaults)

    # -- lifecycle -------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close every pooled connection. Copies made by ``with_options`` share the pool.
        (``await client.close()`` too, as openai-python spells it.)"""
        await self._transport.aclose()

    close = aclose

    async def __aenter__(self) -> AsyncVllmClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    # -- sending ---------------------------------------------------------------------------
    async def _resolve_model(self, spec: RequestSpec, server: int, timeout: Timeout) -> None:
        if not spec.needs_model or spec.body is None or "model" in spec.body:
            return
        model = self._core.cached_model(server)
        if model is None:
            self._core.body(spec)  # a body that cannot be sent fails before the lookup is sent
            model = await self._discover_model(server, timeout)
        spec.body["model"] = model

    async def _discover_model(self, server: int, timeout: Timeout) -> str:
        """``model=None``: ask the server what it serves, in ONE attempt that belongs to the
        caller's call (its retry loop repeats it, its ``on_retry`` sees it). Single-flight:
        concurrent first calls wait for one lookup instead of sending one each."""
        core = self._core
        async with self._transport.lock_for(("models", server)):
            model = core.cached_model(server)  # found by the call we waited for
            if model is not None:
                return model
            listing = build_simple("GET", "/models")
            headers, request_id = core.headers(listing)
            try:
                url = core.url(listing, server)
                response = await self._transport.send("GET", url, headers, None, timeout)
                data = await response.aread()
                if response.status >= 400:
                    failure = error_from_response(response.status, response.headers, data, request_id=request_id)
                    failure.hint = hint_for(failure, "GET", url, sent_api_key=_has_auth(headers))
                    raise failure
                try:
                    listed = loads(data)
                    ids = [str(m["id"]) for m in listed.get("data") or ()  # LoRA adapters (with a parent) aside
                           if isinstance(m, dict) and "id" in m and not m.get("parent")]
                except (ValueError, AttributeError, TypeError):
                    raise ResponseParseError(f"expected a model list, got {data[:200]!r}") from None
            except VllmError as error:
                raise error.with_context(_DISCOVERY) from error.__cause__
            return core.remember_models(server, ids)

    async def _send(self, spec: RequestSpec, _server: int | None = None) -> tuple[AsyncResponse, str, float, float]:
        """Send with retries until a success status arrives. Returns the open response,
        the request id, the wall-clock send time and the perf_counter start.

        The call's lifecycle (``_call.py``) starts here; when this raises the call has
        ended, when it returns the response carries the call (``response.call``) and whoever
        reads the body ends it: ``_finish`` below, or the stream."""
        core = self._core
        headers, request_id = core.headers(spec)
        timeout = core.timeout(spec)
        on_retry = core.config.on_retry
        sent_at = time.time()
        start = time.perf_counter()
        deadline = None if timeout.total is None else start + timeout.total
        attempt = 0
        body: bytes | None = None
        call = core.new_call(spec, request_id, headers)  # (an observer may add traceparent to headers)
        tried: tuple[int, ...] = ()
        try:
            while True:
                attempt += 1
                server = _server if _server is not None else core.pick_server(spec, tried)
                if core.health_interval is not None:
                    for due in core.fleet.probes_due(core.health_interval):
                        spawn(self._health_probe, due)
                call.attempt(server)
                sent = time.perf_counter()
                try:
                    limits = timeout
                    if deadline is not None:
                        remaining = deadline - time.perf_counter()
                        if remaining <= 0:
                            raise APITimeoutError(f"total timeout ({timeout.total:g}s) reached", retryable=False)
                        limits = attempt_timeout(timeout, remaining)
                    await self._resolve_model(spec, server, limits)
                    if body is None:
                        body = core.body(spec)
                    url = core.url(spec, server)
                    response = await self._transport.send(spec.method, url, headers, body, limits)
                    log_attempt(spec.method, url, response.status, request_id, time.perf_counter() - sent)
                    if response.status >= 400:
                        data = await response.aread()
                        failure = error_from_response(response.status, response.headers, data, request_id=request_id)
                        failure.hint = hint_for(failure, spec.method, url, sent_api_key=_has_auth(headers))
                        raise failure
                    response.call = call
                    return response, request_id, sent_at, start
                except VllmError as error:
                    error.server = core.shown_urls[server]
                    if not isinstance(error, APIError) and http_log.isEnabledFor(DEBUG):  # no answer: say why
                        log_attempt(spec.method, core.url(spec, server), None, request_id,
                                    time.perf_counter() - sent, error)
                    delay = core.retry.delay(attempt, error, rand=self._rand)
                    if delay is not None and core.several and _server is None:
                        allowed, at_once = core.fleet.retry_now(error, server, tried)  # the retry budget
                        delay = None if not allowed else 0.0 if at_once else delay
                        tried = (*tried, server)
                    if delay is None:
                        if isinstance(error, APIConnectionError):  # timeouts, refused connections: say which call
                            error.with_context(f"{spec.method} {spec.path}: ", f" (after {attempt} attempt(s))")
                        raise
                    call.attempt_failed(error)
                    log_retry(attempt, error, delay, request_id, f"{spec.method} {spec.path}")
                    if deadline is not None and time.perf_counter() + delay >= deadline:
                        raise APITimeoutError(f"{spec.method} {spec.path}: total timeout ({timeout.total:g}s) "
                                              f"reached after {attempt} attempt(s); last error: {error}") from error
                    if on_retry is not None:
                        on_retry(attempt, error, delay)
                    await self._sleep(delay)
        except BaseException as exc:
            call.end(exc)
            raise

    async def _health_probe(self, server: int) -> None:
        """``GET /health`` of one server, outside any call (``health_check_interval``)."""
        url = self._core.roots[server] + "/health"
        try:
            response = await self._transport.send("GET", url, {"User-Agent": "vllm-client health"}, None,
                                                  Timeout(connect=5, read=5))
            await response.aread()
            healthy = response.status == 200
        except Exception:
            healthy = False
        self._core.fleet.probe_result(server, healthy)

    async def _request_json(self, spec: RequestSpec, _server: int | None = None) -> tuple[Any, RequestTiming]:
        """A non-streamed call: the decoded JSON body and its timing."""
        response, request_id, sent_at, start = await self._send(spec, _server)
        first_byte = time.perf_counter() - start
        call = response.call
        try:
            data = await _read_body(response, spec)
            timing = RequestTiming(sent_at, first_byte, time.perf_counter() - start, call.server_url)
            try:
                decoded = loads(data)
            except ValueError:
                excerpt = data[:200].decode("utf-8", "replace")
                raise ResponseParseError(f"expected JSON from {spec.path}, got {excerpt!r} "
                                         f"(request_id={request_id})") from None
        except BaseException as exc:
            call.end(exc)
            raise
        call.result = decoded
        call.end()
        return decoded, timing

    async def _request_raw(self, path: str, body: dict[str, Any], timeout: Timeout | None = None,
                           *, model: bool = True) -> tuple[int, str, bytes]:
        """POST a prepared JSON ``body`` to ``path`` (from the server root: ``/v1/chat/completions``)
        with this call's retries and request id; ``model=True`` fills a missing ``body["model"]``
        with the served model. Returns (status, request id, the body bytes as received): a
        final error answer is returned, not raised, so the batch runner can keep the server's
        own bytes. Failures without an HTTP answer (connection, timeout) raise as usual."""
        spec = RequestSpec("POST", path, body=body, root=True, needs_model=model, timeout=timeout)
        try:
            response, request_id, _, _ = await self._send(spec)
        except APIError as error:
            if error.raw_body is None:
                raise
            return error.status_code, error.request_id or "", error.raw_body
        call = response.call
        try:
            data = await response.aread()
        except BaseException as exc:
            call.end(exc)
            raise
        call.end()
        return response.status, request_id, data

    async def _request_bytes(self, spec: RequestSpec) -> tuple[bytes, dict[str, str], RequestTiming]:
        """A non-streamed call returning the raw body (plain-text endpoints)."""
        response, _, sent_at, start = await self._send(spec)
        first_byte = time.perf_counter() - start
        call = response.call
        try:
            data = await _read_body(response, spec)
        except BaseException as exc:
            call.end(exc)
            raise
        call.end()
        return data, response.headers, RequestTiming(sent_at, first_byte, time.perf_counter() - start,
                                                     call.server_url)


async def _read_body(response: AsyncResponse, spec: RequestSpec) -> bytes:
    """The whole body; a timeout or a break while reading names the call."""
    try:
        return await response.aread()
    except APIConnectionError as error:
        raise error.with_context(f"{spec.method} {spec.path}: ") from error.__cause__


def _has_auth(headers: Mapping[str, str]) -> bool:
    return any(name.lower() == "authorization" for name in headers)
