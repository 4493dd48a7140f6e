"""Real vLLM 0.32 non-stream captures decoded into the result types, and every error capture
through error_from_response.

Every shortcut is checked against the raw JSON it reads, so a field vLLM renames or moves
shows up here rather than in a user's program.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from golden_fixtures import (
    FIXTURES_DIR,
    fixture_names,
    is_event_stream,
    load_fixture,
    response_bytes,
    response_headers,
)

from vllm_client import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ChatCompletion,
    Completion,
    InternalServerError,
    ModelList,
    ModelNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    ToolArgumentsError,
    UnprocessableEntityError,
)
from vllm_client._errors import error_from_response

DECODED_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/models")


def _select(*, errors: bool, path: str | None = None) -> list[str]:
    out = []
    for name in fixture_names():
        fx = load_fixture(name)
        resp = fx.get("response") or {}
        status = resp.get("status")
        if status is None or "body" not in resp:
            continue
        if errors:
            if status >= 400:
                out.append(name)
        elif status == 200 and fx["request"].get("path") == path and not is_event_stream(fx):
            out.append(name)
    return out


CHAT = _select(errors=False, path="/v1/chat/completions")
COMPLETIONS = _select(errors=False, path="/v1/completions")
MODELS = _select(errors=False, path="/v1/models")
ERRORS = _select(errors=True)


def _params(names: list[str]) -> list[str]:
    if not names:  # an empty selection would silently skip the test
        raise FileNotFoundError(f"no matching captures in {FIXTURES_DIR}")
    return names


def _raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(response_bytes(load_fixture(name)))
    return data


# -- the fixture set is really there ---------------------------------------------------------------


def test_fixture_set_found() -> None:
    assert FIXTURES_DIR.is_dir(), f"fixtures not found at {FIXTURES_DIR}"
    assert len(fixture_names()) > 150
    assert len(CHAT) > 40
    assert len(COMPLETIONS) > 10
    assert len(MODELS) >= 3
    assert len(ERRORS) > 40
    for must in ("chat_stop_string", "chat_stop_token_ids", "chat_n2", "chat_return_token_ids",
                 "hermes_auto_forced_two_tool_calls", "r1_plain", "chat_logprobs"):
        assert must in CHAT
    for must in ("completions_n2", "completions_return_token_ids", "completions_prompt_list"):
        assert must in COMPLETIONS
    assert "models" in MODELS
    for must in ("err_unknown_model", "err_route_not_found", "err_method_not_allowed", "auth_chat_no_key"):
        assert must in ERRORS


# -- shared checks --------------------------------------------------------------------------------------


def _check_usage(obj: ChatCompletion | Completion, raw: dict[str, Any]) -> None:
    ru = raw.get("usage")
    if ru is None:
        assert obj.usage is None
        return
    u = obj.usage
    assert u is not None
    assert u.prompt_tokens == ru["prompt_tokens"]
    assert u.completion_tokens == ru["completion_tokens"]
    assert u.total_tokens == ru["total_tokens"] == ru["prompt_tokens"] + ru["completion_tokens"]
    details = ru.get("prompt_tokens_details")
    assert u.prompt_tokens_details == details
    assert u.completion_tokens_details == ru.get("completion_tokens_details")
    expected_cached = details.get("cached_tokens") if isinstance(details, dict) else None
    assert u.cached_tokens == expected_cached


def _check_top(obj: ChatCompletion | Completion, raw: dict[str, Any]) -> None:
    assert obj.raw is raw
    assert obj.id == raw["id"]
    assert obj.object == raw["object"]
    assert obj.created == raw["created"]
    assert obj.model == raw["model"]
    assert obj.server_metrics == raw.get("metrics")
    assert obj.timing is None
    _check_usage(obj, raw)


# -- chat ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _params(CHAT))
def test_chat_decodes(name: str) -> None:
    raw = _raw(name)
    resp = ChatCompletion(raw)
    _check_top(resp, raw)
    assert raw["object"] == "chat.completion"
    assert resp.prompt_token_ids == raw.get("prompt_token_ids")
    assert resp.prompt_logprobs == raw.get("prompt_logprobs")
    assert len(resp.choices) == len(raw["choices"]) >= 1
    for choice, rc in zip(resp.choices, raw["choices"], strict=True):
        rm = rc["message"]
        assert choice.index == rc["index"]
        assert choice.finish_reason == rc["finish_reason"]
        assert choice.stop_reason == rc.get("stop_reason")
        assert (choice.logprobs.raw if choice.logprobs is not None else None) == rc.get("logprobs")
        assert choice.token_ids == rc.get("token_ids")
        msg = choice.message
        assert msg.role == rm["role"] == "assistant"
        assert msg.content == rm.get("content")
        expected_reasoning = rm.get("reasoning", rm.get("reasoning_content"))
        assert msg.reasoning == expected_reasoning
        assert msg.reasoning_content == expected_reasoning
        assert msg.refusal == rm.get("refusal")
        raw_calls = rm.get("tool_calls") or []
        assert len(msg.tool_calls) == len(raw_calls)
        for tc, rtc in zip(msg.tool_calls, raw_calls, strict=True):
            assert tc.id == rtc["id"]
            assert tc.type == rtc["type"] == "function"
            assert tc.name == tc.function.name == rtc["function"]["name"]
            assert tc.arguments == tc.function.arguments == rtc["function"]["arguments"]
            try:
                expected_args = json.loads(rtc["function"]["arguments"])
            except ValueError:
                expected_args = None
            if isinstance(expected_args, dict):
                assert tc.parse_args() == expected_args
            else:
                with pytest.raises(ToolArgumentsError):
                    tc.parse_args()
    # shortcuts read the first choice
    first = raw["choices"][0]
    assert resp.content == first["message"].get("content")
    assert resp.reasoning == resp.choices[0].message.reasoning
    assert resp.reasoning_content == resp.reasoning
    assert resp.finish_reason == first["finish_reason"]
    assert resp.stop_reason == first.get("stop_reason")
    assert resp.tool_calls == resp.choices[0].message.tool_calls
    assert resp.has_tool_calls() is bool(first["message"].get("tool_calls"))
    assert resp.first_tool_call() == (resp.tool_calls[0] if resp.tool_calls else None)
    if resp.has_tool_calls():
        assert resp.finish_reason == "tool_calls" or name.startswith("hermes_named")
    # assistant_message
    am = resp.assistant_message()
    assert am["role"] == "assistant"
    assert am["content"] == first["message"].get("content")
    assert "reasoning" not in am and "reasoning_content" not in am
    if resp.tool_calls:
        assert am["tool_calls"] == [
            {"id": t["id"], "type": "function",
             "function": {"name": t["function"]["name"], "arguments": t["function"]["arguments"]}}
            for t in first["message"]["tool_calls"]]
    else:
        assert "tool_calls" not in am
    with_reasoning = resp.assistant_message(include_reasoning=True)
    if resp.reasoning is not None:
        assert with_reasoning["reasoning"] == resp.reasoning
    else:
        assert "reasoning" not in with_reasoning
    json.dumps(am)  # ready to send back


def test_chat_stop_string() -> None:
    resp = ChatCompletion(_raw("chat_stop_string"))
    assert resp.finish_reason == "stop"
    assert resp.stop_reason == "###"
    assert "###" not in (resp.content or "")
    include = ChatCompletion(_raw("chat_stop_string_include"))
    assert include.stop_reason == "###"
    assert (include.content or "").endswith("###")


def test_chat_stop_token_ids() -> None:
    resp = ChatCompletion(_raw("chat_stop_token_ids"))
    assert resp.finish_reason == "stop"
    assert resp.stop_reason == 3520
    assert isinstance(resp.stop_reason, int)


def test_chat_length_has_no_stop_reason() -> None:
    resp = ChatCompletion(_raw("chat_max_tokens_1"))
    assert resp.finish_reason == "length"
    assert resp.stop_reason is None
    assert resp.usage is not None and resp.usage.completion_tokens == 1


def test_chat_n2() -> None:
    resp = ChatCompletion(_raw("chat_n2"))
    assert len(resp.choices) == 2
    assert [c.index for c in resp.choices] == [0, 1]
    assert resp.content == resp.choices[0].message.content
    assert [c.finish_reason for c in resp.choices] == ["length", "length"]
    assert resp.usage is not None and resp.usage.completion_tokens == 2 * 6  # both choices, max_tokens=6


def test_chat_return_token_ids() -> None:
    raw = _raw("chat_return_token_ids")
    resp = ChatCompletion(raw)
    ids = resp.choices[0].token_ids
    assert ids == [2410, 2407, 161, 993]
    assert resp.usage is not None and len(ids) == resp.usage.completion_tokens
    assert resp.prompt_token_ids is not None
    assert len(resp.prompt_token_ids) == resp.usage.prompt_tokens
    assert ChatCompletion(_raw("chat_basic")).choices[0].token_ids is None


def test_chat_logprobs() -> None:
    resp = ChatCompletion(_raw("chat_logprobs"))
    lp = resp.choices[0].logprobs
    assert lp is not None
    content = lp["content"]  # dict-style access still works
    assert resp.usage is not None and len(content) == resp.usage.completion_tokens
    assert all(len(entry["top_logprobs"]) == 3 for entry in content)
    typed = lp.content
    assert typed is not None and [t.token for t in typed] == [e["token"] for e in content]
    assert typed[0].logprob == content[0]["logprob"] and typed[0].bytes == content[0]["bytes"]
    assert [a.token for a in typed[0].top_logprobs] == [a["token"] for a in content[0]["top_logprobs"]]
    assert ChatCompletion(_raw("chat_basic")).choices[0].logprobs is None


def test_chat_prompt_logprobs() -> None:
    resp = ChatCompletion(_raw("chat_prompt_logprobs"))
    assert resp.prompt_logprobs is not None
    assert resp.prompt_logprobs[0] is None
    assert resp.usage is not None and len(resp.prompt_logprobs) == resp.usage.prompt_tokens


def test_chat_two_tool_calls() -> None:
    resp = ChatCompletion(_raw("hermes_auto_forced_two_tool_calls"))
    assert resp.finish_reason == "tool_calls"
    assert resp.content is None
    assert [tc.name for tc in resp.tool_calls] == ["get_weather", "get_time"]
    assert [tc.parse_args() for tc in resp.tool_calls] == [{"location": "Tokyo"}, {"timezone": "Asia/Tokyo"}]
    assert resp.first_tool_call() is resp.tool_calls[0]
    assert resp.tool_calls[0].id.startswith("chatcmpl-tool-")
    msg = resp.tool_calls[0].result({"temp": 25})
    assert msg == {"role": "tool", "tool_call_id": resp.tool_calls[0].id, "content": '{"temp": 25}'}


def test_chat_reasoning() -> None:
    raw = _raw("r1_plain")
    assert "reasoning" in raw["choices"][0]["message"]
    resp = ChatCompletion(raw)
    assert resp.reasoning == raw["choices"][0]["message"]["reasoning"]
    assert resp.reasoning
    am = resp.assistant_message()
    assert "reasoning" not in am
    assert resp.assistant_message(include_reasoning=True)["reasoning"] == resp.reasoning


def test_some_chat_fixtures_have_reasoning_and_tools() -> None:
    with_reasoning = [n for n in CHAT if ChatCompletion(_raw(n)).reasoning]
    with_tools = [n for n in CHAT if ChatCompletion(_raw(n)).has_tool_calls()]
    assert len(with_reasoning) >= 5
    assert len(with_tools) >= 4


# -- completions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _params(COMPLETIONS))
def test_completion_decodes(name: str) -> None:
    raw = _raw(name)
    comp = Completion(raw)
    _check_top(comp, raw)
    assert raw["object"] == "text_completion"
    assert len(comp.choices) == len(raw["choices"]) >= 1
    for choice, rc in zip(comp.choices, raw["choices"], strict=True):
        assert choice.index == rc["index"]
        assert choice.text == rc["text"]
        assert choice.finish_reason == rc["finish_reason"]
        assert choice.stop_reason == rc.get("stop_reason")
        assert (choice.logprobs.raw if choice.logprobs is not None else None) == rc.get("logprobs")
        assert choice.token_ids == rc.get("token_ids")
        assert choice.prompt_token_ids == rc.get("prompt_token_ids")
    assert comp.text == raw["choices"][0]["text"]
    assert comp.texts == [c["text"] for c in raw["choices"]]
    assert comp.finish_reason == raw["choices"][0]["finish_reason"]
    assert comp.stop_reason == raw["choices"][0].get("stop_reason")


def test_completion_n2_and_prompt_list() -> None:
    n2 = Completion(_raw("completions_n2"))
    assert len(n2.choices) == 2
    assert [c.index for c in n2.choices] == [0, 1]
    plist = Completion(_raw("completions_prompt_list"))
    assert len(plist.choices) == 2
    assert len(plist.texts) == 2


def test_completion_token_ids() -> None:
    comp = Completion(_raw("completions_return_token_ids"))
    c = comp.choices[0]
    assert c.token_ids == [3723, 654, 350]
    assert c.prompt_token_ids == [502, 288, 3386, 266, 601, 478, 1308, 1859]
    assert comp.usage is not None
    assert comp.usage.prompt_tokens == len(c.prompt_token_ids)
    assert comp.usage.completion_tokens == len(c.token_ids)


def test_completion_logprobs() -> None:
    comp = Completion(_raw("completions_logprobs"))
    lp = comp.choices[0].logprobs
    assert lp is not None
    assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"])
    assert lp.tokens == lp["tokens"] and lp.token_logprobs == lp["token_logprobs"]
    assert lp.top_logprobs == lp["top_logprobs"] and lp.text_offset == lp["text_offset"]
    echo = Completion(_raw("completions_echo_logprobs"))
    assert echo.text is not None and echo.text.startswith("def fibonacci(n):")


def test_completion_length_clamped() -> None:
    comp = Completion(_raw("completions_max_tokens_clamped_to_context"))
    assert comp.finish_reason == "length"
    assert comp.usage is not None and comp.usage.completion_tokens == 1807


# -- models --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _params(MODELS))
def test_models_decode(name: str) -> None:
    raw = _raw(name)
    models = ModelList(raw)
    assert models.raw is raw
    assert isinstance(models, list)
    assert len(models) == len(raw["data"]) >= 1
    assert models.ids == [m["id"] for m in raw["data"]]
    for m, rm in zip(models, raw["data"], strict=True):
        assert m.raw is rm
        assert m.id == rm["id"]
        assert m.object == rm["object"] == "model"
        assert m.created == rm["created"]
        assert m.owned_by == rm["owned_by"]
        assert m.root == rm["root"]
        assert m.parent == rm["parent"]
        assert m.max_model_len == rm["max_model_len"]


def test_models_values() -> None:
    models = ModelList(_raw("models"))
    assert models.ids == ["tiny"]
    m = models[0]
    assert (m.id, m.owned_by, m.root, m.parent, m.max_model_len) == ("tiny", "vllm", "/models/tiny-qwen", None,
                                                                      2048)


# -- errors -----------------------------------------------------------------------------------------------------

_MODEL_MISSING_FIXTURES = {"err_unknown_model", "err_unknown_model_completions", "embed_err_unknown_model",
                           "audio_err_unknown_model", "messages_unknown_model"}


def _expected_class(name: str, status: int) -> type[APIError]:
    if status == 404:
        return ModelNotFoundError if name in _MODEL_MISSING_FIXTURES else NotFoundError
    return {400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 422: UnprocessableEntityError,
            500: InternalServerError}.get(status, APIError)


@pytest.mark.parametrize("name", _params(ERRORS))
def test_error_fixture(name: str) -> None:
    fx = load_fixture(name)
    status: int = fx["response"]["status"]
    headers = response_headers(fx)
    body = response_bytes(fx)
    err = error_from_response(status, headers, body)
    assert type(err) is _expected_class(name, status)
    assert err.status_code == status
    payload = json.loads(body)
    assert err.body == payload
    e = payload.get("error")
    if isinstance(e, dict):
        assert err.message == e["message"]
        assert err.param == e.get("param")  # (Anthropic-shaped errors have no param and code)
        assert err.error_type == e["type"]
        assert err.code == e.get("code")
    elif isinstance(e, str):
        assert err.message == e
        assert err.param is None
    else:
        assert err.message == payload["detail"]
        assert err.param is None
    assert err.request_id == headers.get("x-request-id")
    assert err.is_retryable is (status >= 500)  # 4xx captures: none worth retrying
    text = str(err)
    assert str(status) in text
    assert err.message in text
    if err.error_type:
        assert err.error_type in text


def test_error_classes_in_the_captures() -> None:
    classes = {name: type(error_from_response(
        load_fixture(name)["response"]["status"], response_headers(load_fixture(name)),
        response_bytes(load_fixture(name)))) for name in ERRORS}
    assert classes["err_unknown_model"] is ModelNotFoundError
    assert classes["err_unknown_model_completions"] is ModelNotFoundError
    assert classes["embed_err_unknown_model"] is ModelNotFoundError
    assert classes["err_route_not_found"] is NotFoundError
    assert classes["responses_get_by_id"] is NotFoundError
    assert classes["err_method_not_allowed"] is APIError
    assert classes["auth_chat_no_key"] is AuthenticationError
    assert classes["err_prompt_too_long"] is BadRequestError
    assert not issubclass(classes["err_route_not_found"], ModelNotFoundError)
    # every 404 that is not about a model stays a plain NotFoundError
    for name, cls in classes.items():
        if load_fixture(name)["response"]["status"] == 404 and name not in _MODEL_MISSING_FIXTURES:
            assert cls is NotFoundError, name


def test_error_param_as_sent() -> None:
    def err(name: str) -> APIError:
        fx = load_fixture(name)
        return error_from_response(fx["response"]["status"], response_headers(fx), response_bytes(fx))

    assert err("err_max_tokens_too_large").param == "max_tokens"
    assert err("err_prompt_too_long").param == "input_tokens"
    assert err("err_unknown_model").param == "model"
    assert err("err_n_zero").param is None
    assert err("err_top_logprobs_without_logprobs").param == "top_logprobs"
    assert err("err_missing_messages").param == "body.messages"
    assert err("err_temperature_negative").message == (
        "temperature must be non-negative, got -1.0. (parameter=temperature, value=-1.0)")
    assert err("auth_models_no_key").message == "Unauthorized"
    assert err("err_method_not_allowed").message == "Method Not Allowed"
