"""MockVllmServer answers like vLLM 0.32: same keys, key order and value types as the
real captures in tests/fixtures/real-vllm-0.32, over a real socket (http.client)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vllm_client.testing import MockVllmServer
from vllm_client.testing.pytest_plugin import vllm_mock, vllm_mock_options  # noqa: F401

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-vllm-0.32"

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


# --- helpers ------------------------------------------------------------------------------


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def fixture_body(name: str) -> Any:
    return json.loads(fixture(name)["response"]["body"])


def fixture_request(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(fixture(name)["request"]["body"])
    body.pop("model", None)
    return body


def sse_events(raw: bytes) -> list[Any]:
    """`data:` payloads of an SSE body, JSON-decoded ("[DONE]" kept as the string)."""
    out: list[Any] = []
    for block in raw.decode().split("\n\n"):
        if block.startswith("data: "):
            payload = block[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def shape(value: Any) -> Any:
    """Keys in order and value types, recursively (values themselves ignored)."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return "scalar list"  # token ids, bytes: lengths depend on the vocabulary
        return [shape(v) for v in value]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


class Http:
    """A tiny keep-alive client over http.client."""

    opened: list[Http] = []

    def __init__(self, server: MockVllmServer) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        Http.opened.append(self)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, str], bytes, list[tuple[str, str]]]:
        hdrs = {"content-type": "application/json", **(headers or {})}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        payload = resp.read()
        pairs = [(k.lower(), v) for k, v in resp.getheaders()]
        return resp.status, dict(pairs), payload, pairs

    def post(self, path: str, body: Any, **kw: Any) -> tuple[int, Any]:
        status, _, payload, _ = self.request("POST", path, body, **kw)
        return status, json.loads(payload)


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while Http.opened:
        Http.opened.pop().conn.close()


@pytest.fixture
def server() -> Iterator[MockVllmServer]:
    with MockVllmServer(model="tiny") as s:
        yield s


@pytest.fixture
def client(server: MockVllmServer) -> Http:
    return Http(server)


# --- lifecycle ------------------------------------------------------------------------------


def test_urls_and_lifecycle() -> None:
    server = MockVllmServer()
    with pytest.raises(RuntimeError):
        _ = server.port
    with server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.base_url == server.url + "/v1"
        assert server.running
    assert not server.running
    server.stop()  # idempotent


def test_pytest_fixture_is_running(vllm_mock: MockVllmServer) -> None:  # noqa: F811
    status, body = Http(vllm_mock).post("/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 2})
    assert status == 200
    assert body["model"] == "mock-model"


# --- shapes vs the real captures --------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "chat_basic",
        "chat_n2",
        "chat_logprobs",
        "chat_return_token_ids",
        "chat_max_completion_tokens",
        "chat_stop_string",
        "chat_request_id_header",
    ],
)
def test_chat_shape_matches_fixture(client: Http, name: str) -> None:
    req = fixture_request(name)
    headers = {k: v for k, v in fixture(name)["request"]["headers"].items() if k == "x-request-id"}
    status, ours = client.post("/v1/chat/completions", req, headers=headers)
    real = fixture_body(name)
    assert status == 200
    if name == "chat_stop_string":  # our text has no "###": compare with finish_reason "length"
        real["choices"][0]["stop_reason"] = ours["choices"][0]["stop_reason"]
    assert shape(ours) == shape(real)
    assert (
        ours["usage"]["completion_tokens"] == real["usage"]["completion_tokens"] or name == "chat_stop_string"
    )
    assert len(ours["choices"]) == len(real["choices"])


@pytest.mark.parametrize(
    "name",
    [
        "completions_basic",
        "completions_n2",
        "completions_prompt_list",
        "completions_token_ids_prompt",
        "completions_logprobs",
        "completions_return_token_ids",
        "completions_echo",
    ],
)
def test_completion_shape_matches_fixture(client: Http, name: str) -> None:
    status, ours = client.post("/v1/completions", fixture_request(name))
    real = fixture_body(name)
    assert status == 200
    assert shape(ours) == shape(real) or _same_but_logprob_count(ours, real)
    assert [c["index"] for c in ours["choices"]] == [c["index"] for c in real["choices"]]
    assert ours["usage"]["completion_tokens"] == real["usage"]["completion_tokens"]


def _same_but_logprob_count(ours: Any, real: Any) -> bool:
    # top_logprobs dicts are keyed by token text: their size depends on the vocabulary
    for c in (*ours["choices"], *real["choices"]):
        if c["logprobs"]:
            c["logprobs"]["top_logprobs"] = []
    return bool(shape(ours) == shape(real))


@pytest.mark.parametrize(
    "name",
    [
        "chat_stream",
        "chat_stream_include_usage",
        "chat_stream_continuous_usage",
        "chat_n2_stream",
        "chat_logprobs_stream",
        "chat_return_token_ids_stream",
    ],
)
def test_chat_stream_shape_matches_fixture(client: Http, name: str) -> None:
    status, headers, raw, pairs = client.request("POST", "/v1/chat/completions", fixture_request(name))
    assert status == 200
    real_headers = [k for k, _ in fixture(name)["response"]["headers"]]
    assert [k for k, _ in pairs] == real_headers
    assert headers["content-type"] == "text/event-stream; charset=utf-8"
    ours, real = sse_events(raw), sse_events(fixture(name)["response"]["body"].encode())
    assert ours[-1] == real[-1] == "[DONE]"
    assert len(ours) == len(real)
    if name == "chat_n2_stream":  # vLLM's interleaving of choices depends on scheduling
        ours = sorted(ours[:-1], key=lambda e: json.dumps(shape(e)))
        real = sorted(real[:-1], key=lambda e: json.dumps(shape(e)))
    assert [shape(e) for e in ours] == [shape(e) for e in real]
    assert raw.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    "name",
    [
        "completions_stream",
        "completions_stream_usage",
        "completions_prompt_list_stream",
        "completions_logprobs_stream",
    ],
)
def test_completion_stream_shape_matches_fixture(client: Http, name: str) -> None:
    status, _, raw, _ = client.request("POST", "/v1/completions", fixture_request(name))
    assert status == 200
    ours, real = sse_events(raw), sse_events(fixture(name)["response"]["body"].encode())
    assert len(ours) == len(real)
    for e in ours[:-1] + real[:-1]:
        for c in e["choices"]:
            if c["logprobs"]:  # keyed by token text: sizes depend on the vocabulary
                c["logprobs"]["top_logprobs"] = [{} for _ in c["logprobs"]["top_logprobs"]]
    assert [shape(e) for e in ours] == [shape(e) for e in real]
    assert [e["choices"][0]["index"] for e in ours[:-2]] == [e["choices"][0]["index"] for e in real[:-2]]


def test_models_version_load_health_shapes(client: Http) -> None:
    for path, name in [("/v1/models", "models"), ("/version", "version"), ("/load", "load")]:
        status, _, raw, pairs = client.request("GET", path)
        assert status == 200
        assert shape(json.loads(raw)) == shape(fixture_body(name))
        assert [k for k, _ in pairs] == [k for k, _ in fixture(name)["response"]["headers"]]
    for path in ("/health", "/ping"):
        status, headers, raw, _ = client.request("GET", path)
        assert (status, raw, headers["content-length"]) == (200, b"", "0")
    status, _, raw, _ = client.request("POST", "/ping", {})
    assert status == 200


def test_models_lists_every_served_model() -> None:
    with MockVllmServer(models=["a", "b"], max_model_len=4096) as s:
        _status, _, raw, _ = Http(s).request("GET", "/v1/models")
        data = json.loads(raw)["data"]
        assert [m["id"] for m in data] == ["a", "b"]
        assert {m["max_model_len"] for m in data} == {4096}
        assert all(m["owned_by"] == "vllm" for m in data)


def test_metrics_are_prometheus_text(client: Http) -> None:
    client.post("/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 3})
    status, headers, raw, _ = client.request("GET", "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    text = raw.decode()
    assert 'vllm:generation_tokens_total{engine="0",model_name="tiny"} 3.0' in text
    assert "# TYPE vllm:num_requests_running gauge" in text


def test_tokenize_and_detokenize(client: Http) -> None:
    status, body = client.post("/tokenize", {"prompt": "hello world", "return_token_strs": True})
    assert status == 200
    assert list(body) == ["count", "max_model_len", "tokens", "token_strs"]
    assert body["count"] == len(body["tokens"]) == 2
    status, back = client.post("/detokenize", {"tokens": body["tokens"]})
    assert (status, back) == (200, {"prompt": "hello world"})


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "err_missing_messages",
        "err_messages_wrong_type",
        "err_max_tokens_zero",
        "err_n_zero",
        "err_temperature_negative",
        "err_top_logprobs_without_logprobs",
        "err_top_logprobs_too_many",
        "err_max_tokens_too_large",
        "err_stop_wrong_type",
        "err_prompt_too_long",
        "err_prompt_too_long_stream",
        "tools_error_choice_without_tools",
        "tools_error_empty_tools",
        "tools_error_named_unknown_function",
    ],
)
def test_chat_errors_match_fixture(client: Http, name: str) -> None:
    fx = fixture(name)
    raw = fx["request"]["body"].replace('"tiny"', '"tiny"').encode()
    status, headers, payload, _ = client.request("POST", fx["request"]["path"], raw=raw)
    assert status == fx["response"]["status"]
    assert headers["content-type"] == "application/json"
    ours, real = json.loads(payload), json.loads(fx["response"]["body"])
    assert shape(ours) == shape(real)
    if name != "err_prompt_too_long" and name != "err_prompt_too_long_stream":
        assert ours == real
    else:
        assert ours["error"]["param"] == "input_tokens"


@pytest.mark.parametrize(
    "name",
    [
        "err_unknown_model",
        "err_unknown_model_completions",
        "err_malformed_json",
        "err_empty_body",
        "err_text_plain_content_type",
        "err_max_tokens_too_large_completions",
        "err_completions_logprobs_too_many",
        "err_route_not_found",
        "err_method_not_allowed",
    ],
)
def test_errors_are_byte_identical(client: Http, name: str) -> None:
    fx = fixture(name)
    req = fx["request"]
    headers = {k: v for k, v in req["headers"].items() if k == "content-type"}
    client.conn.request(
        req["method"], req["path"], body=req.get("body", "").encode() or None, headers=headers
    )
    resp = client.conn.getresponse()
    payload = resp.read()
    assert resp.status == fx["response"]["status"]
    assert payload == fx["response"]["body"].encode()
    ours = [k.lower() for k, _ in resp.getheaders()]
    assert ours == [k for k, _ in fx["response"]["headers"]]


def test_auth_like_vllm() -> None:
    with MockVllmServer(model="tiny", api_key="test-key") as s:
        c = Http(s)
        for name in [
            "auth_chat_no_key",
            "auth_models_no_key",
            "auth_models_wrong_key",
            "auth_models_wrong_scheme",
            "auth_models_x_api_key_header",
            "auth_models_ok",
            "auth_chat_ok",
            "auth_health_no_key",
            "auth_version_no_key",
            "auth_tokenize_no_key",
            "auth_metrics_no_key",
        ]:
            fx = fixture(name)
            req = fx["request"]
            hdrs = {
                k: v for k, v in req["headers"].items() if k in ("authorization", "x-api-key", "content-type")
            }
            c.conn.request(
                req["method"], req["path"], body=req.get("body", "").encode() or None, headers=hdrs
            )
            resp = c.conn.getresponse()
            payload = resp.read()
            assert resp.status == fx["response"]["status"], name
            if resp.status == 401:
                assert payload == b'{"error":"Unauthorized"}'
                assert [k.lower() for k, _ in resp.getheaders()] == [k for k, _ in fx["response"]["headers"]]


# --- generation behaviour -------------------------------------------------------------------------


def test_same_request_same_answer_and_seed_matters(client: Http) -> None:
    req = {"messages": MESSAGES, "max_tokens": 12, "seed": 42}
    a = client.post("/v1/chat/completions", req)[1]["choices"][0]["message"]["content"]
    b = client.post("/v1/chat/completions", req)[1]["choices"][0]["message"]["content"]
    c = client.post("/v1/chat/completions", {**req, "seed": 43})[1]["choices"][0]["message"]["content"]
    assert a == b != c
    unseeded = {"messages": MESSAGES, "max_tokens": 12}
    assert (
        client.post("/v1/chat/completions", unseeded)[1]
        != client.post(
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "something else"}], "max_tokens": 12},
        )[1]
    )


def test_stream_text_equals_non_stream_text(client: Http) -> None:
    req = {"messages": MESSAGES, "max_tokens": 10, "seed": 5, "n": 2}
    whole = client.post("/v1/chat/completions", req)[1]
    _, _, raw, _ = client.request("POST", "/v1/chat/completions", {**req, "stream": True})
    texts = ["", ""]
    for e in sse_events(raw)[:-1]:
        for ch in e["choices"]:
            texts[ch["index"]] += ch["delta"].get("content") or ""
    assert texts == [c["message"]["content"] for c in whole["choices"]]


def test_default_max_tokens_and_natural_stop(client: Http) -> None:
    chat = client.post("/v1/chat/completions", {"messages": MESSAGES})[1]
    assert chat["choices"][0]["finish_reason"] == "stop"
    assert 1 <= chat["usage"]["completion_tokens"] <= 64
    comp = client.post("/v1/completions", {"prompt": "def fibonacci(n):"})[1]
    assert comp["choices"][0]["finish_reason"] == "length"
    assert comp["usage"]["completion_tokens"] == 16
    eos = client.post("/v1/chat/completions", {"messages": MESSAGES, "ignore_eos": True})[1]
    assert eos["choices"][0]["finish_reason"] == "length"


def test_max_tokens_clamped_to_context() -> None:
    with MockVllmServer(max_model_len=40) as s:
        status, body = Http(s).post("/v1/completions", {"prompt": "a b c d e f g h i j", "max_tokens": 40})
        assert status == 200
        assert body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"] == 40
        assert body["choices"][0]["finish_reason"] == "length"


def test_stop_string_truncates(client: Http) -> None:
    base = {"messages": MESSAGES, "max_tokens": 30, "seed": 99}
    text = client.post("/v1/chat/completions", base)[1]["choices"][0]["message"]["content"]
    words = text.split()
    stop = " " + words[3]
    cut = text[: text.index(stop)]
    body = client.post("/v1/chat/completions", {**base, "stop": [stop, "never-appears"]})[1]["choices"][0]
    assert (body["message"]["content"], body["finish_reason"], body["stop_reason"]) == (cut, "stop", stop)
    incl = client.post("/v1/chat/completions", {**base, "stop": stop, "include_stop_str_in_output": True})[1]
    assert incl["choices"][0]["message"]["content"] == cut + stop
    _, _, raw, _ = client.request("POST", "/v1/chat/completions", {**base, "stop": [stop], "stream": True})
    events = sse_events(raw)[:-1]
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events) == cut
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["choices"][0]["stop_reason"] == stop


def test_stop_token_ids(client: Http) -> None:
    base = {"messages": MESSAGES, "max_tokens": 16, "seed": 99, "return_token_ids": True}
    full = client.post("/v1/chat/completions", base)[1]["choices"][0]
    stop_id = full["token_ids"][3]
    first = full["token_ids"].index(stop_id)
    got = client.post("/v1/chat/completions", {**base, "stop_token_ids": [stop_id]})[1]
    choice = got["choices"][0]
    assert (choice["finish_reason"], choice["stop_reason"]) == ("stop", stop_id)
    assert got["usage"]["completion_tokens"] == first + 1


def test_n_choices_and_prompt_lists(client: Http) -> None:
    body = client.post("/v1/completions", {"prompt": ["a", "b", "c"], "n": 2, "max_tokens": 2, "seed": 1})[1]
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3, 4, 5]
    assert body["choices"][0]["text"] == body["choices"][2]["text"]  # seeded: prompt does not matter
    assert body["choices"][0]["text"] != body["choices"][1]["text"]
    ids = client.post("/v1/completions", {"prompt": [[1, 2, 3], [4, 5]], "max_tokens": 1})[1]
    assert ids["usage"]["prompt_tokens"] == 5


def test_structured_outputs(client: Http) -> None:
    choice = client.post(
        "/v1/chat/completions",
        {"messages": MESSAGES, "structured_outputs": {"choice": ["positive", "negative"]}},
    )[1]["choices"][0]
    assert choice["message"]["content"] in ("positive", "negative")
    assert choice["finish_reason"] == "stop"
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 12},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "mood": {"type": "string", "enum": ["happy", "sad"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "age", "mood", "tags"],
    }
    rf = {"type": "json_schema", "json_schema": {"name": "p", "schema": schema}}
    content = client.post(
        "/v1/chat/completions", {"messages": MESSAGES, "response_format": rf, "max_tokens": 64}
    )[1]["choices"][0]["message"]["content"]
    obj = json.loads(content)
    assert list(obj) == ["name", "age", "mood", "tags"]
    assert isinstance(obj["name"], str) and len(obj["name"]) <= 12
    assert 0 <= obj["age"] <= 120 and obj["mood"] in ("happy", "sad") and isinstance(obj["tags"], list)
    so = client.post("/v1/chat/completions", {"messages": MESSAGES, "structured_outputs": {"json": schema}})[
        1
    ]
    assert set(json.loads(so["choices"][0]["message"]["content"])) == {"name", "age", "mood", "tags"}
    regex = client.post(
        "/v1/chat/completions", {"messages": MESSAGES, "structured_outputs": {"regex": "The answer is 42\\."}}
    )[1]
    assert regex["choices"][0]["message"]["content"] == "The answer is 42."
    obj_mode = client.post(
        "/v1/chat/completions", {"messages": MESSAGES, "response_format": {"type": "json_object"}}
    )[1]
    assert json.loads(obj_mode["choices"][0]["message"]["content"]) == {}


def test_forced_tool_choice_generates_a_call(client: Http) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
            },
        }
    ]
    body = client.post(
        "/v1/chat/completions", {"messages": MESSAGES, "tools": tools, "tool_choice": "required"}
    )[1]
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert call["id"].startswith("chatcmpl-tool-") and call["function"]["name"] == "get_weather"
    assert "location" in json.loads(call["function"]["arguments"])
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    auto = client.post("/v1/chat/completions", {"messages": MESSAGES, "tools": tools, "tool_choice": "auto"})[
        1
    ]
    assert "tool_calls" not in auto["choices"][0]["message"]


def test_reasoning_server() -> None:
    with MockVllmServer(reasoning=True) as s:
        c = Http(s)
        body = c.post("/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 12, "seed": 3})[1]
        msg = body["choices"][0]["message"]
        assert msg["reasoning"]
        assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] >= 1
        _, _, raw, _ = c.request(
            "POST",
            "/v1/chat/completions",
            {"messages": MESSAGES, "max_tokens": 12, "seed": 3, "stream": True},
        )
        deltas = [e["choices"][0]["delta"] for e in sse_events(raw)[1:-1]]
        assert "".join(d.get("reasoning", "") for d in deltas) == msg["reasoning"]
        assert "".join(d.get("content") or "" for d in deltas) == (msg["content"] or "")
        off = c.post(
            "/v1/chat/completions",
            {"messages": MESSAGES, "max_tokens": 4, "chat_template_kwargs": {"enable_thinking": False}},
        )[1]
        assert off["choices"][0]["message"]["reasoning"] is None


def test_models_selection(client: Http) -> None:
    with MockVllmServer(models=["a", "b"]) as s:
        c = Http(s)
        assert c.post("/v1/chat/completions", {"messages": MESSAGES, "max_tokens": 1})[1]["model"] == "a"
        assert (
            c.post("/v1/chat/completions", {"model": "b", "messages": MESSAGES, "max_tokens": 1})[1]["model"]
            == "b"
        )
        status, err = c.post("/v1/chat/completions", {"model": "zz", "messages": MESSAGES})
        assert status == 404
        assert err["error"]["message"] == "The model `zz` does not exist. Valid aliases: a, b."


# --- recording -----------------------------------------------------------------------------------


def test_requests_are_recorded(server: MockVllmServer, client: Http) -> None:
    client.request(
        "POST",
        "/v1/chat/completions?x=1",
        {"messages": MESSAGES, "max_tokens": 1},
        headers={"X-Trace": "t1", "Authorization": "Bearer k"},
    )
    req = server.last_request
    assert (req.method, req.path, req.query) == ("POST", "/v1/chat/completions", {"x": "1"})
    assert req.headers["x-trace"] == "t1" and req.headers["authorization"] == "Bearer k"
    assert req.json == {"messages": MESSAGES, "max_tokens": 1}
    assert json.loads(req.body) == req.json
    assert server.requests_to("/v1/chat/completions") == [req]
    server.clear_requests()
    assert server.requests == []


def test_x_request_id_is_echoed(client: Http) -> None:
    _, headers, raw, _ = client.request(
        "POST",
        "/v1/chat/completions",
        {"messages": MESSAGES, "max_tokens": 1},
        headers={"x-request-id": "rid-1"},
    )
    assert headers["x-request-id"] == "rid-1"
    assert json.loads(raw)["id"] == "chatcmpl-rid-1"
    _, headers, _, _ = client.request(
        "POST",
        "/v1/chat/completions",
        {"messages": MESSAGES, "max_tokens": 1, "stream": True},
        headers={"x-request-id": "rid-2"},
    )
    assert headers["x-request-id"] == "rid-2"
