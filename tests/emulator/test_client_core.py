"""Every public method of the core client against the emulator, sync and async."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

import vllm_client as vc
from vllm_client.testing import DropConnection, HtmlError, MockVllmServer

MSG = [{"role": "user", "content": "hello there"}]


def test_chat_basic(api: Any, vllm_mock: MockVllmServer) -> None:
    resp = api(api.client.chat.completions.create(messages=MSG, max_tokens=5, seed=3))
    assert isinstance(resp, vc.ChatCompletion)
    assert isinstance(resp.content, str) and resp.content
    assert resp.finish_reason in ("length", "stop")
    assert resp.usage is not None and resp.usage.completion_tokens <= 5
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.model == vllm_mock.model
    assert resp.raw["choices"][0]["message"]["content"] == resp.content
    assert resp.choices[0].message.role == "assistant"
    assert resp.timing is not None and resp.timing.total_s >= resp.timing.first_byte_s > 0
    sent = vllm_mock.requests_to("/v1/chat/completions")[-1]
    assert sent.json["messages"] == MSG and sent.json["max_tokens"] == 5 and sent.json["seed"] == 3
    assert sent.json["model"] == vllm_mock.model  # model=None resolved from /v1/models


def test_model_resolved_once_and_cached(api: Any, vllm_mock: MockVllmServer) -> None:
    for _ in range(3):
        api(api.client.chat.completions.create(messages=MSG, max_tokens=2))
    assert len(vllm_mock.requests_to("/v1/models")) == 1
    other = api.client.with_options(timeout=10)
    api(other.chat.completions.create(messages=MSG, max_tokens=2))
    assert len(vllm_mock.requests_to("/v1/models")) == 1  # the cache is shared with copies


def test_model_none_with_several_models_is_a_clear_error(make_api: Any) -> None:
    with MockVllmServer(models=["a", "b"]) as server:
        api = make_api(server.base_url)
        with pytest.raises(ValueError, match="serves 2 models"):
            api(api.client.chat.completions.create(messages=MSG))
        resp = api(api.client.chat.completions.create(messages=MSG, model="b", max_tokens=2))
        assert resp.model == "b"


def test_vllm_extras_are_sent(api: Any, vllm_mock: MockVllmServer) -> None:
    api(api.client.chat.completions.create(
        messages=MSG, max_tokens=4, top_k=20, min_p=0.05, repetition_penalty=1.2, ignore_eos=True, min_tokens=2,
        stop_token_ids=[7], include_stop_str_in_output=True, chat_template_kwargs={"enable_thinking": False},
        priority=1, cache_salt="s", return_token_ids=True, extra_body={"custom": 1}, extra={"other": 2}
        if False else None))
    body = vllm_mock.last_request.json
    assert body["top_k"] == 20 and body["min_p"] == 0.05 and body["repetition_penalty"] == 1.2
    assert body["ignore_eos"] is True and body["min_tokens"] == 2 and body["stop_token_ids"] == [7]
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["custom"] == 1 and body["return_token_ids"] is True


def test_guided_fields_become_structured_outputs(api: Any, vllm_mock: MockVllmServer) -> None:
    resp = api(api.client.chat.completions.create(messages=MSG, guided_choice=["yes", "no"], max_tokens=4))
    body = vllm_mock.last_request.json
    assert "guided_choice" not in body
    assert body["structured_outputs"] == {"choice": ["yes", "no"]}
    assert resp.content in ("yes", "no")
    api(api.client.chat.completions.create(messages=MSG, extra_body={"guided_regex": "[a-z]+"}, max_tokens=4))
    assert vllm_mock.last_request.json["structured_outputs"] == {"regex": "[a-z]+"}


def test_invalid_input_fails_before_sending(api: Any, vllm_mock: MockVllmServer) -> None:
    create = api.client.chat.completions.create
    bad: list[tuple[type[Exception], dict[str, Any]]] = [
        (ValueError, {"messages": []}),
        (TypeError, {"messages": "hi"}),
        (ValueError, {"messages": MSG, "temperature": -1}),
        (ValueError, {"messages": MSG, "n": 0}),
        (ValueError, {"messages": MSG, "top_p": 1.5}),
        (ValueError, {"messages": MSG, "max_tokens": 0}),
        (TypeError, {"messages": MSG, "temprature": 0.5}),
        (TypeError, {"messages": MSG, "stream": "yes"}),
    ]
    for exc, kwargs in bad:
        with pytest.raises(exc):
            api(create(**kwargs))
    assert vllm_mock.requests == []


def test_extra_headers_query_and_request_id(api: Any, vllm_mock: MockVllmServer) -> None:
    api(api.client.chat.completions.create(messages=MSG, model="mock-model", max_tokens=2,
                                           extra_headers={"X-Trace": "t1"}, extra_query={"q": "1"}))
    req = vllm_mock.last_request
    assert req.headers["x-trace"] == "t1" and req.query == {"q": "1"}
    assert req.headers["content-type"] == "application/json"
    assert len(req.headers["x-request-id"]) >= 16
    assert "authorization" not in req.headers
    api(api.client.chat.completions.create(messages=MSG, model="mock-model", max_tokens=2,
                                           extra_headers={"x-request-id": "mine-1"}))
    assert vllm_mock.last_request.headers["x-request-id"] == "mine-1"


def test_api_key(make_api: Any) -> None:
    with MockVllmServer(api_key="sekret") as server:
        anon = make_api(server.base_url)
        with pytest.raises(vc.AuthenticationError) as info:
            api_call = anon.client.models.list()
            anon(api_call)
        assert info.value.status_code == 401 and "Unauthorized" in str(info.value)
        keyed = make_api(server.base_url, api_key="sekret")
        assert keyed(keyed.client.models.list()).ids == [server.model]
        assert server.last_request.headers["authorization"] == "Bearer sekret"
        assert "sekret" not in repr(keyed.client)
        assert keyed(keyed.client.server.health()) is True  # /health needs no key


def test_env_vars(monkeypatch: pytest.MonkeyPatch, make_api: Any, vllm_mock: MockVllmServer) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", vllm_mock.url)
    monkeypatch.setenv("VLLM_API_KEY", "from-env")
    monkeypatch.setenv("VLLM_MAX_RETRIES", "5")
    monkeypatch.setenv("VLLM_TIMEOUT", "12")
    api = make_api(None)
    assert api.client.base_url == vllm_mock.base_url
    assert api.client.api_key == "from-env" and api.client.max_retries == 5
    assert api.client.timeout == vc.Timeout(connect=12, read=12)
    api(api.client.models.list())
    assert vllm_mock.last_request.headers["authorization"] == "Bearer from-env"
    explicit = make_api(vllm_mock.base_url, api_key="arg", max_retries=0)
    assert explicit.client.api_key == "arg" and explicit.client.max_retries == 0


def test_completions(api: Any, vllm_mock: MockVllmServer) -> None:
    one = api(api.client.completions.create(prompt="Once upon", max_tokens=4, seed=1))
    assert isinstance(one, vc.Completion) and one.text and one.usage is not None
    many = api(api.client.completions.create(prompt=["a", "b"], max_tokens=3, n=2))
    assert [c.index for c in many.choices] == [0, 1, 2, 3]
    ids = api(api.client.completions.create(prompt=[1, 2, 3], max_tokens=2))
    assert vllm_mock.last_request.json["prompt"] == [1, 2, 3] and ids.text is not None
    lists = api(api.client.completions.create(prompt=[[1, 2], [3]], max_tokens=2))
    assert len(lists.choices) == 2
    with pytest.raises(TypeError):
        api(api.client.completions.create(prompt=[1, "a"]))


def test_models_health_version_load_metrics(api: Any, vllm_mock: MockVllmServer) -> None:
    models = api(api.client.models.list())
    assert models.ids == [vllm_mock.model]
    assert models[0].max_model_len == vllm_mock.max_model_len and models[0].owned_by == "vllm"
    assert api(api.client.models.retrieve(vllm_mock.model)).id == vllm_mock.model
    with pytest.raises(vc.ModelNotFoundError):
        api(api.client.models.retrieve("nope"))
    assert api(api.client.server.health()) is True
    assert api(api.client.server.version()).startswith("0.")
    assert api(api.client.server.load()) >= 0
    metrics = api(api.client.server.metrics())
    assert metrics and all(isinstance(v, float) for v in metrics.values())
    assert vllm_mock.requests_to("/health")[0].path == "/health"  # served at the root, not /v1


def test_health_is_false_when_down(make_api: Any) -> None:
    server = MockVllmServer().start()
    url = server.base_url
    server.stop()
    api = make_api(url, max_retries=0, timeout=vc.Timeout(connect=2, read=2))
    assert api(api.client.server.health()) is False


def test_unknown_model_and_server_400(api: Any, vllm_mock: MockVllmServer) -> None:
    with pytest.raises(vc.ModelNotFoundError) as info:
        api(api.client.chat.completions.create(messages=MSG, model="no-such"))
    err = info.value
    assert isinstance(err, vc.NotFoundError) and err.status_code == 404 and "no-such" in err.message
    assert err.request_id and not err.is_retryable
    with pytest.raises(vc.BadRequestError) as info2:
        api(api.client.chat.completions.create(messages=MSG, max_tokens=100_000))
    assert info2.value.param == "max_tokens" and "max_model_len" in info2.value.message
    clone = pickle.loads(pickle.dumps(info2.value))
    assert type(clone) is vc.BadRequestError and clone.param == "max_tokens"


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_with_one_request_id(api: Any, vllm_mock: MockVllmServer,
                                                            status: int) -> None:
    vllm_mock.fail_next(status, times=2)
    resp = api(api.client.chat.completions.create(messages=MSG, model="mock-model", max_tokens=2))
    assert resp.content
    reqs = vllm_mock.requests_to("/v1/chat/completions")
    assert len(reqs) == 3
    assert len({r.headers["x-request-id"] for r in reqs}) == 1
    assert len(api.sleeps) == 2 and 0 < api.sleeps[0] <= 0.5 and api.sleeps[1] <= 1.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(api: Any, vllm_mock: MockVllmServer, status: int) -> None:
    vllm_mock.fail_next(status)
    with pytest.raises(vc.APIError) as info:
        api(api.client.chat.completions.create(messages=MSG, model="mock-model", max_tokens=2))
    assert info.value.status_code == status
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 1 and api.sleeps == []


def test_retries_exhausted_raise_the_last_error(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.fail_next(503, times=None)
    with pytest.raises(vc.ServiceUnavailableError):
        api(api.client.chat.completions.create(messages=MSG, model="mock-model", max_tokens=2))
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 3  # 1 + max_retries (2)


def test_retry_after_and_on_retry(make_api: Any, vllm_mock: MockVllmServer) -> None:
    seen: list[tuple[int, str, float]] = []
    api = make_api(vllm_mock.base_url, max_retries=3,
                   on_retry=lambda n, err, delay: seen.append((n, type(err).__name__, delay)))
    api.fake_sleep()
    vllm_mock.fail_next(429, retry_after=3)
    vllm_mock.fail_next(503, retry_after_ms=250)
    api(api.client.chat.completions.create(messages=MSG, model="mock-model", max_tokens=2))
    assert api.sleeps == [3.0, 0.25]
    assert seen == [(1, "RateLimitError", 3.0), (2, "ServiceUnavailableError", 0.25)]


def test_max_retries_zero_and_with_options(api: Any, vllm_mock: MockVllmServer) -> None:
    no_retry = api.client.with_options(max_retries=0)
    assert no_retry._transport is api.client._transport
    vllm_mock.fail_next(500)
    with pytest.raises(vc.InternalServerError):
        api(no_retry.chat.completions.create(messages=MSG, model="mock-model", max_tokens=2))
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 1


def test_dropped_connection_is_retried(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.add_fault(DropConnection(), times=1, path="/v1/chat/completions")
    resp = api(api.client.chat.completions.create(messages=MSG, model="mock-model", max_tokens=2))
    assert resp.content and len(api.sleeps) == 1


def test_connection_refused_is_api_connection_error(make_api: Any) -> None:
    server = MockVllmServer().start()
    url = server.base_url
    server.stop()
    api = make_api(url, max_retries=1)
    api.fake_sleep()
    with pytest.raises(vc.APIConnectionError) as info:
        api(api.client.models.list())
    assert isinstance(info.value, ConnectionError) and len(api.sleeps) == 1


def test_html_and_empty_error_bodies(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.add_fault(HtmlError(502), times=3, path="/v1/models")
    with pytest.raises(vc.InternalServerError) as info:
        api(api.client.models.list())
    assert info.value.status_code == 502 and "<" not in info.value.message


def test_read_timeout(make_api: Any, vllm_mock: MockVllmServer) -> None:
    from vllm_client.testing import Delay

    vllm_mock.add_fault(Delay(3.0), times=1, path="/v1/models")
    api = make_api(vllm_mock.base_url, timeout=vc.Timeout(connect=2, read=0.3), max_retries=0)
    with pytest.raises(vc.APITimeoutError) as info:
        api(api.client.models.list())
    assert isinstance(info.value, TimeoutError)


def test_per_call_timeout_overrides(make_api: Any, vllm_mock: MockVllmServer) -> None:
    from vllm_client.testing import Delay

    vllm_mock.add_fault(Delay(3.0), times=1, path="/v1/models")
    api = make_api(vllm_mock.base_url, timeout=60, max_retries=0)
    with pytest.raises(vc.APITimeoutError):
        api(api.client.models.list(timeout=0.3))


def test_client_context_manager_closes(kind: str, vllm_mock: MockVllmServer) -> None:
    import asyncio

    if kind == "sync":
        with vc.VllmClient(vllm_mock.base_url) as client:
            client.models.list()
        assert client._transport.closed
        with pytest.raises(vc.APIConnectionError):
            client.models.list()
    else:
        async def run() -> None:
            async with vc.AsyncVllmClient(vllm_mock.base_url) as client:
                await client.models.list()
            assert client._transport.closed

        asyncio.run(run())


def test_unreadable_json_body_is_response_parse_error(api: Any, vllm_mock: MockVllmServer) -> None:
    from vllm_client.testing import RawResponse

    vllm_mock.queue_reply(RawResponse(200, {"content-type": "application/json"}, b"not json"), path="/v1/models")
    with pytest.raises(vc.ResponseParseError):
        api(api.client.models.list())


def test_request_id_keyword_travels_in_the_header(api: Any, vllm_mock: MockVllmServer) -> None:
    """vLLM takes X-Request-Id over the body's request_id: the keyword must set the header."""
    resp = api(api.client.chat.completions.create(messages=MSG, model="mock-model", max_tokens=2,
                                                  request_id="kw-id-7"))
    assert vllm_mock.last_request.headers["x-request-id"] == "kw-id-7"
    assert resp.id == "chatcmpl-kw-id-7"
