"""build_chat / build_completion validation and body building, guided_* translation, call options,
and ClientCore headers / URLs. Pure: nothing is sent."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import pytest

from vllm_client import Timeout
from vllm_client._client_base import ClientCore, choose_model
from vllm_client._config import UNSET, ClientConfig
from vllm_client._protocol.params import CHAT_FIELDS, COMPLETION_FIELDS, OPTION_FIELDS
from vllm_client._protocol.requests import (
    RequestSpec,
    build_chat,
    build_completion,
    build_simple,
    new_request_id,
    split_kwargs,
    translate_guided,
)
from vllm_client._protocol.schema import json_schema_for

MSGS = [{"role": "user", "content": "hi"}]


def chat(stream: bool = False, messages: Any = MSGS, **kw: Any) -> RequestSpec:
    return build_chat(messages, kw, stream=stream)


def comp(prompt: Any = "Once upon", stream: bool = False, **kw: Any) -> RequestSpec:
    return build_completion(prompt, kw, stream=stream)


# -- unknown names -------------------------------------------------------------------------------


def test_unknown_keyword_is_type_error_with_hint() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'temprature'.*did you mean 'temperature'"):
        chat(temprature=0.5)


def test_unknown_keyword_without_close_match() -> None:
    with pytest.raises(TypeError, match="zzzzqqq") as info:
        chat(zzzzqqq=1)
    assert "did you mean" not in str(info.value)


def test_unknown_keyword_completions() -> None:
    with pytest.raises(TypeError, match=r"'max_token'.*did you mean 'max_tokens'"):
        comp(max_token=5)


def test_chat_only_field_rejected_by_completions() -> None:
    with pytest.raises(TypeError, match="tools"):
        comp(tools=[])
    with pytest.raises(TypeError, match="suffix"):
        chat(suffix="x")


def test_split_kwargs() -> None:
    params, options = split_kwargs("create", {"temperature": 1, "timeout": 3, "extra": {}}, CHAT_FIELDS)
    assert params == {"temperature": 1}
    assert options == {"timeout": 3, "extra": {}}
    with pytest.raises(TypeError, match=r"create\(\) got an unexpected keyword argument 'nope'"):
        split_kwargs("create", {"nope": 1}, CHAT_FIELDS)


# -- every declared field is accepted ------------------------------------------------------------

_VALID: dict[str, Any] = {
    "temperature": 0.7, "top_p": 0.9, "min_p": 0.05, "top_k": 50, "repetition_penalty": 1.1,
    "presence_penalty": 0.5, "frequency_penalty": -0.5, "n": 2, "max_tokens": 16, "max_completion_tokens": 16,
    "min_tokens": 1, "seed": 7, "stop": ["END"], "stop_token_ids": [1, 2], "top_logprobs": 0, "logprobs": True,
    "model": "m", "response_format": {"type": "json_object"}, "prompt_logprobs": 1,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
}


@pytest.mark.parametrize("name", sorted(CHAT_FIELDS))
def test_every_chat_field_accepted(name: str) -> None:
    value = _VALID.get(name, "v")
    extra = {"logprobs": True} if name == "top_logprobs" else {}
    spec = chat(**{name: value}, **extra)
    body = spec.body
    assert body is not None
    if name.startswith("guided_") and name != "guided_decoding_backend":
        assert name not in body and "structured_outputs" in body
    elif name in ("guided_decoding_backend", "stream_options"):
        assert name not in body  # dropped: gone from vLLM / only for streams
    else:
        assert body[name] == value


@pytest.mark.parametrize("name", sorted(COMPLETION_FIELDS))
def test_every_completion_field_accepted(name: str) -> None:
    value = {"logprobs": 2, "best_of": 2}.get(name, _VALID.get(name, "v"))
    spec = comp(**{name: value})
    assert spec.body is not None
    if name not in ("guided_decoding_backend", "stream_options") and not name.startswith("guided_"):
        assert spec.body[name] == value


@pytest.mark.parametrize(
    "name",
    ["top_k", "min_p", "repetition_penalty", "length_penalty", "stop_token_ids", "include_stop_str_in_output",
     "ignore_eos", "min_tokens", "skip_special_tokens", "truncate_prompt_tokens", "prompt_logprobs",
     "allowed_token_ids", "bad_words", "priority", "request_id", "return_token_ids", "cache_salt",
     "thinking_token_budget", "include_reasoning", "add_generation_prompt", "continue_final_message",
     "documents", "chat_template", "chat_template_kwargs", "mm_processor_kwargs", "echo",
     "temperature", "top_p", "max_tokens", "n", "seed", "stop", "presence_penalty", "frequency_penalty",
     "logprobs", "top_logprobs", "tools", "tool_choice", "parallel_tool_calls", "response_format",
     "structured_outputs", "reasoning_effort", "model"],
)
def test_contract_fields_are_declared(name: str) -> None:
    assert name in CHAT_FIELDS


def test_option_fields() -> None:
    assert {"extra_headers", "extra_query", "extra_body", "extra", "timeout"} == OPTION_FIELDS
    assert not (OPTION_FIELDS & CHAT_FIELDS)


# -- value validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": -1}, "top_p"),
        ({"n": 0}, "n must be"),
        ({"n": -3}, "n must be"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": 0}, "max_completion_tokens"),
        ({"min_p": 1.5}, "min_p"),
        ({"min_p": -0.1}, "min_p"),
        ({"top_k": -2}, "top_k"),
        ({"repetition_penalty": 0}, "repetition_penalty"),
        ({"presence_penalty": 2.5}, "presence_penalty"),
        ({"frequency_penalty": -3}, "frequency_penalty"),
        ({"top_logprobs": 3}, "logprobs"),
        ({"top_logprobs": 3, "logprobs": False}, "logprobs"),
        ({"top_logprobs": -1, "logprobs": True}, "top_logprobs"),
        ({"min_tokens": 10, "max_tokens": 5}, "min_tokens"),
        ({"min_tokens": 10, "max_completion_tokens": 5}, "min_tokens"),
        ({"min_tokens": -1}, "min_tokens"),
    ],
)
def test_chat_value_errors(kw: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        chat(**kw)


@pytest.mark.parametrize(
    "kw",
    [
        {"temperature": 0}, {"top_p": 1}, {"top_p": 0.01}, {"min_p": 0}, {"min_p": 1}, {"top_k": -1},
        {"top_k": 0}, {"n": 1}, {"max_tokens": 1}, {"min_tokens": 5, "max_tokens": 5},
        {"top_logprobs": 5, "logprobs": True}, {"presence_penalty": -2}, {"frequency_penalty": 2},
        {"temperature": None, "top_p": None},
    ],
)
def test_chat_valid_edges(kw: dict[str, Any]) -> None:
    chat(**kw)


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        ({"temperature": -1}, "temperature"),
        ({"n": 0}, "n must be"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"logprobs": -1}, "logprobs"),
        ({"min_tokens": 9, "max_tokens": 3}, "min_tokens"),
    ],
)
def test_completion_value_errors(kw: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        comp(**kw)


@pytest.mark.parametrize(
    "kw",
    [
        {"stop": 123}, {"stop": ["a", 1]}, {"stop": {"a": 1}}, {"stop_token_ids": "1"}, {"stop_token_ids": [1, "2"]},
        {"temperature": "0.5"}, {"temperature": True}, {"n": 1.0}, {"n": True}, {"max_tokens": 10.0},
        {"seed": 1.5}, {"top_k": 2.0}, {"top_logprobs": 1.5, "logprobs": True},
    ],
)
def test_chat_type_errors(kw: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        chat(**kw)


def test_stop_forms_accepted() -> None:
    assert chat(stop="END").body["stop"] == "END"  # type: ignore[index]
    assert chat(stop=("a", "b")).body["stop"] == ["a", "b"]  # type: ignore[index]


# -- messages -----------------------------------------------------------------------------------------


def test_messages_as_str_is_type_error() -> None:
    with pytest.raises(TypeError, match="messages"):
        chat(messages="hi")
    with pytest.raises(TypeError, match="messages"):
        chat(messages=b"hi")
    with pytest.raises(TypeError, match="messages"):
        chat(messages={"role": "user", "content": "hi"})


def test_empty_messages_is_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        chat(messages=[])
    with pytest.raises(ValueError, match="empty"):
        chat(messages=())


def test_message_items_checked() -> None:
    with pytest.raises(TypeError, match=r"messages\[1\]"):
        chat(messages=[{"role": "user", "content": "a"}, "b"])
    with pytest.raises(ValueError, match="role"):
        chat(messages=[{"content": "a"}])


def test_message_objects_with_to_param_or_model_dump() -> None:
    class Msg:
        def to_param(self) -> dict[str, Any]:
            return {"role": "user", "content": "from object"}

    spec = chat(messages=(Msg(),))
    assert spec.body["messages"] == [{"role": "user", "content": "from object"}]  # type: ignore[index]


# -- body building --------------------------------------------------------------------------------------


def test_none_values_left_out() -> None:
    spec = chat(temperature=None, top_p=None, model=None, max_tokens=5, stop=None)
    assert spec.body == {"max_tokens": 5, "messages": MSGS}


def test_body_contents_and_spec() -> None:
    spec = chat(model="m", temperature=0, seed=1, stop_token_ids=(5, 6))
    assert spec.method == "POST"
    assert spec.path == "/chat/completions"
    assert spec.root is False
    assert spec.stream is False
    assert spec.body == {"model": "m", "temperature": 0, "seed": 1, "stop_token_ids": [5, 6], "messages": MSGS}
    assert spec.needs_model is False


def test_needs_model_only_without_model() -> None:
    assert chat().needs_model is True
    assert chat(model=None).needs_model is True
    assert chat(model="m").needs_model is False
    assert comp().needs_model is True
    assert comp(model="m").needs_model is False


def test_needs_model_false_when_model_in_extra_body() -> None:
    assert chat(extra_body={"model": "m"}).needs_model is False


def test_stream_adds_stream_and_usage() -> None:
    spec = chat(stream=True)
    assert spec.stream is True
    assert spec.body["stream"] is True  # type: ignore[index]
    assert spec.body["stream_options"] == {"include_usage": True}  # type: ignore[index]


def test_stream_options_given_is_kept() -> None:
    opts = {"include_usage": True, "continuous_usage_stats": True}
    assert chat(stream=True, stream_options=opts).body["stream_options"] == opts  # type: ignore[index]
    assert chat(stream=True, stream_options={"include_usage": False}).body["stream_options"] == {  # type: ignore[index]
        "include_usage": False}


def test_stream_options_none_opts_out() -> None:
    body = chat(stream=True, stream_options=None).body
    assert body is not None and "stream_options" not in body
    assert body["stream"] is True


def test_non_stream_has_no_stream_fields() -> None:
    body = chat(stream=False, stream_options={"include_usage": True}).body
    assert body is not None and "stream" not in body and "stream_options" not in body


def test_completion_stream_defaults() -> None:
    spec = comp(stream=True)
    assert spec.path == "/completions"
    assert spec.body["stream"] is True  # type: ignore[index]
    assert spec.body["stream_options"] == {"include_usage": True}  # type: ignore[index]
    assert "stream_options" not in comp(stream=True, stream_options=None).body  # type: ignore[operator]


# -- guided_* -> structured_outputs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [
        ("guided_json", "json", {"type": "object"}),
        ("guided_regex", "regex", "[a-z]+"),
        ("guided_choice", "choice", ["yes", "no"]),
        ("guided_grammar", "grammar", 'root ::= "a"'),
        ("guided_whitespace_pattern", "whitespace_pattern", r"[\n ]*"),
    ],
)
def test_guided_translated(old: str, new: str, value: Any) -> None:
    for spec in (chat(**{old: value}), chat(extra_body={old: value}), chat(extra={old: value}),
                 comp(**{old: value})):
        body = spec.body
        assert body is not None
        assert old not in body
        assert body["structured_outputs"] == {new: value}


def test_guided_merges_with_structured_outputs() -> None:
    body = chat(guided_whitespace_pattern=" ", structured_outputs={"regex": "a+"}).body
    assert body["structured_outputs"] == {"regex": "a+", "whitespace_pattern": " "}  # type: ignore[index]


def test_guided_same_value_is_no_conflict() -> None:
    body = chat(guided_regex="a+", structured_outputs={"regex": "a+"}).body
    assert body["structured_outputs"] == {"regex": "a+"}  # type: ignore[index]


def test_guided_conflict_is_value_error() -> None:
    with pytest.raises(ValueError, match="guided_regex"):
        chat(guided_regex="a+", structured_outputs={"regex": "b+"})
    with pytest.raises(ValueError, match="guided_json"):
        chat(structured_outputs={"json": {"type": "object"}}, extra_body={"guided_json": {"type": "array"}})


def test_guided_decoding_backend_dropped() -> None:
    body = chat(guided_decoding_backend="outlines", guided_regex="x").body
    assert body == {"structured_outputs": {"regex": "x"}, "messages": MSGS}
    assert "guided_decoding_backend" not in chat(guided_decoding_backend="xgrammar").body  # type: ignore[operator]


def test_guided_none_ignored() -> None:
    body = chat(guided_json=None).body
    assert body == {"messages": MSGS}


def test_translate_guided_in_place() -> None:
    body: dict[str, Any] = {"guided_choice": ["a"], "x": 1}
    translate_guided(body)
    assert body == {"x": 1, "structured_outputs": {"choice": ["a"]}}
    untouched: dict[str, Any] = {"structured_outputs": {"json": {}}}
    translate_guided(untouched)
    assert untouched == {"structured_outputs": {"json": {}}}


# -- extra_body / extra / options -------------------------------------------------------------------------


def test_extra_body_merged_last() -> None:
    spec = chat(temperature=0.1, extra_body={"temperature": 0.9, "ignore_eos": True, "custom": [1]})
    assert spec.body["temperature"] == 0.9  # type: ignore[index]
    assert spec.body["ignore_eos"] is True  # type: ignore[index]
    assert spec.body["custom"] == [1]  # type: ignore[index]


def test_extra_is_alias_of_extra_body() -> None:
    assert chat(extra={"foo": 1}).body == chat(extra_body={"foo": 1}).body


def test_extra_and_extra_body_both_type_error() -> None:
    with pytest.raises(TypeError, match="extra"):
        chat(extra={"a": 1}, extra_body={"b": 2})


def test_extra_body_must_be_mapping() -> None:
    with pytest.raises(TypeError, match="extra_body"):
        chat(extra_body=[("a", 1)])


def test_options_land_on_spec() -> None:
    spec = chat(extra_headers={"X-Trace": "t", "X-Num": 5}, extra_query={"a": "1", "b": ["x", "y"]}, timeout=30)
    assert spec.headers == {"X-Trace": "t", "X-Num": "5"}
    assert spec.query == {"a": "1", "b": ["x", "y"]}
    assert spec.timeout == Timeout(connect=30.0, read=30.0)
    for name in ("extra_headers", "extra_query", "timeout"):
        assert name not in spec.body  # type: ignore[operator]


def test_timeout_option_forms() -> None:
    t = Timeout(first_token=3, idle=1)
    assert chat(timeout=t).timeout is t
    assert chat(timeout=None).timeout == Timeout(connect=None, read=None)
    assert chat().timeout is None
    with pytest.raises(TypeError):
        chat(timeout="30")


def test_build_simple() -> None:
    spec = build_simple("GET", "/health", root=True, options={"extra_headers": {"a": "b"}, "timeout": 2})
    assert spec.root and spec.method == "GET" and spec.path == "/health"
    assert spec.headers == {"a": "b"}
    assert spec.timeout == Timeout(connect=2.0, read=2.0)
    with pytest.raises(TypeError, match="temperature"):
        build_simple("GET", "/models", options={"temperature": 1})


# -- completions prompt forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "sent"),
    [
        ("Once upon", "Once upon"),
        (["a", "b"], ["a", "b"]),
        (("a", "b"), ["a", "b"]),
        ([1, 2, 3], [1, 2, 3]),
        ([[1, 2], [3]], [[1, 2], [3]]),
        (((1, 2), (3,)), [[1, 2], [3]]),
    ],
)
def test_prompt_forms(prompt: Any, sent: Any) -> None:
    assert comp(prompt).body["prompt"] == sent  # type: ignore[index]


@pytest.mark.parametrize(
    "prompt",
    [[1, "a"], ["a", [1]], [[1], "a"], [[1, "x"]], [1.5], [True, False], [[]], [[1], []], 5, b"bytes",
     {"text": "x"}, [None]],
)
def test_invalid_prompt_mixes_type_error(prompt: Any) -> None:
    with pytest.raises(TypeError, match="prompt"):
        comp(prompt)


def test_bool_in_token_id_lists_type_error() -> None:
    with pytest.raises(TypeError):
        comp([[1, True]])


def test_empty_prompt_list_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        comp([])


def test_prompt_required_unless_embeds() -> None:
    with pytest.raises(ValueError, match="prompt"):
        comp(None)
    spec = comp(None, prompt_embeds="base64==")
    assert "prompt" not in spec.body and spec.body["prompt_embeds"] == "base64=="  # type: ignore[operator, index]


# -- response_format from a type -----------------------------------------------------------------------


@dataclasses.dataclass
class Answer:
    city: str
    population: int
    tags: list[str]
    unit: Literal["km", "mi"] = "km"


def test_response_format_dataclass() -> None:
    rf = chat(response_format=Answer).body["response_format"]  # type: ignore[index]
    assert rf["type"] == "json_schema"
    assert rf["json_schema"]["name"] == "Answer"
    assert rf["json_schema"]["strict"] is True
    schema = rf["json_schema"]["schema"]
    assert schema == json_schema_for(Answer)
    assert schema["type"] == "object"
    assert schema["required"] == ["city", "population", "tags"]
    assert schema["properties"]["city"] == {"type": "string"}
    assert schema["properties"]["population"] == {"type": "integer"}
    assert schema["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert schema["properties"]["unit"] == {"enum": ["km", "mi"]}


def test_response_format_pydantic() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Person(pydantic.BaseModel):
        name: str
        age: int

    rf = chat(response_format=Person).body["response_format"]  # type: ignore[index]
    assert rf["type"] == "json_schema"
    assert rf["json_schema"]["schema"] == Person.model_json_schema()


def test_response_format_dict_passed_through() -> None:
    rf = {"type": "json_object"}
    assert chat(response_format=rf).body["response_format"] == rf  # type: ignore[index]


# -- ClientCore: headers ------------------------------------------------------------------------------------


def core(api_key: str | None = None, headers: dict[str, str] | None = None,
         base_url: Any = "http://h:8000") -> ClientCore:
    config = ClientConfig.build(base_url, api_key=api_key, timeout=UNSET, max_retries=None, headers=headers,
                                on_retry=None, verify=True, limits=None, trust_env=True, env={})
    return ClientCore(config)


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_authorization_only_with_key() -> None:
    h, _ = core().headers(chat())
    assert "authorization" not in _lower(h)
    h, _ = core(api_key="sk-1").headers(chat())
    assert h["Authorization"] == "Bearer sk-1"


def test_default_headers() -> None:
    h, _ = core().headers(chat())
    assert h["Content-Type"] == "application/json"
    assert h["Accept"] == "application/json"
    assert h["User-Agent"].startswith("vllm-client/")
    h, _ = core().headers(chat(stream=True))
    assert h["Accept"] == "text/event-stream"


def test_fresh_request_id_per_call() -> None:
    c = core()
    spec = chat()
    ids = set()
    for _ in range(50):
        h, rid = c.headers(spec)
        assert h["X-Request-Id"] == rid
        ids.add(rid)
    assert len(ids) == 50
    assert new_request_id() != new_request_id()


@pytest.mark.parametrize("name", ["X-Request-Id", "x-request-id", "X-REQUEST-ID"])
def test_per_call_request_id_wins(name: str) -> None:
    h, rid = core(headers={"X-Trace": "t"}).headers(chat(extra_headers={name: "mine-1"}))
    assert rid == "mine-1"
    assert [v for k, v in h.items() if k.lower() == "x-request-id"] == ["mine-1"]
    assert h["X-Trace"] == "t"


@pytest.mark.parametrize("name", ["X-Request-Id", "x-request-id", "X-Request-ID"])
def test_client_wide_request_id_wins(name: str) -> None:
    h, rid = core(headers={name: "client-rid"}).headers(chat())
    assert rid == "client-rid"
    assert [v for k, v in h.items() if k.lower() == "x-request-id"] == ["client-rid"]


def test_per_call_request_id_over_client_wide_is_single_header() -> None:
    h, rid = core(headers={"X-Request-Id": "client"}).headers(chat(extra_headers={"x-request-id": "call"}))
    assert rid == "call"
    assert [v for k, v in h.items() if k.lower() == "x-request-id"] == ["call"]


def test_per_call_headers_override_client_headers() -> None:
    h, _ = core(api_key="sk", headers={"X-A": "client"}).headers(chat(extra_headers={"X-A": "call"}))
    assert h["X-A"] == "call"
    assert h["Authorization"] == "Bearer sk"


def test_client_headers_override_defaults() -> None:
    h, _ = core(headers={"User-Agent": "mine/1"}).headers(chat())
    assert h["User-Agent"] == "mine/1"


# -- ClientCore: URLs ------------------------------------------------------------------------------------------


def test_url_v1_and_root() -> None:
    c = core(base_url="http://h:8000")
    assert c.url(chat()) == "http://h:8000/v1/chat/completions"
    assert c.url(comp()) == "http://h:8000/v1/completions"
    assert c.url(build_simple("GET", "/models")) == "http://h:8000/v1/models"
    assert c.url(build_simple("GET", "/health", root=True)) == "http://h:8000/health"


def test_url_with_path_prefix() -> None:
    c = core(base_url="https://gw.example.com/team/vllm/v1/")
    assert c.url(chat()) == "https://gw.example.com/team/vllm/v1/chat/completions"
    assert c.url(build_simple("GET", "/tokenize", root=True)) == "https://gw.example.com/team/vllm/tokenize"


def test_url_extra_query() -> None:
    c = core()
    url = c.url(chat(extra_query={"a": "1", "b": ["x", "y"], "s": "a b&c"}))
    assert url == "http://h:8000/v1/chat/completions?a=1&b=x&b=y&s=a+b%26c"
    assert c.url(build_simple("GET", "/health", root=True, options={"extra_query": {"q": 1}})) == \
        "http://h:8000/health?q=1"


def test_url_several_servers() -> None:
    c = core(base_url=["http://a:1", "http://b:2/v1"])
    assert c.url(chat(), 0) == "http://a:1/v1/chat/completions"
    assert c.url(chat(), 1) == "http://b:2/v1/chat/completions"
    assert c.url(build_simple("GET", "/health", root=True), 1) == "http://b:2/health"
    picks = {c.pick_server(chat()) for _ in range(4)}
    assert picks == {0, 1}


def test_body_encoding() -> None:
    c = core()
    assert c.body(chat(model="m", logit_bias={1000: 100})) == (
        b'{"model":"m","logit_bias":{"1000":100},"messages":[{"role":"user","content":"hi"}]}')
    assert c.body(build_simple("GET", "/models")) is None


def test_timeout_choice() -> None:
    c = core()
    assert c.timeout(chat()) == Timeout()
    assert c.timeout(chat(timeout=3)) == Timeout(connect=3.0, read=3.0)


# -- model choice --------------------------------------------------------------------------------------------


def test_choose_model() -> None:
    assert choose_model(["only"], "http://h/v1") == "only"
    with pytest.raises(ValueError, match="no model"):
        choose_model([], "http://h/v1")
    with pytest.raises(ValueError, match=r"2 models \(a, b\).*model=") as info:
        choose_model(["a", "b"], "http://user:pw@h/v1")
    assert "pw" not in str(info.value)


def test_model_cache_per_server() -> None:
    c = core(base_url=["http://a:1", "http://b:2"])
    assert c.cached_model(0) is None
    assert c.remember_models(0, ["m-a"]) == "m-a"
    assert c.cached_model(0) == "m-a"
    assert c.cached_model(1) is None


def test_describe_hides_key() -> None:
    text = core(api_key="sk-secret").describe("VllmClient")
    assert "sk-secret" not in text
    assert "http://h:8000/v1" in text
