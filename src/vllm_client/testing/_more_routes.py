"""The emulator's routes that reuse its chat generation: ``/v1/chat/completions/batch``,
``/v1/messages`` (+ ``count_tokens``), ``/invocations``, and the scale-out / elastic-EP routes.

A mixin of :class:`MockVllmServer` (it needs the server's checks, plans and stream sender).

* Chat batch (vLLM 0.32 ``BatchChatCompletionRequest``): the request model's checks (each
  conversation non-empty, ``tool_choice`` only "none", ``n`` 1, no beam search), then each
  conversation checked and answered like a chat request; one ``chat.completion`` with choice
  ``i`` for conversation ``i`` and the usage summed. A ``stream: true`` sneaked in is accepted
  and, as on vLLM, leaves each choice with its last piece of text only.
* ``/invocations``: the body goes to the first endpoint whose request it fits -- chat for
  ``messages``, else completion on a generating model; embeddings / classify / rerank / score /
  pooling on a pooling model -- and is answered exactly as there.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from . import _anthropic as anth
from . import _endpoints as ep
from . import _generate as gen
from . import _scale_out as scale
from . import _shapes as shapes
from . import _validate as val
from ._http import Connection, RecordedRequest

if TYPE_CHECKING:
    from ._faults import Reply, StreamFault

__all__ = ["GENERATE_ONLY", "ROUTES", "MoreRoutes"]

Headers = list[tuple[str, str]]
_POST = ("POST",)

#: routes of a generating model
GENERATE_ONLY: dict[str, tuple[str, ...]] = {
    "/v1/chat/completions/batch": _POST,
    "/v1/messages": _POST,
    "/v1/messages/count_tokens": _POST,
    **scale.GENERATE_ROUTES,
    **scale.ELASTIC_ROUTES,
}
#: every route this mixin answers (``/invocations`` is on every server)
ROUTES: dict[str, tuple[str, ...]] = {**GENERATE_ONLY, "/invocations": _POST}

_INVOCATION_TYPES = {  # what vLLM lists when no request type fits, per task
    None: ["ChatCompletionRequest", "CompletionRequest"],
    "generate": ["ChatCompletionRequest", "CompletionRequest"],
    "embed": ["EmbeddingCompletionRequest", "EmbeddingChatRequest", "RerankRequest", "ScoreRequest",
              "PoolingCompletionRequest", "PoolingChatRequest"],
    "classify": ["ClassificationCompletionRequest", "ClassificationChatRequest", "PoolingCompletionRequest",
                 "PoolingChatRequest"],
    "transcription": [],
}


class MoreRoutes:
    """Handlers for :data:`ROUTES` (mixed into MockVllmServer)."""

    if TYPE_CHECKING:
        model: str
        task: str | None
        max_model_len: int
        scale_out: bool
        max_num_seqs: int
        _script: Any

        @property
        def served(self) -> list[str]: ...

        def _facts(self) -> val.Facts: ...

        def _settings(self) -> ep.Settings: ...

        def _checked(self, req: RecordedRequest, endpoint: str) -> tuple[Any, Any, val.Problem | None]: ...

        async def _send_json(self, conn: Connection, status: int, obj: Any,
                             extra: Sequence[tuple[str, str]] = ()) -> None: ...

        async def _stream(self, conn: Connection, events: Iterator[tuple[bytes, bool]], extra: Headers,
                          fault: StreamFault | None, *, done: bool = True) -> bool | None: ...

        async def _dispatch(self, conn: Connection, req: RecordedRequest, reply: Reply | None,
                            extra: Headers) -> None: ...

    async def _more(self, conn: Connection, req: RecordedRequest, reply: Reply | None, extra: Headers) -> None:
        path = req.path
        if path == "/v1/chat/completions/batch":
            await self._chat_batch(conn, req, extra)
        elif path in ("/v1/messages", "/v1/messages/count_tokens"):
            await self._messages(conn, req, extra)
        elif path == "/invocations":
            await self._invocations(conn, req, reply, extra)
        elif path in scale.ELASTIC_ROUTES:
            await self._send_json(conn, *scale.elastic(path, req.headers.get("content-type"), req.body), extra)
        else:
            await self._scale_out(conn, req, extra)

    # -- chat batch --------------------------------------------------------------------------
    def _batch_problem(self, body: Any) -> val.Problem | None:
        if not isinstance(body, dict) or "messages" not in body:
            return val.missing(body, ["messages"])
        convs = body["messages"]
        if not isinstance(convs, list) or not convs:
            return val.invalid("messages", "too_short", "List should have at least 1 item after validation, not 0",
                               convs, field_type="List", min_length=1, actual_length=0)
        for i, conv in enumerate(convs):
            if not isinstance(conv, list):
                return val.invalid(f"messages.{i}", "list_type", "Input should be a valid list", conv)
            if not conv:
                return val.invalid(f"messages.{i}", "too_short",
                                   "List should have at least 1 item after validation, not 0", conv,
                                   field_type="List", min_length=1, actual_length=0)
        if body.get("tool_choice", "none") not in ("none", None):
            return val.invalid("tool_choice", "literal_error", "Input should be 'none'", body["tool_choice"],
                               expected="'none'")
        if body.get("use_beam_search"):
            return val.bad_request("Batch chat completions do not support beam search. Please set `use_beam_search` "
                                   "to False. (parameter=use_beam_search)", "use_beam_search")
        if body.get("logprob_token_ids") and not body.get("logprobs"):
            return val.bad_request("when using `logprob_token_ids`, `logprobs` must be set to true. "
                                   "(parameter=logprob_token_ids)", "logprob_token_ids")
        n = body.get("n", 1)
        if n is not None and n != 1:
            return val.bad_request(f"Batch chat completions do not support `n > 1`. Please set `n` to 1. "
                                   f"(parameter=n, value={n})", "n")
        return None

    async def _chat_batch(self, conn: Connection, req: RecordedRequest, extra: Headers) -> None:
        body, problem = val.parse_body(req.headers.get("content-type"), req.body)
        problem = problem or self._batch_problem(body)
        if problem is not None:
            await self._send_json(conn, *problem, extra)
            return
        rid = req.headers.get("x-request-id") or body.get("request_id") or shapes.random_hex()
        created, model = int(time.time()), body.get("model") or self.model
        answers = []
        for i, conv in enumerate(body["messages"]):
            one = {k: v for k, v in body.items() if k != "stream"} | {"messages": conv}
            checked, _, problem = self._checked(dataclasses.replace(req, body=orjson.dumps(one)), "chat")
            if problem is not None:
                await self._send_json(conn, *problem, extra)
                return
            plan = ep.build_chat(checked, cid=f"chatcmpl-{rid}_{i}", created=created, model=model,
                                 settings=self._settings(), reply=None)
            if body.get("stream"):  # vLLM's trap: delta output, only the last chunk kept
                for choice in plan.choices:
                    choice.events = choice.events[-1:]
            answers.append(ep.chat_json(plan))
        out = dict(answers[0], id=f"chatcmpl-{rid}")
        out["choices"] = [dict(a["choices"][0], index=i) for i, a in enumerate(answers)]
        usage = {k: sum(a["usage"][k] for a in answers) for k in ("prompt_tokens", "total_tokens", "completion_tokens")}
        out["usage"] = dict(answers[0]["usage"], **usage)
        await self._send_json(conn, 200, out, extra)

    # -- /v1/messages ------------------------------------------------------------------------
    async def _messages(self, conn: Connection, req: RecordedRequest, extra: Headers) -> None:
        body, problem = val.parse_body(req.headers.get("content-type"), req.body)
        counting = req.path.endswith("/count_tokens")
        if problem is None:
            required = ("model", "messages") if counting else ("model", "messages", "max_tokens")
            missing = [f for f in required if not isinstance(body, dict) or f not in body]
            problem = val.missing(body, missing) if missing else None
        if problem is not None:
            await self._send_json(conn, *problem, extra)
            return
        if body["model"] not in self.served:
            message = f"The model `{body['model']}` does not exist. Valid aliases: {', '.join(self._facts().bases)}."
            await self._send_json(conn, *anth.anthropic_error(404, "NotFoundError", message), extra)
            return
        chat = anth.to_chat_body({**body, "max_tokens": body.get("max_tokens") or 1})
        if counting:
            tokens = len(gen.chat_prompt_tokens(chat["messages"], chat.get("tools")))
            await self._send_json(conn, 200, anth.count_tokens_body(tokens), extra)
            return
        checked, _, problem = self._checked(dataclasses.replace(req, body=orjson.dumps(chat)), "chat")
        if problem is not None:
            message = str(problem[1].get("error", {}).get("message", "")) if isinstance(problem[1], dict) else ""
            await self._send_json(conn, *anth.anthropic_error(problem[0], "BadRequestError", message), extra)
            return
        rid = req.headers.get("x-request-id") or shapes.random_hex()
        plan = ep.build_chat(checked, cid=f"chatcmpl-{rid}", created=int(time.time()), model=body["model"],
                             settings=self._settings(), reply=None)
        answer = ep.chat_json(plan)
        if not body.get("stream"):
            await self._send_json(conn, 200, anth.render_message(answer), extra)
            return
        pieces = [str(e.delta.get("content") or "") for e in plan.choices[0].events]
        frames = anth.stream_frames(answer, pieces)
        await self._stream(conn, iter([(f, True) for f in frames]), extra, self._script.take_stream_fault(req.path),
                           done=False)

    # -- /invocations -----------------------------------------------------------------------------
    def _invocation_target(self, body: dict[str, Any]) -> str | None:
        if self.task in (None, "generate"):
            return "/v1/chat/completions" if "messages" in body else "/v1/completions"
        if self.task == "embed":
            if "query" in body and "documents" in body:
                return "/rerank"
            if "queries" in body or "text_1" in body:
                return "/score"
            return "/v1/embeddings" if ("input" in body or "messages" in body) else None
        if self.task == "classify":
            return "/classify" if ("input" in body or "messages" in body) else None
        return None

    async def _invocations(self, conn: Connection, req: RecordedRequest, reply: Reply | None, extra: Headers) -> None:
        problem = val.parse_body(req.headers.get("content-type"), b"{}")[1]
        if problem is not None:
            await self._send_json(conn, *problem, extra)
            return
        try:
            body = json.loads(req.body)
        except ValueError as exc:
            await self._send_json(conn, 400, shapes.error_body(f"JSON decode error: {exc}", "Bad Request", None, 400),
                                  extra)
            return
        target = self._invocation_target(body) if isinstance(body, dict) else None
        if target is None:
            names = _INVOCATION_TYPES.get(self.task, [])
            await self._send_json(conn, *val.bad_request(
                f"Cannot find suitable handler for request. Expected one of: {names}"), extra)
            return
        adapter = req.headers.get("x-amzn-sagemaker-adapter-identifier")
        if adapter:
            body = {**body, "model": adapter}
        await self._dispatch(conn, dataclasses.replace(req, path=target, body=orjson.dumps(body)), reply, extra)

    # -- /inference/v1/generate, abort -----------------------------------------------------------
    async def _scale_out(self, conn: Connection, req: RecordedRequest, extra: Headers) -> None:
        if not self.scale_out:
            await self._send_json(conn, 403, shapes.error_body(
                "Scale-out endpoints are disabled. Restart vllm serve with --enable-scale-out to enable them.",
                "PermissionDeniedError", None, 403), extra)
            return
        if req.path.endswith("/abort_requests"):
            status, obj = scale.abort(req.headers.get("content-type"), req.body)
            if obj is None:
                await conn.send(status, [("vary", "Origin"), *extra], b"")
            else:
                await self._send_json(conn, status, obj, extra)
            return
        body, problem = val.parse_body(req.headers.get("content-type"), req.body)
        if problem is not None:
            await self._send_json(conn, *problem, extra)
            return
        answer = scale.generate(body, model=self.model, max_model_len=self.max_model_len,
                                max_num_seqs=self.max_num_seqs,
                                request_id=req.headers.get("x-request-id") or shapes.random_hex())
        if answer.events is None:
            await self._send_json(conn, answer.status, answer.body, extra)
            return
        await self._stream(conn, iter([(e, True) for e in answer.events]), extra,
                           self._script.take_stream_fault(req.path))
