"""Real vLLM 0.32 stream captures through the stream decoders.

Each SSE capture is decoded whole, in the socket reads the server actually produced
(``chunk_sizes``) and byte by byte: the events must not depend on the read boundaries,
and must agree with an independent, naive reading of the same body. Paired captures
(the same request sent with and without ``stream``) check that ``final()`` assembles
what vLLM itself returns non-streamed.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import pytest

from vllm_client._protocol.events import (
    Content,
    Done,
    Finish,
    Reasoning,
    Text,
    ToolCallComplete,
    ToolCallDelta,
    Usage,
)
from vllm_client._protocol.stream_decoder import ChatStreamDecoder, CompletionStreamDecoder


def _body(fx: dict[str, Any]) -> bytes:
    body: str = fx["response"]["body"]
    return body.encode("utf-8")


def _is_chat(fx: dict[str, Any]) -> bool:
    return bool(fx["request"]["path"] == "/v1/chat/completions")


def _naive_chunks(body: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a vLLM body, read the trivial way (vLLM sends one data line per event)."""
    chunks = []
    for block in body.split(b"\n\n"):
        if block.startswith(b"data: ") and block != b"data: [DONE]":
            chunks.append(json.loads(block[6:]))
    return chunks


def _splits(fx: dict[str, Any]) -> dict[str, list[bytes]]:
    body = _body(fx)
    sizes = fx["response"].get("chunk_sizes") or []
    reads, pos = [], 0
    for size in sizes:
        reads.append(body[pos : pos + size])
        pos += size
    if pos < len(body):
        reads.append(body[pos:])
    return {
        "whole": [body],
        "socket_reads": reads,
        "bytewise": [body[i : i + 1] for i in range(len(body))],
    }


def _decode(fx: dict[str, Any], reads: list[bytes]) -> tuple[list[Any], Any]:
    decoder = (ChatStreamDecoder if _is_chat(fx) else CompletionStreamDecoder)()
    events: list[Any] = []
    for data in reads:
        events.extend(decoder.feed(data))
    decoder.close()
    assert decoder.done
    return events, decoder


def test_events_independent_of_read_boundaries(golden_stream: str, load_fixture: Any) -> None:
    fx = load_fixture(golden_stream)
    results = {label: _decode(fx, reads)[0] for label, reads in _splits(fx).items()}
    assert results["socket_reads"] == results["whole"]
    assert results["bytewise"] == results["whole"]


def test_events_agree_with_body(golden_stream: str, load_fixture: Any) -> None:
    fx = load_fixture(golden_stream)
    events, decoder = _decode(fx, [_body(fx)])
    chunks = _naive_chunks(_body(fx))
    chat = _is_chat(fx)
    assert decoder.chunks == len(chunks)

    want_text: dict[int, str] = defaultdict(str)
    want_reasoning: dict[int, str] = defaultdict(str)
    want_finish: dict[int, tuple[Any, Any]] = {}
    want_tools: dict[tuple[int, int], dict[str, Any]] = {}
    want_usage = None
    for chunk in chunks:
        if not chunk["choices"] and chunk.get("usage"):
            want_usage = chunk["usage"]
        for c in chunk["choices"]:
            i = c["index"]
            if chat:
                delta = c["delta"]
                want_text[i] += delta.get("content") or ""
                want_reasoning[i] += delta.get("reasoning") or ""
                for piece in delta.get("tool_calls") or ():
                    tool = want_tools.setdefault((i, piece["index"]), {"name": "", "arguments": ""})
                    fn = piece.get("function") or {}
                    tool["name"] += fn.get("name") or ""
                    tool["arguments"] += fn.get("arguments") or ""
            else:
                want_text[i] += c.get("text") or ""
            if c.get("finish_reason") is not None:
                want_finish[i] = (c["finish_reason"], c.get("stop_reason"))

    text_type = Content if chat else Text
    got_text: dict[int, str] = defaultdict(str)
    got_reasoning: dict[int, str] = defaultdict(str)
    for e in events:
        if type(e) is text_type:
            got_text[e.choice_index] += e.text
        elif type(e) is Reasoning:
            got_reasoning[e.choice_index] += e.text
    assert {k: v for k, v in got_text.items() if v} == {k: v for k, v in want_text.items() if v}
    assert {k: v for k, v in got_reasoning.items() if v} == {k: v for k, v in want_reasoning.items() if v}

    completes = [e for e in events if type(e) is ToolCallComplete]
    keyed = Counter((e.choice_index, e.tool_call.raw["function"]["name"]) for e in completes)
    assert len(completes) == len(want_tools)
    assert keyed == Counter((i, t["name"]) for (i, _), t in want_tools.items())
    for e, ((_i, _t), want) in zip(completes, sorted(want_tools.items()), strict=True):
        assert e.tool_call.arguments == want["arguments"]
        json.loads(e.tool_call.arguments)  # complete calls carry complete JSON
    # Each ToolCallComplete comes after every piece of its call.
    index_of_id = {(e.choice_index, e.id): e.index for e in events if type(e) is ToolCallDelta and e.id}
    for pos, e in enumerate(events):
        if type(e) is ToolCallComplete:
            tindex = index_of_id[(e.choice_index, e.tool_call.id)]
            assert not any(
                type(d) is ToolCallDelta and d.choice_index == e.choice_index and d.index == tindex
                for d in events[pos + 1 :]
            )

    finishes = {e.choice_index: (e.reason, e.stop_reason) for e in events if type(e) is Finish}
    assert finishes == want_finish
    assert len([e for e in events if type(e) is Finish]) == len(want_finish)

    usages = [e for e in events if type(e) is Usage]
    if want_usage is None:
        assert usages == []
    else:
        assert [u.usage.raw for u in usages] == [want_usage]
    assert type(events[-1]) is Done
    assert sum(type(e) is Done for e in events) == 1
    # Events come before Usage/Done; Finish of a choice follows all of its pieces.
    for i, (reason, _stop) in want_finish.items():
        fpos = next(p for p, e in enumerate(events) if type(e) is Finish and e.choice_index == i)
        assert reason is not None
        assert all(
            not (type(e) in (text_type, Reasoning, ToolCallDelta, ToolCallComplete) and e.choice_index == i)
            for e in events[fpos + 1 :]
        )


def test_final_matches_streamed_pieces(golden_stream: str, load_fixture: Any) -> None:
    fx = load_fixture(golden_stream)
    events, decoder = _decode(fx, _splits(fx)["socket_reads"])
    final = decoder.final()
    chat = _is_chat(fx)
    text_type = Content if chat else Text
    for choice in final.raw["choices"]:
        i = choice["index"]
        pieces = "".join(e.text for e in events if type(e) is text_type and e.choice_index == i)
        if chat:
            assert (choice["message"]["content"] or "") == pieces
            lp = [x for e in events if type(e) is Content and e.choice_index == i and e.logprobs
                  for x in e.logprobs["content"]]
            assert (choice["logprobs"] or {"content": []})["content"] == lp
        else:
            assert choice["text"] == pieces
        ids = [x for e in events if type(e) is text_type and e.choice_index == i and e.token_ids
               for x in e.token_ids]
        assert (choice["token_ids"] or []) == ids
    assert final.raw["object"] == ("chat.completion" if chat else "text_completion")
    chunks = _naive_chunks(_body(fx))
    assert final.raw["id"] == chunks[0]["id"]
    assert final.raw["model"] == chunks[0]["model"]
    assert final.raw["system_fingerprint"] == next(
        (c["system_fingerprint"] for c in chunks if c.get("system_fingerprint")), None
    )


# -- paired captures: final() vs the non-streamed answer -----------------------------------

# Request fields that do not change the generated tokens.
_NEUTRAL = {"stream", "stream_options", "return_prompt_text"}
# Fields after which the stream is a prefix of the non-streamed answer (same seed, shorter).
_PREFIX_ONLY = {"max_tokens", "top_logprobs", "logprobs"}


def _pair_mode(stream_fx: dict[str, Any], plain_fx: dict[str, Any]) -> str:
    """"same" when both requests determine the same output, "prefix" when the stream's
    request only generates fewer tokens (or fewer top logprobs), else "other"."""
    a = json.loads(stream_fx["request"]["body"])
    b = json.loads(plain_fx["request"]["body"])
    diff = {k for k in set(a) | set(b) if k not in _NEUTRAL and a.get(k) != b.get(k)}
    if "stop" in diff:
        # Extra stop strings that never occur in the answer change nothing.
        sa, sb = set(a.get("stop") or ()), set(b.get("stop") or ())
        texts = [c["message"]["content"] or "" for c in json.loads(plain_fx["response"]["body"])["choices"]]
        if not any(s in t for s in sa ^ sb for t in texts):
            diff.discard("stop")
    if not diff:
        return "same"
    if diff <= _PREFIX_ONLY:
        return "prefix"
    return "other"


# Pairs where vLLM's own streaming and non-streaming reasoning parsers split the same text
# differently (server-side, see the fixtures README): the deepseek_r1 parser calls the
# answer "reasoning" non-streamed when the template pre-closed the think block, and the
# streaming parser matches tag token ids, so tags spelled with ordinary tokens stay in the
# reasoning. For these only the whole text (tags removed) must agree.
_SERVER_SPLIT_DIFFERS = {"r1_enable_thinking_false_regex", "r1sor_regex_think_answer_charwise"}


def _whole_text(choice: dict[str, Any]) -> str:
    msg = choice["message"]
    text = (msg["reasoning"] or "") + (msg["content"] or "")
    return text.replace("<think>", "").replace("</think>", "")


def _text_of(choice: dict[str, Any]) -> str:
    return (choice["message"]["content"] or "") if "message" in choice else choice["text"]


def test_final_matches_nonstreamed_answer(golden_pair: tuple[str, str], load_fixture: Any) -> None:
    stream_name, plain_name = golden_pair
    stream_fx, plain_fx = load_fixture(stream_name), load_fixture(plain_name)
    mode = _pair_mode(stream_fx, plain_fx)
    if mode == "other":
        pytest.skip("the two requests differ in sampling")
    got = _decode(stream_fx, [_body(stream_fx)])[1].final().raw
    want = json.loads(plain_fx["response"]["body"])
    assert got["object"] == want["object"]
    assert len(got["choices"]) == len(want["choices"])
    assert set(got) == set(want), "same top-level shape as the non-streamed answer"
    for g, w in zip(got["choices"], want["choices"], strict=True):
        assert g["index"] == w["index"]
        assert set(g) <= set(w) | {"routed_experts"}
        if "message" in g:
            assert set(g["message"]) == set(w["message"])
        gids, wids = g["token_ids"] or [], w["token_ids"] or []
        if plain_name in _SERVER_SPLIT_DIFFERS:
            assert _whole_text(g) == _whole_text(w)
        elif mode == "same":
            assert _text_of(g) == _text_of(w)
            if "message" in g:
                assert g["message"]["reasoning"] == w["message"]["reasoning"]
                assert g["message"]["role"] == w["message"]["role"]
                gt, wt = g["message"].get("tool_calls") or [], w["message"].get("tool_calls") or []
                assert [t["function"]["name"] for t in gt] == [t["function"]["name"] for t in wt]
                # vLLM re-serialises arguments in the non-streamed answer: compare as JSON.
                assert [json.loads(t["function"]["arguments"]) for t in gt] == [
                    json.loads(t["function"]["arguments"]) for t in wt
                ]
                assert all(t["id"] and t["type"] == "function" for t in gt)
        if mode == "same":
            assert g["finish_reason"] == w["finish_reason"]
            assert g["stop_reason"] == w["stop_reason"]
            assert gids == wids
        else:
            assert _text_of(w).startswith(_text_of(g))
            if "message" in g:
                assert (w["message"]["reasoning"] or "").startswith(g["message"]["reasoning"] or "")
            assert gids == wids[: len(gids)]
        glp, wlp = g["logprobs"], w["logprobs"]
        assert (glp is None) == (wlp is None)
        if glp is not None:
            key = "content" if "message" in g else "tokens"
            gtok = [x["token"] for x in glp[key]] if key == "content" else glp[key]
            wtok = [x["token"] for x in wlp[key]] if key == "content" else wlp[key]
            assert gtok == (wtok if mode == "same" else wtok[: len(gtok)])
            assert len(gtok) > 0
    if mode == "same":
        gu, wu = got["usage"], want["usage"]
        if gu is not None:
            for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
                assert gu[k] == wu[k]
