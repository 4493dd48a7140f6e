"""Chat batch, generate, ping, invocations, elastic EP and /v1/messages (sync and async)
against the emulator: what is sent, what comes back, the errors."""

from __future__ import annotations

from typing import Any

import pytest

from vllm_client import (
    BadRequestError,
    ChatCompletion,
    Completion,
    EmbeddingResponse,
    InternalServerError,
    ModelNotFoundError,
    PermissionDeniedError,
    StreamError,
)
from vllm_client._protocol.anthropic import AnthropicMessage, MessageStreamEvent
from vllm_client._protocol.chat_batch import ChatCompletionBatch
from vllm_client._protocol.generate import GenerateResult, GenerateStreamEvent
from vllm_client.testing import MockVllmServer, StreamDrop

CONVS = [[{"role": "user", "content": "Name a color."}], [{"role": "user", "content": "Name a city."}]]
MSGS = [{"role": "user", "content": "Hello"}]


def test_chat_batch(api: Any, vllm_mock: MockVllmServer) -> None:
    batch = api(api.client.chat.completions.batch(conversations=CONVS, max_tokens=5, seed=3, top_k=4))
    assert isinstance(batch, ChatCompletionBatch) and [c.index for c in batch.choices] == [0, 1]
    sent = vllm_mock.last_request
    assert sent.path == "/v1/chat/completions/batch"
    assert sent.json == {"max_tokens": 5, "seed": 3, "top_k": 4, "messages": CONVS, "model": "mock-model"}
    singles = [api(api.client.chat.completions.create(messages=c, max_tokens=5, seed=3, top_k=4)) for c in CONVS]
    assert batch.contents == [s.content for s in singles] and [m.content for m in batch.answers] == batch.contents
    assert batch.usage is not None and batch.usage.total_tokens == sum(s.usage.total_tokens for s in singles)
    before = len(vllm_mock.requests)
    for bad, match in (({"stream": True}, "does not stream"), ({"tools": []}, "does not run tools"),
                       ({"extra_body": {"stream": True}}, "in extra_body"), ({"use_beam_search": True}, "beam")):
        with pytest.raises(TypeError, match=match):
            api(api.client.chat.completions.batch(conversations=CONVS, **bad))
    with pytest.raises(ValueError, match="n must be 1"):
        api(api.client.chat.completions.batch(conversations=CONVS, n=2))
    with pytest.raises(ValueError, match="tool_choice must be 'none'"):
        api(api.client.chat.completions.batch(conversations=CONVS, tool_choice="auto"))
    with pytest.raises(ValueError, match="must not be empty"):
        api(api.client.chat.completions.batch(conversations=[]))
    assert len(vllm_mock.requests) == before


def test_generate(api: Any, vllm_mock: MockVllmServer) -> None:
    out = api(api.client.generate([1, 2, 3], max_tokens=4, seed=2, return_token_ids=True, top_k=5))
    assert isinstance(out, GenerateResult) and len(out.token_ids) == 4 and out.finish_reason == "length"
    assert out.prompt_token_ids == [1, 2, 3] and out.usage is not None and out.usage.total_tokens == 7
    assert out.request_id.startswith("generate-tokens-") and out.output_mode == "tokens" and out.text is None
    assert vllm_mock.last_request.json == {"return_token_ids": True, "token_ids": [1, 2, 3],
                                           "sampling_params": {"max_tokens": 4, "seed": 2, "top_k": 5}}
    assert vllm_mock.last_request.path == "/inference/v1/generate"
    same = api(api.client.generate([1, 2, 3], sampling_params={"max_tokens": 4, "seed": 2, "top_k": 5}))
    assert same.token_ids == out.token_ids
    text = api(api.client.generate([1, 2, 3], max_tokens=4, seed=2, output_mode="text"))
    assert text.token_ids == out.token_ids and text.text and api(api.client.detokenize(text.token_ids)) == text.text
    stream = api(api.client.generate([1, 2, 3], max_tokens=4, seed=2, stream=True))
    events = api.events(stream)
    assert [t for e in events if isinstance(e, GenerateStreamEvent.Tokens) for t in e.token_ids] == out.token_ids
    assert [type(e).__name__ for e in events][-3:] == ["Finish", "Usage", "Done"]
    final = api(stream.final())
    assert final.token_ids == out.token_ids and final.usage is not None and final.usage.completion_tokens == 4
    assert vllm_mock.last_request.json["stream_options"] == {"include_usage": True}
    lp = api(api.client.generate([1], max_tokens=2, logprobs=2))
    assert lp.choices[0].logprobs is not None and len(lp.choices[0].logprobs["content"]) == 2
    api(api.client.abort_requests(["a", "b"]))
    assert vllm_mock.last_request.json == {"request_ids": ["a", "b"]}
    for bad, exc in (([], ValueError), ([-1], ValueError), ("12", TypeError), ([1.5], TypeError)):
        with pytest.raises(exc):
            api(api.client.generate(bad))
    with pytest.raises(ValueError, match="stream_options needs stream=True"):
        api(api.client.generate([1], stream_options={"include_usage": True}))


def test_generate_needs_scale_out(make_api: Any) -> None:
    with MockVllmServer(scale_out=False, max_num_seqs=8) as server:
        api = make_api(server.base_url)
        with pytest.raises(PermissionDeniedError, match="--enable-scale-out"):
            api(api.client.generate([1, 2]))
    with MockVllmServer(max_num_seqs=8) as server:
        api = make_api(server.base_url)
        with pytest.raises(BadRequestError, match="max_num_seqs"):
            api(api.client.generate([1, 2], n=9))


def test_ping_elastic_ep_and_invocations(api: Any, vllm_mock: MockVllmServer) -> None:
    assert api(api.client.server.ping()) is True
    assert api(api.client.server.is_scaling_elastic_ep()) is False
    assert api(api.client.server.scale_elastic_ep(1, drain_timeout=30)) == "Scaled to 1 data parallel engines"
    assert vllm_mock.last_request.json == {"new_data_parallel_size": 1, "drain_timeout": 30}
    with pytest.raises(InternalServerError, match="Scale failed"):
        api(api.client.server.scale_elastic_ep(2))
    assert len(vllm_mock.requests_to("/scale_elastic_ep")) == 2  # the 500 was not retried
    with pytest.raises(ValueError, match="positive"):
        api(api.client.server.scale_elastic_ep(1, drain_timeout=0))
    with pytest.raises(TypeError, match="integer"):
        api(api.client.server.scale_elastic_ep("2"))
    chat = api(api.client.invocations({"messages": MSGS, "max_tokens": 3}))
    assert isinstance(chat, ChatCompletion) and chat.usage is not None and chat.usage.completion_tokens == 3
    assert isinstance(api(api.client.invocations({"prompt": "Hi", "max_tokens": 2})), Completion)
    stream = api(api.client.invocations({"messages": MSGS, "max_tokens": 2, "stream": True}))
    assert len(api.events(stream)) >= 3 and api(stream.final()).finish_reason == "length"
    with pytest.raises(BadRequestError, match="prompt or prompt_embeds"):
        api(api.client.invocations({"nothing": 1}))
    api(api.client.invocations({"messages": MSGS, "max_tokens": 1}, adapter="mock-model"))
    assert vllm_mock.last_request.headers["x-amzn-sagemaker-adapter-identifier"] == "mock-model"


def test_invocations_on_a_pooling_server(make_api: Any) -> None:
    with MockVllmServer(task="embed") as server:
        api = make_api(server.base_url)
        assert isinstance(api(api.client.invocations({"input": "hello"})), EmbeddingResponse)
        with pytest.raises(BadRequestError, match="Cannot find suitable handler"):
            api(api.client.invocations({"prompt": "x"}))


def test_messages(api: Any, vllm_mock: MockVllmServer) -> None:
    msg = api(api.client.messages.create(messages=MSGS, max_tokens=4, system="Be terse."))
    assert isinstance(msg, AnthropicMessage) and msg.id.startswith("chatcmpl-") and msg.role == "assistant"
    assert msg.stop_reason == "max_tokens" and msg.usage is not None and msg.usage.output_tokens == 4
    assert msg.text and msg.content[0]["type"] == "text" and msg.model == "mock-model"
    assert vllm_mock.last_request.json == {"system": "Be terse.", "messages": MSGS, "max_tokens": 4,
                                           "model": "mock-model"}
    stream = api(api.client.messages.stream(messages=MSGS, max_tokens=4))
    events = api.events(stream)
    assert all(isinstance(e, MessageStreamEvent) for e in events)
    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    final = api(stream.final())
    assert final.text == "".join(e.text or "" for e in events) and final.stop_reason == "max_tokens"
    assert final.usage is not None and final.usage.output_tokens == 4 and stream.metrics.completion_tokens == 4
    assert api(api.client.messages.count_tokens(messages=MSGS)) > 0
    with pytest.raises(ModelNotFoundError):
        api(api.client.messages.create(messages=MSGS, max_tokens=2, model="nope"))
    with pytest.raises(TypeError, match="max_tokens is required"):
        api(api.client.messages.create(messages=MSGS, max_tokens=None))


def test_messages_stream_cut_before_message_stop(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.add_fault(StreamDrop(after_chunks=3), path="/v1/messages")
    stream = api(api.client.messages.stream(messages=MSGS, max_tokens=6))
    with pytest.raises(StreamError) as err:
        api.events(stream)
    assert isinstance(err.value.partial, AnthropicMessage)
