"""`MockVllmServer`: a real HTTP server on 127.0.0.1 that answers as vLLM 0.32 does.

It runs its own asyncio loop in a daemon thread, so sync and async tests (and
benchmarks) can talk to it over real sockets while the test keeps the main thread.
Everything a test configures (replies, faults, rates) goes through thread-safe
methods; everything the server observed (requests, aborted streams) is read back
through snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from . import _endpoints as ep
from . import _generate as gen
from . import _pooling as pool
from . import _shapes as shapes
from . import _validate as val
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
    Script,
    StreamDrop,
    StreamErrorFrame,
    StreamFault,
    StreamKeepAlive,
    StreamMalformed,
    StreamNoDone,
    StreamStall,
    ToolCall,
)
from ._http import Connection, RecordedRequest

Headers = list[tuple[str, str]]

_ROUTES: dict[str, tuple[str, ...]] = {
    "/v1/chat/completions": ("POST",),
    "/v1/completions": ("POST",),
    "/v1/models": ("GET",),
    "/health": ("GET",),
    "/version": ("GET",),
    "/ping": ("GET", "POST"),
    "/load": ("GET",),
    "/metrics": ("GET",),
    "/tokenize": ("POST",),
    "/detokenize": ("POST",),
    **pool.ROUTES,
}


class MockVllmServer:
    """A vLLM-compatible HTTP server for tests, demos and benchmarks.

    >>> with MockVllmServer(model="my-model") as server:
    ...     server.base_url  # "http://127.0.0.1:<port>/v1"

    Generated answers are deterministic (seeded by `seed`, else by the prompt).
    The pooling endpoints (embeddings, pooling, score, rerank, classify) answer too, with
    `embedding_dim`-sized unit vectors and `num_labels` classes (see `_pooling`).
    Script answers with `queue_chat` / `queue_completion` / `queue_reply`, and
    failures with `add_fault` (HTTP faults and mid-stream faults, see `_faults`).
    """

    def __init__(
        self,
        *,
        model: str = "mock-model",
        models: Sequence[str] | None = None,
        api_key: str | None = None,
        max_model_len: int = 2048,
        host: str = "127.0.0.1",
        port: int = 0,
        token_rate: float | None = None,
        ttft: float = 0.0,
        reasoning: bool = False,
        eos_probability: float = 0.0,
        version: str = shapes.VLLM_VERSION,
        root: str | Mapping[str, str] | None = None,
        embedding_dim: int = 128,
        num_labels: int = 2,
    ) -> None:
        self.models: list[str] = list(models) if models else [model]
        self.model = self.models[0]
        self.api_key = api_key
        self.max_model_len = max_model_len
        self.host = host
        self._requested_port = port
        self.token_rate = token_rate  # tokens per second for streams; None: as fast as possible
        self.ttft = ttft  # seconds before the first token
        self.reasoning = reasoning  # answer like vLLM started with a reasoning parser
        self.eos_probability = eos_probability
        self.version = version
        self.embedding_dim = embedding_dim
        self.num_labels = num_labels
        if isinstance(root, str):
            self._roots = dict.fromkeys(self.models, root)
        else:
            self._roots = dict(root or {})
        self._script = Script()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._aborted: list[str] = []
        self._counters: dict[str, float] = {}
        self._running = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[Connection] = set()
        self._port = 0
        self._created = int(time.time())

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> MockVllmServer:
        """Bind and serve in a background thread; returns self. Idempotent."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    loop.create_server(
                        lambda: Connection(self._handle, self._connections),
                        self.host,
                        self._requested_port,
                        backlog=1024,
                        reuse_address=True,
                    )
                )
                self._port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to start()
                errors.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"MockVllmServer:{self.model}", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            self._thread.join()
            self._thread = None
            raise errors[0]
        return self

    def stop(self) -> None:
        """Close every connection (streams in progress included) and the listener."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(Exception):
                fut.result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self._server = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.cancel()
        await asyncio.sleep(0)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def __enter__(self) -> MockVllmServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> MockVllmServer:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop)

    def __repr__(self) -> str:
        state = self.url if self._thread is not None else "stopped"
        return f"MockVllmServer({self.models!r}, {state})"

    # --- addresses ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("MockVllmServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`"""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`, what a client's base_url should be."""
        return self.url + "/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None

    # --- what the server saw ------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a snapshot)."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self._requests:
                raise LookupError("no request received yet")
            return self._requests[-1]

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if r.path == path and (method is None or r.method == method)]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._aborted.clear()

    @property
    def aborted_requests(self) -> list[str]:
        """Request ids of generations the client abandoned (closed the connection before
        the answer was complete), as vLLM aborts them. The id is the request's `request_id`
        field, else its `x-request-id` header, else the response id (`chatcmpl-...`)."""
        with self._lock:
            return list(self._aborted)

    @property
    def active_requests(self) -> int:
        """Generations in progress now (what /load reports)."""
        return self._running

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Poll until at least `count` requests were received; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests
            if len(reqs) >= count:
                return reqs
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {count} requests, got {len(reqs)}")
            time.sleep(0.002)

    def wait_for_abort(self, request_id: str | None = None, timeout: float = 5.0) -> str:
        """Poll until a generation (the given one, or any) is aborted; returns its id."""
        deadline = time.monotonic() + timeout
        while True:
            aborted = self.aborted_requests
            for rid in aborted:
                if request_id is None or rid == request_id:
                    return rid
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no aborted request {request_id or ''} (aborted: {aborted})")
            time.sleep(0.002)

    # --- scripting ----------------------------------------------------------------------------
    def queue_reply(self, reply: Reply, *, times: int | None = 1, path: str | None = None) -> None:
        """Answer the next `times` matching requests (None: all of them) with `reply`.
        A ChatReply matches /v1/chat/completions, a CompletionReply /v1/completions,
        a RawResponse any path unless `path` is given."""
        self._script.add_reply(reply, times, path)

    def queue_chat(
        self,
        content: str | None = None,
        *,
        reasoning: str | None = None,
        tool_calls: Sequence[ToolCall] = (),
        finish_reason: str | None = None,
        stop_reason: str | int | None = None,
        usage: Mapping[str, int] | None = None,
        times: int | None = 1,
    ) -> ChatReply:
        """Script the next chat answer (streamed or not); returns the ChatReply queued."""
        reply = ChatReply(content, reasoning, tuple(tool_calls), finish_reason, stop_reason, usage)
        self.queue_reply(reply, times=times)
        return reply

    def queue_completion(
        self,
        text: str,
        *,
        finish_reason: str = "stop",
        usage: Mapping[str, int] | None = None,
        times: int | None = 1,
    ) -> CompletionReply:
        reply = CompletionReply(text, finish_reason, None, usage)
        self.queue_reply(reply, times=times)
        return reply

    def add_fault(self, fault: Fault | StreamFault, *, times: int | None = 1, path: str | None = None) -> None:
        """Apply `fault` to the next `times` requests (None: every request) to `path`
        (None: any path but ``/v1/models``, where clients discover the served model; pass
        ``path="/v1/models"`` to fail that). Stream faults only count streaming answers.
        Faults are applied in the order added, before authentication, like a proxy in
        front of vLLM."""
        self._script.add_fault(fault, times, path)

    def fail_next(
        self,
        status: int = 500,
        *,
        times: int | None = 1,
        path: str | None = None,
        message: str | None = None,
        retry_after: float | str | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        """Shortcut for `add_fault(HttpError(...))`."""
        self.add_fault(
            HttpError(status, message, retry_after=retry_after, retry_after_ms=retry_after_ms),
            times=times,
            path=path,
        )

    def drop_next(self, *, times: int | None = 1, path: str | None = None) -> None:
        """Shortcut for `add_fault(DropConnection())`."""
        self.add_fault(DropConnection(), times=times, path=path)

    def clear_script(self) -> None:
        """Forget every queued reply and fault not yet used."""
        self._script.clear()

    def reset(self) -> None:
        """Back to a fresh state: no recorded requests, no script, default pacing."""
        self.clear_script()
        self.clear_requests()
        self.token_rate = None
        self.ttft = 0.0

    # --- request handling (event-loop thread) ----------------------------------------------
    def _count(self, key: str, value: float = 1.0) -> None:
        self._counters[key] = self._counters.get(key, 0.0) + value

    async def _handle(self, conn: Connection, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)
        extra: Headers = []
        xrid = req.headers.get("x-request-id")
        if xrid:
            extra.append(("x-request-id", xrid))
        fault = self._script.take_fault(req.path)
        if isinstance(fault, Delay):
            if not await conn.sleep(fault.seconds):
                return
        elif fault is not None:
            await self._apply_fault(conn, fault, extra)
            return
        reply = self._script.take_reply(req.path)
        if isinstance(reply, RawResponse):
            await self._send_raw(conn, reply)
            return
        methods = _ROUTES.get(req.path)
        if methods is None:
            await self._send_json(conn, 404, {"detail": "Not Found"}, extra)
            return
        if req.method not in methods:
            allow = ("allow", ", ".join(methods))
            await conn.send(
                405,
                [allow, ("content-type", shapes.JSON), ("vary", "Origin"), *extra],
                b'{"detail":"Method Not Allowed"}',
            )
            return
        if self.api_key is not None and req.path.startswith(("/v1/", "/v2/")) and not self._authorized(req):
            await conn.send(401, [("content-type", shapes.JSON), *extra], b'{"error":"Unauthorized"}')
            return
        if req.path == "/v1/chat/completions":
            await self._generate(conn, req, chat=True, reply=reply, extra=extra)
        elif req.path == "/v1/completions":
            await self._generate(conn, req, chat=False, reply=reply, extra=extra)
        elif req.path in pool.ROUTES:
            settings = pool.PoolingSettings(self.model, self.models, self.max_model_len, self.embedding_dim,
                                            self.num_labels)
            status, obj = pool.handle(req.path, req.headers.get("content-type"), req.body, settings)
            await self._send_json(conn, status, obj, extra)
        else:
            await self._simple(conn, req, extra)

    def _authorized(self, req: RecordedRequest) -> bool:
        return req.headers.get("authorization", "") == f"Bearer {self.api_key}"

    async def _send_json(self, conn: Connection, status: int, obj: Any, extra: Sequence[tuple[str, str]] = ()) -> None:
        await conn.send(status, [("content-type", shapes.JSON), ("vary", "Origin"), *extra], shapes.dumps(obj))

    async def _send_raw(self, conn: Connection, raw: RawResponse) -> None:
        hdrs = list(raw.headers.items()) if isinstance(raw.headers, Mapping) else list(raw.headers)
        hdrs = [(k.lower(), v) for k, v in hdrs]
        if isinstance(raw.body, (bytes, bytearray)):
            await conn.send(raw.status, hdrs, bytes(raw.body))
            return
        if not await conn.start_stream(raw.status, hdrs):
            return
        for piece in raw.body:
            if not await conn.send_chunk(piece):
                return
        await conn.end_stream()

    async def _apply_fault(self, conn: Connection, fault: Fault, extra: Headers) -> None:
        if isinstance(fault, DropConnection):
            if fault.reset:
                conn.abort()
            else:
                conn.close()
        elif isinstance(fault, HttpError):
            hdrs: Headers = [("content-type", shapes.JSON), ("vary", "Origin")]
            if fault.retry_after is not None:
                ra = fault.retry_after
                hdrs.append(("retry-after", ra if isinstance(ra, str) else f"{ra:g}"))
            if fault.retry_after_ms is not None:
                hdrs.append(("retry-after-ms", str(fault.retry_after_ms)))
            hdrs.extend((k.lower(), v) for k, v in fault.headers.items())
            body = fault.body
            if body is None:
                message = fault.message or f"Mock fault: HTTP {fault.status}"
                err_type = fault.error_type or shapes.error_type_for(fault.status)
                body = shapes.dumps(shapes.error_body(message, err_type, fault.param, fault.status))
            await conn.send(fault.status, [*hdrs, *extra], body)
        elif isinstance(fault, HtmlError):
            await conn.send(fault.status, [("content-type", "text/html"), *extra], fault.body)
        elif isinstance(fault, EmptyBody):
            await conn.send(fault.status, list(extra), b"")

    async def _simple(self, conn: Connection, req: RecordedRequest, extra: Headers) -> None:
        path = req.path
        if path in ("/health", "/ping"):
            await conn.send(200, [("vary", "Origin"), *extra], b"")
        elif path == "/version":
            await self._send_json(conn, 200, {"version": self.version}, extra)
        elif path == "/load":
            await self._send_json(conn, 200, {"server_load": self._running}, extra)
        elif path == "/v1/models":
            await self._send_json(
                conn,
                200,
                shapes.models_list(self.models, self._created, self.max_model_len, self._roots),
                extra,
            )
        elif path == "/metrics":
            counters = dict(self._counters, running=float(self._running))
            body = shapes.metrics_text(self.models, counters)
            await conn.send(200, [("content-type", shapes.PROMETHEUS), ("vary", "Origin"), *extra], body)
        elif path == "/tokenize":
            await self._tokenize(conn, req, extra)
        elif path == "/detokenize":
            body, problem = val.parse_body(req.headers.get("content-type"), req.body)
            tokens = body.get("tokens") if isinstance(body, dict) else None
            if problem is None and not isinstance(tokens, list):
                problem = (
                    400,
                    shapes.validation_error(
                        [
                            {
                                "type": "missing",
                                "loc": "body.tokens",
                                "msg": "Field required",
                                "input": shapes.input_repr(body),
                            }
                        ]
                    ),
                )
            if problem is not None:
                await self._send_json(conn, problem[0], problem[1], extra)
                return
            assert isinstance(tokens, list)
            text = "".join(ep.detokenize_one(int(t)) for t in tokens)
            await self._send_json(conn, 200, {"prompt": text}, extra)

    async def _tokenize(self, conn: Connection, req: RecordedRequest, extra: Headers) -> None:
        body, problem = val.parse_body(req.headers.get("content-type"), req.body)
        if problem is None and isinstance(body, dict):
            problem = val.check_model(body, self.models)
        if problem is None and not (isinstance(body, dict) and ("prompt" in body or "messages" in body)):
            inp = shapes.input_repr(body)
            problem = (
                400,
                shapes.validation_error(
                    [
                        {"type": "missing", "loc": "body.prompt", "msg": "Field required", "input": inp},
                        {"type": "missing", "loc": "body.messages", "msg": "Field required", "input": inp},
                    ]
                ),
            )
        if problem is not None:
            await self._send_json(conn, problem[0], problem[1], extra)
            return
        assert isinstance(body, dict)
        if "messages" in body:
            ids = gen.chat_prompt_tokens(body["messages"] or [], body.get("tools"))
            strs = None
        else:
            prompt = str(body["prompt"])
            ids = gen.prompt_token_ids(prompt)
            strs = gen.split_pieces(prompt)
        out = {
            "count": len(ids),
            "max_model_len": self.max_model_len,
            "tokens": ids,
            "token_strs": strs if body.get("return_token_strs") and strs is not None else None,
        }
        await self._send_json(conn, 200, out, extra)

    # --- generation -----------------------------------------------------------------------------
    async def _generate(
        self, conn: Connection, req: RecordedRequest, *, chat: bool, reply: Reply | None, extra: Headers
    ) -> None:
        body, problem = val.parse_body(req.headers.get("content-type"), req.body)
        if problem is None and not isinstance(body, dict):
            problem = (
                400,
                shapes.validation_error(
                    [
                        {
                            "type": "model_attributes_type",
                            "loc": "body",
                            "msg": "Input should be a valid dictionary or object to extract fields from",
                            "input": shapes.input_repr(body),
                        }
                    ]
                ),
            )
        problem = problem or val.check_types(body, chat) or val.check_model(body, self.models)
        if problem is None and chat:
            problem = val.check_tools(body)
        prompts: list[tuple[str, list[int]]] = []
        if problem is None:
            if chat:
                prompt_len = len(gen.chat_prompt_tokens(body["messages"], body.get("tools")))
            else:
                parsed = ep.completion_prompt_tokens(body)
                if isinstance(parsed, tuple):
                    problem = parsed
                    prompt_len = 0
                else:
                    prompts = parsed
                    prompt_len = max(len(p[1]) for p in prompts)
            problem = problem or val.check_sampling(body, chat, self.max_model_len, prompt_len)
        if problem is not None:
            await self._send_json(conn, problem[0], problem[1], extra)
            return
        assert isinstance(body, dict)
        model = body.get("model") or self.model
        # vLLM 0.32: the X-Request-Id header wins over the body's request_id.
        rid = req.headers.get("x-request-id") or body.get("request_id") or shapes.random_hex()
        cid = f"{'chatcmpl' if chat else 'cmpl'}-{rid}"
        abort_id = str(req.headers.get("x-request-id") or body.get("request_id") or cid)
        settings = ep.Settings(self.max_model_len, self.reasoning, self.eos_probability)
        created = int(time.time())
        plan: ep.Plan
        if chat:
            built = ep.build_chat(
                body,
                cid=cid,
                created=created,
                model=model,
                settings=settings,
                reply=reply if isinstance(reply, ChatReply) else None,
            )
            if isinstance(built, tuple):
                await self._send_json(conn, built[0], built[1], extra)
                return
            plan = built
        else:
            plan = ep.build_completion(
                body,
                prompts,
                cid=cid,
                created=created,
                model=model,
                settings=settings,
                reply=reply if isinstance(reply, CompletionReply) else None,
            )
        self._running += 1
        try:
            if body.get("stream"):
                finished = await self._stream(conn, plan, extra, self._script.take_stream_fault(req.path))
            else:
                finished = await self._answer(conn, plan, extra)
        finally:
            self._running -= 1
        if finished:
            self._count("prompt_tokens", plan.prompt_tokens)
            self._count("generation_tokens", plan.completion_tokens)
            for c in plan.choices:
                self._count(f"success_{c.finish_reason}")
        elif finished is False:
            with self._lock:
                self._aborted.append(abort_id)
            self._count("success_abort")

    def _delay_for(self, tokens: int) -> float:
        rate = self.token_rate
        return self.ttft + (tokens / rate if rate else 0.0)

    async def _answer(self, conn: Connection, plan: ep.Plan, extra: Headers) -> bool:
        tokens = max((c.completion_tokens for c in plan.choices), default=0)
        if not await conn.sleep(self._delay_for(tokens)):
            return False
        obj = ep.chat_json(plan) if plan.chat else ep.completion_json(plan)
        await self._send_json(conn, 200, obj, extra)
        return True

    async def _stream(self, conn: Connection, plan: ep.Plan, extra: Headers, fault: StreamFault | None) -> bool | None:
        """Send the plan as SSE. True: completed; False: the client went away (abort);
        None: the stream was cut on purpose by a fault."""
        hdrs: Headers = [("content-type", shapes.SSE), ("vary", "Origin"), *extra]
        if not await conn.start_stream(200, hdrs):
            return False
        first_token = True
        interval = 1.0 / self.token_rate if self.token_rate else 0.0
        keepalive = fault if isinstance(fault, StreamKeepAlive) else None
        pending = fault if fault is not None and not isinstance(fault, (StreamKeepAlive, StreamNoDone)) else None

        async def fire() -> bool | None:
            """Apply the pending fault; returns a final result or None to go on."""
            nonlocal pending
            f, pending = pending, None
            if isinstance(f, StreamErrorFrame):
                await conn.send_chunk(shapes.stream_error_event(f.message, f.error_type, f.code, f.param))
                await conn.send_chunk(shapes.DONE)
                await conn.end_stream()
                return True
            if isinstance(f, StreamDrop):
                if f.reset:
                    conn.abort()
                else:
                    conn.close()
                return True
            if isinstance(f, StreamStall) and not await conn.sleep(f.seconds):
                return False
            if isinstance(f, StreamMalformed) and not await conn.send_chunk(b"data: " + f.data + b"\n\n"):
                return False
            return None

        events: Iterator[tuple[bytes, bool]] = ep.stream_events(plan)
        for index, (data, is_token) in enumerate(events):
            if pending is not None and index >= _after(pending):
                outcome = await fire()
                if outcome is not None:
                    return None if outcome else False
            delay = 0.0
            if first_token:
                delay += self.ttft
                first_token = False
            if is_token:
                delay += interval
            if delay > 0 and not await conn.sleep(delay):
                return False
            if not await conn.send_chunk(data):
                return False
            due = keepalive is not None and (index + 1) % max(keepalive.every, 1) == 0
            if due and keepalive is not None and not await conn.send_chunk(keepalive.comment):
                return False
        if pending is not None:
            outcome = await fire()
            if outcome is not None:
                return None if outcome else False
        if not isinstance(fault, StreamNoDone) and not await conn.send_chunk(shapes.DONE):
            return False
        return await conn.end_stream()


def _after(fault: StreamFault) -> int:
    return int(getattr(fault, "after_chunks", 0))
