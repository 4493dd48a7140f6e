"""Chat batch, token-in/token-out generate, /ping, /invocations, elastic EP and /v1/messages
against a real vLLM 0.32 (variants ``plain`` and ``extras``; ``--enable-scale-out`` is in
``extras``). The raw answers are captured too (``VLLM_IT_CAPTURE=1``): chat_batch_*,
generate_*, invocations_*, elastic_ep_*, messages_*.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from vllm_client import BadRequestError, ChatCompletion, Completion, NotFoundError, PermissionDeniedError
from vllm_client._protocol.anthropic import AnthropicMessage
from vllm_client._protocol.chat_batch import ChatCompletionBatch
from vllm_client._protocol.generate import GenerateResult, GenerateStreamEvent

from .capture import capture, json_of

CONVS = [[{"role": "user", "content": "Name a color."}], [{"role": "user", "content": "Name a city."}],
         [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}]]
MSGS = [{"role": "user", "content": "Hello"}]


def test_chat_batch(vllm_plain: Any) -> None:
    with vllm_plain.client() as client:
        batch = client.chat.completions.batch(conversations=CONVS, max_tokens=4, seed=1, temperature=0)
        assert isinstance(batch, ChatCompletionBatch) and len(batch.choices) == 3
        assert [c.index for c in batch.choices] == [0, 1, 2] and all(c is not None for c in batch.contents)
        one = [client.chat.completions.create(messages=c, max_tokens=4, seed=1, temperature=0) for c in CONVS]
        assert batch.contents == [r.content for r in one]  # the same greedy answers one by one
        assert batch.usage is not None and batch.usage.completion_tokens == sum(
            r.usage.completion_tokens for r in one if r.usage)
        assert batch.usage.prompt_tokens == sum(r.usage.prompt_tokens for r in one if r.usage)
        with pytest.raises(TypeError, match="does not stream"):
            client.chat.completions.batch(conversations=CONVS, stream=True)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="does not run tools"):
            client.chat.completions.batch(conversations=CONVS, extra_body={"tools": []})


def test_scale_out_gate_and_platform_routes(vllm_plain: Any) -> None:
    with vllm_plain.client() as client:
        with pytest.raises(PermissionDeniedError, match="--enable-scale-out"):
            client.generate([1, 2, 3], max_tokens=2)
        assert client.server.ping() is True
        assert client.server.is_scaling_elastic_ep() is False
        assert client.server.scale_elastic_ep(1) == "Scaled to 1 data parallel engines"
        with pytest.raises(ValueError, match="positive"):
            client.server.scale_elastic_ep(0)
        chat = client.invocations({"messages": MSGS, "max_tokens": 3})
        assert isinstance(chat, ChatCompletion) and chat.usage is not None and chat.usage.completion_tokens == 3
        text = client.invocations({"prompt": "Hello", "max_tokens": 2})
        assert isinstance(text, Completion) and text.choices
        with client.invocations({"messages": MSGS, "max_tokens": 3, "stream": True}) as s:  # type: ignore[union-attr]
            assert s.final().finish_reason == "length"  # (the body goes as given: no stream_options added)
        # not a chat body: vLLM tries it as a completion, which wants a prompt
        with pytest.raises(BadRequestError, match="prompt or prompt_embeds must be provided"):
            client.invocations({"nothing": 1})


def test_messages(vllm_plain: Any) -> None:
    with vllm_plain.client() as client:
        msg = client.messages.create(messages=MSGS, max_tokens=4, system="Be terse.")
        assert isinstance(msg, AnthropicMessage) and msg.id.startswith("chatcmpl-")
        assert msg.stop_reason == "max_tokens" and msg.usage is not None and msg.usage.output_tokens == 4
        assert msg.content and msg.content[0]["type"] == "text"
        with client.messages.stream(messages=MSGS, max_tokens=4) as stream:
            kinds = [e.type for e in stream]
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
        final = stream.final()
        assert final.stop_reason == "max_tokens" and final.usage is not None and final.usage.output_tokens == 4
        assert client.messages.count_tokens(messages=MSGS) > 0
        with pytest.raises(NotFoundError):
            client.messages.create(messages=MSGS, max_tokens=2, model="nope")


def test_generate(vllm_extras: Any) -> None:
    with vllm_extras.client() as client:
        ids = client.tokenize("Hello world").tokens
        out = client.generate(ids, max_tokens=5, temperature=0, return_token_ids=True)
        assert isinstance(out, GenerateResult) and len(out.token_ids) == 5 and out.finish_reason == "length"
        assert out.prompt_token_ids == ids and out.usage is not None and out.usage.prompt_tokens == len(ids)
        again = client.generate(ids, sampling_params={"max_tokens": 5, "temperature": 0})
        assert again.token_ids == out.token_ids
        text = client.generate(ids, max_tokens=5, temperature=0, output_mode="text")
        assert text.token_ids == out.token_ids and text.text == client.detokenize(out.token_ids)
        with client.generate(ids, max_tokens=5, temperature=0, stream=True) as stream:
            events = list(stream)
        got = [t for e in events if isinstance(e, GenerateStreamEvent.Tokens) for t in e.token_ids]
        assert got == out.token_ids and stream.final().token_ids == out.token_ids
        assert [type(e).__name__ for e in events][-3:] == ["Finish", "Usage", "Done"]
        chat = client.chat.completions.create(messages=MSGS, max_tokens=3, seed=3, return_token_ids=True)
        prompt = client.tokenize(messages=MSGS, add_generation_prompt=True).tokens
        same = client.generate(prompt, max_tokens=3, seed=3)
        assert same.token_ids == chat.choices[0].token_ids  # one engine, no re-tokenization
        client.abort_requests(["nothing-to-abort"])

    async def main() -> None:
        async with vllm_extras.aclient() as aclient:
            result = await aclient.generate([1, 2, 3], max_tokens=2)
            assert len(result.token_ids) == 2
            stream = await aclient.generate([1, 2, 3], max_tokens=2, stream=True)
            async with stream:
                assert await stream.collect_token_ids() == (await stream.final()).token_ids

    asyncio.run(main())


def test_captures(vllm_plain: Any) -> None:
    srv = vllm_plain
    body = {"model": "tiny", "messages": CONVS, "max_tokens": 3, "seed": 1}
    ok = [
        ("chat_batch", "/v1/chat/completions/batch", body),
        ("invocations_chat", "/invocations", {"messages": MSGS, "max_tokens": 3, "seed": 1}),
        ("invocations_completion", "/invocations", {"prompt": "Hello", "max_tokens": 3, "seed": 1}),
        ("invocations_chat_stream", "/invocations", {"messages": MSGS, "max_tokens": 2, "stream": True}),
        ("elastic_ep_is_scaling", "/is_scaling_elastic_ep", None),
        ("elastic_ep_scale_same_size", "/scale_elastic_ep", {"new_data_parallel_size": 1}),
        ("messages_basic", "/v1/messages", {"model": "tiny", "messages": MSGS, "max_tokens": 4, "system": "Be terse."}),
        ("messages_stream", "/v1/messages", {"model": "tiny", "messages": MSGS, "max_tokens": 3, "stream": True}),
        ("messages_count_tokens", "/v1/messages/count_tokens", {"model": "tiny", "messages": MSGS}),
        ("messages_stop_sequence", "/v1/messages", {"model": "tiny", "messages": MSGS, "max_tokens": 8,
                                                    "stop_sequences": ["e"], "seed": 1}),
    ]
    for name, path, data in ok:
        fx = capture(srv, name, "POST", path, body=data if data is not None else b"")
        assert fx["response"]["status"] == 200, (name, fx["response"])
    bad = [
        ("chat_batch_stream_silently_accepted", "/v1/chat/completions/batch", {**body, "stream": True}, 200),
        ("chat_batch_n2", "/v1/chat/completions/batch", {**body, "n": 2}, 400),
        ("chat_batch_tool_choice", "/v1/chat/completions/batch", {**body, "tool_choice": "auto"}, 400),
        ("chat_batch_empty_conversation", "/v1/chat/completions/batch", {**body, "messages": [[]]}, 400),
        ("generate_disabled", "/inference/v1/generate", {"token_ids": [1, 2], "sampling_params": {"max_tokens": 2}},
         403),
        ("invocations_no_handler", "/invocations", {"nothing": 1}, 400),
        ("elastic_ep_missing_size", "/scale_elastic_ep", {}, 400),
        ("elastic_ep_bad_size", "/scale_elastic_ep", {"new_data_parallel_size": 0}, 400),
        ("elastic_ep_bad_drain", "/scale_elastic_ep", {"new_data_parallel_size": 1, "drain_timeout": -1}, 400),
        ("elastic_ep_scale_up_fails", "/scale_elastic_ep", {"new_data_parallel_size": 2}, 500),
        ("messages_unknown_model", "/v1/messages", {"model": "nope", "messages": MSGS, "max_tokens": 2}, 404),
        ("messages_missing_max_tokens", "/v1/messages", {"model": "tiny", "messages": MSGS}, 400),
    ]
    for name, path, data, status in bad:
        fx = capture(srv, name, "POST", path, body=data)
        assert fx["response"]["status"] == status, (name, fx["response"])
    assert json_of(capture(srv, "elastic_ep_is_scaling_get", "GET", "/is_scaling_elastic_ep")) == {
        "detail": "Method Not Allowed"}


def test_generate_captures(vllm_extras: Any) -> None:
    srv = vllm_extras
    ids = [4088, 872, 198, 3707]
    gen = "/inference/v1/generate"
    cases = [
        ("generate_tokens", {"token_ids": ids, "sampling_params": {"max_tokens": 4, "seed": 1}}, 200),
        ("generate_text", {"token_ids": ids, "sampling_params": {"max_tokens": 4, "seed": 1}, "output_mode": "text",
                           "return_token_ids": True}, 200),
        ("generate_logprobs", {"token_ids": ids, "sampling_params": {"max_tokens": 2, "seed": 1, "logprobs": 2}}, 200),
        ("generate_stream", {"token_ids": ids, "sampling_params": {"max_tokens": 3, "seed": 1}, "stream": True,
                             "stream_options": {"include_usage": True}}, 200),
        ("generate_stream_text", {"token_ids": ids, "sampling_params": {"max_tokens": 3, "seed": 1}, "stream": True,
                                  "output_mode": "text", "return_token_ids": True}, 200),
        ("generate_no_sampling_params", {"token_ids": ids}, 400),
        ("generate_empty_token_ids", {"token_ids": [], "sampling_params": {}}, 400),
        ("generate_negative_token_id", {"token_ids": [-1], "sampling_params": {}}, 400),
        ("generate_n_too_large", {"token_ids": ids, "sampling_params": {"n": 99}}, 400),
    ]
    for name, data, status in cases:
        fx = capture(srv, name, "POST", gen, body=data)
        assert fx["response"]["status"] == status, (name, fx["response"])
    fx = capture(srv, "generate_abort", "POST", "/inference/v1/abort_requests", body={"request_ids": ["x"]})
    assert fx["response"]["status"] == 200
