"""CompletionStreamState / CompletionStreamDecoder on hand-built legacy completion streams."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client._errors import InternalServerError, StreamError
from vllm_client._protocol.completion_stream import CompletionStreamState
from vllm_client._protocol.events import Done, Finish, Text, Usage
from vllm_client._protocol.stream_decoder import CompletionStreamDecoder

TOP = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m"}


def chunk(*choices: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**TOP, "choices": list(choices), **extra}


def ch(index: int, text: str, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"index": index, "text": text, "logprobs": None, "finish_reason": finish, "stop_reason": None,
            "prompt_token_ids": None, "token_ids": None, **extra}


def usage(p: int, c: int) -> dict[str, Any]:
    return chunk(usage={"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c})


def sse(*payloads: Any) -> bytes:
    return b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads) + b"data: [DONE]\n\n"


def run(chunks: list[dict[str, Any]]) -> tuple[list[Any], CompletionStreamState]:
    state = CompletionStreamState()
    events: list[Any] = []
    for c in chunks:
        events += state.feed(c)
    return events + state.end(), state


def collect_text(events: list[Any], index: int = 0) -> str:
    return "".join(e.text for e in events if isinstance(e, Text) and e.choice_index == index)


def test_single_prompt() -> None:
    events, state = run([chunk(ch(0, "def")), chunk(ch(0, " f")), chunk(ch(0, "():", "length")), usage(4, 3)])
    assert events == [Text("def"), Text(" f"), Text("():"), Finish("length", None),
                      Usage(state.usage), Done()]  # type: ignore[arg-type]
    final = state.final()
    assert final.text == "def f():"
    assert final.finish_reason == "length"
    assert final.usage is not None and final.usage.completion_tokens == 3
    assert final.raw["object"] == "text_completion"


def test_prompt_list_with_n_orders_choices_by_index() -> None:
    # 2 prompts x n=2: index = prompt_index * n + sample, interleaved on the wire.
    chunks = [chunk(ch(3, "d")), chunk(ch(0, "a")), chunk(ch(2, "c")), chunk(ch(1, "b")),
              chunk(ch(1, "B", "stop")), chunk(ch(0, "A", "length")), chunk(ch(3, "D", "length")),
              chunk(ch(2, "C", "stop")), usage(8, 8)]
    events, state = run(chunks)
    final = state.final()
    assert [c.index for c in final.choices] == [0, 1, 2, 3]
    assert final.texts == ["aA", "bB", "cC", "dD"]
    assert [c.finish_reason for c in final.choices] == ["length", "stop", "stop", "length"]
    assert collect_text(events, 3) == "dD"


def test_logprobs_and_token_ids_concatenate() -> None:
    lp1 = {"text_offset": [0], "token_logprobs": [-1.0], "tokens": ["a"], "top_logprobs": [{"a": -1.0}]}
    lp2 = {"text_offset": [1], "token_logprobs": [-2.0], "tokens": ["b"], "top_logprobs": [{"b": -2.0}]}
    events, state = run([chunk(ch(0, "a", logprobs=lp1, token_ids=[1])),
                         chunk(ch(0, "b", "length", logprobs=lp2, token_ids=[2]))])
    assert events[0] == Text("a", 0, lp1, [1])
    choice = state.final().choices[0]
    assert choice.logprobs == {"text_offset": [0, 1], "token_logprobs": [-1.0, -2.0], "tokens": ["a", "b"],
                               "top_logprobs": [{"a": -1.0}, {"b": -2.0}]}
    assert lp1["tokens"] == ["a"]  # inputs are not mutated
    assert choice.token_ids == [1, 2]


def test_continuous_usage_only_final_usage_event() -> None:
    u1 = {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}
    events, state = run([chunk(ch(0, "x"), usage=u1), chunk(ch(0, "y", "length"), usage=u1 | {"completion_tokens": 2}),
                         usage(2, 2)])
    assert len([e for e in events if isinstance(e, Usage)]) == 1
    assert state.final().text == "xy"


def test_decoder_end_to_end_and_errors() -> None:
    dec = CompletionStreamDecoder()
    events = dec.feed(sse(chunk(ch(0, "hi", "stop"))))
    dec.close()
    assert [type(e) for e in events] == [Text, Finish, Done]
    assert dec.final().text == "hi"

    dec = CompletionStreamDecoder()
    with pytest.raises(InternalServerError):
        dec.feed(b'data: {"error": {"message": "oops", "code": 500}}\n\n')

    dec = CompletionStreamDecoder()
    dec.feed(b"data: " + json.dumps(chunk(ch(0, "x"))).encode() + b"\n\n")
    with pytest.raises(StreamError, match="after 1 chunks"):
        dec.close()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.text(max_size=8), max_size=6), min_size=1, max_size=4), st.randoms())
def test_random_interleavings_assemble(per_choice: list[list[str]], rnd: Any) -> None:
    queues = {i: [chunk(ch(i, t)) for t in texts] for i, texts in enumerate(per_choice) if texts}
    merged = []
    while queues:
        i = rnd.choice(sorted(queues))
        merged.append(queues[i].pop(0))
        if not queues[i]:
            del queues[i]
    events, state = run(merged)
    seen = sorted({c["choices"][0]["index"] for c in merged})
    assert [c.index for c in state.final().choices] == seen
    for i in seen:
        assert state.final().choices[seen.index(i)].text == "".join(per_choice[i])
        assert collect_text(events, i) == "".join(per_choice[i])
    # The byte path (typed plain chunks first, dicts for the rest) gives the same events and answer.
    dec = CompletionStreamDecoder()
    assert dec.feed(sse(*merged)) == events
    assert dec.final().raw == state.final().raw
    assert dec.chunks == len(merged)
