"""A stream whose connection breaks after the response headers raises StreamError with
what arrived (``partial``), the transport error as ``__cause__`` and ``is_retryable``
True, on both transports, for chat and completion streams, wherever the cut falls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scripted_server import CLOSE, LAST_CHUNK, RESET, ScriptedServer, chunk, chunked_headers

import vllm_client as vc

MESSAGES = [{"role": "user", "content": "hi"}]


def chat_event(content: str | None = None, *, role: bool = False, finish: str | None = None) -> bytes:
    delta: dict[str, Any] = {}
    if role:
        delta["role"] = "assistant"
        delta["content"] = ""
    if content is not None:
        delta["content"] = content
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "tiny",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def completion_event(text: str) -> bytes:
    body = {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "tiny",
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": None}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


HEAD = chunked_headers()
ROLE = chat_event(role=True)
HELLO, WORLD = chat_event("Hello"), chat_event(" world")

# name -> (bytes after the headers, content that arrived before the cut)
CUTS: dict[str, tuple[bytes, str]] = {
    "before-any-event": (b"", ""),
    "mid-chunk-size-line": (b"1", ""),
    "mid-chunk": (f"{len(ROLE + HELLO):x}\r\n".encode() + ROLE + HELLO[:10], ""),
    "between-chunks": (chunk(ROLE) + chunk(HELLO), "Hello"),
    "after-a-few-events": (chunk(ROLE) + chunk(HELLO) + chunk(WORLD), "Hello world"),
    "mid-event-in-a-chunk": (chunk(ROLE) + chunk(HELLO) + chunk(WORLD[:15]), "Hello"),
}


def sync_call(script: list[Any], call: Any) -> None:
    with ScriptedServer([script]) as server, vc.VllmClient(server.base_url) as client:
        call(client)


def _check(err: vc.StreamError, content: str) -> None:
    assert err.is_retryable
    assert isinstance(err.__cause__, vc.APIConnectionError)
    partial = err.partial
    assert isinstance(partial, vc.ChatCompletion)
    assert (partial.content or "") == content
    assert partial.finish_reason is None


@pytest.mark.parametrize("ending", [CLOSE, RESET])
@pytest.mark.parametrize("cut", list(CUTS))
def test_sync_chat_stream_cut(cut: str, ending: str) -> None:
    data, content = CUTS[cut]
    with ScriptedServer([[HEAD + data, ending]]) as server, \
            vc.VllmClient(server.base_url, max_retries=2) as client:
        stream = client.chat.completions.create(model="tiny", messages=MESSAGES, stream=True)
        with pytest.raises(vc.StreamError) as info:
            for _ in stream:
                pass
        _check(info.value, content)
        assert len(server.requests) == 1  # never retried after the headers
        assert client._transport.pool_stats()["in_use"] == 0


@pytest.mark.parametrize("ending", [CLOSE, RESET])
@pytest.mark.parametrize("cut", list(CUTS))
async def test_async_chat_stream_cut(cut: str, ending: str) -> None:
    data, content = CUTS[cut]
    with ScriptedServer([[HEAD + data, ending]]) as server:
        async with vc.AsyncVllmClient(server.base_url, max_retries=2) as client:
            stream = await client.chat.completions.create(model="tiny", messages=MESSAGES, stream=True)
            with pytest.raises(vc.StreamError) as info:
                async for _ in stream:
                    pass
            _check(info.value, content)
            assert len(server.requests) == 1
            assert client._transport.pool_stats()["in_use"] == 0


def test_final_raises_with_partial_sync() -> None:
    data, content = CUTS["after-a-few-events"]
    with ScriptedServer([[HEAD + data, CLOSE]]) as server, vc.VllmClient(server.base_url) as client:
        with client.chat.completions.create(model="tiny", messages=MESSAGES, stream=True) as stream, \
                pytest.raises(vc.StreamError) as info:
            stream.final()
        _check(info.value, content)


COMPLETION_CUT = chunk(completion_event("abc")) + chunk(completion_event("def"))


def test_sync_completion_stream_cut() -> None:
    with ScriptedServer([[HEAD + COMPLETION_CUT, CLOSE]]) as server, vc.VllmClient(server.base_url) as client:
        stream = client.completions.create(model="tiny", prompt="x", stream=True)
        with pytest.raises(vc.StreamError) as info:
            stream.collect_text()
    err = info.value
    assert err.is_retryable and isinstance(err.__cause__, vc.APIConnectionError)
    assert isinstance(err.partial, vc.Completion)
    assert err.partial.text == "abcdef" and err.partial.finish_reason is None


async def test_async_completion_stream_cut() -> None:
    with ScriptedServer([[HEAD + COMPLETION_CUT, RESET]]) as server:
        async with vc.AsyncVllmClient(server.base_url) as client:
            stream = await client.completions.create(model="tiny", prompt="x", stream=True)
            with pytest.raises(vc.StreamError) as info:
                await stream.collect_text()
    err = info.value
    assert err.is_retryable and isinstance(err.__cause__, vc.APIConnectionError)
    assert isinstance(err.partial, vc.Completion) and err.partial.text == "abcdef"


def test_body_that_ends_cleanly_without_done_is_retryable() -> None:
    """A chunked body that ends (terminator sent) before [DONE]: truncated, retryable."""
    body = chunk(ROLE) + chunk(HELLO) + LAST_CHUNK
    with pytest.raises(vc.StreamError) as info:
        sync_call([HEAD + body], lambda client: client.chat.completions.create(model="tiny", messages=MESSAGES, stream=True).collect_content())
    err = info.value
    assert err.is_retryable and err.__cause__ is None
    assert isinstance(err.partial, vc.ChatCompletion) and err.partial.content == "Hello"


def test_malformed_payload_is_not_retryable_and_keeps_partial() -> None:
    body = chunk(ROLE) + chunk(HELLO) + chunk(b"data: {not json\n\n") + LAST_CHUNK
    with pytest.raises(vc.StreamError) as info:
        sync_call([HEAD + body], lambda client: client.chat.completions.create(model="tiny", messages=MESSAGES, stream=True).collect_content())
    err = info.value
    assert not err.is_retryable
    assert isinstance(err.partial, vc.ChatCompletion) and err.partial.content == "Hello"


def test_error_frame_keeps_its_status() -> None:
    frame = b'data: {"error": {"message": "boom", "type": "InternalServerError", "param": null, "code": 500}}\n\n'
    body = chunk(ROLE) + chunk(HELLO) + chunk(frame) + LAST_CHUNK
    with pytest.raises(vc.InternalServerError) as info:
        sync_call([HEAD + body], lambda client: client.chat.completions.create(model="tiny", messages=MESSAGES, stream=True).collect_content())
    assert info.value.is_retryable and info.value.status_code == 500


def test_stream_error_pickles_with_partial() -> None:
    import pickle

    data, content = CUTS["between-chunks"]
    with pytest.raises(vc.StreamError) as info:
        sync_call([HEAD + data, CLOSE], lambda client: client.chat.completions.create(model="tiny", messages=MESSAGES, stream=True).collect_content())
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.is_retryable and copy.partial.content == content
