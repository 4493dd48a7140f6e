"""Chat and text completions: a request body becomes a `Plan`, rendered as JSON or SSE.

A plan holds every choice's output decided up front (pieces, finish reason, usage),
so the non-streaming body and the stream are two renderings of the same answer and
always agree. What the model says is `_model`'s business; this module lays it out.
Pure code: no sockets, no clocks except the `created` it is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _generate as gen
from . import _model as answers
from . import _shapes as shapes
from ._faults import ChatReply, CompletionReply, ToolCall
from ._model import Settings
from ._validate import Problem, bad_request

__all__ = ["Plan", "Settings", "build_chat", "build_completion", "chat_json", "completion_json", "stream_events"]


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
    prompt_logprobs: list[Any] | None = None  # completions
    # deepseek_r1 parser, thinking disabled by the template: the whole (non-streamed) message
    # lands in `reasoning`, since the output has no `</think>` (r1_enable_thinking_false_regex).
    message_all_reasoning: bool = False


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
    prompt_logprobs: list[Any] | None = None  # chat only
    prompt_text: str | None = None  # chat only (return_prompt_text)

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)

    @property
    def reasoning_tokens(self) -> int | None:
        counts = [c.reasoning_tokens for c in self.choices if c.reasoning_tokens is not None]
        return sum(counts) if counts else None


# --- shared helpers --------------------------------------------------------------------


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
        for piece in answers.ARG_PIECE_RE.findall(fn["arguments"]):
            events.append(Event({"content": None, "tool_calls": [{"index": k, "function": {"arguments": piece}}]}))
    return events


def _prompt_logprobs(texts: Sequence[str], ids: Sequence[int], k: int, salt: str) -> list[Any]:
    """`prompt_logprobs` for a prompt: None, then each later token with `k` alternatives."""
    out: list[Any] = [None]
    for pos in range(1, len(ids)):
        lp = -round(1.0 + (ids[pos] % 97) / 10, 6)
        alts = gen.top_alternatives(f"{salt}:{pos}", texts[pos], lp, k + 1)[1:]
        candidates = [(ids[pos], texts[pos], lp, 1 + len(alts))]
        candidates += [(gen.token_id(t), t, a, rank) for rank, (t, a) in enumerate(alts, 1)]
        out.append(shapes.prompt_logprob_entry(candidates))
    return out


def _stream_options(body: dict[str, Any]) -> tuple[bool, bool]:
    opts = body.get("stream_options")
    if not isinstance(opts, dict):
        return False, False
    return bool(opts.get("include_usage")), bool(opts.get("continuous_usage_stats"))


# --- chat ----------------------------------------------------------------------------------


def build_chat(
    body: dict[str, Any], *, cid: str, created: int, model: str, settings: Settings, reply: ChatReply | None
) -> Plan:
    messages = body["messages"]
    tools = body.get("tools")
    prompt_ids = gen.chat_prompt_tokens(messages, tools)
    prompt_tokens = len(prompt_ids)
    seed_text = gen.render_chat_prompt(messages)
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    room = max(settings.max_model_len - prompt_tokens, 1)
    natural = requested is None
    limit = min(requested if requested is not None else (16 if body.get("ignore_eos") else 64), room)
    n = int(body.get("n") or 1)
    want_lp = bool(body.get("logprobs"))
    top_n = int(body.get("top_logprobs") or 0)
    want_ids = bool(body.get("return_token_ids"))
    seed = body.get("seed")
    kwargs = body.get("chat_template_kwargs")
    all_reasoning = settings.reasoning_parser == "deepseek_r1" and (
        isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False
    )
    choices: list[ChoicePlan] = []
    for i in range(n):
        if reply is not None:
            choices.append(_scripted_chat_choice(i, reply))
            continue
        ans = answers.chat_answer(body, gen.make_rng(seed, seed_text, i), limit, natural, settings)
        choices.append(_chat_choice(i, ans, want_lp, top_n, want_ids, seed, settings, all_reasoning))
    include_usage, continuous = _stream_options(body)
    prompt_lp = body.get("prompt_logprobs")
    return Plan(
        chat=True,
        id=cid,
        created=created,
        model=model,
        prompt_tokens=prompt_tokens,
        choices=choices,
        include_usage=include_usage,
        continuous_usage=continuous,
        prompt_token_ids=prompt_ids if want_ids else None,
        return_token_ids=want_ids,
        usage_override=dict(reply.usage) if reply is not None and reply.usage else None,
        prompt_logprobs=_prompt_logprobs([gen.token_text(t) for t in prompt_ids], prompt_ids, prompt_lp, seed_text)
        if type(prompt_lp) is int
        else None,
        prompt_text=gen.render_chatml(messages, body.get("add_generation_prompt", True) is not False)
        if body.get("return_prompt_text")
        else None,
    )


def _chat_choice(
    index: int,
    ans: answers.Answer,
    want_lp: bool,
    top_n: int,
    want_ids: bool,
    seed: Any,
    settings: Settings,
    all_reasoning: bool,
) -> ChoicePlan:
    pieces = ans.reasoning + ans.content
    lps = ans.logprobs
    entries = (
        [
            shapes.chat_logprob_entry(
                p,
                lps[k] if k < len(lps) else -0.5,
                gen.top_alternatives(f"{index}:{k}:{seed}", p, lps[k] if k < len(lps) else -0.5, top_n)[:top_n],
            )
            for k, p in enumerate(pieces)
        ]
        if want_lp
        else []
    )
    events = [
        Event(
            {"reasoning" if k < len(ans.reasoning) else "content": p},
            [ans.ids[k]] if want_ids and k < len(ans.ids) else None,
            {"content": [entries[k]]} if want_lp else None,
        )
        for k, p in enumerate(pieces)
    ]
    events.extend(_tool_events(ans.calls))
    return ChoicePlan(
        index=index,
        events=events,
        finish_reason=ans.finish_reason,
        stop_reason=ans.stop_reason,
        completion_tokens=ans.completion_tokens,
        finish_separate=bool(ans.calls),
        content=ans.text,
        reasoning="".join(ans.reasoning) if ans.reasoning else None,
        tool_calls=ans.calls,
        token_ids=ans.ids,
        logprobs={"content": entries} if want_lp else None,
        reasoning_tokens=ans.reasoning_tokens if settings.reasoning else None,
        message_all_reasoning=all_reasoning,
    )


def _scripted_chat_choice(index: int, reply: ChatReply) -> ChoicePlan:
    reasoning = gen.split_pieces(reply.reasoning) if reply.reasoning else []
    content = gen.split_pieces(reply.content) if reply.content else []
    calls = [_tool_call_dict(tc) for tc in reply.tool_calls]
    events = [Event({"reasoning": p}) for p in reasoning] + [Event({"content": p}) for p in content]
    events.extend(_tool_events(calls))
    tokens = len(reasoning) + len(content) + answers.call_tokens(calls)
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
    return shapes.tool_call_obj(tc.id or answers.tool_call_id(), tc.name, answers.arguments_text(tc.arguments))


def chat_json(plan: Plan) -> dict[str, Any]:
    choices = []
    for c in plan.choices:
        content, reasoning = c.content, c.reasoning
        if c.message_all_reasoning and reasoning is None:
            content, reasoning = None, content
        choices.append(
            shapes.chat_choice(
                index=c.index,
                message=shapes.chat_message(content, reasoning, c.tool_calls),
                logprobs=c.logprobs,
                finish_reason=c.finish_reason,
                stop_reason=c.stop_reason,
                token_ids=c.token_ids if plan.return_token_ids else None,
            )
        )
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
        prompt_logprobs=plan.prompt_logprobs,
        prompt_text=plan.prompt_text,
    )


# --- completions ---------------------------------------------------------------------------


def _prompts(body: dict[str, Any]) -> list[tuple[str, list[int]]] | Problem:
    prompt = body.get("prompt")
    # (the invocations_no_handler capture: /invocations answers a body without prompt as /v1/completions)
    bad = bad_request("Either prompt or prompt_embeds must be provided and non-empty. (parameter=prompt)", "prompt")
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
    # echo with logprobs scores the prompt too (completions_echo_logprobs.json)
    k_prompt = body.get("prompt_logprobs")
    if k_prompt is None and echo and k_lp is not None:
        k_prompt = k_lp
    choices: list[ChoicePlan] = []
    for p_idx, (ptext, pids) in enumerate(prompts):
        room = max(settings.max_model_len - len(pids), 1)
        limit = min(16 if requested is None else requested, room)
        ppieces = [gen.token_text(t) for t in pids] if gen.prompt_token_ids(ptext) != pids else gen.split_pieces(ptext)
        for i in range(n):
            index = p_idx * n + i
            rng = gen.make_rng(seed, ptext, i)
            if reply is not None:
                g = gen.scripted(reply.text)
                g.finish_reason, g.stop_reason = reply.finish_reason, reply.stop_reason
            else:
                forced = answers.forced_text(body, rng)
                g = (
                    answers.truncated(forced, limit)
                    if forced is not None
                    else gen.generate(rng, answers.sampling(body, limit, False, settings))
                )
            lp_obj, per_event_lp = _completion_logprobs(g, k_lp, ppieces if echo else None, f"{index}:{seed}")
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
                    prompt_logprobs=_prompt_logprobs(ppieces, pids, int(k_prompt), ptext)
                    if k_prompt is not None
                    else None,
                )
            )
    include_usage, continuous = _stream_options(body)
    return Plan(
        chat=False,
        id=cid,
        created=created,
        model=model,
        prompt_tokens=sum(len(p[1]) for p in prompts),
        choices=choices,
        include_usage=include_usage,
        continuous_usage=continuous,
        return_token_ids=want_ids,
        usage_override=dict(reply.usage) if reply is not None and reply.usage else None,
    )


def _completion_logprobs(
    g: gen.Generation, k: Any, echoed: list[str] | None, salt: str
) -> tuple[dict[str, Any] | None, list[Any]]:
    """The choice's `logprobs` (the echoed prompt's tokens first, the first one unscored) and
    each streamed event's share of them."""
    if k is None:
        return None, [None] * len(g.pieces)
    tops: list[dict[str, float] | None] = [
        dict(gen.top_alternatives(f"{salt}:{j}", p, g.logprobs[j], int(k) + 1)) for j, p in enumerate(g.pieces)
    ]
    lps: list[float | None] = list(g.logprobs)
    tokens = list(g.pieces)
    per_event: list[Any] = []
    pos = sum(map(len, echoed or ()))
    for j, p in enumerate(g.pieces):
        per_event.append(shapes.completion_logprobs([p], [lps[j]], [tops[j]], pos))
        pos += len(p)
    if echoed:
        ptops = [dict(gen.top_alternatives(f"{salt}:p{j}", p, -1.0, int(k) + 1)) for j, p in enumerate(echoed)]
        tokens = echoed + tokens
        lps = [None, *[-1.0] * (len(echoed) - 1), *lps]
        tops = [None, *ptops[1:], *tops]
    return shapes.completion_logprobs(tokens, lps, tops, 0), per_event


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
            prompt_logprobs=c.prompt_logprobs,
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
        # A stop token (EOS, stop_token_ids) is not text: its chunk carries an empty delta and
        # the finish (so_response_format_json_schema_stream.json), as does an empty answer.
        on_token = c.finish_reason == "stop" and not isinstance(c.stop_reason, str)
        if c.finish_separate or not events or on_token:
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
