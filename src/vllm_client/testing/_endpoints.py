"""Chat and text completions: a request body becomes a `Plan`, rendered as JSON or SSE.

A plan holds every choice's output decided up front (pieces, finish reason, usage),
so the non-streaming body and the stream are two renderings of the same answer and
always agree. Pure code: no sockets, no clocks except the `created` it is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _generate as gen
from . import _shapes as shapes
from ._faults import ChatReply, CompletionReply, ToolCall
from ._validate import Problem

_ARG_PIECE_RE = re.compile(r"\s*[^\w\s]{1,2}|\w{1,4}|\s+")


@dataclass
class Event:
    """One streamed delta of one choice."""

    delta: dict[str, Any]
    token_ids: list[int] | None = None
    logprobs: Any = None
    tokens: int = 1  # how many tokens this event stands for (0 for a bare finish)


@dataclass
class ChoicePlan:
    index: int
    events: list[Event]
    finish_reason: str
    stop_reason: str | int | None
    completion_tokens: int
    finish_separate: bool = False  # tool calls end with an empty `{}` delta
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    logprobs: Any = None
    reasoning_tokens: int | None = None
    text_prefix: str = ""  # completions echo: the prompt, sent with the first event
    prompt_token_ids: list[int] | None = None


@dataclass
class Plan:
    chat: bool
    id: str
    created: int
    model: str
    prompt_tokens: int
    choices: list[ChoicePlan]
    include_usage: bool = False
    continuous_usage: bool = False
    prompt_token_ids: list[int] | None = None  # chat only (return_token_ids)
    return_token_ids: bool = False
    usage_override: dict[str, int] | None = None

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)

    @property
    def reasoning_tokens(self) -> int | None:
        counts = [c.reasoning_tokens for c in self.choices if c.reasoning_tokens is not None]
        return sum(counts) if counts else None


@dataclass(frozen=True)
class Settings:
    """Server-wide knobs that shape generated answers."""

    max_model_len: int
    reasoning: bool = False
    eos_probability: float = 0.0


# --- shared helpers --------------------------------------------------------------------


def _stop_list(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if isinstance(stop, str):
        return (stop,)
    return tuple(stop or ())


def _structured_text(body: dict[str, Any], rng: Any) -> str | None:
    """The text structured outputs force, when the emulator can produce it."""
    so = body.get("structured_outputs")
    if isinstance(so, dict):
        choices = so.get("choice")
        if isinstance(choices, list) and choices:
            return str(choices[rng.randrange(len(choices))])
        if "json" in so:
            schema = so["json"]
            if isinstance(schema, str):
                try:
                    schema = json.loads(schema)
                except json.JSONDecodeError:
                    schema = {}
            return json.dumps(gen.instance_for_schema(schema, rng), separators=(",", ":"), ensure_ascii=False)
        if isinstance(so.get("regex"), str):
            literal = gen.literal_from_regex(so["regex"])
            if literal is not None:
                return literal
        if so.get("json_object"):
            return "{}"
    rf = body.get("response_format")
    if isinstance(rf, dict):
        if rf.get("type") == "json_schema":
            js = rf.get("json_schema") or {}
            schema = js.get("schema", js.get("json_schema", {})) if isinstance(js, dict) else {}
            return json.dumps(gen.instance_for_schema(schema, rng), separators=(",", ":"), ensure_ascii=False)
        if rf.get("type") == "json_object":
            return "{}"
    return None


def _forced_text(text: str, limit: int) -> gen.Generation:
    g = gen.scripted(text)
    if len(g.pieces) > limit:
        g = gen.Generation(g.pieces[:limit], g.ids[:limit], "length", None, limit, g.logprobs[:limit])
    return g


def _sampling(body: dict[str, Any], limit: int, natural: bool, settings: Settings) -> gen.SamplingOptions:
    return gen.SamplingOptions(
        max_tokens=limit,
        natural_stop=natural,
        min_tokens=int(body.get("min_tokens") or 0),
        stop=_stop_list(body),
        stop_token_ids=tuple(body.get("stop_token_ids") or ()),
        include_stop_str_in_output=bool(body.get("include_stop_str_in_output")),
        ignore_eos=bool(body.get("ignore_eos")),
        eos_probability=settings.eos_probability,
    )


def tool_call_id() -> str:
    return f"chatcmpl-tool-{shapes.random_hex()}"


def _arguments_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False)


def _tool_events(calls: list[dict[str, Any]]) -> list[Event]:
    """Hermes-parser streaming: name first (with id and type), then argument pieces."""
    events: list[Event] = []
    for k, call in enumerate(calls):
        fn = call["function"]
        events.append(
            Event(
                {
                    "content": None,
                    "tool_calls": [
                        {"id": call["id"], "type": "function", "index": k, "function": {"name": fn["name"]}}
                    ],
                }
            )
        )
        for piece in _ARG_PIECE_RE.findall(fn["arguments"]):
            events.append(Event({"content": None, "tool_calls": [{"index": k, "function": {"arguments": piece}}]}))
    return events


# --- chat ----------------------------------------------------------------------------------


def build_chat(
    body: dict[str, Any], *, cid: str, created: int, model: str, settings: Settings, reply: ChatReply | None
) -> Plan | Problem:
    messages = body["messages"]
    tools = body.get("tools")
    prompt_ids = gen.chat_prompt_tokens(messages, tools)
    prompt_tokens = len(prompt_ids)
    prompt_text = gen.render_chat_prompt(messages)
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    room = max(settings.max_model_len - prompt_tokens, 1)
    natural = requested is None
    limit = min(requested if requested is not None else (16 if body.get("ignore_eos") else 64), room)
    n = int(body.get("n") or 1)
    kwargs = body.get("chat_template_kwargs") or {}
    thinking = (
        settings.reasoning
        and body.get("include_reasoning", True) is not False
        and not (isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False)
    )
    want_lp = bool(body.get("logprobs"))
    top_n = int(body.get("top_logprobs") or 0)
    want_ids = bool(body.get("return_token_ids"))
    tool_choice = body.get("tool_choice")
    seed = body.get("seed")

    choices: list[ChoicePlan] = []
    for i in range(n):
        rng = gen.make_rng(seed, prompt_text, i)
        if reply is not None:
            choices.append(_scripted_chat_choice(i, reply))
            continue
        reasoning_pieces: list[str] = []
        calls: list[dict[str, Any]] = []
        forced_content: str | None = None
        forced = _structured_text(body, rng)
        if tools and (tool_choice == "required" or isinstance(tool_choice, dict)):
            calls = _forced_tool_calls(tools, tool_choice, rng)
            g = gen.Generation(
                [],
                [],
                "tool_calls" if tool_choice == "required" else "stop",
                None,
                sum(len(_ARG_PIECE_RE.findall(c["function"]["arguments"])) + 4 for c in calls),
            )
            forced_content = ""
        elif forced is not None:
            g = _forced_text(forced, limit)
        else:
            g = gen.generate(rng, _sampling(body, limit, natural, settings))
        pieces, ids, lps = g.pieces, g.ids, g.logprobs
        if thinking:
            if forced is None and not calls:
                r = min(len(pieces), rng.randint(3, 8))
                reasoning_pieces, pieces = pieces[:r], pieces[r:]
            else:
                reasoning_pieces = [gen.VOCAB[rng.randrange(40)] for _ in range(rng.randint(3, 6))]
                g.completion_tokens += len(reasoning_pieces)
                ids = [gen.token_id(p) for p in reasoning_pieces] + ids
                lps = [-0.5] * len(reasoning_pieces) + lps
        all_pieces = reasoning_pieces + pieces
        entries = (
            [
                shapes.chat_logprob_entry(
                    p,
                    lps[k] if k < len(lps) else -0.5,
                    gen.top_alternatives(f"{i}:{k}:{seed}", p, lps[k] if k < len(lps) else -0.5, top_n)[:top_n],
                )
                for k, p in enumerate(all_pieces)
            ]
            if want_lp
            else []
        )
        events: list[Event] = []
        for k, p in enumerate(all_pieces):
            key = "reasoning" if k < len(reasoning_pieces) else "content"
            events.append(
                Event(
                    {key: p},
                    [ids[k]] if want_ids and k < len(ids) else None,
                    {"content": [entries[k]]} if want_lp else None,
                )
            )
        events.extend(_tool_events(calls))
        content: str | None = "".join(pieces) if pieces else forced_content
        if content is None and not reasoning_pieces and not calls:
            content = ""
        choices.append(
            ChoicePlan(
                index=i,
                events=events,
                finish_reason=g.finish_reason,
                stop_reason=g.stop_reason,
                completion_tokens=g.completion_tokens,
                finish_separate=bool(calls),
                content=content,
                reasoning="".join(reasoning_pieces) if reasoning_pieces else None,
                tool_calls=calls,
                token_ids=ids,
                logprobs={"content": entries} if want_lp else None,
                reasoning_tokens=len(reasoning_pieces) if settings.reasoning else None,
            )
        )
    opts = body.get("stream_options") or {}
    return Plan(
        chat=True,
        id=cid,
        created=created,
        model=model,
        prompt_tokens=prompt_tokens,
        choices=choices,
        include_usage=bool(opts.get("include_usage")) if isinstance(opts, dict) else False,
        continuous_usage=bool(opts.get("continuous_usage_stats")) if isinstance(opts, dict) else False,
        prompt_token_ids=prompt_ids if want_ids else None,
        return_token_ids=want_ids,
        usage_override=dict(reply.usage) if reply is not None and reply.usage else None,
    )


def _forced_tool_calls(tools: Sequence[Any], tool_choice: Any, rng: Any) -> list[dict[str, Any]]:
    fns = [t.get("function") or {} for t in tools if isinstance(t, dict)]
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        fns = [f for f in fns if f.get("name") == name] or fns
    fn = fns[0] if fns else {"name": "tool"}
    args = gen.instance_for_schema(fn.get("parameters") or {"type": "object"}, rng)
    return [shapes.tool_call_obj(tool_call_id(), str(fn.get("name")), _arguments_text(args or {}))]


def _scripted_chat_choice(index: int, reply: ChatReply) -> ChoicePlan:
    reasoning = gen.split_pieces(reply.reasoning) if reply.reasoning else []
    content = gen.split_pieces(reply.content) if reply.content else []
    calls = [_tool_call_dict(tc) for tc in reply.tool_calls]
    events = [Event({"reasoning": p}) for p in reasoning] + [Event({"content": p}) for p in content]
    events.extend(_tool_events(calls))
    tokens = (
        len(reasoning) + len(content) + sum(len(_ARG_PIECE_RE.findall(c["function"]["arguments"])) + 4 for c in calls)
    )
    finish = reply.finish_reason or ("tool_calls" if calls else "stop")
    return ChoicePlan(
        index=index,
        events=events,
        finish_reason=finish,
        stop_reason=reply.stop_reason,
        completion_tokens=max(tokens, 1),
        finish_separate=bool(calls),
        content=reply.content,
        reasoning=reply.reasoning,
        tool_calls=calls,
        token_ids=[gen.token_id(p) for p in reasoning + content],
        reasoning_tokens=len(reasoning) if reply.reasoning is not None else None,
    )


def _tool_call_dict(tc: ToolCall) -> dict[str, Any]:
    return shapes.tool_call_obj(tc.id or tool_call_id(), tc.name, _arguments_text(tc.arguments))


def chat_json(plan: Plan) -> dict[str, Any]:
    choices = [
        shapes.chat_choice(
            index=c.index,
            message=shapes.chat_message(c.content, c.reasoning, c.tool_calls),
            logprobs=c.logprobs,
            finish_reason=c.finish_reason,
            stop_reason=c.stop_reason,
            token_ids=c.token_ids if plan.return_token_ids else None,
        )
        for c in plan.choices
    ]
    usage = shapes.apply_usage_override(
        shapes.usage_full(plan.prompt_tokens, plan.completion_tokens, plan.reasoning_tokens),
        plan.usage_override,
    )
    return shapes.chat_completion(
        cid=plan.id,
        created=plan.created,
        model=plan.model,
        choices=choices,
        usage=usage,
        prompt_token_ids=plan.prompt_token_ids,
    )


# --- completions ---------------------------------------------------------------------------


def _prompts(body: dict[str, Any]) -> list[tuple[str, list[int]]] | Problem:
    prompt = body.get("prompt")
    bad = (
        400,
        shapes.error_body(
            "Either prompt or prompt_embeds must be provided and non-empty.", "BadRequestError", None, 400
        ),
    )
    if isinstance(prompt, str):
        return [(prompt, gen.prompt_token_ids(prompt))]
    if not isinstance(prompt, list) or not prompt:
        return bad
    if all(isinstance(p, str) for p in prompt):
        return [(p, gen.prompt_token_ids(p)) for p in prompt]
    if all(isinstance(p, int) and not isinstance(p, bool) for p in prompt):
        return [(_detok(prompt), list(prompt))]
    if all(isinstance(p, list) and p and all(isinstance(t, int) for t in p) for p in prompt):
        return [(_detok(p), list(p)) for p in prompt]
    return bad


def _detok(ids: Sequence[int]) -> str:
    return "".join(detokenize_one(t) for t in ids)


def detokenize_one(tid: int) -> str:
    return gen.token_text(tid)


def completion_prompt_tokens(body: dict[str, Any]) -> list[tuple[str, list[int]]] | Problem:
    return _prompts(body)


def build_completion(
    body: dict[str, Any],
    prompts: list[tuple[str, list[int]]],
    *,
    cid: str,
    created: int,
    model: str,
    settings: Settings,
    reply: CompletionReply | None,
) -> Plan:
    n = int(body.get("n") or 1)
    requested = body.get("max_tokens")
    k_lp = body.get("logprobs")
    want_ids = bool(body.get("return_token_ids"))
    echo = bool(body.get("echo"))
    seed = body.get("seed")
    choices: list[ChoicePlan] = []
    for p_idx, (ptext, pids) in enumerate(prompts):
        room = max(settings.max_model_len - len(pids), 1)
        limit = min(16 if requested is None else requested, room)
        for i in range(n):
            index = p_idx * n + i
            rng = gen.make_rng(seed, ptext, i)
            if reply is not None:
                g = gen.scripted(reply.text)
                g.finish_reason, g.stop_reason = reply.finish_reason, reply.stop_reason
            else:
                forced = _structured_text(body, rng)
                g = (
                    _forced_text(forced, limit)
                    if forced is not None
                    else gen.generate(rng, _sampling(body, limit, False, settings))
                )
            lp_obj = None
            per_event_lp: list[Any] = [None] * len(g.pieces)
            if k_lp is not None:
                tops = [
                    dict(gen.top_alternatives(f"{index}:{k}:{seed}", p, g.logprobs[k], int(k_lp) + 1))
                    for k, p in enumerate(g.pieces)
                ]
                offset = len(ptext) if echo else 0
                lp_obj = shapes.completion_logprobs(list(g.pieces), list(g.logprobs), list(tops), offset)
                per_event_lp = []
                pos = offset
                for k, p in enumerate(g.pieces):
                    per_event_lp.append(shapes.completion_logprobs([p], [g.logprobs[k]], [tops[k]], pos))
                    pos += len(p)
            events = [
                Event({"text": p}, [g.ids[k]] if want_ids and k < len(g.ids) else None, per_event_lp[k])
                for k, p in enumerate(g.pieces)
            ]
            choices.append(
                ChoicePlan(
                    index=index,
                    events=events,
                    finish_reason=g.finish_reason,
                    stop_reason=g.stop_reason,
                    completion_tokens=g.completion_tokens,
                    content=(ptext if echo else "") + g.text,
                    token_ids=g.ids,
                    logprobs=lp_obj,
                    text_prefix=ptext if echo else "",
                    prompt_token_ids=pids if want_ids else None,
                )
            )
    opts = body.get("stream_options") or {}
    return Plan(
        chat=False,
        id=cid,
        created=created,
        model=model,
        prompt_tokens=sum(len(p[1]) for p in prompts),
        choices=choices,
        include_usage=bool(opts.get("include_usage")) if isinstance(opts, dict) else False,
        continuous_usage=bool(opts.get("continuous_usage_stats")) if isinstance(opts, dict) else False,
        return_token_ids=want_ids,
        usage_override=dict(reply.usage) if reply is not None and reply.usage else None,
    )


def completion_json(plan: Plan) -> dict[str, Any]:
    choices = [
        shapes.completion_choice(
            index=c.index,
            text=c.content or "",
            logprobs=c.logprobs,
            finish_reason=c.finish_reason,
            stop_reason=c.stop_reason,
            token_ids=c.token_ids if plan.return_token_ids else None,
            prompt_token_ids=c.prompt_token_ids,
        )
        for c in plan.choices
    ]
    usage = shapes.apply_usage_override(
        shapes.usage_full(plan.prompt_tokens, plan.completion_tokens, None), plan.usage_override
    )
    return shapes.completion(plan.id, plan.created, plan.model, choices, usage)


# --- streaming -----------------------------------------------------------------------------


def stream_events(plan: Plan) -> Iterator[tuple[bytes, bool]]:
    """The SSE events of a plan, as (bytes, is_token). Role chunks first (chat), then the
    choices' deltas round-robin, then the usage chunk. `data: [DONE]` is the caller's."""
    head = shapes.chat_chunk_head(plan.id, plan.created, plan.model) if plan.chat else {}
    fingerprint = not plan.include_usage
    if plan.chat:
        for c in plan.choices:
            usage = shapes.usage_continuous(plan.prompt_tokens, 0, True) if plan.continuous_usage else None
            yield shapes.sse(shapes.chat_role_chunk(head, c.index, usage, plan.prompt_token_ids)), False
    queues: list[list[Event]] = []
    for c in plan.choices:
        events = list(c.events)
        if c.finish_separate or not events:
            events.append(
                Event({} if c.finish_separate else ({"content": ""} if plan.chat else {"text": ""}), tokens=0)
            )
        queues.append(events)
    sent = [0] * len(plan.choices)
    tokens_so_far = [0] * len(plan.choices)
    step = 0
    while any(sent[j] < len(q) for j, q in enumerate(queues)):
        for j, q in enumerate(queues):
            if sent[j] >= len(q):
                continue
            ev = q[sent[j]]
            sent[j] += 1
            c = plan.choices[j]
            last = sent[j] == len(q)
            tokens_so_far[j] += ev.tokens
            done_tokens = c.completion_tokens if last else tokens_so_far[j]
            finish = (c.finish_reason, c.stop_reason) if last else None
            usage = (
                shapes.usage_continuous(plan.prompt_tokens, done_tokens, plan.chat) if plan.continuous_usage else None
            )
            if plan.chat:
                chunk = shapes.chat_delta_chunk(
                    head=head,
                    index=c.index,
                    delta=ev.delta,
                    logprobs=ev.logprobs,
                    token_ids=ev.token_ids,
                    finish=finish,
                    usage=usage,
                    fingerprint=fingerprint and last,
                )
            else:
                text = ev.delta.get("text", "")
                first = sent[j] == 1
                if first and c.text_prefix:
                    text = c.text_prefix + text
                chunk = shapes.completion_chunk(
                    cid=plan.id,
                    created=plan.created,
                    model=plan.model,
                    index=c.index,
                    text=text,
                    logprobs=ev.logprobs,
                    finish=finish,
                    prompt_token_ids=c.prompt_token_ids if first else None,
                    token_ids=ev.token_ids,
                    usage=usage,
                    fingerprint=fingerprint and last,
                )
            yield shapes.sse(chunk), ev.tokens > 0
        step += 1
    if plan.include_usage:
        usage_final = shapes.apply_usage_override(
            shapes.usage_final_chunk(
                plan.prompt_tokens, plan.completion_tokens, plan.reasoning_tokens if plan.chat else None
            ),
            plan.usage_override,
        )
        if plan.chat:
            yield shapes.sse(shapes.usage_chunk(head, usage_final)), False
        else:
            base = {"id": plan.id, "object": "text_completion", "created": plan.created, "model": plan.model}
            yield shapes.sse(shapes.usage_chunk(base, usage_final)), False
