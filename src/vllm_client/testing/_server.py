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
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from . import _audio as audio
from . import _endpoints as ep
from . import _generate as gen
from . import _lora as lora_routes
from . import _more_routes as more
from . import _pooling as pool
from . import _responses as resp
from . import _responses_store as store
from . import _routes as routes
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
from ._prom import EngineMetrics
from ._validate import Problem

Headers = list[tuple[str, str]]

_ID_PREFIX = {"chat": "chatcmpl", "completion": "cmpl", "responses": "resp"}
_CHECKS = {"chat": val.CHAT_CHECKS, "completion": val.COMPLETION_CHECKS, "responses": val.RESPONSES_CHECKS}


class MockVllmServer(more.MoreRoutes):
    """A vLLM-compatible HTTP server for tests, demos and benchmarks.

    >>> with MockVllmServer(model="my-model") as server:
    ...     server.base_url  # "http://127.0.0.1:<port>/v1"

    Generated answers are deterministic (seeded by `seed`, else by the prompt).
    The pooling endpoints (embeddings, pooling, score, rerank, classify) answer too, with
    `embedding_dim`-sized unit vectors and `num_labels` classes (see `_pooling`).
    Script answers with `queue_chat` / `queue_completion` / `queue_reply`, and
    failures with `add_fault` (HTTP faults and mid-stream faults, see `_faults`).

    The server's own flags, as `vllm serve` would get them (bad requests are answered with
    vLLM's errors for that configuration, see `_validate`):

    * `api_key`: `--api-key`.
    * `task`: None serves everything (generation, every pooling endpoint, audio) from one
      server; "generate", "embed" or "classify" serve only what vLLM serves for
      `--runner generate` / `--runner pooling --convert embed|classify` (a classifier with
      `num_labels=1` is a cross-encoder: it scores and reranks too); "transcription" what a
      Whisper model serves (the audio routes, no chat); the rest is 404.
    * `tool_parser`: `--enable-auto-tool-choice --tool-call-parser NAME` (default "hermes");
      None: started without them, so tool_choice "auto", "required" and named are refused.
    * `reasoning`: `--reasoning-parser NAME` ("qwen3", "deepseek_r1"; True: qwen3).
      `think_tokens` is how long the emulated model thinks before answering (None: 3 to 8
      tokens; more than max_tokens: it never answers, content None).
      `structured_in_reasoning`: `--structured-outputs-config '{"enable_in_reasoning": true}'`.
    * `request_id_headers`: `--enable-request-id-headers` (echo `X-Request-Id`).
    * `lora`: `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True --enable-lora` (the load/unload routes;
      a load reads `adapter_config.json` under its path, on this machine);
      `lora_modules`: `--lora-modules name=path ...`; `max_lora_rank`: `--max-lora-rank`.
    * `tokenizer_info`: `--enable-tokenizer-info-endpoint` (`GET /tokenizer_info`).
    * `scale_out`: `--enable-scale-out` (`/inference/v1/generate`: token ids in and out);
      `max_num_seqs`: `--max-num-seqs` (a bound on `n` there).
    * `responses_store`: `VLLM_ENABLE_RESPONSES_API_STORE=1` in the server's environment:
      stored responses, `background=True`, retrieve (and replay) by id, cancel and
      `previous_response_id` (see `_responses_store`); without it those are 400/404.

    `event_loop` is the loop its thread runs: "asyncio", "uvloop" or "auto" (uvloop when
    installed, see `vllm_client._event_loop`); a benchmark's emulator takes uvloop so that it
    is not the slower side.
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
        reasoning: bool | str = False,
        think_tokens: int | None = None,
        structured_in_reasoning: bool = False,
        tool_parser: str | None = "hermes",
        task: str | None = None,
        request_id_headers: bool = True,
        eos_probability: float = 0.0,
        version: str = shapes.VLLM_VERSION,
        root: str | Mapping[str, str] | None = None,
        embedding_dim: int = 128,
        num_labels: int = 2,
        lora: bool = True,
        lora_modules: Mapping[str, str] | None = None,
        max_lora_rank: int = 16,
        tokenizer_info: bool = True,
        scale_out: bool = True,
        max_num_seqs: int = 256,
        responses_store: bool = False,
        event_loop: str = "asyncio",
    ) -> None:
        from .._event_loop import loop_factory

        self._loop_factory = loop_factory(event_loop)  # (checked here: a bad name fails in the caller's thread)
        self.models: list[str] = list(models) if models else [model]
        self.model = self.models[0]
        self.api_key = api_key
        self.max_model_len = max_model_len
        self.host = host
        self._requested_port = port
        self.token_rate = token_rate  # tokens per second for streams; None: as fast as possible
        self.ttft = ttft  # seconds before the first token
        # Like vLLM started with --reasoning-parser NAME (True: qwen3, the one without quirks).
        self.reasoning_parser = ("qwen3" if reasoning is True else reasoning) or None
        self.think_tokens = think_tokens
        self.structured_in_reasoning = structured_in_reasoning
        # Like --enable-auto-tool-choice --tool-call-parser NAME; None: started without them.
        self.tool_parser = tool_parser
        self.request_id_headers = request_id_headers  # like --enable-request-id-headers
        if task not in routes.TASKS:
            raise ValueError(f"task must be one of {sorted(t for t in routes.TASKS if t)} or None, not {task!r}")
        self.task = task
        self.adapters = lora_routes.Adapters(lora_modules, max_rank=max_lora_rank)
        self.scale_out = scale_out  # like --enable-scale-out (/inference/v1/generate answers 403 without it)
        self.max_num_seqs = max_num_seqs
        flags = {"lora": lora, "tokenizer_info": tokenizer_info}
        self._routes = routes.table(task, num_labels, frozenset(k for k, on in flags.items() if on))
        self._knobs_cache: tuple[tuple[Any, ...], val.Facts, ep.Settings] | None = None
        self.eos_probability = eos_probability
        self.version = version
        self.embedding_dim = embedding_dim
        self.num_labels = num_labels
        if isinstance(root, str):
            self._roots = dict.fromkeys(self.models, root)
        else:
            self._roots = dict(root or {})
        self._script = Script()
        self._store = store.ResponsesStore(responses_store)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._aborted: list[str] = []
        self._engine_metrics = EngineMetrics(max_num_seqs)
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
            loop = self._loop_factory()
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

    @property
    def served(self) -> list[str]:
        """The names requests may use as `model`: the base models, then the LoRA adapters."""
        return [*self.models, *self.adapters.names]

    @property
    def responses_store(self) -> bool:
        """Whether stored responses are on (`VLLM_ENABLE_RESPONSES_API_STORE=1`); settable."""
        return self._store.enabled

    @responses_store.setter
    def responses_store(self, enabled: bool) -> None:
        self._store.enabled = bool(enabled)

    @property
    def reasoning(self) -> bool:
        """Whether the server answers like one started with a reasoning parser."""
        return self.reasoning_parser is not None

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
        A ChatReply matches /v1/chat/completions and /v1/responses, a CompletionReply /v1/completions,
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
        """Script the next chat answer (streamed or not; a `/v1/responses` answer too, its
        reasoning, message and function-call items made of it); returns the ChatReply queued."""
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
        """Back to a fresh state: no recorded requests, no script, default pacing, no stored responses."""
        self.clear_script()
        self.clear_requests()
        self._store.clear()
        self.token_rate = None
        self.ttft = 0.0

    # --- request handling (event-loop thread) ----------------------------------------------
    async def _handle(self, conn: Connection, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)
        extra: Headers = []
        xrid = req.headers.get("x-request-id")
        if xrid and self.request_id_headers:
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
        # vLLM's API-key middleware runs before routing: unknown /v1 routes get 401 too.
        if self.api_key is not None and req.path.startswith(("/v1/", "/v2/")) and not self._authorized(req):
            await conn.send(401, [("content-type", shapes.JSON), *extra], b'{"error":"Unauthorized"}')
            return
        methods = self._routes.get(routes.route_of(req.path))
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
        await self._dispatch(conn, req, reply, extra)

    async def _dispatch(self, conn: Connection, req: RecordedRequest, reply: Reply | None, extra: Headers) -> None:
        """Answer a request whose route and method are known to be served."""
        if req.path in more.ROUTES:
            await self._more(conn, req, reply, extra)
        elif req.path == "/v1/chat/completions":
            await self._generate(conn, req, "chat", reply, extra)
        elif req.path == "/v1/completions":
            await self._generate(conn, req, "completion", reply, extra)
        elif req.path == "/v1/responses":
            await self._generate(conn, req, "responses", reply, extra)
        elif req.path.startswith("/v1/responses/"):
            answer = await self._store.answer(conn, req, extra)
            if answer is not None:
                await self._send_json(conn, answer[0], answer[1], extra)
        elif req.path in audio.ROUTES:
            await self._audio(conn, req, extra)
        elif req.path in lora_routes.ROUTES:
            await self._send(conn, self.adapters.handle(req.path, req.headers.get("content-type"), req.body,
                                                        self.models), extra)
        elif req.path in pool.ROUTES:
            settings = pool.PoolingSettings(self.model, self.served, self.max_model_len, self.embedding_dim,
                                            self.num_labels)
            status, obj = pool.handle(req.path, req.headers.get("content-type"), req.body, settings)
            if isinstance(obj, pool.Binary):
                await self._send_binary(conn, obj, extra)
            else:
                await self._send_json(conn, status, obj, extra)
        else:
            await self._simple(conn, req, extra)

    async def _audio(self, conn: Connection, req: RecordedRequest, extra: Headers) -> None:
        kind = "transcription" if req.path.endswith("/transcriptions") else "translation"
        answer = audio.handle(kind, req.headers.get("content-type"), req.body, model=self.model, served=self.served,
                              max_model_len=self.max_model_len,
                              request_id=req.headers.get("x-request-id") or shapes.random_hex())
        if answer.events is None:
            await self._send_json(conn, answer.status, answer.body, extra)
            return
        fault = self._script.take_stream_fault(req.path)
        self._running += 1
        try:
            await self._stream(conn, iter([(e, True) for e in answer.events]), extra, fault)
        finally:
            self._running -= 1

    def _authorized(self, req: RecordedRequest) -> bool:
        return req.headers.get("authorization", "") == f"Bearer {self.api_key}"

    async def _send(self, conn: Connection, answer: tuple[int, Headers, bytes], extra: Headers) -> None:
        status, headers, body = answer
        await conn.send(status, [*headers, ("vary", "Origin"), *extra], body)

    async def _send_binary(self, conn: Connection, binary: pool.Binary, extra: Headers) -> None:
        """vLLM's StreamingResponse of packed vectors (json.dumps in the metadata header, as vLLM)."""
        meta = [] if binary.metadata is None else [("metadata", json.dumps(binary.metadata))]
        if not await conn.start_stream(200, [*meta, ("content-type", "application/octet-stream"), ("vary", "Origin"),
                                             *extra]):
            return
        for chunk in binary.chunks:
            if not await conn.send_chunk(chunk):
                return
        await conn.end_stream()

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
        for i, piece in enumerate(raw.body):
            if i and raw.interval > 0 and not await conn.sleep(raw.interval):
                return
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
                shapes.models_list(self.models, self._created, self.max_model_len, self._roots,
                                   self.adapters.cards(self.model, self._created)),
                extra,
            )
        elif path == "/metrics":
            body = self._engine_metrics.render(self.models, self._running)
            await conn.send(200, [("content-type", shapes.PROMETHEUS), ("vary", "Origin"), *extra], body)
        elif path == "/tokenize":
            await self._tokenize(conn, req, extra)
        elif path == "/tokenizer_info":
            await self._send_json(conn, 200, shapes.tokenizer_info(self.model), extra)
        elif path == "/detokenize":
            body, problem = val.parse_body(req.headers.get("content-type"), req.body)
            problem = problem or val.check_fields(body, "detokenize")
            if problem is not None:
                await self._send_json(conn, problem[0], problem[1], extra)
                return
            text = "".join(gen.token_text(int(t)) for t in body["tokens"])
            await self._send_json(conn, 200, {"prompt": text}, extra)

    async def _tokenize(self, conn: Connection, req: RecordedRequest, extra: Headers) -> None:
        body, problem = val.parse_body(req.headers.get("content-type"), req.body)
        if problem is None and isinstance(body, dict):
            problem = val.check_model(body, self._facts())
        problem = problem or val.check_required_any(body, ("prompt", "messages"))
        if problem is not None:
            await self._send_json(conn, problem[0], problem[1], extra)
            return
        if "messages" in body:
            ids = gen.chat_prompt_tokens(body["messages"] or [], body.get("tools"))
            strs = [gen.token_text(t) for t in ids]
        else:
            prompt = str(body["prompt"])
            ids = gen.prompt_token_ids(prompt)
            strs = gen.split_pieces(prompt)
        out = {
            "count": len(ids),
            "max_model_len": self.max_model_len,
            "tokens": ids,
            "token_strs": strs if body.get("return_token_strs") else None,
        }
        await self._send_json(conn, 200, out, extra)

    # --- generation -----------------------------------------------------------------------------
    def _facts(self) -> val.Facts:
        return self._knobs()[0]

    def _settings(self) -> ep.Settings:
        return self._knobs()[1]

    def _knobs(self) -> tuple[val.Facts, ep.Settings]:
        """What validation and generation need of this server, rebuilt only when a test
        changed an attribute (building them per request would cost more than checking)."""
        key = (tuple(self.served), self.max_model_len, self.tool_parser, self.reasoning_parser,
               self.eos_probability, self.think_tokens, self.structured_in_reasoning)
        if self._knobs_cache is None or self._knobs_cache[0] != key:
            facts = val.Facts(key[0], self.max_model_len, self.tool_parser, tuple(self.models))
            settings = ep.Settings(
                max_model_len=self.max_model_len,
                reasoning_parser=self.reasoning_parser,
                eos_probability=self.eos_probability,
                tool_parser=self.tool_parser,
                think_tokens=self.think_tokens,
                structured_in_reasoning=self.structured_in_reasoning,
            )
            self._knobs_cache = (key, facts, settings)
        return self._knobs_cache[1], self._knobs_cache[2]

    def _checked(self, req: RecordedRequest, endpoint: str) -> tuple[Any, list[tuple[str, list[int]]], Problem | None]:
        """The request body (a chat body for "responses") and a completion's prompts, or
        the problem vLLM would answer with, checked in vLLM's order (see `_validate`)."""
        body, problem = val.parse_body(req.headers.get("content-type"), req.body)
        problem = problem or val.check_fields(body, endpoint)
        if problem is None and endpoint == "responses":
            problem = self._store.check_fields(body)
        if problem is not None:
            return body, [], problem
        facts = self._facts()
        problem = val.run(_CHECKS[endpoint], body, facts)
        if problem is not None:
            return body, [], problem
        prompts: list[tuple[str, list[int]]] = []
        if endpoint == "completion":
            parsed = ep.completion_prompt_tokens(body)
            if isinstance(parsed, tuple):
                return body, [], parsed
            prompts = parsed
            prompt_len = max(len(p[1]) for p in prompts)
        else:
            if endpoint == "responses":
                history, problem = self._store.history(body)
                problem = self._store.check_background(body) or problem
                if problem is not None:
                    return body, [], problem
                body = resp.to_chat_body(body, self.tool_parser, history)
            prompt_len = len(gen.chat_prompt_tokens(body["messages"], body.get("tools")))
        problem = val.check_prompt_length(prompt_len, facts) or val.run(val.GENERATION_CHECKS, body, facts)
        return body, prompts, problem

    async def _generate(
        self, conn: Connection, req: RecordedRequest, endpoint: str, reply: Reply | None, extra: Headers
    ) -> None:
        """Chat ("chat"), text ("completion") and Responses API ("responses") generations."""
        body, prompts, problem = self._checked(req, endpoint)
        if problem is not None:
            await self._send_json(conn, problem[0], problem[1], extra)
            return
        original = val.parse_body(None, req.body)[0] if endpoint == "responses" else body
        model = body.get("model") or self.model
        # vLLM 0.32: the X-Request-Id header wins over the body's request_id (Responses: the
        # request_id field, else resp_<random>, is the response id; the header is not used).
        rid = req.headers.get("x-request-id") or body.get("request_id") or shapes.random_hex()
        cid = f"{_ID_PREFIX[endpoint]}-{rid}"
        if endpoint == "responses":
            cid = str(original.get("request_id") or f"resp_{shapes.random_hex()}")
        abort_id = str(req.headers.get("x-request-id") or body.get("request_id") or cid)
        created = int(time.time())
        if endpoint == "completion":
            plan = ep.build_completion(body, prompts, cid=cid, created=created, model=model,
                                       settings=self._settings(),
                                       reply=reply if isinstance(reply, CompletionReply) else None)
        else:
            plan = ep.build_chat(body, cid=cid, created=created, model=model, settings=self._settings(),
                                 reply=reply if isinstance(reply, ChatReply) else None)
        if endpoint == "responses" and original.get("background"):
            await self._background(conn, original, plan, body["messages"], extra)
            return
        final: dict[str, Any] | None = None
        started = time.perf_counter()
        self._running += 1
        try:
            if body.get("stream"):
                fault = self._script.take_stream_fault(req.path)
                if endpoint == "responses":
                    events, final = resp.stream_and_final(original, plan)
                    finished = await self._stream(conn, events, extra, fault, done=False)
                else:
                    finished = await self._stream(conn, ep.stream_events(plan), extra, fault)
            else:
                obj = (resp.response_json(original, plan) if endpoint == "responses"
                       else ep.chat_json(plan) if plan.chat else ep.completion_json(plan))
                final = obj
                finished = await self._answer(conn, plan, obj, extra)
        finally:
            self._running -= 1
        if finished and endpoint == "responses" and final is not None and self._store.keeps(original):
            self._store.remember(final, body["messages"])
        if finished:
            tokens = max((c.completion_tokens for c in plan.choices), default=0)
            self._engine_metrics.finished(
                model, prompt=body.get("messages", body.get("prompt")), prompt_tokens=plan.prompt_tokens,
                generation_tokens=plan.completion_tokens, reasons=[str(c.finish_reason) for c in plan.choices],
                e2e_s=time.perf_counter() - started, ttft_s=self._delay_for(min(tokens, 1)))
        elif finished is False:
            with self._lock:
                self._aborted.append(abort_id)
            self._engine_metrics.aborted(model)

    async def _background(self, conn: Connection, original: dict[str, Any], plan: ep.Plan,
                          messages: list[dict[str, Any]], extra: Headers) -> None:
        """`background=True`: the generation runs on without the connection (see `_responses_store`)."""
        stream = bool(original.get("stream"))
        queued = self._store.start_background(original, plan, messages, stream=stream, ttft=self.ttft,
                                              token_rate=self.token_rate)
        log = self._store.log_of(plan.id)
        if log is None:
            await self._send_json(conn, 200, queued, extra)
            return
        await self._store.follow(conn, log, 0, [("content-type", shapes.SSE), ("vary", "Origin"), *extra])

    def _delay_for(self, tokens: int) -> float:
        rate = self.token_rate
        return self.ttft + (tokens / rate if rate else 0.0)

    async def _answer(self, conn: Connection, plan: ep.Plan, obj: Any, extra: Headers) -> bool:
        tokens = max((c.completion_tokens for c in plan.choices), default=0)
        if not await conn.sleep(self._delay_for(tokens)):
            return False
        await self._send_json(conn, 200, obj, extra)
        return True

    async def _stream(
        self,
        conn: Connection,
        events: Iterator[tuple[bytes, bool]],
        extra: Headers,
        fault: StreamFault | None,
        *,
        done: bool = True,
    ) -> bool | None:
        """Send (event bytes, is_token) as SSE, then `data: [DONE]` if `done`. True: completed;
        False: the client went away (abort); None: the stream was cut on purpose by a fault."""
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
        if done and not isinstance(fault, StreamNoDone) and not await conn.send_chunk(shapes.DONE):
            return False
        return await conn.end_stream()


def _after(fault: StreamFault) -> int:
    return int(getattr(fault, "after_chunks", 0))
