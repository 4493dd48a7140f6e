"""Configuration: base URL normalisation, env vars, Timeout, redaction, and the public clients'
``base_url`` / ``repr`` / ``with_options``. No sockets: constructing a client must not connect."""

from __future__ import annotations

import base64
import dataclasses
import math
import socket
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client import AsyncVllmClient, Timeout, VllmClient
from vllm_client._client_base import ClientCore
from vllm_client._config import (
    DEFAULT_BASE_URL,
    MAX_SECONDS,
    UNSET,
    ClientConfig,
    Limits,
    check_seconds,
    normalize_base_url,
    redact_url,
    server_root,
    split_base_url,
)
from vllm_client._protocol.requests import build_chat

ENV_VARS = ("VLLM_BASE_URL", "VLLM_API_KEY", "VLLM_TIMEOUT", "VLLM_MAX_RETRIES")
MSGS = [{"role": "user", "content": "hi"}]


def build(base_url: Any = None, *, env: dict[str, str] | None = None, **kw: Any) -> ClientConfig:
    args: dict[str, Any] = {
        "api_key": None,
        "timeout": UNSET,
        "max_retries": None,
        "headers": None,
        "on_retry": None,
        "verify": True,
        "limits": None,
        "trust_env": True,
    }
    args.update(kw)
    return ClientConfig.build(base_url, env={} if env is None else env, **args)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve or connect fails the test."""

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("constructing a client must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# -- normalize_base_url -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:8000", "http://h:8000/v1"),
        ("http://h:8000/", "http://h:8000/v1"),
        ("http://h:8000//", "http://h:8000/v1"),
        ("http://h:8000/v1", "http://h:8000/v1"),
        ("http://h:8000/v1/", "http://h:8000/v1"),
        ("http://h/proxy/v1", "http://h/proxy/v1"),
        ("http://h/proxy/v1/", "http://h/proxy/v1"),
        ("http://h/custom", "http://h/custom"),
        ("https://api.example.com", "https://api.example.com/v1"),
        ("https://api.example.com/v1/", "https://api.example.com/v1"),
        ("  http://h:8000/v1  ", "http://h:8000/v1"),
        ("HTTP://h:8000", "http://h:8000/v1"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1"),
        ("http://[::1]:8000", "http://[::1]:8000/v1"),
        ("http://localhost", "http://localhost/v1"),
    ],
)
def test_normalize_base_url(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


def test_normalize_is_idempotent() -> None:
    for url in ("http://h:8000", "http://h/proxy/", "https://x/v1/"):
        once = normalize_base_url(url)
        assert normalize_base_url(once) == once


@pytest.mark.parametrize("bad", ["ftp://h/v1", "ws://h:8000", "file:///tmp/x", "h:8000", "localhost:8000/v1", ""])
def test_non_http_scheme_is_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match=r"http:// or https://"):
        normalize_base_url(bad)


@pytest.mark.parametrize("bad", ["http://", "https:///v1", "http://:8000/v1"])
def test_no_host_is_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="no host"):
        normalize_base_url(bad)


def test_non_str_base_url_is_type_error() -> None:
    with pytest.raises(TypeError):
        normalize_base_url(8000)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        build(8000)


def test_error_messages_do_not_leak_credentials() -> None:
    with pytest.raises(ValueError) as info:
        normalize_base_url("ftp://alice:s3cret@h/v1")
    assert "s3cret" not in str(info.value)


def test_base_url_with_query_builds_valid_urls() -> None:
    try:
        config = build("http://h:8000/v1?api-version=1")
    except ValueError:
        return  # rejecting a query is an acceptable answer
    spec = build_chat(MSGS, {}, stream=False)
    assert ClientCore(config).url(spec) == "http://h:8000/v1/chat/completions?api-version=1"


# -- server_root / redact_url ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "root"),
    [
        ("http://h:8000/v1", "http://h:8000"),
        ("https://h/proxy/v1", "https://h/proxy"),
        ("http://h/custom", "http://h/custom"),
    ],
)
def test_server_root(base: str, root: str) -> None:
    assert server_root(base) == root


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:pw@h:8000/v1", "http://h:8000/v1"),
        ("https://user:pw@h/v1?x=1", "https://h/v1?x=1"),
        ("http://user@h/v1", "http://h/v1"),
        ("http://:pw@h:9000/v1", "http://h:9000/v1"),
        ("http://h:8000/v1", "http://h:8000/v1"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    out = redact_url(url)
    assert out == expected
    assert "pw" not in out and "user" not in out


def test_redact_url_keeps_ipv6_brackets() -> None:
    assert redact_url("http://u:p@[::1]:8000/v1") == "http://[::1]:8000/v1"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://u:pw@[::1:8000/v1", "http://[::1:8000/v1"),  # does not parse
        ("u:pw@h:8000/v1", "h:8000/v1"),  # no scheme
        ("http://u:p@ss@h/v1?a=b@c", "http://h/v1?a=b@c"),  # last @ of the authority; not the query's
        ("http://h/v1/u:pw@x", "http://h/v1/u:pw@x"),  # an @ in the path is no userinfo
    ],
)
def test_redact_url_without_parsing(url: str, expected: str) -> None:
    assert redact_url(url) == expected


# -- credentials, ports and hosts in the base URL ----------------------------------------------------


def basic(pair: str) -> str:
    return "Basic " + base64.b64encode(pair.encode()).decode()


@pytest.mark.parametrize(
    ("given", "url", "auth"),
    [
        ("http://alice:pw@h:8000", "http://h:8000/v1", basic("alice:pw")),
        ("https://alice:p%40ss%3A1@h/proxy/v1/", "https://h/proxy/v1", basic("alice:p@ss:1")),
        ("http://alice@[::1]:9000/v1", "http://[::1]:9000/v1", basic("alice:")),
        ("http://:tok@h/v1", "http://h/v1", basic(":tok")),
        ("http://@h/v1", "http://h/v1", None),
        ("http://h:8000/v1", "http://h:8000/v1", None),
        ("http://h:/v1", "http://h/v1", None),  # an empty port is the default one
    ],
)
def test_split_base_url_strips_credentials(given: str, url: str, auth: str | None) -> None:
    assert split_base_url(given) == (url, auth)
    assert normalize_base_url(given) == url


@pytest.mark.parametrize("bad", ["http://h:abc/v1", "http://h:0/v1", "http://h:65536/v1", "http://h:-1/v1",
                                 "http://h:+80/v1", "http://h: 80/v1", "http://u:s3cret@h:99999/v1"])
def test_invalid_port_is_value_error_naming_the_url(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid port") as info:
        normalize_base_url(bad)
    assert redact_url(bad) in str(info.value)
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(("bad", "pattern"), [
    ("http://a b:8000/v1", "invalid host"),
    ("http://h\\x/v1", "invalid host"),
    ("http://h\x00x/v1", "invalid host"),
    ("http://u:s3cret@[::1:8000/v1", "not a valid URL"),
    ("http://u:s3cret@[nothost]/v1", "not a valid URL"),
])
def test_malformed_url_is_value_error_without_credentials(bad: str, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as info:
        normalize_base_url(bad)
    assert "s3cret" not in str(info.value)


def test_port_bounds_accepted() -> None:
    assert normalize_base_url("http://h:1") == "http://h:1/v1"
    assert normalize_base_url("http://h:65535") == "http://h:65535/v1"


def test_url_credentials_become_basic_auth_without_api_key() -> None:
    config = build("http://alice:pw@h:8000")
    assert config.base_url == "http://h:8000/v1"
    assert config.url_auth == basic("alice:pw")
    headers, _ = ClientCore(config).headers(build_chat(MSGS, {}, stream=False))
    assert headers["Authorization"] == basic("alice:pw")
    assert "pw" not in repr(config) and "alice" not in repr(config)


@pytest.mark.parametrize("env", [{}, {"VLLM_API_KEY": "sk-env"}])
def test_api_key_wins_over_url_credentials(env: dict[str, str]) -> None:
    config = build("http://alice:pw@h:8000", env=env, api_key=None if env else "sk-arg")
    assert config.url_auth is None
    headers, _ = ClientCore(config).headers(build_chat(MSGS, {}, stream=False))
    assert headers["Authorization"] == f"Bearer {config.api_key}"
    assert "sk-" not in repr(config)


def test_credentials_from_env_base_url() -> None:
    config = build(env={"VLLM_BASE_URL": "http://bob:pw@gpu:9000"})
    assert (config.base_url, config.url_auth) == ("http://gpu:9000/v1", basic("bob:pw"))


def test_url_credentials_across_servers() -> None:
    same = build(["http://a:pw@h1:8000", "http://a:pw@h2:8000"])
    assert same.url_auth == basic("a:pw") and same.base_urls == ("http://h1:8000/v1", "http://h2:8000/v1")
    with pytest.raises(ValueError, match="different credentials") as info:
        build(["http://a:pw1@h1:8000", "http://h2:8000"])
    assert "pw1" not in str(info.value) and "h1:8000" in str(info.value)
    with pytest.raises(ValueError, match="different credentials"):
        build(["http://a:pw1@h1:8000", "http://a:pw2@h2:8000"])
    keyed = build(["http://a:pw1@h1:8000", "http://a:pw2@h2:8000"], api_key="sk")  # dropped: no conflict
    assert keyed.url_auth is None


# -- ClientConfig.build: arguments, env, defaults ---------------------------------------------------


def test_defaults_without_env() -> None:
    config = build()
    assert config.base_url == DEFAULT_BASE_URL == "http://localhost:8000/v1"
    assert config.base_urls == (DEFAULT_BASE_URL,)
    assert config.api_key is None
    assert config.timeout == Timeout()
    assert config.max_retries == 2
    assert config.headers == {}
    assert config.limits == Limits()


def test_env_vars_are_read() -> None:
    env = {"VLLM_BASE_URL": "http://gpu:9000", "VLLM_API_KEY": "sk-env", "VLLM_TIMEOUT": "30",
           "VLLM_MAX_RETRIES": "5"}
    config = build(env=env)
    assert config.base_url == "http://gpu:9000/v1"
    assert config.api_key == "sk-env"
    assert config.timeout == Timeout(connect=30.0, read=30.0)
    assert config.max_retries == 5


def test_arguments_win_over_env() -> None:
    env = {"VLLM_BASE_URL": "http://gpu:9000", "VLLM_API_KEY": "sk-env", "VLLM_TIMEOUT": "30",
           "VLLM_MAX_RETRIES": "5"}
    config = build("http://arg:1234/v1", env=env, api_key="sk-arg", timeout=7, max_retries=0)
    assert config.base_url == "http://arg:1234/v1"
    assert config.api_key == "sk-arg"
    assert config.timeout == Timeout(connect=7.0, read=7.0)
    assert config.max_retries == 0


def test_explicit_timeout_none_means_no_limits_even_with_env() -> None:
    config = build(env={"VLLM_TIMEOUT": "30"}, timeout=None)
    assert config.timeout == Timeout(connect=None, read=None)


@pytest.mark.parametrize("empty", ["", "   "])
def test_blank_env_values_are_ignored(empty: str) -> None:
    config = build(env={"VLLM_TIMEOUT": empty, "VLLM_MAX_RETRIES": empty, "VLLM_API_KEY": "",
                        "VLLM_BASE_URL": ""})
    assert config.timeout == Timeout()
    assert config.max_retries == 2
    assert config.api_key is None
    assert config.base_url == DEFAULT_BASE_URL


def test_env_is_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", "http://from-os-env:8000")
    monkeypatch.setenv("VLLM_API_KEY", "sk-os")
    config = ClientConfig.build(None, api_key=None, timeout=UNSET, max_retries=None, headers=None,
                                on_retry=None, verify=True, limits=None, trust_env=True)
    assert config.base_url == "http://from-os-env:8000/v1"
    assert config.api_key == "sk-os"


@pytest.mark.parametrize(
    ("env", "pattern"),
    [
        ({"VLLM_TIMEOUT": "abc"}, "VLLM_TIMEOUT"),
        ({"VLLM_TIMEOUT": "0"}, "VLLM_TIMEOUT"),
        ({"VLLM_TIMEOUT": "-5"}, "VLLM_TIMEOUT"),
        ({"VLLM_MAX_RETRIES": "two"}, "VLLM_MAX_RETRIES"),
        ({"VLLM_MAX_RETRIES": "2.5"}, "VLLM_MAX_RETRIES"),
        ({"VLLM_BASE_URL": "ftp://h"}, "http"),
        ({"VLLM_BASE_URL": "localhost:8000"}, "http"),
    ],
)
def test_bad_env_values_are_clear_value_errors(env: dict[str, str], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        build(env=env)


def test_negative_env_max_retries_names_the_variable() -> None:
    with pytest.raises(ValueError, match="VLLM_MAX_RETRIES"):
        build(env={"VLLM_MAX_RETRIES": "-1"})


def test_negative_env_max_retries_is_value_error() -> None:
    with pytest.raises(ValueError):
        build(env={"VLLM_MAX_RETRIES": "-1"})


def test_nan_env_timeout_is_value_error() -> None:
    with pytest.raises(ValueError):
        build(env={"VLLM_TIMEOUT": "nan"})


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_bad_max_retries_argument(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_retries"):
        build(max_retries=bad)


def test_base_url_list() -> None:
    config = build(["http://a:8000", "http://b:8000/v1/"])
    assert config.base_urls == ("http://a:8000/v1", "http://b:8000/v1")
    assert config.base_url == "http://a:8000/v1"
    with pytest.raises(ValueError, match="empty"):
        build([])
    with pytest.raises(ValueError):
        build(["http://a:8000", "ftp://b"])


def test_verify_type_is_checked() -> None:
    assert build(verify="/etc/ca.pem").verify == "/etc/ca.pem"
    with pytest.raises(TypeError):
        build(verify=1)


def test_headers_are_copied() -> None:
    mine = {"X-Trace-ID": "abc"}
    config = build(headers=mine)
    mine["X-Trace-ID"] = "changed"
    assert config.headers == {"X-Trace-ID": "abc"}


# -- Timeout ----------------------------------------------------------------------------------------


def test_timeout_defaults() -> None:
    t = Timeout()
    assert (t.connect, t.read, t.first_token, t.idle, t.total) == (5.0, 600.0, None, None, None)


@pytest.mark.parametrize("value", [5, 2.5, 120])
def test_timeout_coerce_number(value: float) -> None:
    t = Timeout.coerce(value)
    assert t == Timeout(connect=float(value), read=float(value))
    assert isinstance(t.connect, float)
    assert (t.first_token, t.idle, t.total) == (None, None, None)


def test_timeout_coerce_none_and_instance() -> None:
    assert Timeout.coerce(None) == Timeout(connect=None, read=None)
    t = Timeout(connect=1, read=2, first_token=3, idle=4, total=5)
    assert Timeout.coerce(t) is t


@pytest.mark.parametrize("bad", [True, False, "5", [5], {"read": 5}])
def test_timeout_coerce_rejects_non_numbers(bad: Any) -> None:
    with pytest.raises(TypeError):
        Timeout.coerce(bad)


@pytest.mark.parametrize("field", ["connect", "read", "first_token", "idle", "total"])
@pytest.mark.parametrize("bad", [0, -1, -0.5, "5"])
def test_timeout_fields_validated(field: str, bad: Any) -> None:
    with pytest.raises(ValueError, match=field):
        Timeout(**{field: bad})


def test_timeout_rejects_nan() -> None:
    with pytest.raises(ValueError):
        Timeout(read=math.nan)


@pytest.mark.parametrize("field", ["connect", "read", "first_token", "idle", "total"])
def test_timeout_infinity_means_no_limit(field: str) -> None:
    t = Timeout(**{field: math.inf})
    assert getattr(t, field) is None
    assert t == Timeout(**{field: None})


@pytest.mark.parametrize("field", ["connect", "read", "first_token", "idle", "total"])
@pytest.mark.parametrize("bad", [math.nan, -math.inf, 1e10, MAX_SECONDS * 1.01, 10**400, -10**400])
def test_timeout_rejects_absurd_values_naming_field_and_value(field: str, bad: Any) -> None:
    with pytest.raises(ValueError, match=f"Timeout.{field}") as info:
        Timeout(**{field: bad})
    assert repr(bad)[:12] in str(info.value)


def test_timeout_largest_accepted() -> None:
    assert Timeout(read=MAX_SECONDS).read == MAX_SECONDS
    assert Timeout(idle=10**9).idle == 1e9 and isinstance(Timeout(idle=10**9).idle, float)


def test_plain_number_timeout_edges() -> None:
    assert Timeout.coerce(math.inf) == Timeout(connect=None, read=None)
    assert build(timeout=math.inf).timeout == Timeout(connect=None, read=None)
    for bad in (math.nan, -math.inf, 1e10, -3, 0):
        with pytest.raises(ValueError, match="timeout") as info:
            Timeout.coerce(bad)
        assert "Timeout.connect" not in str(info.value)  # the plain form names itself


@pytest.mark.parametrize("raw", ["inf", "Infinity", " +inf "])
def test_env_timeout_inf_means_no_limits(raw: str) -> None:
    assert build(env={"VLLM_TIMEOUT": raw}).timeout == Timeout(connect=None, read=None)


@pytest.mark.parametrize("raw", ["1e10", "-inf", "nan", "-0"])
def test_env_timeout_absurd_values_name_the_variable(raw: str) -> None:
    with pytest.raises(ValueError, match="VLLM_TIMEOUT"):
        build(env={"VLLM_TIMEOUT": raw})


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.floats(), st.integers(-10**30, 10**30)))
def test_accepted_timeouts_never_overflow_the_runtime(value: float) -> None:
    """Every value Timeout accepts works with the calls the transports make with it."""
    try:
        t = Timeout(connect=value, read=value, total=value)
    except ValueError:
        assert not (0 < value <= MAX_SECONDS) and value != math.inf
        return
    assert t.read is None or (isinstance(t.read, float) and 0 < t.read <= MAX_SECONDS)
    with socket.socket() as sock:
        sock.settimeout(t.read)
    lock = threading.Lock()
    assert lock.acquire(timeout=-1 if t.read is None else t.read)
    if t.total is not None:
        assert time.monotonic() + t.total < math.inf


def test_check_seconds_allow_zero() -> None:
    assert check_seconds("x", 0, allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="x must be a positive"):
        check_seconds("x", 0)
    with pytest.raises(TypeError, match="x must be a number"):
        check_seconds("x", "1")
    for no_limit in (None, math.inf):
        assert check_seconds("x", no_limit) is None
        with pytest.raises(ValueError, match="x must be a finite number"):
            check_seconds("x", no_limit, allow_none=False)


# -- Limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_connections": 0}, "max_connections"),
    ({"max_connections": True}, "max_connections"),
    ({"max_connections": 2.0}, "max_connections"),
    ({"max_keepalive": -1}, "max_keepalive"),
    ({"keepalive_expiry": -1}, "keepalive_expiry"),
    ({"keepalive_expiry": math.nan}, "keepalive_expiry"),
    ({"keepalive_expiry": math.inf}, "keepalive_expiry"),
    ({"keepalive_expiry": 1e12}, "keepalive_expiry"),
])
def test_limits_validated(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"Limits.{field}"):
        Limits(**kwargs)


def test_limits_edges_accepted() -> None:
    assert Limits(max_connections=1, max_keepalive=0, keepalive_expiry=0) == Limits(1, 0, 0.0)


def test_timeout_is_frozen() -> None:
    t = Timeout()
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.read = 1  # type: ignore[misc]


# -- public clients ------------------------------------------------------------------------------


CLIENTS = [VllmClient, AsyncVllmClient]


async def _close(client: Any) -> None:
    if isinstance(client, AsyncVllmClient):
        await client.aclose()
    else:
        client.close()


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("cls", CLIENTS)
async def test_client_base_url_normalised(cls: Any) -> None:
    client = cls("http://h:8000/")
    try:
        assert client.base_url == "http://h:8000/v1"
        assert client.api_key is None
    finally:
        await _close(client)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("cls", CLIENTS)
async def test_client_defaults_from_env(cls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_BASE_URL", "http://env-host:1234")
    monkeypatch.setenv("VLLM_API_KEY", "sk-env-key")
    monkeypatch.setenv("VLLM_MAX_RETRIES", "4")
    monkeypatch.setenv("VLLM_TIMEOUT", "12")
    client = cls()
    try:
        assert client.base_url == "http://env-host:1234/v1"
        assert client.api_key == "sk-env-key"
        assert client.max_retries == 4
        assert client.timeout == Timeout(connect=12.0, read=12.0)
        assert "sk-env-key" not in repr(client)
    finally:
        await _close(client)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("cls", CLIENTS)
async def test_client_default_base_url(cls: Any) -> None:
    client = cls()
    try:
        assert client.base_url == "http://localhost:8000/v1"
    finally:
        await _close(client)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("cls", CLIENTS)
async def test_repr_never_contains_api_key(cls: Any) -> None:
    secret = "sk-very-secret-123"
    client = cls("http://alice:pw-in-url@h:8000", api_key=secret)
    try:
        text = repr(client)
        assert secret not in text
        assert "pw-in-url" not in text
        assert "h:8000" in text
        assert cls.__name__ in text
        other = client.with_options(api_key="sk-other-secret")
        assert "sk-other-secret" not in repr(other)
        assert secret not in str(client)
    finally:
        await _close(client)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("cls", CLIENTS)
async def test_with_options_keeps_url_and_shares_transport(cls: Any) -> None:
    client = cls("http://h:8000", api_key="k1", headers={"X-A": "1"}, max_retries=3, timeout=10)
    try:
        other = client.with_options(timeout=300, api_key="k2", headers={"X-B": "2"}, max_retries=0)
        assert type(other) is cls
        assert other.base_url == client.base_url == "http://h:8000/v1"
        assert other._transport is client._transport
        assert other._core.shared is client._core.shared
        assert other.api_key == "k2"
        assert client.api_key == "k1"
        assert other.max_retries == 0
        assert client.max_retries == 3
        assert other.timeout == Timeout(connect=300.0, read=300.0)
        assert client.timeout == Timeout(connect=10.0, read=10.0)
        assert other._core.config.headers == {"X-A": "1", "X-B": "2"}
        assert client._core.config.headers == {"X-A": "1"}
        spec = build_chat(MSGS, {}, stream=False)
        headers, _ = other._core.headers(spec)
        assert headers["Authorization"] == "Bearer k2"
        # nothing changed: everything kept
        same = client.with_options()
        assert same.api_key == "k1" and same.max_retries == 3 and same.timeout == client.timeout
        assert same._transport is client._transport
        # api_key=None explicitly removes the key
        anon = client.with_options(api_key=None)
        assert anon.api_key is None
        assert "Authorization" not in anon._core.headers(spec)[0]
    finally:
        await _close(client)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("cls", CLIENTS)
async def test_with_options_validates(cls: Any) -> None:
    client = cls("http://h:8000")
    try:
        with pytest.raises(ValueError):
            client.with_options(max_retries=-1)
        with pytest.raises(TypeError):
            client.with_options(timeout="soon")
    finally:
        await _close(client)


@pytest.mark.parametrize("cls", CLIENTS)
def test_client_rejects_bad_url(cls: Any) -> None:
    with pytest.raises(ValueError):
        cls("ftp://h:8000")


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("cls", CLIENTS)
@pytest.mark.parametrize("bad", ["http://u:s3cret@h:abc/v1", "http://h:0", "http://h:70000/v1"])
def test_client_rejects_invalid_port_at_construction(cls: Any, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid port") as info:
        cls(bad)
    assert "s3cret" not in str(info.value) and "h:" in str(info.value)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("cls", CLIENTS)
async def test_client_base_url_has_no_credentials(cls: Any) -> None:
    client = cls("http://alice:s3cret@h:8000")
    try:
        assert client.base_url == "http://h:8000/v1" and client.base_urls == ("http://h:8000/v1",)
        assert "s3cret" not in repr(client) and "alice" not in repr(client)
        assert client.api_key is None
    finally:
        await _close(client)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("cls", CLIENTS)
@pytest.mark.parametrize("value", [math.inf, Timeout(read=math.inf, total=math.inf)])
async def test_client_infinite_timeout_is_no_limit(cls: Any, value: Any) -> None:
    client = cls("http://h:8000", timeout=value)
    try:
        assert client.timeout.read is None
        assert client.with_options(timeout=math.inf).timeout == Timeout(connect=None, read=None)
        with pytest.raises(ValueError, match="timeout"):
            client.with_options(timeout=1e10)
    finally:
        await _close(client)
