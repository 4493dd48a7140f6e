"""What the emulated model answers a generation request, split as vLLM's parsers split it.

`_generate` samples tokens; this module decides what a choice consists of: the reasoning
(with a reasoning parser), the content, the tool calls (with a tool parser) and why it
ended, following vLLM 0.32's rules as the real-vllm-0.32 captures show them:

* Structured outputs force the text (`forced_text`). They constrain the answer after the
  reasoning, unless the server enables them in reasoning (`structured_in_reasoning`, vLLM's
  `--structured-outputs-config '{"enable_in_reasoning": true}'`) or the request turns
  reasoning off (`include_reasoning: false`); then they constrain the whole output and the
  reasoning parser splits it at `</think>` (everything is reasoning without one).
* A reasoning model thinks `think_tokens` tokens (default: 3 to 8, seeded) before its
  answer; with a budget that large the answer never comes (content None, like a model that
  never closes `</think>`). `chat_template_kwargs: {"enable_thinking": false}` skips it.
* `tool_choice` "required" or a named function makes the model call tools; with "auto" the
  hermes parser turns `<tool_call>{...}</tool_call>` blocks of the text into tool calls.
  A strict tool with "auto" replaces the request's own constraint (vLLM's structural tag).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _generate as gen
from . import _shapes as shapes
from ._validate import tool_choice_of

ARG_PIECE_RE = re.compile(r"\s*[^\w\s]{1,2}|\w{1,4}|\s+")
_TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)
THINK_END = "</think>"


@dataclass(frozen=True)
class Settings:
    """Server-wide knobs that shape generated answers (see MockVllmServer)."""

    max_model_len: int
    reasoning_parser: str | None = None
    eos_probability: float = 0.0
    tool_parser: str | None = "hermes"
    think_tokens: int | None = None
    structured_in_reasoning: bool = False

    @property
    def reasoning(self) -> bool:
        return self.reasoning_parser is not None


@dataclass
class Answer:
    """One choice as the parsers hand it to the renderer."""

    reasoning: list[str]  # pieces, one per streamed delta
    content: list[str]
    ids: list[int]  # of reasoning then content pieces
    logprobs: list[float]
    calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    stop_reason: str | int | None = None
    completion_tokens: int = 0
    text: str | None = None  # the message's content (None: the model gave no answer)
    reasoning_tokens: int = 0  # thought, shown or not


# --- request helpers ----------------------------------------------------------------------------


def _stop_list(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if isinstance(stop, str):
        return (stop,)
    return tuple(stop or ())


def _schema_text(schema: Any, rng: random.Random) -> str:
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError:
            schema = {}
    return json.dumps(gen.instance_for_schema(schema, rng), separators=(",", ":"), ensure_ascii=False)


def forced_text(body: dict[str, Any], rng: random.Random) -> str | None:
    """The text structured outputs force, when the emulator can produce it."""
    so = body.get("structured_outputs")
    if isinstance(so, dict):
        choices = so.get("choice")
        if isinstance(choices, list) and choices:
            return str(choices[rng.randrange(len(choices))])
        if "json" in so:
            return _schema_text(so["json"], rng)
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
            return _schema_text(js.get("schema", js.get("json_schema", {})) if isinstance(js, dict) else {}, rng)
        if rf.get("type") == "json_object":
            return "{}"
    return None


def truncated(text: str, limit: int) -> gen.Generation:
    """`text` as if sampled, cut at `limit` tokens (finish_reason "length" then)."""
    g = gen.scripted(text)
    if len(g.pieces) > limit:
        g = gen.Generation(g.pieces[:limit], g.ids[:limit], "length", None, limit, g.logprobs[:limit])
    return g


def sampling(body: dict[str, Any], limit: int, natural: bool, settings: Settings) -> gen.SamplingOptions:
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


def arguments_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False)


def call_tokens(calls: Sequence[dict[str, Any]]) -> int:
    """Tokens a tool call takes: its argument pieces and the envelope around them."""
    return sum(len(ARG_PIECE_RE.findall(c["function"]["arguments"])) + 4 for c in calls)


# --- tools ---------------------------------------------------------------------------------------


def _tool_functions(tools: Sequence[Any]) -> list[dict[str, Any]]:
    return [t.get("function") or {} for t in tools if isinstance(t, dict)]


def _forced_calls(tools: Sequence[Any], tool_choice: Any, rng: random.Random) -> list[dict[str, Any]]:
    fns = _tool_functions(tools)
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        fns = [f for f in fns if f.get("name") == name] or fns
    fn = fns[0] if fns else {"name": "tool"}
    args = gen.instance_for_schema(fn.get("parameters") or {"type": "object"}, rng)
    return [shapes.tool_call_obj(tool_call_id(), str(fn.get("name")), arguments_text(args or {}))]


def hermes_parse(text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """The hermes tool parser: `<tool_call>` blocks become calls, the text before them the
    content (None when there is none). Text without a well-formed block stays content."""
    calls = []
    for block in _TOOL_CALL_RE.findall(text):
        try:
            obj = json.loads(block)
        except json.JSONDecodeError:
            return text, []
        if not isinstance(obj, dict) or "name" not in obj:
            return text, []
        calls.append(shapes.tool_call_obj(tool_call_id(), str(obj["name"]), arguments_text(obj.get("arguments", {}))))
    if not calls:
        return text, []
    before = text[: text.index("<tool_call>")]
    return (before or None), calls


def _strict_auto(body: dict[str, Any], settings: Settings) -> bool:
    """A strict tool with tool_choice "auto": vLLM's structural tag replaces the request's constraint."""
    tools = body.get("tools")
    if settings.tool_parser is None or not tools or tool_choice_of(body) != "auto":
        return False
    return any(f.get("strict") for f in _tool_functions(tools))


# --- the answer ---------------------------------------------------------------------------------


def split_think(text: str) -> tuple[str, str | None]:
    """A reasoning parser on a whole output: reasoning up to `</think>`, content after it."""
    head, sep, tail = text.partition(THINK_END)
    return head.removeprefix("<think>"), (tail if sep else None)


def chat_answer(body: dict[str, Any], rng: random.Random, limit: int, natural: bool, settings: Settings) -> Answer:
    """What the model says to a chat request, within `limit` tokens."""
    tools = body.get("tools")
    choice = tool_choice_of(body)
    kwargs = body.get("chat_template_kwargs")
    thinks = settings.reasoning and not (isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False)
    shown = body.get("include_reasoning", True) is not False
    forced = None if _strict_auto(body, settings) else forced_text(body, rng)
    reasoning: list[str] = []
    budget = limit
    thought_out = "length"  # why a choice that never got past its reasoning ended
    if thinks and forced is not None and (settings.structured_in_reasoning or not shown):
        thought, forced = split_think(forced)
        pieces = gen.split_pieces(thought)
        reasoning = pieces[:limit]
        budget = limit - len(reasoning)
        if forced is None:  # no `</think>` in the forced text: all of it is reasoning
            budget, thought_out = 0, ("stop" if len(pieces) <= limit else "length")
    elif thinks:
        reasoning = [gen.sample_token(rng) for _ in range(min(_think_budget(settings, rng), limit))]
        budget = limit - len(reasoning)
    if thinks and budget <= 0:  # the answer never came
        ans = Answer([], [], [], [], finish_reason=thought_out)
    elif tools and settings.tool_parser and (choice == "required" or isinstance(choice, dict)):
        calls = _forced_calls(tools, choice, rng)
        finish = "tool_calls" if choice == "required" else "stop"
        ans = Answer([], [], [], [], calls, finish, None, call_tokens(calls), "")
    else:
        g = (
            truncated(forced, budget)
            if forced is not None
            else gen.generate(rng, sampling(body, budget, natural, settings))
        )
        ans = Answer([], g.pieces, g.ids, g.logprobs, [], g.finish_reason, g.stop_reason, g.completion_tokens, g.text)
        if settings.tool_parser and tools and choice == "auto" and "<tool_call>" in g.text:
            before, calls = hermes_parse(g.text)
            if calls:
                ans.content = gen.split_pieces(before or "")
                ans.calls, ans.text, ans.finish_reason = calls, before, "tool_calls"
    ans.reasoning_tokens = len(reasoning)
    ans.completion_tokens += len(reasoning)
    if shown and reasoning:
        ans.reasoning = reasoning
        ans.ids = [gen.token_id(p) for p in reasoning] + ans.ids
        ans.logprobs = [-0.5] * len(reasoning) + ans.logprobs
    return ans


def _think_budget(settings: Settings, rng: random.Random) -> int:
    return settings.think_tokens if settings.think_tokens is not None else rng.randint(3, 8)
