"""ChatStreamState / ChatStreamDecoder on hand-built chunk sequences, plus property tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client._errors import BadRequestError, InternalServerError, StreamError
from vllm_client._protocol.chat_stream import ChatStreamState
from vllm_client._protocol.events import (
    Content,
    Done,
    Finish,
    Reasoning,
    ToolCallComplete,
    ToolCallDelta,
    Usage,
)
from vllm_client._protocol.stream_decoder import ChatStreamDecoder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-vllm-0.32"
TOP = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def chunk(*choices: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**TOP, "choices": list(choices), **extra}


def ch(index: int = 0, finish: str | None = None, stop: Any = None, **delta: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
    if finish is not None:
        c["stop_reason"] = stop
    return c


def role(index: int = 0) -> dict[str, Any]:
    return chunk(ch(index, role="assistant", content=""))


def usage_chunk(p: int = 3, c: int = 4) -> dict[str, Any]:
    return chunk(usage={"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c})


def tc(index: int, *, id: str | None = None, name: str | None = None, args: str | None = None) -> dict[str, Any]:
    piece: dict[str, Any] = {"index": index, "function": {}}
    if id is not None:
        piece.update(id=id, type="function")
    if name is not None:
        piece["function"]["name"] = name
    if args is not None:
        piece["function"]["arguments"] = args
    return piece


def run(chunks: list[dict[str, Any]], *, end: bool = True, **kw: Any) -> tuple[list[Any], ChatStreamState]:
    state = ChatStreamState(**kw)
    events: list[Any] = []
    for c in chunks:
        events += state.feed(c)
    if end:
        events += state.end()
    return events, state


def sse(*payloads: Any) -> bytes:
    return b"".join(
        b"data: " + (p if isinstance(p, bytes) else json.dumps(p).encode()) + b"\n\n" for p in payloads
    )


# -- content, roles, n -----------------------------------------------------------------------


def test_plain_content_stream() -> None:
    events, state = run([role(), chunk(ch(content="Hel")), chunk(ch(content="lo")),
                         chunk(ch(content="!", finish="stop")), usage_chunk()])
    assert events == [
        Content("Hel"), Content("lo"), Content("!"), Finish("stop", None),
        Usage(state.usage), Done(),  # type: ignore[arg-type]
    ]
    final = state.final()
    assert final.content == "Hello!"
    assert final.finish_reason == "stop"
    assert final.usage is not None and final.usage.total_tokens == 7
    assert final.raw["object"] == "chat.completion"
    assert final.raw["id"] == "chatcmpl-1"
    assert final.message is not None and final.message.role == "assistant"
    assert state.token_chunks == 3


def test_role_chunk_and_empty_content_emit_nothing() -> None:
    events, _ = run([role(), chunk(ch(content="")), chunk(ch(content=None))], end=False)
    assert events == []


def test_n2_interleaved() -> None:
    chunks = [role(0), role(1), chunk(ch(0, content="a")), chunk(ch(1, content="x")),
              chunk(ch(0, content="b", finish="length")), chunk(ch(1, content="y")),
              chunk(ch(1, finish="stop", stop="###")), usage_chunk()]
    events, state = run(chunks)
    assert [e for e in events if isinstance(e, Content)] == [
        Content("a", 0), Content("x", 1), Content("b", 0), Content("y", 1)]
    assert [e for e in events if isinstance(e, Finish)] == [Finish("length", None, 0), Finish("stop", "###", 1)]
    final = state.final()
    assert [c.message.content for c in final.choices] == ["ab", "xy"]
    assert [c.index for c in final.choices] == [0, 1]
    assert final.choices[1].stop_reason == "###"


def test_choices_sorted_by_index_when_second_arrives_first() -> None:
    _, state = run([chunk(ch(1, content="x")), chunk(ch(0, content="a"))])
    assert [c.index for c in state.final().choices] == [0, 1]


def test_final_mid_stream() -> None:
    state = ChatStreamState()
    for c in (role(), chunk(ch(content="par")), chunk(ch(content="tial"))):
        state.feed(c)
    final = state.final()
    assert final.content == "partial"
    assert final.finish_reason is None
    assert final.usage is None


def test_reasoning_then_content() -> None:
    chunks = [role(), chunk(ch(reasoning="think")), chunk(ch(reasoning_content="ing")),
              chunk(ch(content="answer", finish="stop"))]
    events, state = run(chunks)
    assert events[:3] == [Reasoning("think"), Reasoning("ing"), Content("answer")]
    assert state.final().reasoning == "thinking"
    assert state.final().content == "answer"


def test_reasoning_only_gives_null_content() -> None:
    _, state = run([role(), chunk(ch(reasoning="hm", finish="length"))])
    msg = state.final().raw["choices"][0]["message"]
    assert msg["content"] is None
    assert msg["reasoning"] == "hm"


def test_extra_top_level_fields_kept() -> None:
    first = chunk(ch(role="assistant", content=""), prompt_token_ids=[1, 2], prompt_text=None)
    last = chunk(usage={"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
                 system_fingerprint="fp", kv_transfer_params={"k": 1})
    _, state = run([first, chunk(ch(content="x", finish="stop")), last])
    raw = state.final().raw
    assert raw["prompt_token_ids"] == [1, 2]
    assert raw["system_fingerprint"] == "fp"
    assert raw["kv_transfer_params"] == {"k": 1}
    assert raw["metrics"] is None


def test_logprobs_and_token_ids_passed_through_and_assembled() -> None:
    lp1 = {"content": [{"token": "a", "logprob": -1.0, "bytes": [97], "top_logprobs": []}]}
    lp2 = {"content": [{"token": "", "logprob": -2.0, "bytes": [], "top_logprobs": []}]}
    c1 = ch(content="a")
    c1.update(logprobs=lp1, token_ids=[5])
    c2 = ch(content="", finish="length")
    c2.update(logprobs=lp2, token_ids=[6])
    events, state = run([role(), chunk(c1), chunk(c2)])
    assert events[0] == Content("a", 0, lp1, [5])
    assert events[1] == Content("", 0, lp2, [6])  # an empty token still carries its logprobs
    choice = state.final().choices[0]
    assert choice.logprobs == {"content": lp1["content"] + lp2["content"]}
    assert choice.token_ids == [5, 6]
    assert choice.message.content == "a"


def test_finish_on_content_chunk_orders_content_first() -> None:
    events, _ = run([role(), chunk(ch(content="end", finish="stop"))], end=False)
    assert events == [Content("end"), Finish("stop", None)]


# -- tool calls -----------------------------------------------------------------------------


def tool_chunk(*pieces: dict[str, Any], index: int = 0, finish: str | None = None) -> dict[str, Any]:
    return chunk(ch(index, finish=finish, content=None, tool_calls=list(pieces)))


def completes(events: list[Any]) -> list[ToolCallComplete]:
    return [e for e in events if isinstance(e, ToolCallComplete)]


def test_one_tool_call() -> None:
    chunks = [role(), tool_chunk(tc(0, id="call_1", name="get_weather")), tool_chunk(tc(0, args='{"loc')),
              tool_chunk(tc(0, args='": "Tokyo"}')), chunk(ch(finish="tool_calls"))]
    events, state = run(chunks)
    assert [e for e in events if isinstance(e, ToolCallDelta)] == [
        ToolCallDelta(0, "call_1", "get_weather", ""), ToolCallDelta(0, None, None, '{"loc'),
        ToolCallDelta(0, None, None, '": "Tokyo"}')]
    done = completes(events)
    assert len(done) == 1
    assert done[0].tool_call.name == "get_weather"
    assert done[0].tool_call.id == "call_1"
    assert done[0].tool_call.parse_args() == {"loc": "Tokyo"}
    assert [type(e) for e in events[-3:]] == [ToolCallComplete, Finish, Done]
    final = state.final()
    assert final.finish_reason == "tool_calls"
    assert final.tool_calls[0].raw == {"id": "call_1", "type": "function",
                                       "function": {"name": "get_weather", "arguments": '{"loc": "Tokyo"}'}}
    assert final.content is None


def test_two_sequential_tool_calls_complete_when_next_starts() -> None:
    chunks = [role(), tool_chunk(tc(0, id="a", name="f")), tool_chunk(tc(0, args="{}")),
              tool_chunk(tc(1, id="b", name="g")), tool_chunk(tc(1, args='{"x":1}')),
              chunk(ch(finish="tool_calls"))]
    events, state = run(chunks)
    kinds = [(type(e).__name__, getattr(e, "index", None)) for e in events]
    first_complete = kinds.index(("ToolCallComplete", None))
    assert kinds[first_complete + 1] == ("ToolCallDelta", 1)  # completed as soon as call 1 starts
    assert [c.tool_call.name for c in completes(events)] == ["f", "g"]
    assert [t.arguments for t in state.final().tool_calls] == ["{}", '{"x":1}']


def test_parallel_tool_calls_in_one_chunk() -> None:
    chunks = [role(), tool_chunk(tc(0, id="a", name="f", args='{"a":1}'), tc(1, id="b", name="g", args="{}")),
              chunk(ch(finish="tool_calls"))]
    events, state = run(chunks)
    assert [c.tool_call.name for c in completes(events)] == ["f", "g"]
    assert [t.name for t in state.final().tool_calls] == ["f", "g"]


def test_finish_on_same_chunk_as_last_argument_piece() -> None:
    chunks = [role(), tool_chunk(tc(0, id="a", name="f")), tool_chunk(tc(0, args="{}"), finish="tool_calls")]
    events, _ = run(chunks, end=False)
    assert [type(e) for e in events[-3:]] == [ToolCallDelta, ToolCallComplete, Finish]
    assert completes(events)[0].tool_call.arguments == "{}"


def test_stream_ending_without_finish_completes_at_end() -> None:
    chunks = [role(), tool_chunk(tc(0, id="a", name="f")), tool_chunk(tc(0, args='{"q": 2}'))]
    state = ChatStreamState()
    events: list[Any] = []
    for c in chunks:
        events += state.feed(c)
    assert completes(events) == []
    tail = state.end()
    assert [type(e) for e in tail] == [ToolCallComplete, Done]
    assert state.end()[-1] == Done()  # ToolCallComplete fires once only
    assert len(completes(state.end())) == 0


def test_interleaved_tool_calls_complete_whole_and_once() -> None:
    """Pieces of calls 0 and 1 alternate: call 0 is not complete when call 1 starts
    (its arguments are not a whole object yet), only once its last piece arrives."""
    chunks = [role(), tool_chunk(tc(0, id="a", name="f", args='{"x": ')), tool_chunk(tc(1, id="b", name="g")),
              tool_chunk(tc(0, args="1}")), tool_chunk(tc(1, args='{"y": 2}')), chunk(ch(finish="tool_calls"))]
    events: list[Any] = []
    state = ChatStreamState()
    per_chunk = []
    for c in chunks:
        out = state.feed(c)
        per_chunk.append(completes(out))
        events += out
    assert [len(c) for c in per_chunk] == [0, 0, 0, 1, 0, 1]  # call 0 with its last piece, call 1 at finish
    done = completes(events)
    assert [(c.tool_call.name, c.tool_call.parse_args()) for c in done] == [("f", {"x": 1}), ("g", {"y": 2})]
    assert [t.arguments for t in state.final().tool_calls] == ['{"x": 1}', '{"y": 2}']


def test_call_with_broken_arguments_completes_at_finish() -> None:
    chunks = [role(), tool_chunk(tc(0, id="a", name="f", args='{"x": 1')), tool_chunk(tc(1, id="b", name="g")),
              tool_chunk(tc(1, args="{}")), chunk(ch(finish="tool_calls"))]
    events, state = run(chunks)
    done = completes(events)
    assert [c.tool_call.name for c in done] == ["f", "g"]  # f (never whole) only when the choice finished
    assert [t.arguments for t in state.final().tool_calls] == ['{"x": 1', "{}"]
    assert events.index(done[0]) > max(i for i, e in enumerate(events) if isinstance(e, ToolCallDelta))
    assert done[0].tool_call.arguments == '{"x": 1'


_arg_values = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=6)
_arg_objects = st.dictionaries(st.text(min_size=1, max_size=5), _arg_values | st.lists(_arg_values, max_size=3),
                               max_size=4)


@st.composite
def interleaved_tool_calls(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[tuple[int, int]], list[str]]:
    """1-4 calls whose argument text (a whole JSON object) is cut into fragments, the
    calls' pieces merged in a random order that keeps each call's own order. Returns
    the chunks, (call, piece) per chunk, and each call's whole arguments."""
    per_call: list[list[dict[str, Any]]] = []
    whole: list[str] = []
    for t in range(draw(st.integers(1, 4))):
        args = json.dumps(draw(_arg_objects), ensure_ascii=draw(st.booleans()))
        cuts = sorted(set(draw(st.lists(st.integers(1, len(args) - 1), max_size=6))))
        frags = [args[a:b] for a, b in zip([0, *cuts], [*cuts, len(args)], strict=True)]
        first = tc(t, id=f"call_{t}", name=f"fn{t}", args=frags[0] if draw(st.booleans()) else None)
        rest = frags[1:] if first["function"].get("arguments") else frags
        per_call.append([first] + [tc(t, args=f) for f in rest])
        whole.append(args)
    order: list[tuple[int, int]] = []
    cursors = dict.fromkeys(range(len(per_call)), 0)
    while cursors:
        t = draw(st.sampled_from(sorted(cursors)))
        order.append((t, cursors[t]))
        cursors[t] += 1
        if cursors[t] == len(per_call[t]):
            del cursors[t]
    return [tool_chunk(per_call[t][k]) for t, k in order], order, whole


@settings(max_examples=300, deadline=None)
@given(interleaved_tool_calls(), st.booleans())
def test_any_interleaving_completes_each_call_once_whole_and_as_soon_as_complete(
        case: tuple[list[dict[str, Any]], list[tuple[int, int]], list[str]], finish: bool) -> None:
    chunks, order, whole = case
    state = ChatStreamState()
    seen: list[list[Any]] = [state.feed(role())]
    seen += [state.feed(c) for c in chunks]
    seen.append(state.feed(chunk(ch(finish="tool_calls"))) if finish else state.end())
    completed_at = {int(c.tool_call.id.split("_")[1]): i for i, out in enumerate(seen) for c in completes(out)}
    done = [c for out in seen for c in completes(out)]
    # Once per call, never truncated: the arguments are the whole text, parsed as sent.
    assert sorted(completed_at) == list(range(len(whole))) and len(done) == len(whole)
    for c in done:
        t = int(c.tool_call.id.split("_")[1])
        assert c.tool_call.arguments == whole[t]
        assert c.tool_call.parse_args() == json.loads(whole[t])
        assert c.tool_call.name == f"fn{t}"
    # As soon as complete: the chunk that brought its last piece, or the first chunk of a
    # later call if that came after; a call no later call follows completes at the end.
    for t in range(len(whole)):
        last_piece = 1 + max(i for i, (u, _) in enumerate(order) if u == t)
        later = [1 + i for i, (u, k) in enumerate(order) if u > t and k == 0]
        expected = max(last_piece, min(later)) if later else len(seen) - 1
        assert completed_at[t] == expected
        position = seen[completed_at[t]]
        if completed_at[t] == last_piece:  # after the call's own last delta in that chunk
            deltas = [i for i, e in enumerate(position) if isinstance(e, ToolCallDelta) and e.index == t]
            assert position.index(next(c for c in completes(position) if c.tool_call.id == f"call_{t}")) > deltas[-1]
    assert [tc_.arguments for tc_ in state.final().tool_calls] == whole
    # The byte path (typed plain decoding first) gives the same events.
    body = sse(role(), *chunks, *([chunk(ch(finish="tool_calls"))] if finish else [])) + b"data: [DONE]\n\n"
    flat = [e for out in seen for e in out]
    assert _decode_reads(body, [])[: len(flat)] == flat


def test_content_then_tool_call() -> None:
    chunks = [role(), chunk(ch(content="Let me check.")), tool_chunk(tc(0, id="a", name="f")),
              tool_chunk(tc(0, args="{}")), chunk(ch(finish="tool_calls"))]
    _, state = run(chunks)
    assert state.final().content == "Let me check."
    assert state.final().tool_calls[0].name == "f"


def test_tool_calls_per_choice_are_independent() -> None:
    chunks = [tool_chunk(tc(0, id="a", name="f"), index=0), tool_chunk(tc(0, id="b", name="g"), index=1),
              tool_chunk(tc(0, args="{}"), index=1, finish="tool_calls"), tool_chunk(tc(0, args="{}"), index=0)]
    events, state = run(chunks)
    assert [(c.choice_index, c.tool_call.name) for c in completes(events)] == [(1, "g"), (0, "f")]
    assert [c.message.tool_calls[0].name for c in state.final().choices] == ["f", "g"]


# -- usage ----------------------------------------------------------------------------------


def test_continuous_usage_emits_usage_once_but_final_keeps_latest() -> None:
    def u(n: int) -> dict[str, int]:
        return {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": 3 + n}

    state = ChatStreamState()
    events = state.feed(chunk(ch(role="assistant", content=""), usage=u(0)))
    events += state.feed(chunk(ch(content="a"), usage=u(1)))
    assert state.final().usage is not None and state.final().usage.completion_tokens == 1  # type: ignore[union-attr]
    events += state.feed(chunk(ch(content="b", finish="length"), usage=u(2)))
    events += state.feed(chunk(usage=u(2)))
    usage_events = [e for e in events if isinstance(e, Usage)]
    assert len(usage_events) == 1
    assert usage_events[0].usage.completion_tokens == 2
    assert state.final().content == "ab"


# -- think tags -----------------------------------------------------------------------------


def content_chunks(*pieces: str) -> list[dict[str, Any]]:
    return [role()] + [chunk(ch(content=p)) for p in pieces]


def test_think_tags_split_across_chunks() -> None:
    events, state = run(content_chunks("<thi", "nk>rea", "son</th", "ink>\n\nans", "wer"), parse_think_tags=True)
    reasoning = "".join(e.text for e in events if isinstance(e, Reasoning))
    content = "".join(e.text for e in events if isinstance(e, Content))
    assert reasoning == "reason"
    assert content == "\n\nanswer"
    assert state.final().reasoning == "reason"
    assert state.final().content == "\n\nanswer"


def test_unterminated_think() -> None:
    events, state = run(content_chunks("<think>still thinking", " </thi"), parse_think_tags=True)
    assert "".join(e.text for e in events if isinstance(e, Reasoning)) == "still thinking </thi"
    assert not any(isinstance(e, Content) for e in events)
    assert state.final().content is None
    assert isinstance(events[-1], Done)


def test_think_leftover_flushed_before_finish() -> None:
    chunks = [*content_chunks("<think>x</th"), chunk(ch(finish="stop"))]
    events, _ = run(chunks, parse_think_tags=True, end=False)
    assert events[-3:] == [Reasoning("x"), Reasoning("</th"), Finish("stop", None)]


def test_no_think_tag_is_plain_content() -> None:
    _, state = run(content_chunks("hello ", "<think>"), parse_think_tags=True)
    assert state.final().content == "hello <think>"
    assert state.final().reasoning is None


# -- the byte-level decoder -----------------------------------------------------------------


def test_decoder_end_to_end_with_keepalive_comments() -> None:
    body = (b": keep-alive\n\n" + sse(role(), chunk(ch(content="hi", finish="stop"))) + b": ping\n\n"
            + sse(usage_chunk()) + b"data: [DONE]\n\n")
    dec = ChatStreamDecoder()
    events = dec.feed(body)
    dec.close()
    assert [type(e) for e in events] == [Content, Finish, Usage, Done]
    assert dec.done and dec.chunks == 3
    assert dec.final().content == "hi"


def test_decoder_ignores_data_after_done() -> None:
    dec = ChatStreamDecoder()
    events = dec.feed(sse(chunk(ch(content="a"))) + b"data: [DONE]\n\n" + sse(chunk(ch(content="b"))))
    assert dec.feed(b"data: garbage\n\n") == []
    dec.close()
    assert [type(e) for e in events] == [Content, Done]
    assert dec.final().content == "a"


def test_decoder_first_token_counters() -> None:
    dec = ChatStreamDecoder()
    dec.feed(sse(role()))
    assert dec.last_token_chunks == 0 and not dec.first_token_in_last_feed
    dec.feed(sse(chunk(ch(content="a")), chunk(ch(content="b"))))
    assert dec.last_token_chunks == 2 and dec.first_token_in_last_feed
    dec.feed(sse(chunk(ch(content="c"))))
    assert dec.last_token_chunks == 1 and not dec.first_token_in_last_feed
    assert dec.token_chunks == 3


@pytest.mark.parametrize(
    ("code", "cls"),
    [(400, BadRequestError), (500, InternalServerError), (None, InternalServerError)],
)
def test_error_frame_raises_api_error(code: int | None, cls: type[Exception]) -> None:
    frame = {"error": {"object": "error", "message": "boom", "type": "BadRequestError", "param": None,
                       "code": code}}
    dec = ChatStreamDecoder(request_id="req-1")
    dec.feed(sse(role()))
    with pytest.raises(cls) as info:
        dec.feed(sse(frame))
    assert type(info.value) is cls
    assert info.value.request_id == "req-1"  # type: ignore[attr-defined]
    assert "boom" in str(info.value)


def test_error_after_good_chunks_in_one_read_is_deferred() -> None:
    frame = {"error": {"message": "generation failed", "type": "InternalServerError", "code": 500}}
    dec = ChatStreamDecoder()
    events = dec.feed(sse(role(), chunk(ch(content="partial")), frame, chunk(ch(content="never"))))
    assert events == [Content("partial")]  # tokens received before the error are delivered
    with pytest.raises(InternalServerError):
        dec.feed(b"")
    with pytest.raises(InternalServerError):
        dec.close()
    assert dec.final().content == "partial"


def test_old_style_error_frame() -> None:
    dec = ChatStreamDecoder()
    with pytest.raises(BadRequestError):
        dec.feed(sse({"object": "error", "message": "bad", "type": "x", "param": None, "code": 400}))


def test_malformed_json_raises_stream_error() -> None:
    dec = ChatStreamDecoder()
    with pytest.raises(StreamError, match="not valid JSON"):
        dec.feed(b'data: {"id": "x", "choices": [\n\n')


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"text"', b"42", b'{"choices": 5}', b'{"choices": [5]}'])
def test_wrong_shape_raises_stream_error(payload: bytes) -> None:
    dec = ChatStreamDecoder()
    dec.feed(sse(role()))
    with pytest.raises(StreamError):
        dec.feed(b"data: " + payload + b"\n\n")


def test_close_without_done_raises() -> None:
    dec = ChatStreamDecoder()
    dec.feed(sse(role(), chunk(ch(content="a"))) + b'data: {"partial')
    with pytest.raises(StreamError, match=r"before \[DONE\] after 2 chunks"):
        dec.close()
    assert dec.final().content == "a"  # what arrived is still readable


def test_oversized_event_raises_stream_error() -> None:
    dec = ChatStreamDecoder(max_event_size=64)
    with pytest.raises(StreamError):
        dec.feed(b"data: " + b"x" * 200)


# -- property tests -------------------------------------------------------------------------


def _fixture_body(name: str) -> bytes:
    body: str = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))["response"]["body"]
    return body.encode("utf-8")


def _decode_reads(body: bytes, cuts: list[int]) -> list[Any]:
    dec = ChatStreamDecoder()
    events: list[Any] = []
    prev = 0
    for cut in [*sorted(set(cuts)), len(body)]:
        events += dec.feed(body[prev:cut])
        prev = cut
    dec.close()
    return events


@pytest.mark.parametrize(
    "name",
    ["hermes_auto_forced_two_tool_calls_stream", "chat_n2_stream", "r1sor_regex_think_answer_stream",
     "chat_logprobs_stream", "chat_stream_continuous_usage"],
)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_rechunking_gives_identical_events(name: str, data: st.DataObject) -> None:
    body = _fixture_body(name)
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=60))
    assert _decode_reads(body, cuts) == _decode_reads(body, [])


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


@st.composite
def generated_stream(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[int, str], dict[int, list[str]]]:
    """A random n-choice stream: content split randomly, then tool calls with argument fragments."""
    n = draw(st.integers(1, 3))
    per_choice: dict[int, list[dict[str, Any]]] = {}
    want_content: dict[int, str] = {}
    want_args: dict[int, list[str]] = {}
    for i in range(n):
        thoughts = draw(st.lists(_text, max_size=3))
        pieces = draw(st.lists(_text, max_size=6))
        seq = [chunk(ch(i, role="assistant", content=""))] + [chunk(ch(i, reasoning=p)) for p in thoughts]
        seq += [chunk(ch(i, content=p)) for p in pieces]
        want_content[i] = "".join(pieces)
        want_args[i] = []
        for t in range(draw(st.integers(0, 3))):
            frags = draw(st.lists(_text, max_size=5))
            seq.append(tool_chunk(tc(t, id=f"call_{i}_{t}", name=f"fn{t}"), index=i))
            seq += [tool_chunk(tc(t, args=f), index=i) for f in frags]
            want_args[i].append("".join(frags))
        if draw(st.booleans()):
            seq.append(chunk(ch(i, finish="stop")))
        per_choice[i] = seq
    # Interleave the choices' chunks, keeping each choice's own order.
    merged: list[dict[str, Any]] = []
    cursors = dict.fromkeys(per_choice, 0)
    while cursors:
        i = draw(st.sampled_from(sorted(cursors)))
        merged.append(per_choice[i][cursors[i]])
        cursors[i] += 1
        if cursors[i] == len(per_choice[i]):
            del cursors[i]
    return merged, want_content, want_args


@settings(max_examples=150, deadline=None)
@given(generated_stream())
def test_generated_streams_assemble_exactly(case: tuple[list[dict[str, Any]], dict[int, str], dict[int, list[str]]]) -> None:
    chunks, want_content, want_args = case
    events, state = run([*chunks, usage_chunk()])
    final = state.final()
    assert [c.index for c in final.choices] == sorted(want_content)
    for choice in final.choices:
        i = choice.index
        assert (choice.message.content or "") == want_content[i]
        assert [t.arguments for t in choice.message.tool_calls] == want_args[i]
        streamed = "".join(e.text for e in events if isinstance(e, Content) and e.choice_index == i)
        assert streamed == want_content[i]
    done = completes(events)
    assert len(done) == sum(len(v) for v in want_args.values())
    assert len({(c.choice_index, c.tool_call.id) for c in done}) == len(done)
    for c in done:
        i, t = (int(x) for x in c.tool_call.id.split("_")[1:])
        assert c.tool_call.arguments == want_args[i][t]
    assert isinstance(events[-1], Done)
    # The byte path (typed plain chunks first, dicts for the rest) gives the same events and answer.
    body = sse(*chunks, usage_chunk()) + b"data: [DONE]\n\n"
    dec = ChatStreamDecoder()
    assert dec.feed(body) == events
    assert dec.final().raw == final.raw
    assert dec.chunks == len(chunks) + 1
