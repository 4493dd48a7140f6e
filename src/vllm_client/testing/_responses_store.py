"""vLLM 0.32's stored responses (`VLLM_ENABLE_RESPONSES_API_STORE=1`), emulated.

What a real server does, checked against one (tests/integration/test_responses_real.py):

* `store=True` (the default) keeps a response once it is complete; a `background=True`
  request is kept at once with `status: "queued"` and `output: []`, and that stored copy is
  replaced only at the end, so polling goes from `queued` straight to `completed` (or
  `incomplete`): never `in_progress`.
* `background=True, stream=True` runs the generation into an event log; the POST, and any
  `GET /v1/responses/{id}?stream=true&starting_after=N`, replays the log from N+1 and
  follows it to `response.completed`. A client going away stops nothing.
* `POST .../cancel` of a queued or running background response marks it `cancelled`,
  stops its generation and answers the stored copy; anything else is 400 "Cannot cancel a
  synchronous response."; unknown ids (and every id without the store) 404. After a cancel
  no `response.completed` ever comes: a replay then waits until its client goes away.
* `GET ...?stream=true` of a response that has no event log answers 200 and closes the
  connection without an event (vLLM raises inside the stream generator).
* `previous_response_id` continues the stored conversation (see `_responses.history_messages`).

Without the store, `background=True` is a 400 naming the environment variable and every id
is unknown. The store lives in the server's event loop: only loop code touches it (and `clear`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import _endpoints as ep
from . import _responses as resp
from . import _shapes as shapes
from ._http import Connection, RecordedRequest
from ._validate import Problem

__all__ = ["ResponsesStore"]

Headers = list[tuple[str, str]]

_NO_STORE = ("This vLLM engine does not support `store=True` and therefore does not support the background mode. "
             "To enable these features, set the environment variable `VLLM_ENABLE_RESPONSES_API_STORE=1` when "
             "launching the vLLM server.")
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _invalid_request(message: str, param: str, status: int) -> Problem:
    return status, shapes.error_body(message, "invalid_request_error", param, status)


def _query_error(kind: str, loc: str, msg: str, value: str) -> Problem:
    return 400, shapes.validation_error([{"type": kind, "loc": loc, "msg": msg, "input": value}])


@dataclass
class _Log:
    """The events of a background stream, as vLLM's `event_store` deque."""

    events: list[bytes] = field(default_factory=list)
    end: int | None = None  # index of response.completed
    grew: asyncio.Event = field(default_factory=asyncio.Event)

    def append(self, data: bytes) -> None:
        self.events.append(data)
        self.grew.set()
        self.grew = asyncio.Event()

    async def wait(self, conn: Connection) -> bool:
        """Until the log grows (True) or the client goes away (False)."""
        grew = asyncio.ensure_future(self.grew.wait())
        gone = asyncio.ensure_future(conn.closed.wait())
        try:
            await asyncio.wait({grew, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            grew.cancel()
            gone.cancel()
        return not conn.closed.is_set()


@dataclass
class _Entry:
    response: dict[str, Any]
    messages: list[dict[str, Any]]  # the chat messages the request ran with
    log: _Log | None = None
    task: asyncio.Task[None] | None = None


class ResponsesStore:
    """The store of one server; `enabled` is `VLLM_ENABLE_RESPONSES_API_STORE=1`."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._entries: dict[str, _Entry] = {}

    def clear(self) -> None:
        """Forget every stored response (a background run still going finishes unseen). Rebinding
        the dict is atomic, so a test thread may call this while the loop serves."""
        self._entries = {}

    # --- checks, in vLLM's order -------------------------------------------------------------------
    @staticmethod
    def check_fields(body: dict[str, Any]) -> Problem | None:
        """The request model's validator (with the pydantic stage)."""
        if body.get("background") and body.get("store", True) is False:
            msg = "background can only be used when `store` is true (parameter=background)"
            return 400, shapes.error_body(msg, "BadRequestError", "background", 400)
        return None

    def check_background(self, body: dict[str, Any]) -> Problem | None:
        """After the model check: background mode needs the store."""
        if body.get("background") and body.get("store", True) and not self.enabled:
            return _invalid_request(_NO_STORE, "background", 400)
        return None

    def history(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, Problem | None]:
        """The conversation `previous_response_id` continues, or its 404."""
        rid = body.get("previous_response_id")
        if rid is None:
            return None, None
        entry = self._entries.get(str(rid)) if self.enabled else None
        if entry is None:
            return None, (404, resp.not_found(str(rid)))
        return resp.history_messages(entry.messages, entry.response), None

    def keeps(self, body: dict[str, Any]) -> bool:
        """Whether this request's response is stored (`store=True` is ignored without the store)."""
        return self.enabled and body.get("store", True) is not False

    # --- creating ------------------------------------------------------------------------------------
    def remember(self, response: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        """A complete (non-background) response."""
        self._entries[str(response["id"])] = _Entry(response, messages)

    def start_background(self, original: dict[str, Any], plan: ep.Plan, messages: list[dict[str, Any]], *,
                         stream: bool, ttft: float, token_rate: float | None) -> dict[str, Any]:
        """Store the queued response and start its generation; returns the queued response
        (what a non-streamed POST answers)."""
        queued = resp.queued_json(original, plan)
        entry = self._entries[plan.id] = _Entry(queued, messages)
        loop = asyncio.get_running_loop()
        if stream:
            events, final = resp.stream_and_final(original, plan)
            entry.log = _Log()
            entry.task = loop.create_task(self._produce(entry, events, final, ttft, token_rate))
        else:
            tokens = max((c.completion_tokens for c in plan.choices), default=0)
            delay = ttft + (tokens / token_rate if token_rate else 0.0)
            entry.task = loop.create_task(self._finish_after(entry, resp.response_json(original, plan), delay))
        return queued

    @staticmethod
    def _complete(entry: _Entry, final: dict[str, Any]) -> None:
        if entry.response.get("status") != "cancelled":
            entry.response = final

    async def _finish_after(self, entry: _Entry, final: dict[str, Any], delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        self._complete(entry, final)

    async def _produce(self, entry: _Entry, events: Iterator[tuple[bytes, bool]], final: dict[str, Any],
                       ttft: float, token_rate: float | None) -> None:
        log = entry.log
        assert log is not None
        pending = list(events)
        interval = 1.0 / token_rate if token_rate else 0.0
        for i, (data, is_token) in enumerate(pending):
            delay = (ttft if i == 0 else 0.0) + (interval if is_token else 0.0)
            if delay > 0:
                await asyncio.sleep(delay)
            if i == len(pending) - 1:
                self._complete(entry, final)  # vLLM stores the final response, then sends response.completed
                log.end = i
            log.append(data)

    def log_of(self, response_id: str) -> _Log | None:
        entry = self._entries.get(response_id)
        return entry.log if entry is not None else None

    # --- reading and cancelling --------------------------------------------------------------------
    async def follow(self, conn: Connection, log: _Log, start: int, headers: Iterable[tuple[str, str]]) -> None:
        """Stream the log from index `start` until response.completed (or the client leaves)."""
        if not await conn.start_stream(200, headers):
            return
        i = start
        while True:
            while i < len(log.events):
                if not await conn.send_chunk(log.events[i]):
                    return
                if i == log.end:
                    await conn.end_stream()
                    return
                i += 1
            if not await log.wait(conn):
                return

    async def answer(self, conn: Connection, req: RecordedRequest, headers: Headers) -> Problem | None:
        """`GET /v1/responses/{id}` and `POST /v1/responses/{id}/cancel`: streams a replay
        itself, returns the JSON answer (status, body) otherwise."""
        cancel = req.path.endswith("/cancel")
        response_id = req.path.removeprefix("/v1/responses/").removesuffix("/cancel")
        if cancel:
            return await self._cancel(response_id)
        stream, start, problem = _retrieve_query(req.query)
        if problem is not None:
            return problem
        entry = self._entries.get(response_id) if self.enabled else None
        if entry is None:
            return 404, resp.not_found(response_id)
        if not stream:
            return 200, entry.response
        sse = [("content-type", shapes.SSE), ("vary", "Origin"), *headers]
        if entry.log is None:  # vLLM: "Unknown response_id" raised after the headers went out
            if await conn.start_stream(200, sse):
                conn.close()
            return None
        await self.follow(conn, entry.log, start, sse)
        return None

    async def _cancel(self, response_id: str) -> Problem:
        entry = self._entries.get(response_id) if self.enabled else None
        if entry is None:
            return 404, resp.not_found(response_id)
        if entry.response.get("status") not in ("queued", "in_progress"):
            return _invalid_request("Cannot cancel a synchronous response.", "response_id", 400)
        entry.response = {**entry.response, "status": "cancelled"}
        task = entry.task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return 200, entry.response


def _retrieve_query(query: dict[str, str]) -> tuple[bool, int, Problem | None]:
    """`stream` and `starting_after` as FastAPI parses them: (stream, first index, problem)."""
    raw = query.get("stream")
    stream = False
    if raw is not None:
        if raw.lower() in _TRUE:
            stream = True
        elif raw.lower() not in _FALSE:
            msg = "Input should be a valid boolean, unable to interpret input"
            return False, 0, _query_error("bool_parsing", "query.stream", msg, raw)
    after = query.get("starting_after")
    start = 0
    if after is not None:
        try:
            start = int(after.strip()) + 1
        except ValueError:
            msg = "Input should be a valid integer, unable to parse string as an integer"
            return False, 0, _query_error("int_parsing", "query.starting_after", msg, after)
    return stream, max(start, 0), None
