"""Credentials in the base URL (``http://user:pass@host/v1``), seen from the server: both
clients send them as ``Authorization: Basic``, an ``api_key``'s Bearer wins over them, and
the URL a transport gets never carries them (aiohttp would add its own Basic header)."""

from __future__ import annotations

import base64
import socket
from typing import Any

import pytest

from vllm_client import APIConnectionError
from vllm_client.testing import MockVllmServer

MSG = [{"role": "user", "content": "hi"}]


def with_userinfo(url: str, userinfo: str) -> str:
    assert url.startswith("http://")
    return f"http://{userinfo}@{url[len('http://'):]}"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def record_urls(api: Any) -> list[str]:
    """Wrap the client's transport so every URL it is asked to fetch is recorded."""
    seen: list[str] = []
    transport = api.client._transport
    send = transport.send

    def spy(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(url)
        return send(method, url, *args, **kwargs)

    transport.send = spy
    return seen


@pytest.mark.parametrize(
    ("userinfo", "user", "password"),
    [
        ("alice:s3cret", "alice", "s3cret"),
        ("al%20ice:p%40ss%3Aw%2Frd", "al ice", "p@ss:w/rd"),  # percent-decoded
        ("alice", "alice", ""),
        (":tok", "", "tok"),
        ("j%C3%BCrgen:%E2%82%AC", "j\u00fcrgen", "\u20ac"),  # UTF-8
    ],
)
def test_url_credentials_are_sent_as_basic_auth(make_api: Any, vllm_mock: MockVllmServer, userinfo: str,
                                                user: str, password: str) -> None:
    api = make_api(with_userinfo(vllm_mock.base_url, userinfo), max_retries=0)
    urls = record_urls(api)
    api(api.client.chat.completions.create(messages=MSG, max_tokens=2))
    assert [r.path for r in vllm_mock.requests] == ["/v1/models", "/v1/chat/completions"]
    for request in vllm_mock.requests:
        assert request.headers["authorization"] == basic(user, password)
    assert urls and not any("@" in u for u in urls)
    assert api.client.base_url == vllm_mock.base_url
    assert api.client.api_key is None


def test_api_key_wins_over_url_credentials(make_api: Any) -> None:
    with MockVllmServer(api_key="sk-right") as server:
        api = make_api(with_userinfo(server.base_url, "alice:s3cret"), api_key="sk-right", max_retries=0)
        urls = record_urls(api)
        assert api(api.client.models.list()).ids == [server.model]
        assert server.last_request.headers["authorization"] == "Bearer sk-right"
        assert not any("@" in u for u in urls)
        # dropped, not kept in reserve: without the key there is no Authorization at all
        anon = api.client.with_options(api_key=None)
        api(anon.server.version())
        assert "authorization" not in server.last_request.headers


def test_with_options_api_key_replaces_url_credentials(make_api: Any, vllm_mock: MockVllmServer) -> None:
    api = make_api(with_userinfo(vllm_mock.base_url, "alice:s3cret"), max_retries=0)
    api(api.client.with_options(api_key="sk-later").server.version())
    assert vllm_mock.last_request.headers["authorization"] == "Bearer sk-later"
    api(api.client.server.version())
    assert vllm_mock.last_request.headers["authorization"] == basic("alice", "s3cret")


def test_caller_authorization_header_wins(make_api: Any, vllm_mock: MockVllmServer) -> None:
    api = make_api(with_userinfo(vllm_mock.base_url, "alice:s3cret"), headers={"authorization": "Custom x"})
    api(api.client.server.version())
    assert vllm_mock.last_request.headers["authorization"] == "Custom x"


def test_credentials_never_in_repr_or_errors(make_api: Any) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = make_api(f"http://alice:s3cret@127.0.0.1:{port}/v1", max_retries=0, timeout=5)
    assert "s3cret" not in repr(api.client) and "alice" not in repr(api.client)
    assert "s3cret" not in repr(api.client._core.config)
    with pytest.raises(APIConnectionError) as info:
        api(api.client.models.list())
    text = f"{info.value} {info.value!r} {info.value.__cause__!r}"
    assert str(port) in text
    assert "s3cret" not in text and "alice" not in text
