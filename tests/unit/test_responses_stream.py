"""ResponsesStreamState / ResponsesStreamDecoder: real captures, hand-built and generated streams."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client import ResponseEvent
from vllm_client._errors import APIError, BadRequestError, InternalServerError, StreamError
from vllm_client._protocol.responses_decoder import ResponsesStreamDecoder

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-vllm-0.32"
CAPTURES = ["responses_stream", "qwen3_responses_stream", "r1_responses_stream", "hermes_responses_plain_stream",
            "hermes_responses_forced_tool_call_stream"]


def capture_body(name: str) -> bytes:
    fx = json.loads((FIXTURES / f"{name}.json").read_text())
    body: bytes = fx["response"]["body"].encode()
    return body


def decode(body: bytes, cuts: list[int] | None = None, **kw: Any) -> tuple[list[Any], ResponsesStreamDecoder]:
    dec = ResponsesStreamDecoder(**kw)
    events: list[Any] = []
    last = 0
    for cut in sorted(set(cuts or [])):
        events += dec.feed(body[last:cut])
        last = cut
    events += dec.feed(body[last:])
    return events, dec


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + json.dumps(e).encode() + b"\n\n" for e in events)


# --- a vLLM-shaped stream generator -------------------------------------------------------------------

RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1, "model": "m", "output": [], "status": "in_progress",
            "usage": None, "background": False}


def vllm_stream(items: list[tuple[str, list[str]]], *, done_events: bool = True,
                terminal: str = "response.completed") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The events vLLM's simple streaming processor sends for `items` ((kind, pieces) with
    kind message / reasoning / function_call), and the final response."""
    out: list[dict[str, Any]] = [{"type": "response.created", "response": RESPONSE},
                                 {"type": "response.in_progress", "response": RESPONSE}]
    final_items = []
    for index, (kind, pieces) in enumerate(items):
        text = "".join(pieces)
        at = {"item_id": f"id{index}", "output_index": index}
        if kind == "function_call":
            added = {"type": "function_call", "id": f"id{index}", "call_id": f"call{index}", "name": "f",
                     "arguments": "", "status": "in_progress"}
            done = {**added, "arguments": text, "status": "completed"}
            out.append({"type": "response.output_item.added", "item": added, "output_index": index})
            out += [{"type": "response.function_call_arguments.delta", "delta": p, **at} for p in pieces]
            if done_events:
                out.append({"type": "response.function_call_arguments.done", "arguments": text, "name": "f", **at})
        else:
            part_type, delta_type = (("output_text", "response.output_text") if kind == "message"
                                     else ("reasoning_text", "response.reasoning_text"))
            added = {"type": kind, "id": f"id{index}", "status": "in_progress",
                     "content": [] if kind == "message" else None}
            done = {**added, "status": "completed", "content": [{"type": part_type, "text": text}]}
            out.append({"type": "response.output_item.added", "item": added, "output_index": index})
            out.append({"type": "response.content_part.added", "part": {"type": part_type, "text": ""},
                        "content_index": 0, **at})
            out += [{"type": f"{delta_type}.delta", "delta": p, "content_index": 0, **at} for p in pieces]
            if done_events:
                out.append({"type": f"{delta_type}.done", "text": text, "content_index": 0, **at})
                out.append({"type": "response.content_part.done", "part": {"type": part_type, "text": text},
                            "content_index": 0, **at})
        if done_events:
            out.append({"type": "response.output_item.done", "item": done, "output_index": index})
        final_items.append(done)
    final = {**RESPONSE, "status": "completed", "output": final_items,
             "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}}
    out.append({"type": terminal, "response": final})
    for seq, e in enumerate(out):
        e["sequence_number"] = seq
    return out, final


def texts(response: Any) -> tuple[str, str | None, list[str]]:
    return response.output_text, response.reasoning, [c.arguments for c in response.tool_calls]


def want_texts(items: list[tuple[str, list[str]]]) -> tuple[str, str | None, list[str]]:
    msg = "".join("".join(p) for k, p in items if k == "message")
    reasoning = ["".join(p) for k, p in items if k == "reasoning"]
    return msg, "".join(reasoning) if reasoning else None, ["".join(p) for k, p in items if k == "function_call"]


_piece = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
_items = st.lists(st.tuples(st.sampled_from(["message", "reasoning", "function_call"]), st.lists(_piece, max_size=5)),
                  max_size=4)


# --- real captures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_decodes_to_its_completed_response(name: str) -> None:
    body = capture_body(name)
    events, dec = decode(body)
    dec.close()
    assert dec.done and dec.chunks == len(events) == body.count(b"\n\n")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert all(e.type == line.split(b"\n")[0][7:].decode() for e, line in zip(events, body.split(b"\n\n"), strict=False))
    assert isinstance(events[0], ResponseEvent.Created) and isinstance(events[-1], ResponseEvent.Completed)
    final = dec.final()
    assert final == events[-1].response and final.raw == json.loads(body.split(b"\n\n")[-2].split(b"data: ")[1])["response"]
    # What the deltas add up to is what the server assembled.
    streamed_text = "".join(e.text for e in events if isinstance(e, ResponseEvent.TextDelta))
    streamed_reasoning = "".join(e.text for e in events if isinstance(e, ResponseEvent.ReasoningDelta))
    assert final.output_text == streamed_text
    assert (final.reasoning or "") == streamed_reasoning
    assert dec.state.assemble()["output"] == final.raw["output"]
    assert dec.token_chunks == sum(isinstance(e, (ResponseEvent.TextDelta, ResponseEvent.ReasoningDelta,
                                                  ResponseEvent.FunctionCallArgumentsDelta)) for e in events)


@pytest.mark.parametrize("name", CAPTURES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_any_rechunking_gives_identical_events(name: str, data: st.DataObject) -> None:
    body = capture_body(name)
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=40))
    assert decode(body, cuts)[0] == decode(body)[0]


@pytest.mark.parametrize("name", CAPTURES)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_cut_before_completed_is_a_retryable_stream_error_with_the_partial(name: str, data: st.DataObject) -> None:
    body = capture_body(name)
    end = body.rfind(b"event: response.completed")
    cut = data.draw(st.integers(0, end))
    events, dec = decode(body[:cut])
    with pytest.raises(StreamError, match=r"before response\.completed") as info:
        dec.close()
    err = info.value
    assert err.is_retryable and err.partial is not None
    assert err.partial.output_text == "".join(e.text for e in events if isinstance(e, ResponseEvent.TextDelta))
    args = "".join(e.arguments for e in events if isinstance(e, ResponseEvent.FunctionCallArgumentsDelta))
    assert "".join(c.arguments for c in err.partial.tool_calls) == args
    if events:
        assert err.partial.id == events[0].response.id and err.partial.status == "in_progress"


def test_the_end_of_the_body_after_completed_is_normal() -> None:
    body = capture_body("responses_stream")
    _, dec = decode(body + b"event: response.extra\ndata: {}\n\n")  # nothing after completed is read
    dec.close()
    assert dec.done and dec.final().status == "incomplete"


# --- generated streams -------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(items=_items, done_events=st.booleans(), data=st.data())
def test_generated_streams_assemble_exactly(items: list[tuple[str, list[str]]], done_events: bool,
                                            data: st.DataObject) -> None:
    events, final = vllm_stream(items, done_events=done_events)
    body = sse(*events)
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=20))
    decoded, dec = decode(body, cuts)
    assert [e.type for e in decoded] == [e["type"] for e in events]
    assert texts(dec.final()) == want_texts(items)  # the completed response
    # The same events without the terminal one: assembled from the deltas alone.
    _, dec2 = decode(sse(*events[:-1]))
    assert not dec2.done and texts(dec2.final()) == want_texts(items)
    assert [i["id"] for i in dec2.state.assemble()["output"]] == [i["id"] for i in final["output"]]


@settings(max_examples=80, deadline=None)
@given(items=_items.filter(bool), data=st.data())
def test_a_resumed_stream_assembles_what_follows(items: list[tuple[str, list[str]]], data: st.DataObject) -> None:
    events, _ = vllm_stream(items, done_events=False)
    start = data.draw(st.integers(0, len(events) - 1))
    tail = events[start:-1]  # what retrieve(stream=True, starting_after=start - 1) replays, before the end
    decoded, dec = decode(sse(*tail), resumed=True)
    assert [e.sequence_number for e in decoded] == list(range(start, len(events) - 1))
    partial = dec.final()
    got = "".join(e.text for e in decoded if isinstance(e, ResponseEvent.TextDelta))
    assert partial.output_text == got
    args = [e.arguments for e in decoded if isinstance(e, ResponseEvent.FunctionCallArgumentsDelta)]
    assert "".join(c.arguments for c in partial.tool_calls) == "".join(args)
    if tail:
        assert dec.state.last_sequence_number == len(events) - 2


def test_terminal_events_of_openai_end_the_stream_too() -> None:
    for terminal, cls in (("response.incomplete", ResponseEvent.Incomplete), ("response.failed", ResponseEvent.Failed)):
        events, _ = vllm_stream([("message", ["a", "b"])], terminal=terminal)
        decoded, dec = decode(sse(*events))
        dec.close()
        assert isinstance(decoded[-1], cls) and dec.done and dec.final().output_text == "ab"


# --- events, one by one ------------------------------------------------------------------------------


def test_event_fields() -> None:
    events, _ = vllm_stream([("reasoning", ["think"]), ("message", ["Hi"]), ("function_call", ['{"a"', ": 1}"])])
    decoded, _ = decode(sse(*events))
    by_type = {e.type: e for e in decoded}
    delta = by_type["response.output_text.delta"]
    assert isinstance(delta, ResponseEvent.TextDelta)
    assert (delta.text, delta.delta, delta.item_id, delta.output_index, delta.content_index) == ("Hi", "Hi", "id1", 1, 0)
    assert delta.raw["type"] == "response.output_text.delta"
    assert by_type["response.reasoning_text.delta"].text == "think"  # type: ignore[union-attr]
    args_done = by_type["response.function_call_arguments.done"]
    assert isinstance(args_done, ResponseEvent.FunctionCallArgumentsDone)
    assert (args_done.arguments, args_done.name, args_done.output_index) == ('{"a": 1}', "f", 2)
    item_done = decoded[-2]
    assert isinstance(item_done, ResponseEvent.OutputItemDone) and item_done.item.parse_args() == {"a": 1}  # type: ignore[attr-defined]
    part = by_type["response.content_part.added"]
    assert isinstance(part, ResponseEvent.ContentPartAdded) and part.part["type"] == "output_text"
    match decoded[-1]:
        case ResponseEvent.Completed(response=r, sequence_number=n):
            assert r.tool_calls[0].name == "f" and n == len(decoded) - 1
        case _:
            pytest.fail("the last event is Completed")


def test_custom_tool_input_and_unknown_events() -> None:
    at = {"item_id": "ctc_1", "output_index": 0}
    body = sse(
        {"type": "response.output_item.added", "output_index": 0, "sequence_number": 0,
         "item": {"type": "custom_tool_call", "id": "ctc_1", "call_id": "c", "name": "sh", "input": ""}},
        {"type": "response.custom_tool_call_input.delta", "delta": "ls ", "sequence_number": 1, **at},
        {"type": "response.custom_tool_call_input.delta", "delta": "-l", "sequence_number": 2, **at},
        {"type": "response.refusal.delta", "delta": "no", "sequence_number": 3, **at},
    )
    decoded, dec = decode(body)
    assert [type(e).__name__ for e in decoded] == ["OutputItemAdded", "CustomToolCallInputDelta",
                                                   "CustomToolCallInputDelta", "Other"]
    other = decoded[-1]
    assert isinstance(other, ResponseEvent.Other) and other.type == "response.refusal.delta"
    assert other.raw["delta"] == "no" and other.sequence_number == 3
    assert dec.final().raw["output"][0]["input"] == "ls -l"
    assert dec.token_chunks == 2


def test_error_event_raises_the_api_error_of_its_code() -> None:
    events, _ = vllm_stream([("message", ["a"])])
    error = {"type": "error", "code": 400, "message": "bad input", "param": "input", "sequence_number": 5}
    dec = ResponsesStreamDecoder()
    got = dec.feed(sse(*events[:4]))
    assert len(got) == 4
    with pytest.raises(BadRequestError, match="bad input"):
        dec.feed(sse(error))
    frame = b'data: {"error": {"message": "engine died", "type": "InternalServerError", "code": 500}}\n\n'
    with pytest.raises(InternalServerError, match="engine died"):
        ResponsesStreamDecoder().feed(frame)
    with pytest.raises(APIError):
        ResponsesStreamDecoder().feed(b"event: error\ndata: {\"message\": \"x\", \"code\": \"server_error\"}\n\n")


def test_a_bad_event_after_good_ones_raises_on_the_next_read() -> None:
    events, _ = vllm_stream([("message", ["a"])])
    dec = ResponsesStreamDecoder()
    got = dec.feed(sse(*events[:3]) + b"event: response.output_text.delta\ndata: {not json\n\n")
    assert len(got) == 3
    with pytest.raises(StreamError, match="not valid JSON") as info:
        dec.feed(b"")
    assert info.value.partial is not None
    with pytest.raises(StreamError, match="not a JSON object"):
        ResponsesStreamDecoder().feed(b"data: [1]\n\n")
    with pytest.raises(StreamError, match="unexpected stream event"):
        ResponsesStreamDecoder().feed(sse({"type": "response.output_text.delta", "sequence_number": 0}))


def test_done_terminator_and_blank_data_are_ignored() -> None:
    events, _ = vllm_stream([("message", ["a"])])
    dec = ResponsesStreamDecoder()
    got = dec.feed(sse(*events[:-1]) + b"data: [DONE]\n\ndata: \n\n")
    assert len(got) == len(events) - 1
    with pytest.raises(StreamError, match=r"before response\.completed"):
        dec.close()  # [DONE] does not end a Responses stream


def test_a_replay_that_ends_before_any_event_says_why() -> None:
    dec = ResponsesStreamDecoder(resumed=True)
    with pytest.raises(StreamError, match="background=True and stream=True") as info:
        dec.close()
    assert not info.value.is_retryable
    broken = ResponsesStreamDecoder(resumed=True).broken(ConnectionError("reset"))
    assert "background=True and stream=True" in str(broken) and not broken.is_retryable
    assert isinstance(broken.__cause__, ConnectionError)
    cut = ResponsesStreamDecoder()
    cut.feed(b"event: response.created\ndata: {\"type\": \"response.cre")
    err = cut.broken(ConnectionError("reset"))
    assert err.is_retryable and "unfinished event" in str(err) and "response.completed" in str(err)


def test_metrics_counters_per_feed() -> None:
    events, _ = vllm_stream([("message", ["a", "b", "c"])])
    dec = ResponsesStreamDecoder()
    dec.feed(sse(*events[:4]))
    assert dec.last_token_chunks == 0 and not dec.first_token_in_last_feed
    dec.feed(sse(*events[4:6]))
    assert dec.last_token_chunks == 2 and dec.first_token_in_last_feed
    dec.feed(sse(*events[6:]))
    assert dec.last_token_chunks == 1 and not dec.first_token_in_last_feed and dec.done
    assert dec.feed(b"more") == [] and dec.last_token_chunks == 0
