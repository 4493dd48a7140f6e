"""What a new user meets when something is off: messages that say what to do, a warning
for a stream left open, and the openai-python spellings that cost nothing."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest

import vllm_client as vc
from vllm_client.testing import Delay, MockVllmServer

MSG = [{"role": "user", "content": "hello"}]


# --- messages ----------------------------------------------------------------------------


def test_401_without_a_key_says_how_to_pass_one(make_api: Any) -> None:
    with MockVllmServer(api_key="sekrit") as server:
        api = make_api(server.base_url, max_retries=0)
        with pytest.raises(vc.AuthenticationError) as info:
            api(api.client.chat.completions.create(model=server.model, messages=MSG))
    assert "the server requires an API key: api_key= / VLLM_API_KEY / --api-key" in str(info.value)


def test_401_with_a_wrong_key_says_it_was_rejected(make_api: Any) -> None:
    with MockVllmServer(api_key="sekrit") as server:
        api = make_api(server.base_url, api_key="wrong", max_retries=0)
        with pytest.raises(vc.AuthenticationError) as info:
            api(api.client.chat.completions.create(model=server.model, messages=MSG))
    assert "rejected the API key" in str(info.value) and "wrong" not in str(info.value)


def test_404_names_the_method_and_url_without_credentials(make_api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.fail_next(404, path="/version", message="Not Found")  # vLLM's unknown-route answer
    url = vllm_mock.base_url.replace("http://", "http://user:pw@")
    api = make_api(url, max_retries=0)
    with pytest.raises(vc.NotFoundError) as info:
        api(api.client.server.version())
    text = str(info.value)
    assert f"GET {vllm_mock.url}/version is not served by this server" in text and "pw" not in text


def test_404_on_a_pooling_route_says_it_needs_a_pooling_model(make_api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.fail_next(404, path="/v1/embeddings", message="Not Found")
    api = make_api(vllm_mock.base_url, max_retries=0)
    with pytest.raises(vc.NotFoundError) as info:
        api(api.client.embeddings.create(model=vllm_mock.model, input="x"))
    assert "needs a pooling model (vllm serve MODEL --runner pooling)" in str(info.value)
    assert "POST " in str(info.value)


def test_a_timeout_names_the_limit_the_phase_and_the_attempts(make_api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.add_fault(Delay(3.0), times=1)
    api = make_api(vllm_mock.base_url, timeout=vc.Timeout(connect=2, read=0.3), max_retries=0)
    with pytest.raises(vc.APITimeoutError) as info:
        api(api.client.chat.completions.create(model=vllm_mock.model, messages=MSG))
    text = str(info.value)
    assert "POST /chat/completions" in text
    assert "waiting for the first byte" in text and "(read timeout 0.3s)" in text
    assert "after 1 attempt(s)" in text


def test_cli_error_line_names_the_class_once(capsys: pytest.CaptureFixture[str]) -> None:
    from vllm_client.cli._output import error_line

    err = vc.BadRequestError("bad", status_code=400, error_type="BadRequestError")
    error_line(err)
    line = capsys.readouterr().err.strip()
    assert line == "error: 400 BadRequestError: bad"
    error_line(vc.StreamError("cut"))
    assert capsys.readouterr().err.strip() == "error: StreamError: cut"


# --- a stream left open ------------------------------------------------------------------------


def test_an_unclosed_stream_collected_warns(vllm_mock: MockVllmServer) -> None:
    with vc.VllmClient(vllm_mock.base_url) as client:
        stream = client.chat.completions.create(messages=MSG, max_tokens=50, stream=True)
        next(iter(stream))
        with pytest.warns(ResourceWarning, match=r"use `with stream:` or `stream.close\(\)`"):
            del stream
            gc.collect()
        assert client._transport.pool_stats()["in_use"] == 0


def test_closed_or_finished_streams_do_not_warn(vllm_mock: MockVllmServer) -> None:
    with vc.VllmClient(vllm_mock.base_url) as client, warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        with client.chat.completions.create(messages=MSG, max_tokens=5, stream=True) as stream:
            next(iter(stream))
        del stream
        finished = client.chat.completions.create(messages=MSG, max_tokens=5, stream=True)
        finished.collect_content()
        del finished
        gc.collect()


def test_an_unclosed_async_stream_collected_warns(vllm_mock: MockVllmServer) -> None:
    async def main() -> None:
        async with vc.AsyncVllmClient(vllm_mock.base_url) as client:
            stream = await client.chat.completions.create(messages=MSG, max_tokens=50, stream=True)
            async for _ in stream:
                break
            with pytest.warns(ResourceWarning, match=r"use `async with stream:` or `await stream.aclose\(\)`"):
                del stream
                gc.collect()

    asyncio.run(main())


# --- openai-python spellings ----------------------------------------------------------------


async def test_async_close_alias(vllm_mock: MockVllmServer) -> None:
    client = vc.AsyncVllmClient(vllm_mock.base_url)
    await client.models.list()
    await client.close()
    assert client._transport.closed


def test_openai_api_key_is_never_read(monkeypatch: pytest.MonkeyPatch, vllm_mock: MockVllmServer) -> None:
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-for-another-provider")
    with vc.VllmClient(vllm_mock.base_url) as client:
        assert client.api_key is None
        client.models.list()
    assert "authorization" not in {k.lower() for k in vllm_mock.last_request.headers}


# --- one async client, several event loops ---------------------------------------------------


def test_one_async_client_across_event_loops_leaks_nothing(vllm_mock: MockVllmServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        client = vc.AsyncVllmClient(vllm_mock.base_url)

        async def call() -> str:
            resp = await client.chat.completions.create(messages=MSG, max_tokens=2)
            return resp.content

        for _ in range(5):
            assert asyncio.run(call())
            gc.collect()
        asyncio.run(client.aclose())
        gc.collect()
    assert len(vllm_mock.requests_to("/v1/chat/completions")) == 5


def test_a_loop_closed_without_shutdown_does_not_warn(vllm_mock: MockVllmServer) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        client = vc.AsyncVllmClient(vllm_mock.base_url)
        for _ in range(3):
            loop = asyncio.new_event_loop()
            loop.run_until_complete(client.models.list())
            loop.close()  # no shutdown_asyncgens: the next loop's first call retires the session
        asyncio.run(client.aclose())
        gc.collect()


def test_a_client_never_closed_prints_nothing_at_exit(vllm_mock: MockVllmServer) -> None:
    import subprocess
    import sys

    script = (
        "import asyncio, vllm_client as vc\n"
        f"client = vc.AsyncVllmClient({vllm_mock.base_url!r})\n"
        "async def main():\n"
        "    await client.models.list()\n"
        "asyncio.run(main())\n"
        "asyncio.run(main())\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-X", "dev", "-c", script], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.stdout == "ok\n"
    assert "nclosed" not in result.stderr and "Warning" not in result.stderr, result.stderr


# --- @tool functions wherever tools are taken ---------------------------------------------


def _weather_tool() -> Any:
    from vllm_client.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city.

        Args:
            city: the city's name
        """
        return "sunny"

    return get_weather


def test_tool_functions_are_accepted_by_create_stream_and_conversations(api: Any, vllm_mock: MockVllmServer) -> None:
    get_weather = _weather_tool()
    api(api.client.chat.completions.create(messages=MSG, tools=[get_weather], max_tokens=2))
    sent = vllm_mock.requests_to("/v1/chat/completions")[-1].json["tools"]
    assert sent == [get_weather.schema] and sent[0]["function"]["name"] == "get_weather"
    api.events(api(api.client.chat.completions.create(messages=MSG, tools=[get_weather, {"type": "function",
               "function": {"name": "other", "parameters": {"type": "object"}}}], max_tokens=2, stream=True)))
    sent = vllm_mock.requests_to("/v1/chat/completions")[-1].json["tools"]
    assert [t["function"]["name"] for t in sent] == ["get_weather", "other"]
    conversation = api.client.conversation(tools=[get_weather], max_tokens=2)
    api(conversation.send("hi"))
    assert vllm_mock.requests_to("/v1/chat/completions")[-1].json["tools"] == [get_weather.schema]


def test_a_plain_function_in_tools_is_a_type_error_before_sending(api: Any, vllm_mock: MockVllmServer) -> None:
    def get_weather(city: str) -> str:
        return city

    with pytest.raises(TypeError, match=r"tools\[0\] must be a tool dict or a @tool function.*@vllm_client.tools.tool"):
        api(api.client.chat.completions.create(messages=MSG, tools=[get_weather]))
    assert vllm_mock.requests == []


def test_an_unencodable_value_names_its_field_before_anything_is_sent(api: Any, vllm_mock: MockVllmServer) -> None:
    with pytest.raises(TypeError, match=r"the 'metadata' field cannot be sent as JSON"):
        api(api.client.chat.completions.create(messages=MSG, extra_body={"metadata": object()}))
    assert vllm_mock.requests == []  # not even the model lookup


def test_stream_partial_is_what_arrived_so_far(api: Any, vllm_mock: MockVllmServer) -> None:
    vllm_mock.queue_chat("alpha beta gamma delta")
    stream = api(api.client.chat.completions.create(messages=MSG, stream=True))

    async def first_two() -> list[Any]:
        out = []
        async for event in stream:
            out.append(event)
            if len([e for e in out if isinstance(e, vc.StreamEvent.Content)]) == 2:
                return out
        return out

    if api.kind == "async":
        events = api(first_two())
    else:
        events = []
        for event in stream:
            events.append(event)
            if len([e for e in events if isinstance(e, vc.StreamEvent.Content)]) == 2:
                break
    so_far = "".join(e.text for e in events if isinstance(e, vc.StreamEvent.Content))
    partial = stream.partial()  # what arrived: at least what was yielded (one read may carry more)
    assert so_far == "alpha beta" and partial.content.startswith(so_far)
    api(stream.close())


def test_openai_result_idioms(api: Any, vllm_mock: MockVllmServer) -> None:
    import json

    models = api(api.client.models.list())
    assert [m.id for m in models.data] == [vllm_mock.model]
    assert models.model_dump() == models.raw and json.loads(models.model_dump_json()) == models.raw
    resp = api(api.client.chat.completions.create(messages=MSG, max_tokens=3, logprobs=True, top_logprobs=2))
    assert resp.model_dump() is resp.raw and json.loads(resp.model_dump_json()) == resp.raw
    assert resp.usage is not None and resp.usage.model_dump() == resp.raw["usage"]
    lp = resp.choices[0].logprobs
    assert lp is not None and lp.content is not None
    assert lp.content[0].token == resp.raw["choices"][0]["logprobs"]["content"][0]["token"]
    assert len(lp.content[0].top_logprobs) == 2
    comp = api(api.client.completions.create(prompt="x", max_tokens=3, logprobs=1))
    assert comp.choices[0].logprobs is not None and len(comp.choices[0].logprobs.tokens) == 3
