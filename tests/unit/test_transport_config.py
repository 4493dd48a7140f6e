"""Transport configuration: proxy selection, TLS settings, pool limits, timeout extremes (loopback only)."""

from __future__ import annotations

import math
import ssl
from typing import Any

import pytest

from vllm_client import Limits, Timeout, VllmClient
from vllm_client._config import MAX_SECONDS
from vllm_client._transport.proxies import proxy_for
from vllm_client._transport.sync_http import SyncTransport, _ssl_context

PROXIES = {"http": "http://proxy:3128", "https": "http://proxy:3128", "no": "internal.example, .corp"}


@pytest.mark.parametrize(("scheme", "host", "expected"), [
    ("http", "gpu-a.example", "http://proxy:3128"),
    ("https", "gpu-a.example", "http://proxy:3128"),
    ("http", "internal.example", None),
    ("http", "x.corp", None),
    ("http", "127.0.0.1", None),
    ("http", "localhost", None),
])
def test_proxy_for(scheme: str, host: str, expected: str | None) -> None:
    assert proxy_for(scheme, host, PROXIES) == expected


def test_no_proxy_star_and_empty() -> None:
    assert proxy_for("http", "a.example", {"http": "http://p:1", "no": "*"}) is None
    assert proxy_for("http", "a.example", {}) is None


def test_proxies_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://envproxy:8080")
    monkeypatch.setenv("NO_PROXY", "skip.example")
    t = SyncTransport()
    assert proxy_for("https", "gpu.example", t._proxies) == "http://envproxy:8080"
    assert proxy_for("https", "skip.example", t._proxies) is None
    assert SyncTransport(trust_env=False)._proxies == {}


def test_tls_verification_settings(tmp_path: object) -> None:
    assert _ssl_context(True).verify_mode == ssl.CERT_REQUIRED
    off = _ssl_context(False)
    assert off.verify_mode == ssl.CERT_NONE and not off.check_hostname
    with pytest.raises((FileNotFoundError, ssl.SSLError)):
        _ssl_context("/nonexistent/ca.pem")
    with pytest.raises(TypeError):
        VllmClient("https://h", verify=3)  # type: ignore[arg-type]


def test_pool_limits_reach_the_transport() -> None:
    client = VllmClient("http://h:1", limits=Limits(max_connections=3, max_keepalive=1))
    assert client._transport._pool.limits.max_connections == 3
    client.close()


def test_http_proxy_gets_absolute_form_requests(vllm_mock: object) -> None:
    from vllm_client.testing import MockVllmServer

    assert isinstance(vllm_mock, MockVllmServer)
    client = VllmClient("http://vllm.invalid:8000/v1", max_retries=0)
    client._transport._proxies = {"http": vllm_mock.url}  # the emulator plays the proxy
    assert client.models.list().ids == [vllm_mock.model]
    assert vllm_mock.last_request.target == "http://vllm.invalid:8000/v1/models"
    client.close()


@pytest.mark.parametrize("timeout", [
    math.inf,
    Timeout(connect=math.inf, read=math.inf, first_token=math.inf, idle=math.inf, total=math.inf),
    Timeout(connect=MAX_SECONDS, read=MAX_SECONDS, first_token=MAX_SECONDS, idle=MAX_SECONDS, total=MAX_SECONDS),
    Timeout(connect=None, read=None, total=MAX_SECONDS),
])
def test_unlimited_and_longest_timeouts_reach_the_transports(make_api: Any, vllm_mock: Any, timeout: Any) -> None:
    """inf (no limit) and the longest finite timeout work on every call; both once raised OverflowError."""
    api = make_api(vllm_mock.base_url, timeout=timeout, max_retries=0)
    msgs = [{"role": "user", "content": "hi"}]
    assert api(api.client.chat.completions.create(messages=msgs, max_tokens=2)).content
    events = api.events(api(api.client.chat.completions.create(messages=msgs, max_tokens=2, stream=True)))
    assert events
    assert [r.path for r in vllm_mock.requests] == ["/v1/models", "/v1/chat/completions", "/v1/chat/completions"]


def test_limits_are_validated_before_the_transport() -> None:
    with pytest.raises(ValueError, match="keepalive_expiry"):
        VllmClient("http://h:1", limits=Limits(keepalive_expiry=math.inf))


async def test_async_http_proxy_gets_absolute_form_requests(vllm_mock: object) -> None:
    from vllm_client import AsyncVllmClient
    from vllm_client.testing import MockVllmServer

    assert isinstance(vllm_mock, MockVllmServer)
    client = AsyncVllmClient("http://user:pw@vllm.invalid:8000/v1", max_retries=0)
    client._transport._proxies = {"http": vllm_mock.url.replace("http://", "http://pu:pp@")}
    assert (await client.models.list()).ids == [vllm_mock.model]
    assert vllm_mock.last_request.target == "http://vllm.invalid:8000/v1/models"
    headers = {k.lower(): v for k, v in vllm_mock.last_request.headers.items()}
    assert headers["host"] == "vllm.invalid:8000"
    assert headers["proxy-authorization"] == "Basic cHU6cHA="
    await client.aclose()


def test_async_tls_context_follows_verify() -> None:
    from vllm_client._transport.async_http import AsyncTransport

    assert AsyncTransport(verify=False)._ssl_ctx().verify_mode == ssl.CERT_NONE
    assert AsyncTransport()._ssl_ctx().check_hostname
