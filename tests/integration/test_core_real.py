"""Core client against a REAL vLLM 0.32 server (variants ``plain`` and ``apikey``).

The model is a tiny random-weight Qwen2 (``tiny``), so free text is noise: every assertion is
on protocol facts, on things a seed makes repeatable, or on output forced by structured outputs.
The requests mirror tests/fixtures/real-vllm-0.32 (same messages, same seeds), whose
captures show what the server answers.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from vllm_client import (
    APIConnectionError,
    AsyncVllmClient,
    AuthenticationError,
    BadRequestError,
    ModelNotFoundError,
    NotFoundError,
    VllmClient,
)

if TYPE_CHECKING:
    from .conftest import RealServer

# the fixtures' conversation: with seed 99 the 6th sampled token is "###", the 4th is id 3520
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]
TIMEOUT = 120
YES_NO_RE = r"(yes|no), [0-9]{2}\."
CHOICES = ["positive", "negative", "neutral"]
PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "mood": {"type": "string", "enum": ["happy", "sad", "neutral"]},
    },
    "required": ["name", "age", "mood"],
    "additionalProperties": False,
}
DEAD_URL = "http://127.0.0.1:9/v1"  # nothing listens on the discard port: any send would fail




def _field(obj: Any, name: str) -> Any:
    """Attribute or key: for result parts whose exact Python shape the contract leaves open."""
    if isinstance(obj, dict):
        return obj[name]
    return getattr(obj, name)


def _check_usage(resp: Any, max_tokens: int | None = None) -> None:
    u = resp.usage
    assert u is not None
    assert u.prompt_tokens > 0
    assert u.completion_tokens >= 0
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    if max_tokens is not None:
        assert u.completion_tokens <= max_tokens
    raw_u = resp.raw["usage"]
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (
        raw_u["prompt_tokens"],
        raw_u["completion_tokens"],
        raw_u["total_tokens"],
    )


def _new_request_id() -> str:
    return f"it-{uuid.uuid4().hex[:16]}"


# =========================================================================== plain: chat


def test_chat_basic(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=16, seed=1234)
    assert isinstance(resp.content, str)
    assert resp.content == resp.choices[0].message.content
    assert resp.finish_reason in ("length", "stop")
    assert resp.finish_reason == resp.choices[0].finish_reason
    assert isinstance(resp.id, str) and resp.id.startswith("chatcmpl-")
    assert resp.object == "chat.completion"
    assert resp.model == "tiny"
    assert isinstance(resp.created, int) and resp.created > 1_600_000_000
    _check_usage(resp, max_tokens=16)
    assert isinstance(resp.raw, dict)
    assert resp.raw["id"] == resp.id
    assert resp.raw["choices"][0]["message"]["content"] == resp.content
    assert resp.timing.total_s > 0
    assert resp.tool_calls == []
    assert not resp.has_tool_calls()
    assert resp.first_tool_call() is None
    assert resp.reasoning is None
    msg = resp.assistant_message()
    assert msg["role"] == "assistant"
    assert msg["content"] == resp.content


async def test_chat_basic_async(vllm_plain: RealServer) -> None:
    async with vllm_plain.aclient() as client:
        resp = await client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=16, seed=1234)
    assert isinstance(resp.content, str)
    assert resp.model == "tiny"
    assert resp.id.startswith("chatcmpl-")
    _check_usage(resp, max_tokens=16)
    assert isinstance(resp.raw, dict)
    assert resp.timing.total_s > 0


def test_chat_multi_turn_history(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        first = client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=4, seed=1)
        history = [*MESSAGES, first.assistant_message(), {"role": "user", "content": "And of Spain?"}]
        second = client.chat.completions.create(messages=history, model="tiny", max_tokens=4, seed=1)
    assert second.usage is not None and first.usage is not None
    assert second.usage.prompt_tokens > first.usage.prompt_tokens


def test_model_none_resolves_to_served_model(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(messages=MESSAGES, max_tokens=2, seed=1)
        again = client.chat.completions.create(messages=MESSAGES, model=None, max_tokens=2, seed=1)
    assert resp.model == "tiny"
    assert again.model == "tiny"


async def test_model_none_resolves_to_served_model_async(vllm_plain: RealServer) -> None:
    async with vllm_plain.aclient() as client:
        resp = await client.chat.completions.create(messages=MESSAGES, max_tokens=2, seed=1)
    assert resp.model == "tiny"


def test_vllm_sampling_extras(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES,
            model="tiny",
            max_tokens=8,
            seed=7,
            top_k=20,
            min_p=0.05,
            repetition_penalty=1.2,
            presence_penalty=0.5,
            frequency_penalty=0.5,
            ignore_eos=True,
            min_tokens=4,
        )
    # ignore_eos: generation runs to max_tokens
    assert resp.finish_reason == "length"
    assert resp.usage is not None and resp.usage.completion_tokens == 8
    assert isinstance(resp.content, str)


def test_extra_body_is_merged(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=6, seed=7, extra_body={"ignore_eos": True}
        )
    assert resp.usage is not None and resp.usage.completion_tokens == 6
    assert resp.finish_reason == "length"


def test_return_token_ids(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=4, seed=1234, return_token_ids=True
        )
    ids = resp.choices[0].token_ids
    assert ids is not None
    assert resp.usage is not None
    assert len(ids) == resp.usage.completion_tokens == 4
    assert all(isinstance(i, int) for i in ids)
    assert list(ids) == resp.raw["choices"][0]["token_ids"]


def test_seed_repeatability(vllm_plain: RealServer) -> None:
    kw: dict[str, Any] = {"messages": MESSAGES, "model": "tiny", "max_tokens": 8, "temperature": 1.0}
    with vllm_plain.client() as client:
        a = client.chat.completions.create(seed=42, **kw)
        b = client.chat.completions.create(seed=42, **kw)
        c = client.chat.completions.create(seed=43, **kw)
    assert a.content == b.content
    assert a.id != b.id
    # a different seed almost surely samples something else from a 4k-token vocabulary
    assert c.content != a.content


async def test_seed_repeatability_async(vllm_plain: RealServer) -> None:
    kw: dict[str, Any] = {"messages": MESSAGES, "model": "tiny", "max_tokens": 8, "temperature": 1.0}
    async with vllm_plain.aclient() as client:
        a = await client.chat.completions.create(seed=42, **kw)
        b = await client.chat.completions.create(seed=42, **kw)
    assert a.content == b.content
    with vllm_plain.client() as client:
        s = client.chat.completions.create(seed=42, **kw)
    assert s.content == a.content  # sync and async send the same request


def test_stop_string(vllm_plain: RealServer) -> None:
    # fixture chat_stop_string: with seed 99 the 6th token is "###"
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=16, seed=99, stop=["###", "never-appears"]
        )
    assert resp.finish_reason == "stop"
    assert resp.stop_reason == "###"
    assert resp.content is not None and "###" not in resp.content
    assert resp.usage is not None and resp.usage.completion_tokens < 16


def test_stop_string_single_and_included(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES,
            model="tiny",
            max_tokens=16,
            seed=99,
            stop="###",
            include_stop_str_in_output=True,
        )
    assert resp.finish_reason == "stop"
    assert resp.content is not None and resp.content.endswith("###")


def test_stop_token_ids(vllm_plain: RealServer) -> None:
    # fixture chat_stop_token_ids: with seed 99 the 4th token is id 3520
    with vllm_plain.client() as client:
        full = client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=16, seed=99, return_token_ids=True
        )
        ids = full.choices[0].token_ids
        assert ids is not None and len(ids) >= 4
        stop_id = ids[3]
        resp = client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=16, seed=99, stop_token_ids=[stop_id]
        )
    assert resp.finish_reason == "stop"
    assert resp.stop_reason == stop_id
    assert resp.usage is not None and resp.usage.completion_tokens == ids.index(stop_id) + 1


def test_n2_two_choices(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=6, seed=1234, n=2)
    assert len(resp.choices) == 2
    assert [c.index for c in resp.choices] == [0, 1]
    assert all(isinstance(c.message.content, str) for c in resp.choices)
    assert resp.content == resp.choices[0].message.content
    assert resp.usage is not None and resp.usage.completion_tokens <= 12


def test_logprobs_shapes(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=4, seed=1234, logprobs=True, top_logprobs=3
        )
    lp = resp.choices[0].logprobs
    assert lp is not None
    content = _field(lp, "content")
    assert resp.usage is not None
    assert len(content) == resp.usage.completion_tokens == 4
    for entry in content:
        assert isinstance(_field(entry, "token"), str)
        assert _field(entry, "logprob") <= 0.0
        tops = _field(entry, "top_logprobs")
        assert len(tops) == 3
        assert all(_field(t, "logprob") <= 0.0 for t in tops)
    raw_content = resp.raw["choices"][0]["logprobs"]["content"]
    assert [e["token"] for e in raw_content] == [_field(e, "token") for e in content]


def test_no_logprobs_by_default(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2, seed=1)
    assert resp.choices[0].logprobs is None


async def test_concurrent_requests_share_async_client(vllm_plain: RealServer) -> None:
    async with vllm_plain.aclient() as client:
        resps = await asyncio.gather(
            *(client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=4, seed=s) for s in range(4))
        )
    assert len({r.id for r in resps}) == 4
    assert all(r.usage is not None and r.usage.completion_tokens <= 4 for r in resps)


# =========================================================================== plain: structured outputs


def test_structured_outputs_regex(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=32, seed=5, structured_outputs={"regex": YES_NO_RE}
        )
    assert resp.content is not None
    assert re.fullmatch(YES_NO_RE, resp.content), resp.content
    assert resp.finish_reason == "stop"


async def test_structured_outputs_regex_async(vllm_plain: RealServer) -> None:
    async with vllm_plain.aclient() as client:
        resp = await client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=32, seed=11, structured_outputs={"regex": YES_NO_RE}
        )
    assert resp.content is not None
    assert re.fullmatch(YES_NO_RE, resp.content), resp.content


def test_structured_outputs_choice(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        for seed in (6, 7, 8):
            resp = client.chat.completions.create(
                messages=MESSAGES,
                model="tiny",
                max_tokens=16,
                seed=seed,
                structured_outputs={"choice": CHOICES},
            )
            assert resp.content in CHOICES


def test_structured_outputs_json(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=64, seed=4, structured_outputs={"json": PERSON_SCHEMA}
        )
    assert resp.finish_reason == "stop"
    assert resp.content is not None
    data = json.loads(resp.content)
    assert set(data) == {"name", "age", "mood"}
    assert isinstance(data["age"], int) and 0 <= data["age"] <= 120
    assert data["mood"] in ("happy", "sad", "neutral")


def test_response_format_json_schema(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES,
            model="tiny",
            max_tokens=64,
            seed=3,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": PERSON_SCHEMA, "strict": True},
            },
        )
    assert resp.content is not None
    data = json.loads(resp.content)
    assert set(data) == {"name", "age", "mood"}
    assert data["mood"] in ("happy", "sad", "neutral")


def test_legacy_guided_regex_is_translated(vllm_plain: RealServer) -> None:
    # vLLM 0.32 silently ignores guided_*: only a client-side translation constrains the output
    with vllm_plain.client() as client:
        for seed in (5, 8):
            resp = client.chat.completions.create(
                messages=MESSAGES, model="tiny", max_tokens=32, seed=seed, guided_regex=YES_NO_RE
            )
            assert resp.content is not None
            assert re.fullmatch(YES_NO_RE, resp.content), resp.content


def test_legacy_guided_choice_is_translated(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        for seed in (6, 8):
            resp = client.chat.completions.create(
                messages=MESSAGES, model="tiny", max_tokens=16, seed=seed, guided_choice=CHOICES
            )
            assert resp.content in CHOICES


def test_legacy_guided_json_is_translated(vllm_plain: RealServer) -> None:
    # seed 8 is the capture so_legacy_guided_json_ignored, whose raw request gave free noise
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=64, seed=8, guided_json=PERSON_SCHEMA
        )
    assert resp.content is not None
    data = json.loads(resp.content)
    assert set(data) == {"name", "age", "mood"}


# =========================================================================== plain: errors


def test_unknown_model_is_model_not_found(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client, pytest.raises(ModelNotFoundError) as ei:
        client.chat.completions.create(messages=MESSAGES, model="no-such-model", max_tokens=4)
    err = ei.value
    assert isinstance(err, NotFoundError)
    assert err.status_code == 404
    assert "no-such-model" in err.message
    assert "no-such-model" in str(err)
    assert err.is_retryable is False


async def test_unknown_model_is_model_not_found_async(vllm_plain: RealServer) -> None:
    async with vllm_plain.aclient() as client:
        with pytest.raises(ModelNotFoundError) as ei:
            await client.chat.completions.create(messages=MESSAGES, model="no-such-model", max_tokens=4)
    assert ei.value.status_code == 404


def test_unknown_model_completions(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client, pytest.raises(ModelNotFoundError) as ei:
        client.completions.create(prompt="hi", model="no-such-model", max_tokens=2)
    assert ei.value.status_code == 404


def test_server_400_is_bad_request_with_vllm_message(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client, pytest.raises(BadRequestError) as ei:
        client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=5000)
    err = ei.value
    assert err.status_code == 400
    assert "max_model_len" in err.message
    assert "5000" in err.message
    assert err.param == "max_tokens"
    assert err.is_retryable is False
    assert isinstance(err.body, (dict, str, bytes))


def test_prompt_too_long_is_bad_request(vllm_plain: RealServer) -> None:
    long_text = "hello world " * 1500  # > 2048 tokens (fixture err_prompt_too_long)
    with vllm_plain.client() as client, pytest.raises(BadRequestError) as ei:
        client.chat.completions.create(messages=[{"role": "user", "content": long_text}], model="tiny", max_tokens=2)
    assert "maximum context length" in ei.value.message


def test_unknown_keyword_is_type_error_before_sending(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client, pytest.raises(TypeError):
        client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2, no_such_param=1)
    # nothing listens on DEAD_URL: a TypeError (not a connection error) proves nothing was sent
    with VllmClient(DEAD_URL, max_retries=0, timeout=5) as dead, pytest.raises(TypeError):
        dead.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2, no_such_param=1)


def test_invalid_value_is_value_error_before_sending(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client, pytest.raises(ValueError):
        client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2, temperature=-1)
    with VllmClient(DEAD_URL, max_retries=0, timeout=5) as dead:
        for bad in ({"temperature": -1}, {"n": 0}):
            with pytest.raises(ValueError) as ei:
                dead.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2, **bad)
            assert not isinstance(ei.value, APIConnectionError)
        with pytest.raises(ValueError):
            dead.chat.completions.create(messages=[], model="tiny", max_tokens=2)


async def test_invalid_value_is_value_error_before_sending_async() -> None:
    async with AsyncVllmClient(DEAD_URL, max_retries=0, timeout=5) as dead:
        with pytest.raises(ValueError):
            await dead.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2, temperature=-1)
        with pytest.raises(TypeError):
            await dead.chat.completions.create(messages=MESSAGES, model="tiny", no_such_param=1)


# =========================================================================== plain: request ids


def test_request_id_header_reaches_server(vllm_plain: RealServer) -> None:
    rid = _new_request_id()
    offset = vllm_plain.log_size()
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(
            messages=MESSAGES, model="tiny", max_tokens=2, seed=1, extra_headers={"X-Request-Id": rid}
        )
    # vLLM 0.32 derives the completion id from the client's X-Request-Id (fixture chat_request_id_header)
    assert resp.id == f"chatcmpl-{rid}"
    # the plain variant runs with --enable-log-requests: "Received request chatcmpl-<rid>: ..."
    assert vllm_plain.wait_for_log(rid, since=offset, timeout=20), f"{rid} not in {vllm_plain.log_path}"


def test_request_id_keyword(vllm_plain: RealServer) -> None:
    rid = _new_request_id()
    with vllm_plain.client() as client:
        resp = client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2, request_id=rid)
    assert resp.id == f"chatcmpl-{rid}"


def test_client_default_headers_are_sent(vllm_plain: RealServer) -> None:
    rid = _new_request_id()
    with vllm_plain.client(headers={"X-Request-Id": rid}) as client:
        resp = client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2)
    assert resp.id == f"chatcmpl-{rid}"


# =========================================================================== plain: completions


def test_completions_prompt_str(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.completions.create(prompt="def fibonacci(n):", model="tiny", max_tokens=16, seed=1234)
    assert isinstance(resp.text, str)
    assert resp.text == resp.choices[0].text
    assert len(resp.choices) == 1
    assert resp.model == "tiny"
    _check_usage(resp, max_tokens=16)


def test_completions_prompt_list(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.completions.create(prompt=["Hello", "Goodbye", "Why"], model="tiny", max_tokens=4, seed=1)
    assert len(resp.choices) == 3
    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert all(isinstance(c.text, str) for c in resp.choices)
    assert resp.usage is not None and resp.usage.completion_tokens <= 12


def test_completions_token_ids_prompt(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.completions.create(prompt=[100, 200, 300], model="tiny", max_tokens=4, seed=1)
    assert len(resp.choices) == 1
    assert resp.usage is not None and resp.usage.prompt_tokens == 3


def test_completions_structured_choice_and_model_none(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        resp = client.completions.create(
            prompt="The answer is", max_tokens=8, seed=1, structured_outputs={"choice": ["alpha", "beta"]}
        )
    assert resp.model == "tiny"
    assert resp.text in ("alpha", "beta")


async def test_completions_async(vllm_plain: RealServer) -> None:
    async with vllm_plain.aclient() as client:
        resp = await client.completions.create(prompt=["Hello", "Goodbye"], model="tiny", max_tokens=3, seed=1)
    assert len(resp.choices) == 2


# =========================================================================== plain: models / server


def test_models_list(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        models = client.models.list()
    assert [m.id for m in models] == ["tiny"]
    assert models[0].max_model_len == 2048
    assert models[0].owned_by == "vllm"


def test_server_health_and_version(vllm_plain: RealServer) -> None:
    with vllm_plain.client() as client:
        assert client.server.health() is True
        version = client.server.version()
    assert isinstance(version, str)
    assert version.startswith("0.32")


async def test_models_and_server_async(vllm_plain: RealServer) -> None:
    async with vllm_plain.aclient() as client:
        models = await client.models.list()
        healthy = await client.server.health()
        version = await client.server.version()
    assert models[0].id == "tiny"
    assert healthy is True
    assert version.startswith("0.32")


def test_base_url_without_v1_and_trailing_slash(vllm_plain: RealServer) -> None:
    for url in (vllm_plain.url, vllm_plain.base_url + "/"):
        with VllmClient(url, timeout=TIMEOUT) as client:
            assert client.base_url == vllm_plain.base_url
            assert client.models.list()[0].id == "tiny"


def test_base_url_from_env(vllm_plain: RealServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", vllm_plain.base_url)
    with VllmClient(timeout=TIMEOUT) as client:
        assert client.base_url == vllm_plain.base_url
        assert client.server.health() is True


def test_health_false_or_error_when_down() -> None:
    with VllmClient(DEAD_URL, max_retries=0, timeout=5) as client:
        try:
            healthy = client.server.health()
        except APIConnectionError:
            return
        assert healthy is False


# =========================================================================== apikey


def test_apikey_missing_key_is_authentication_error(vllm_apikey: RealServer) -> None:
    with vllm_apikey.client() as client:
        assert client.api_key is None
        with pytest.raises(AuthenticationError) as ei:
            client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2)
    assert ei.value.status_code == 401
    assert ei.value.is_retryable is False


def test_apikey_wrong_key_is_not_leaked(vllm_apikey: RealServer) -> None:
    secret = "wrong-secret-3f9a7c"
    with vllm_apikey.client(api_key=secret) as client:
        with pytest.raises(AuthenticationError) as ei:
            client.models.list()
        assert secret not in repr(client)
    err = ei.value
    assert err.status_code == 401
    assert secret not in str(err)
    assert secret not in repr(err)


def test_apikey_with_key_succeeds(vllm_apikey: RealServer) -> None:
    with vllm_apikey.client(api_key=vllm_apikey.api_key) as client:
        assert client.api_key == "test-key"
        resp = client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2, seed=1)
        assert isinstance(resp.content, str)
        assert [m.id for m in client.models.list()] == ["tiny"]
        # model=None resolution must authenticate too
        assert client.chat.completions.create(messages=MESSAGES, max_tokens=2).model == "tiny"


def test_apikey_from_env(vllm_apikey: RealServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_API_KEY", "test-key")
    with vllm_apikey.client() as client:
        assert client.api_key == "test-key"
        resp = client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2, seed=1)
    assert isinstance(resp.content, str)


def test_apikey_argument_wins_over_env(vllm_apikey: RealServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_API_KEY", "wrong-from-env")
    with vllm_apikey.client(api_key="test-key") as client:
        assert client.models.list()[0].id == "tiny"


def test_apikey_with_options(vllm_apikey: RealServer) -> None:
    with vllm_apikey.client() as client:
        authed = client.with_options(api_key="test-key")
        assert authed.models.list()[0].id == "tiny"
        with pytest.raises(AuthenticationError):
            client.models.list()


def test_apikey_open_endpoints(vllm_apikey: RealServer) -> None:
    # vLLM leaves /health and /version open even with --api-key
    with vllm_apikey.client() as client:
        assert client.server.health() is True
        assert client.server.version().startswith("0.32")


async def test_apikey_async(vllm_apikey: RealServer) -> None:
    async with vllm_apikey.aclient() as client:
        with pytest.raises(AuthenticationError):
            await client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2)
    async with vllm_apikey.aclient(api_key="test-key") as client:
        resp = await client.chat.completions.create(messages=MESSAGES, model="tiny", max_tokens=2)
    assert isinstance(resp.content, str)
