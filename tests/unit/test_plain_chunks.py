"""The typed plain-chunk path: which payloads it accepts (exactly the text-only chunk),
and that anything else reaches the general path whole (no field lost from ``.raw``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vllm_client._protocol.events import Content, Reasoning
from vllm_client._protocol.plain_chunks import DecodeError, decode_plain_chat, decode_plain_completion
from vllm_client._protocol.stream_decoder import ChatStreamDecoder

TOP = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def chat_chunk(delta: dict[str, Any], **choice: Any) -> dict[str, Any]:
    return {**TOP, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None, **choice}]}


def enc(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def sse(*objs: Any) -> bytes:
    return b"".join(b"data: " + enc(o) + b"\n\n" for o in objs)


ROLE = chat_chunk({"role": "assistant", "content": ""})


@pytest.mark.parametrize("payload", [
    chat_chunk({"content": "hi"}),
    chat_chunk({"content": "hi"}, token_ids=None),  # vLLM 0.32 sends token_ids: null
    chat_chunk({"reasoning": "hm"}),
    chat_chunk({"reasoning_content": "hm"}),
    chat_chunk({"content": ""}),
    chat_chunk({}),
])
def test_accepts_text_only_chunks(payload: dict[str, Any]) -> None:
    chunk = decode_plain_chat(enc(payload))
    assert chunk.choices[0].delta.content == payload["choices"][0]["delta"].get("content")


@pytest.mark.parametrize("payload", [
    ROLE,
    chat_chunk({"content": "x"}, finish_reason="stop"),
    chat_chunk({"content": "x"}, logprobs={"content": []}),
    chat_chunk({"content": "x"}, token_ids=[1]),
    chat_chunk({"content": "x"}, stop_reason=None),
    chat_chunk({"content": None, "tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}),
    chat_chunk({"content": "x", "new_field": 1}),
    {**chat_chunk({"content": "x"}), "usage": 3},
    {**chat_chunk({"content": "x"}), "system_fingerprint": "fp"},
    {k: v for k, v in chat_chunk({"content": "x"}).items() if k != "id"},
    {"error": {"message": "boom", "code": 500}},
    {**TOP, "choices": [{"index": True, "delta": {"content": "x"}}]},
])
def test_rejects_every_other_chunk(payload: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        decode_plain_chat(enc(payload))


@pytest.mark.parametrize("payload", [b"[DONE]", b"", b"{", b'{"choices": [}', "é".encode("latin-1")])
def test_rejects_non_json(payload: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_plain_chat(payload)


def test_completion_chunks() -> None:
    choice = {"index": 0, "text": "x", "logprobs": None, "finish_reason": None, "stop_reason": None,
              "token_ids": None, "prompt_token_ids": None}
    assert decode_plain_completion(enc({**TOP, "choices": [choice]})).choices[0].text == "x"
    with pytest.raises(DecodeError):
        decode_plain_completion(enc({**TOP, "choices": [{**choice, "finish_reason": "length"}]}))


@pytest.mark.parametrize("typed", [True, False])
def test_continuous_usage_chunks_take_the_typed_path_and_keep_the_running_usage(typed: bool) -> None:
    """continuous_usage_stats puts the running usage on every chunk: still plain, and the
    state's usage after each read is what the general path leaves."""
    dec = ChatStreamDecoder()
    if not typed:
        dec._decode_plain = None
    seen = []
    dec.feed(sse({**ROLE, "usage": {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5}}))
    for i in range(1, 4):
        usage = {"prompt_tokens": 5, "completion_tokens": i, "total_tokens": 5 + i}
        assert dec.feed(sse({**chat_chunk({"content": f"w{i}"}), "usage": usage})) == [Content(f"w{i}")]
        seen.append(dec._state._usage)
    assert seen == [{"prompt_tokens": 5, "completion_tokens": i, "total_tokens": 5 + i} for i in range(1, 4)]
    assert dec.plain_chunks == (3 if typed else 0) and dec.token_chunks == 3
    assert dec.final().content == "w1w2w3"
    assert dec.final().usage is not None and dec.final().usage.completion_tokens == 3


def test_completion_chunks_with_running_usage_are_plain() -> None:
    choice = {"index": 0, "text": "x", "logprobs": None, "finish_reason": None, "stop_reason": None}
    chunk = decode_plain_completion(enc({**TOP, "choices": [choice], "usage": {"completion_tokens": 2}}))
    assert chunk.usage == {"completion_tokens": 2}


def test_reasoning_then_content_in_one_delta() -> None:
    dec = ChatStreamDecoder()
    events = dec.feed(sse(ROLE, chat_chunk({"reasoning": "r", "content": "c"})))
    assert events == [Reasoning("r"), Content("c")]
    assert dec.plain_chunks == 1 and dec.token_chunks == 1


def test_a_field_the_typed_path_does_not_know_reaches_the_answer() -> None:
    """A newer server's extra field makes the chunk non-plain: the general path keeps it."""
    dec = ChatStreamDecoder()
    dec.feed(sse(ROLE, chat_chunk({"content": "a"}), {**chat_chunk({"content": "b"}), "kv_params": {"k": 1}}))
    final = dec.final()
    assert final.content == "ab"
    assert final.raw["kv_params"] == {"k": 1}
    assert dec.plain_chunks == 1


def test_decoder_stops_trying_after_a_run_of_non_plain_chunks() -> None:
    lp = {"content": [{"token": "x", "logprob": -0.1, "top_logprobs": []}]}
    dec = ChatStreamDecoder()
    dec.feed(sse(ROLE, chat_chunk({"content": "w"})))  # the role chunk is a miss, the plain one resets
    dec.feed(sse(*[chat_chunk({"content": "x"}, logprobs=lp) for _ in range(3)], chat_chunk({"content": "y"})))
    assert dec._decode_plain is not None  # the plain chunk ended the run of misses
    dec.feed(sse(*[chat_chunk({"content": "x"}, logprobs=lp) for _ in range(4)]))
    assert dec._decode_plain is None  # a logprobs stream: no more typed attempts
    events = dec.feed(sse(chat_chunk({"content": "z"})))
    assert events == [Content("z")]
    assert dec.final().content == "wxxxyxxxxz"
    assert len(dec.final().choices[0].logprobs["content"]) == 7  # type: ignore[index]


def test_think_tag_parsing_never_uses_the_typed_path() -> None:
    dec = ChatStreamDecoder(parse_think_tags=True)
    events = dec.feed(sse(ROLE, chat_chunk({"content": "<think>a</think>b"})))
    assert events == [Reasoning("a"), Content("b")]
    assert dec.plain_chunks == 0
